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
