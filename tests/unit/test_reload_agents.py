"""reload-agent of IPaddr2, portblock and iSCSITarget at the command seam: what each applies live,
what it refuses, and what its OCF 1.1 meta-data marks reloadable."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from agents.ipaddr2 import IPaddr2
from agents.iscsi.logical_unit import iSCSILogicalUnit
from agents.iscsi.target import iSCSITarget
from agents.portblock import portblock
from ocf.errors import Rc
from ocf.metadata import render
from ocf.testing import FakeRunner
from tests.unit.fake_configfs import FakeConfigfs

OCF_1_1 = {"OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1"}
IQN = "iqn.2024-01.org.example:filer"


def reloadable(cls) -> set[str]:
    root = ET.fromstring(render(cls, OCF_1_1).split("\n", 1)[1])
    assert root.find("actions/action[@name='reload-agent']") is not None
    return {p.get("name") for p in root.findall("parameters/parameter") if p.get("reloadable") == "1"}


def started(cls, env):
    """What a successful start leaves behind: the record of the parameters it ran with."""
    cls(env, FakeRunner())._ocf_remember("start")


def call(cls, action, env, runner):
    rc = cls.main([cls.__name__, action], env, runner)
    runner.assert_done()
    return rc


def test_only_options_read_after_start_are_reloadable():
    assert reloadable(IPaddr2) == {"arp_interval", "arp_count", "arp_count_refresh", "arp_bg", "flush_routes",
                                   "check_link_status"}
    assert reloadable(portblock) == {"reset_local_on_unblock_stop", "tickle_dir", "sync_script"}
    assert reloadable(iSCSITarget) == {"additional_parameters"}
    root = ET.fromstring(render(iSCSILogicalUnit, OCF_1_1).split("\n", 1)[1])
    assert root.find("actions/action[@name='reload-agent']") is None


# ----- IPaddr2 -----------------------------------------------------------------------------------

ADDRS = "6: veth0    inet 10.99.0.150/24 brd 10.99.0.255 scope global veth0\\       valid_lft forever\n"
SHOW = ["ip", "-n", "ocfk-unit", "-o", "-4", "addr", "show"]


def vip_env(tmp_path, **kw):
    e = {"OCF_RESOURCE_INSTANCE": "vip", "HA_RSCTMP": str(tmp_path), "OCF_RESKEY_network_namespace": "ocfk-unit",
         "OCF_RESKEY_ip": "10.99.0.150", "OCF_RESKEY_nic": "veth0", "OCF_RESKEY_cidr_netmask": "24",
         "OCF_RESKEY_check_link_status": "false", "OCF_RESKEY_CRM_meta_timeout": "20000"}
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return e


def test_ipaddr2_reload_of_arp_options_checks_the_address_and_touches_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr("agents.ipaddr2.exists", lambda p: True)
    started(IPaddr2, vip_env(tmp_path))
    # Only the monitor's look at the address: no ip addr add/del, no announcement.
    assert call(IPaddr2, "reload-agent", vip_env(tmp_path, arp_count="9", arp_interval="50"),
                FakeRunner().expect(SHOW, stdout=ADDRS)) == Rc.SUCCESS


def test_ipaddr2_reload_fails_when_the_address_is_gone(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("agents.ipaddr2.exists", lambda p: True)
    started(IPaddr2, vip_env(tmp_path))
    link = "6: veth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP mode DEFAULT\\    link/ether\n"
    r = FakeRunner().expect(SHOW, stdout="").expect(["ip", "-n", "ocfk-unit", "-o", "link", "show", "dev", "veth0"],
                                                    stdout=link)
    assert call(IPaddr2, "reload-agent", vip_env(tmp_path, arp_count="9"), r) == 1
    assert "vip is not running here: nothing to reload" in capsys.readouterr().err


def test_ipaddr2_interface_or_lifetime_change_is_not_reloaded(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("agents.ipaddr2.exists", lambda p: True)
    started(IPaddr2, vip_env(tmp_path, cidr_netmask="24"))
    e = vip_env(tmp_path)
    del e["OCF_RESKEY_nic"]  # the monitor matches the address on any interface
    e["OCF_RESKEY_cidr_netmask"] = "24"
    e["OCF_RESKEY_preferred_lft"] = "0"
    assert call(IPaddr2, "reload-agent", e, FakeRunner().expect(SHOW, stdout=ADDRS)) == 1
    assert "parameters nic, preferred_lft changed and are not reloadable" in capsys.readouterr().err


# ----- portblock ---------------------------------------------------------------------------------

SPEC = ["-p", "tcp", "-d", "10.99.0.1", "-m", "multiport", "--dports", "3260", "-m", "comment",
        "--comment", "ocfkit:tcp:3260:10.99.0.1:in", "-j", "DROP"]
CHECK = ["iptables", "-w", "-C", "INPUT", *SPEC]
SS = ["ss", "-Htn", "state", "established"]
CONN = "0 0 10.99.0.1:3260 10.99.0.2:51000\n0 0 10.99.0.1:22 10.99.0.2:40000\n"


def pb_env(tmp_path, **kw):
    e = {"OCF_RESOURCE_INSTANCE": "unblock", "HA_RSCTMP": str(tmp_path / "rsc"), "OCF_RESKEY_protocol": "tcp",
         "OCF_RESKEY_portno": "3260", "OCF_RESKEY_action": "unblock", "OCF_RESKEY_ip": "10.99.0.1",
         "OCF_RESKEY_firewall": "iptables"}
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return e


def test_portblock_reload_writes_the_connection_list_into_a_new_tickle_dir_at_once(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    started(portblock, pb_env(tmp_path, tickle_dir=str(old)))
    portblock(pb_env(tmp_path), FakeRunner()).state().write()  # the unblock instance runs: rule absent
    r = (FakeRunner().expect(CHECK, rc=1).expect(SS, stdout=CONN)  # the monitor (it saves the list too)
         .expect(SS, stdout=CONN))  # the reload's own save
    assert call(portblock, "reload-agent", pb_env(tmp_path, tickle_dir=str(new)), r) == Rc.SUCCESS
    assert (new / "10.99.0.1").read_text() == "10.99.0.1:3260 10.99.0.2:51000\n"


def test_portblock_reload_of_reset_local_runs_no_command_but_the_monitor(tmp_path):
    started(portblock, pb_env(tmp_path))
    portblock(pb_env(tmp_path), FakeRunner()).state().write()
    r = FakeRunner().expect(CHECK, rc=1)
    assert call(portblock, "reload-agent", pb_env(tmp_path, reset_local_on_unblock_stop="true"), r) == Rc.SUCCESS


def test_portblock_reload_does_not_pretend_a_new_method_is_in_force(tmp_path, capsys):
    started(portblock, pb_env(tmp_path))
    portblock(pb_env(tmp_path), FakeRunner()).state().write()
    # The monitor already looks for the rule the new method would make.
    r = FakeRunner().expect([*CHECK[:-1], "REJECT", "--reject-with", "tcp-reset"], rc=1)
    assert call(portblock, "reload-agent", pb_env(tmp_path, method="reject"), r) == 1
    assert "parameter method changed and is not reloadable" in capsys.readouterr().err


# ----- iSCSITarget -------------------------------------------------------------------------------

TGT = ["tgtadm", "--lld", "iscsi"]
TGT_SHOW = [*TGT, "--op", "show", "--mode", "target"]
TGT_TARGET = (f"Target 1: {IQN}\n    System information:\n        Driver: iscsi\n        State: ready\n"
              "    I_T nexus information:\n    LUN information:\n    Account information:\n    ACL information:\n"
              "        ALL\n")


def tgt_env(tmp_path, **kw):
    e = {"OCF_RESOURCE_INSTANCE": "target", "HA_RSCTMP": str(tmp_path), "OCF_RESKEY_implementation": "tgt",
         "OCF_RESKEY_iqn": IQN, "OCF_RESKEY_tid": "1"}
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return e


def update(name, value):
    return [*TGT, "--op", "update", "--mode", "target", "--tid", "1", "--name", name, "--value", value]


def test_tgt_reload_updates_only_the_changed_and_added_session_parameters(tmp_path):
    started(iSCSITarget, tgt_env(tmp_path, additional_parameters="MaxRecvDataSegmentLength=65536 ImmediateData=Yes"))
    e = tgt_env(tmp_path, additional_parameters="MaxRecvDataSegmentLength=131072 ImmediateData=Yes InitialR2T=No")
    r = (FakeRunner().expect(TGT_SHOW, stdout=TGT_TARGET)
         .expect(update("MaxRecvDataSegmentLength", "131072")).expect(update("InitialR2T", "No")))
    assert call(iSCSITarget, "reload-agent", e, r) == Rc.SUCCESS
    # Recorded: the same list again changes nothing.
    assert call(iSCSITarget, "reload-agent", e, FakeRunner().expect(TGT_SHOW, stdout=TGT_TARGET)) == Rc.SUCCESS


def test_tgt_reload_refuses_to_drop_a_parameter_it_cannot_reset(tmp_path, capsys):
    started(iSCSITarget, tgt_env(tmp_path, additional_parameters="MaxRecvDataSegmentLength=65536 InitialR2T=No"))
    e = tgt_env(tmp_path, additional_parameters="MaxRecvDataSegmentLength=65536")
    assert call(iSCSITarget, "reload-agent", e, FakeRunner().expect(TGT_SHOW, stdout=TGT_TARGET)) == 1
    assert "additional_parameters: InitialR2T no longer set: only a restart" in capsys.readouterr().err


def test_tgt_reload_that_tgtadm_refuses_fails(tmp_path):
    started(iSCSITarget, tgt_env(tmp_path))
    e = tgt_env(tmp_path, additional_parameters="MaxRecvDataSegmentLength=1")
    r = FakeRunner().expect(TGT_SHOW, stdout=TGT_TARGET).expect(update("MaxRecvDataSegmentLength", "1"), rc=22,
                                                                 stderr="tgtadm: invalid request")
    assert call(iSCSITarget, "reload-agent", e, r) == 1


def test_target_changes_outside_additional_parameters_need_a_restart(tmp_path, capsys):
    started(iSCSITarget, tgt_env(tmp_path))
    e = tgt_env(tmp_path, allowed_initiators="iqn.1993-08.org.debian:01:nodea")
    assert call(iSCSITarget, "reload-agent", e, FakeRunner().expect(TGT_SHOW, stdout=TGT_TARGET)) == 1
    assert "parameter allowed_initiators changed and is not reloadable" in capsys.readouterr().err


@pytest.fixture
def cfs(tmp_path, monkeypatch):
    return FakeConfigfs(str(tmp_path / "configfs"), monkeypatch)


def test_lio_reload_writes_the_tpg_parameter_and_attribute_files(cfs, tmp_path):
    e = {"OCF_RESOURCE_INSTANCE": "target", "OCFKIT_CONFIGFS_ROOT": cfs.root, "HA_RSCTMP": str(tmp_path / "rsc"),
         "OCF_RESKEY_implementation": "lio", "OCF_RESKEY_iqn": IQN}
    cfs.failing.add("param/InitialR2T")  # the kernel refuses this write
    assert call(iSCSITarget, "start", e, FakeRunner()) == Rc.SUCCESS  # records the parameters itself
    t = f"iscsi/{IQN}/tpgt_1"
    e2 = dict(e, OCF_RESKEY_additional_parameters="MaxRecvDataSegmentLength=262144 login_timeout=30")
    assert call(iSCSITarget, "reload-agent", e2, FakeRunner()) == Rc.SUCCESS
    assert cfs.read(f"{t}/param/MaxRecvDataSegmentLength") == "262144"
    assert cfs.read(f"{t}/attrib/login_timeout") == "30"
    e3 = dict(e2, OCF_RESKEY_additional_parameters=e2["OCF_RESKEY_additional_parameters"] + " InitialR2T=No")
    assert call(iSCSITarget, "reload-agent", e3, FakeRunner()) == 1


def test_iet_reload_updates_the_target_found_by_its_name(tmp_path):
    proc = tmp_path / "proc"
    (proc / "net/iet").mkdir(parents=True)
    (proc / "net/iet/volume").write_text(f"tid:3 name:{IQN}\n")
    (proc / "net/iet/session").write_text(f"tid:3 name:{IQN}\n")
    e = {"OCF_RESOURCE_INSTANCE": "target", "OCFKIT_PROC_ROOT": str(proc), "HA_RSCTMP": str(tmp_path / "rsc"),
         "OCF_RESKEY_implementation": "iet", "OCF_RESKEY_iqn": IQN}
    started(iSCSITarget, e)
    e2 = dict(e, OCF_RESKEY_additional_parameters="MaxRecvDataSegmentLength=65536")
    r = FakeRunner().expect(["ietadm", "--op", "update", "--tid=3", "--params=MaxRecvDataSegmentLength=65536"])
    assert call(iSCSITarget, "reload-agent", e2, r) == Rc.SUCCESS
