"""The pure parts of the heartbeat guest lab (ocfkit.lab.guests.heartbeat): reading the sink's log (each
syslog message stamped with the guest's clock), the breakdowns of a `heartbeat stop` and a power pull,
/proc/drbd, and what the lab takes from the generated files."""

from __future__ import annotations

import os

import pytest

from ocfkit import description
from ocfkit.lab.guests import heartbeat as hb
from ocfkit.lab.guests import vm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RD = "/etc/ha.d/resource.d"


def generated():
    return description.generate(description.load(os.path.join(ROOT, "examples", "seed-guests.toml")))


def log(*lines: tuple[float, str]) -> list[tuple[float, str]]:
    return hb.entries("\n".join(f"{t:.3f} <133>Dec  2 18:00:00 {m}" for t, m in lines) + "\ngarbage\n")


def test_entries_take_the_sinks_stamp_and_skip_other_lines():
    got = hb.entries("1000.250 <134>Dec  2 18:00:00 heartbeat: [12]: info: x\nno stamp\n1001.5 y\n")
    assert got == [(1000.25, "<134>Dec  2 18:00:00 heartbeat: [12]: info: x"), (1001.5, "y")]


def test_stop_breakdown_release_on_the_source_and_takeover_on_the_destination():
    src = log((99.0, f"ResourceManager[1]: info: Running {RD}/IPaddr2 192.168.78.10/24/eth2 stop"),  # before t0
              (100.4, "heartbeat[5]: info: Heartbeat shutdown in progress. (5)"),
              (100.6, "heartbeat[5]: info: Giving up all HA resources."),
              (101.0, f"ResourceManager[7]: info: Running {RD}/portblock tcp 3260 unblock stop"),
              (101.5, f"ResourceManager[7]: info: Running {RD}/iSCSILogicalUnit iqn.x 0 /dev/vg/l lio stop"),
              (102.2, f"ResourceManager[7]: info: Running {RD}/drbddisk iscsi.config stop"),
              (102.9, "heartbeat[5]: info: All HA resources relinquished."))
    dst = log((200.7, "heartbeat[9]: info: Received shutdown notice from 'a'."),
              (200.8, "heartbeat[9]: info: Resources being acquired from a."),
              (202.0, f"ResourceManager[11]: info: Running {RD}/drbddisk iscsi.config start"),
              (202.6, f"ResourceManager[11]: info: Running {RD}/IPaddr2 192.168.78.10/24/eth2 start"),
              (203.5, "mach_down[10]: info: mach_down takeover complete for node a."))
    bd = hb.stop_breakdown(src, dst, 100.0, 200.0)
    assert bd["release_began_s"] == 1.0 and bd["released_s"] == 2.9 and bd["release_s"] == 1.9
    assert bd["notice_s"] == 0.7 and bd["acquire_began_s"] == 2.0 and bd["acquired_s"] == 3.5
    assert bd["acquire_s"] == 1.5 and bd["wrappers_s"] == 3.4
    assert [s["call"] for s in bd["stops"]] == ["portblock tcp 3260 unblock", "iSCSILogicalUnit iqn.x 0 /dev/vg/l lio",
                                                "drbddisk iscsi.config"]
    assert [s["seconds"] for s in bd["stops"]] == [0.5, 0.7, 0.7]  # the last one until 'relinquished'
    assert bd["starts"][-1] == {"call": "IPaddr2 192.168.78.10/24/eth2", "at_s": 2.6, "seconds": 0.9}


def test_stop_breakdown_says_unknown_rather_than_guessing():
    bd = hb.stop_breakdown(log((100.0, "heartbeat: nothing")), [], 100.0, 200.0)
    assert bd["release_s"] is None and bd["acquire_s"] is None and bd["wrappers_s"] is None
    assert bd["stops"] == [] and bd["starts"] == []


def test_crash_breakdown_deadtime_then_heartbeats_scripts_then_the_wrappers():
    survivor = log((990.0, "heartbeat[3]: WARN: node b: is dead (an earlier event)"),
                   (1011.2, "heartbeat[3]: WARN: node b: is dead"),
                   (1011.3, "heartbeat[3]: info: Link b:eth2 dead."),
                   (1011.9, "heartbeat[3]: info: Resources being acquired from b."),
                   (1012.4, f"ResourceManager[20]: info: Running {RD}/drbddisk iscsi.lun start"),
                   (1012.5, "drbd-peer-outdater: [31]: info: sending start_outdate message to the other node a -> b"),
                   (1013.0, "/usr/libexec/heartbeat/dopd: [8]: WARN: our peer is dead"),
                   (1013.6, f"ResourceManager[20]: info: Running {RD}/LVM vg0drbd start"),
                   (1014.1, "mach_down[19]: info: mach_down takeover complete for node b."))
    bd = hb.crash_breakdown(survivor, 1001.0, 10.0)
    assert bd["declared_dead_s"] == 10.2 and bd["detection_beyond_deadtime_s"] == 0.2
    assert bd["takeover_began_s"] == 11.4 and bd["heartbeat_before_wrappers_s"] == 1.2
    assert bd["takeover_done_s"] == 13.1 and bd["wrappers_s"] == 1.7
    assert [s["seconds"] for s in bd["starts"]] == [1.2, 0.5]
    assert [d["at_s"] for d in bd["dopd"]] == [11.5, 12.0] and bd["dopd_crashes"] == 0
    assert bd["takeover_done_from"] == "heartbeat's log"


def test_crash_breakdown_without_an_end_in_the_log_ends_when_the_client_resumed():
    # The survivor takes its own groups back: ResourceManager logs each call and no end; a dopd that
    # died under drbd-peer-outdater is counted.
    survivor = log((1009.0, "heartbeat[3]: WARN: node b: is dead"),
                   (1010.2, "mach_down[19]: info: mach_down takeover complete for node b."),
                   (1013.0, f"ResourceManager[20]: info: Running {RD}/drbddisk iscsi.lun start"),
                   (1014.0, "heartbeat: [3]: WARN: Managed /usr/libexec/heartbeat/dopd process 9 killed by signal 11"),
                   (1016.5, f"ResourceManager[20]: info: Running {RD}/portblock tcp 3260 unblock start"))
    bd = hb.crash_breakdown(survivor, 1001.0, 10.0, resumed=1018.0)
    assert bd["takeover_done_s"] == 17.0 and bd["takeover_done_from"] == "the client's writes resumed"
    assert bd["wrappers_s"] == 5.0 and [s["seconds"] for s in bd["starts"]] == [3.5, 1.5]
    assert bd["dopd_crashes"] == 1
    assert hb.crash_breakdown(survivor, 1001.0, 10.0)["wrappers_s"] is None  # no end: unknown


def test_resumption_is_the_acknowledgement_that_ended_the_longest_gap():
    acks = [(1, 0, 10.0), (2, 0, 10.5), (3, 0, 11.0), (4, 0, 30.0), (5, 0, 30.4), (6, 0, 31.0)]
    assert hb.resumption(acks, 10.2, 40.0) == 30.0
    assert hb.resumption(acks[:1], 10.2, 40.0) is None


def test_proc_drbd_after_the_peer_was_outdated():
    text = ("version: 8.4.11 (api:1/proto:86-101)\nsrcversion: X \n"
            " 0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/Outdated C r-----\n"
            "    ns:0 nr:0 dw:8 dr:900 al:1 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:4\n"
            " 1: cs:Connected ro:Secondary/Primary ds:UpToDate/UpToDate C r-----\n")
    assert hb.proc_drbd(text) == {"0": {"cs": "WFConnection", "ro": "Primary/Unknown", "ds": "UpToDate/Outdated"},
                                  "1": {"cs": "Connected", "ro": "Secondary/Primary", "ds": "UpToDate/UpToDate"}}


def test_what_the_lab_takes_from_the_generated_files():
    files = generated()
    node, group = hb.haresources_group(files["haresources"][0])
    assert node == "a" and group[0].startswith("IPaddr2::") and "drbddisk::iscsi.lun" in group
    assert hb.deadtime(files["ha.cf"][0]) == 10.0 and hb.interval(files["ha.cf"][0], "keepalive") == 2.0
    lines = hb.statoverrides(files["README"][0])
    assert lines and all(ln.startswith("dpkg-statoverride --add --update root haclient 4750 /") for ln in lines)
    assert 'fence-peer "/usr/libexec/heartbeat/drbd-peer-outdater -t 5"' in files["drbd-heartbeat.conf"][0]
    assert files["authkeys"][1] == 0o600


def test_missing_steps_in_the_generated_files_are_errors():
    with pytest.raises(vm.GuestError):
        hb.statoverrides("no such step")
    with pytest.raises(vm.GuestError):
        hb.haresources_group("a drbddisk::r0\n")
    with pytest.raises(vm.GuestError):
        hb.deadtime("keepalive 2\n")
    assert hb.deadtime("deadtime 1500ms\n") == 1.5


def test_the_holder_is_the_node_with_the_whole_service_while_the_other_has_none():
    lab = object.__new__(hb.HeartbeatLab)
    full = {"held": ["vip", "drbd", "fs", "target", "lun", "open"], "rsc": "all"}
    assert lab.holder({"a": full, "b": {"held": [], "rsc": "none"}}) == "a"
    # heartbeat's rscstatus is not needed: it once stayed 'transition' after a complete takeover.
    assert lab.holder({"a": {**full, "rsc": "transition"}, "b": {"held": [], "rsc": "none"}}) == "a"
    assert lab.holder({"a": full, "b": {"held": ["vip"], "rsc": "none"}}) == ""  # both hold some: nobody
    blocked = {"held": ["vip", "drbd", "fs", "target", "lun"], "rsc": "all"}  # portblock not yet unblocked
    assert lab.holder({"a": blocked, "b": {"held": [], "rsc": "?"}}) == ""


def test_demo_guests_dispatches_by_manager(monkeypatch):
    import argparse

    from ocfkit import demo
    from ocfkit.lab.guests import scenario

    called = []
    monkeypatch.setattr(hb, "main", lambda args: called.append("heartbeat") or 0)
    monkeypatch.setattr(scenario, "main", lambda args: called.append("pacemaker") or 0)
    for manager in ("heartbeat", "pacemaker"):
        assert demo.main(argparse.Namespace(guests=True, manager=manager, steady=None, json=True)) == 0
    assert called == ["heartbeat", "pacemaker"]
