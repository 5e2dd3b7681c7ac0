"""The guest SAN lab's use of `ocfkit generate` and its record parsing (ocfkit.lab.guests.san), without
guests: the description generates, and the lab finds in the output what it configures the nodes with."""

from __future__ import annotations

import calendar
import time
import xml.etree.ElementTree as ET

import pytest

from ocfkit.lab.guests import san

# The DC's Pacemaker log during the start of the generated SAN (TCG, 2026-12-02), trimmed.
LOG = """\
Dec 02 09:38:30.792 a pacemaker-controld notice: Initiating notify operation p_drbd_lun_pre_notify_promote_0 on a
Dec 02 09:38:33.440 a pacemaker-controld notice: Initiating promote operation p_drbd_lun_promote_0 locally on a | ...
Dec 02 09:38:36.200 a pacemaker-controld notice: Result of promote operation for p_drbd_lun on a: OK | ...
Dec 02 09:38:45.768 a pacemaker-controld notice: Initiating start operation p_ip_192.168.78.10_start_0 locally on a
Dec 02 09:38:50.056 a pacemaker-controld notice: Result of start operation for p_ip_192.168.78.10 on a: OK | ...
Dec 02 09:38:05.872 a pacemaker-controld notice: Initiating start operation p_drbd_lun:0_start_0 locally on a | ...
Dec 02 09:39:36.912 a pacemaker-controld notice: Initiating start operation p_lvm_vgsan_start_0 on b | ...
Dec 02 09:39:58.040 a pacemaker-controld error: Result of start operation for p_lvm_vgsan on b: Timed out after 20s | x
"""


def _t(text: str) -> float:
    return calendar.timegm(time.strptime(f"2026 {text}", "%Y %b %d %H:%M:%S"))


def test_operations_pairs_each_initiation_with_its_result_after_t0():
    ops = san.operations(LOG, _t("Dec 02 09:38:30"))
    assert ops == [
        {"action": "promote", "resource": "p_drbd_lun", "node": "a", "initiated_s": 3.44, "done_s": 6.2,
         "seconds": 2.76, "result": "OK"},
        {"action": "start", "resource": "p_ip_192.168.78.10", "node": "a", "initiated_s": 15.77, "done_s": 20.06,
         "seconds": 4.29, "result": "OK"},
        {"action": "start", "resource": "p_lvm_vgsan", "node": "b", "initiated_s": 66.91, "done_s": 88.04,
         "seconds": 21.13, "result": "Timed out after 20s"},
    ]


def test_stall_is_the_longest_gap_between_acknowledgements_in_the_window():
    log = [(1, 99.0, 100.0), (2, 100.0, 100.1), (3, 100.1, 107.6), (4, 107.6, 107.7), (5, 200.0, 220.0)]
    assert san.stall(log, 101.0, 110.0) == 7.5


@pytest.mark.system  # runs `ocfkit generate` as a user does (a process, no guest)
def test_the_lab_finds_what_it_configures_in_the_generated_files(tmp_path):
    files = san.generate(san.DESCRIPTION, str(tmp_path))
    for name in ("corosync.conf", "sbd", "drbd.conf", "cib.xml", "README"):
        assert name in files
    assert files["drbd.conf"][1] == 0o600 and files["cib.xml"][1] == 0o600
    assert san.sbd_create_line(files["README"][0]) == "sbd -d /dev/disk/by-id/virtio-shared0 -1 15 -4 30 create"
    assert san.drbd_resources(files["drbd.conf"][0]) == ["config", "lun"]
    assert "fencing resource-and-stonith" in files["drbd.conf"][0]
    assert "crm-fence-peer.9.sh" in files["drbd.conf"][0] and "crm-unfence-peer.9.sh" in files["drbd.conf"][0]
    assert "SBD_WATCHDOG_DEV=/dev/watchdog" in files["sbd"][0]
    assert "ring1_addr: 192.168.77.1" in files["corosync.conf"][0]
    assert san.service_group(files["cib.xml"][0]) == "g_192.168.78.10"
    conf = san.configuration_section(files["cib.xml"][0])
    assert conf.startswith("<configuration>")
    assert any(p.get("provider") == "ocfkit" for p in ET.fromstring(conf).iter("primitive") if p.get("type") == "drbd")
    assert 'name="promotable" value="true"' in conf


# The survivor's records of a crash of b (formats of corosync 3.1 hires, Pacemaker 3.0), trimmed.
COROSYNC = """\
Dec 02 10:42:25.900 [981] a corosync info    [KNET  ] link: host: 2 link: 0 is down
Dec 02 10:42:29.400 [981] a corosync notice  [TOTEM ] A processor failed, forming new configuration
Dec 02 10:42:35.500 [981] a corosync notice  [QUORUM] Members[1]: 1
"""
PCMK = """\
Dec 02 10:42:35.600 a pacemaker-controld notice: Node b state is now lost
Dec 02 10:42:38.000 a pacemaker-controld notice: Requesting fencing (reboot) targeting node b
Dec 02 10:42:39.000 a pacemaker-fenced   notice: Delaying 'reboot' action targeting b using st_sbd for 3s
Dec 02 10:43:20.000 a pacemaker-controld notice: Initiating promote operation p_drbd_lun_promote_0 locally on a
Dec 02 10:43:21.500 a pacemaker-controld notice: Result of promote operation for p_drbd_lun on a: OK
Dec 02 10:43:22.000 a pacemaker-controld notice: Initiating start operation p_ip_192.168.78.10_start_0 locally on a
Dec 02 10:43:23.000 a pacemaker-controld notice: Result of start operation for p_ip_192.168.78.10 on a: OK
Dec 02 10:43:24.000 a pacemaker-controld notice: Initiating start operation p_unblock_tcp_3260_start_0 locally on a
Dec 02 10:43:26.000 a pacemaker-controld notice: Result of start operation for p_unblock_tcp_3260 on a: OK
"""

# Its syslog (the lab's /dev/log sink): DRBD's fence-peer handler, which logs through logger.
SYSLOG = """\
<174>Dec  2 10:42:36 crm-fence-peer.9.sh[1179]: DRBD_CONF=/etc/drbd.conf DRBD_MINOR=0 DRBD_PEER=b DRBD_RESOURCE=config
<174>Dec  2 10:43:20 crm-fence-peer.9.sh[1482]: DRBD_CONF=/etc/drbd.conf DRBD_MINOR=1 DRBD_PEER=b DRBD_RESOURCE=lun
<174>Dec  2 10:43:21 crm-fence-peer.9.sh[1482]: INFO peer is fenced, my disk is UpToDate: placed constraint
<174>Dec  2 10:44:10 crm-fence-peer.9.sh[1179]: /
<174>Dec  2 10:44:10 crm-fence-peer.9.sh[1179]: INFO some peer is still UNCLEAN, my disk is UpToDate: placed constraint
"""


def test_crash_breakdown_times_each_step_after_the_kill_from_the_survivors_records():
    from ocfkit.lab.guests import scenario

    t_kill = _t("Dec 02 10:42:24")
    history = [{"action": "reboot", "target": "b", "delegate": "a", "status": "success",
                "completed": "2026-12-02 10:43:15.000000Z"}]
    out = scenario.crash_breakdown((PCMK, COROSYNC, SYSLOG),
                                   history, t_kill, members=["p_ip_192.168.78.10", "p_unblock_tcp_3260"],
                                   lun="p_drbd_lun", victim="b", survivor="a")
    assert (out["token_lost_s"], out["detection_s"], out["node_lost_s"]) == (5.4, 11.5, 11.6)
    assert (out["fencing_requested_s"], out["fencing_delay_s"], out["fencing_completed_s"]) == (14.0, 3.0, 51.0)
    assert out["fencing_s"] == 37.0
    assert (out["promote_initiated_s"], out["promote_s"]) == (56.0, 1.5)
    assert (out["group_start_initiated_s"], out["group_started_s"], out["group_start_s"]) == (58.0, 62.0, 4.0)
    assert out["ocfkit_s"] == 4.5  # promote 1.5 + starts 1.0 + 2.0
    assert out["scheduling_s"] == 62.0 - 51.0 - 4.5
    assert out["fence_event"]["delegate"] == "a"
    # The config resource's handler (a was its Primary) ran from the loss of the link; the lun's during the promote.
    assert [(h["resource"], h["began_s"], h["seconds"]) for h in out["fence_peer_handlers"]] == [
        ("config", 12.0, 94.0), ("lun", 56.0, 1.0)]
    assert out["promote_in_fence_peer_handler_s"] == 1.0 and out["ocfkit_without_handler_s"] == 3.5


def test_move_breakdown_splits_stops_demote_promote_and_starts():
    from ocfkit.lab.guests import scenario

    ops = [{"action": "stop", "resource": "g1", "node": "a", "initiated_s": 1.0, "done_s": 3.0, "seconds": 2.0},
           {"action": "stop", "resource": "g2", "node": "a", "initiated_s": 3.5, "done_s": 4.0, "seconds": 0.5},
           {"action": "demote", "resource": "p_drbd_lun", "node": "a", "initiated_s": 5, "done_s": 6, "seconds": 1.0},
           {"action": "promote", "resource": "p_drbd_lun", "node": "b", "initiated_s": 7, "done_s": 8, "seconds": 1.0},
           {"action": "start", "resource": "g1", "node": "b", "initiated_s": 9.0, "done_s": 10.0, "seconds": 1.0},
           {"action": "start", "resource": "g2", "node": "b", "initiated_s": 11.0, "done_s": 13.0, "seconds": 2.0}]
    out = scenario.move_breakdown(ops, members=["g1", "g2"], lun="p_drbd_lun", src="a", dst="b")
    assert out == {"group_stop_s": 3.0, "demote_s": 1.0, "promote_s": 1.0, "group_start_s": 4.0,
                   "agents_start_s": {"g1": 1.0, "g2": 2.0}, "ocfkit_s": 4.0}
