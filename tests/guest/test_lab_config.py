"""The Pacemaker lab's configuration and record parsing (ocfkit.lab.guests.pcmk), without guests."""

from __future__ import annotations

import calendar
import time
import xml.etree.ElementTree as ET

from ocfkit.lab.guests import pcmk

# b's records of a real failover (test_cluster, TCG, 2026-12-02), trimmed.
RECORDS = """\
Dec 02 06:33:10.452 [281] b corosync info    [KNET  ] link: host: 1 link: 0 is down
Dec 02 06:33:13.636 [281] b corosync notice  [TOTEM ] A processor failed, forming new configuration: token timed out
Dec 02 06:33:19.732 [281] b corosync notice  [QUORUM] Members[1]: 2
Dec 02 06:33:19.780 b pacemaker-controld  [318] (update_peer_state_iter) 	notice: Node a state is now lost
Dec 02 06:33:23.100 b pacemaker-controld  [318] (fence) 	notice: Requesting fencing (reboot) targeting node a
Dec 02 06:34:03.760 b pacemaker-fenced    [314] (done) 	notice: Operation 'reboot' targeting a by b: OK (Done)
Dec 02 06:34:22.430 b pacemaker-controld  [318] (execute) 	notice: Initiating start operation dummy_start_0 on b
Dec 02 06:34:24.820 b pacemaker-controld  [318] (log) 	notice: Result of start operation for dummy on b: OK | rc=0
"""


def test_timeline_reads_each_step_from_the_records_relative_to_the_kill():
    kill = calendar.timegm(time.strptime("2026-12-02 06:33:08", "%Y-%m-%d %H:%M:%S")) + 0.66
    history = [{"action": "reboot", "target": "a", "status": "success", "completed": "2026-12-02 06:34:03.768006Z"}]
    steps = pcmk.timeline(RECORDS, history, kill)
    assert steps == {
        "knet link down (corosync)": 1.79,
        "token lost (corosync)": 4.98,
        "membership without the node (corosync)": 11.07,
        "node lost (pacemaker)": 11.12,
        "fencing requested (pacemaker)": 14.44,
        "fencing done (fenced log)": 55.1,
        "fencing completed (history)": 55.11,
        "resource start initiated (pacemaker)": 73.77,
        "resource started (pacemaker)": 76.16,
    }


def test_timeline_ignores_records_from_before_the_kill_and_failed_fences():
    kill = calendar.timegm(time.strptime("2026-12-02 06:40:00", "%Y-%m-%d %H:%M:%S"))
    history = [{"action": "reboot", "target": "a", "status": "failed", "completed": "2026-12-02 06:41:00Z"}]
    assert pcmk.timeline(RECORDS, history, kill) == {}


def test_corosync_uses_knet_over_both_networks_with_two_node_quorum():
    conf = pcmk.corosync_conf()
    assert "transport: knet" in conf and "two_node: 1" in conf and f"token: {pcmk.TOKEN_MS}" in conf
    assert "ring0_addr: 192.168.78.1" in conf and "ring1_addr: 192.168.77.1" in conf
    assert "ring0_addr: 192.168.78.2" in conf and "ring1_addr: 192.168.77.2" in conf
    assert "crypto_cipher: aes256" in conf


def test_cib_fences_with_fence_sbd_on_the_shared_disk_and_waits_longer_than_msgwait():
    parts = pcmk.cib_configuration()
    for scope, text in parts.items():
        ET.fromstring(f"<{scope}>{text}</{scope}>")  # well-formed
    resources = ET.fromstring(f"<resources>{parts['resources']}</resources>")
    fence = resources.find("primitive[@id='fence-sbd']")
    assert fence is not None and fence.get("class") == "stonith" and fence.get("type") == "fence_sbd"
    assert fence.find(".//nvpair[@name='devices']").get("value") == pcmk.SBD_DEVICE
    props = ET.fromstring(parts["crm_config"])
    assert props.find("nvpair[@name='stonith-enabled']").get("value") == "true"
    assert pcmk.STONITH_TIMEOUT_S > pcmk.SBD_MSGWAIT_S >= 2 * pcmk.SBD_WATCHDOG_S
    assert f"SBD_DEVICE={pcmk.SBD_DEVICE}\n" in pcmk.sbd_defaults()


def test_online_nodes_leaves_out_pending_and_unclean_members():
    root = ET.fromstring(
        '<r><nodes><node name="a" online="true" pending="true" unclean="false" type="member"/>'
        '<node name="b" online="true" pending="false" unclean="false" type="member"/></nodes>'
        '<resources><resource id="dummy" role="Started" active="true" failed="false"><node name="b"/></resource>'
        '</resources></r>')
    assert pcmk.online_nodes(root) == {"b"}
    assert pcmk.resource_nodes(root, "dummy") == ["b"]


def test_every_id_in_the_configuration_is_unique():
    ids: list[str] = []
    for scope, text in pcmk.cib_configuration(drbd=True).items():
        ids += [e.get("id") for e in ET.fromstring(f"<{scope}>{text}</{scope}>").iter() if e.get("id")]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
