"""drbd and drbddisk on scripted drbdsetup/drbdadm (fixtures captured in the guest tier)."""

from __future__ import annotations

import os

import pytest

from agents.drbd import drbd, promotion_score
from agents.drbddisk import drbddisk
from agents.tools import drbd as drbdtool
from agents.tools.drbd import parse_events2
from ocf.errors import Rc
from ocf.testing import FakeRunner

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "drbd")
STATUS = ["drbdsetup", "events2", "--now", "r0"]
SCORE = ["crm_attribute", "--promotion=r0", "-l", "reboot"]


def fixture(name: str) -> str:
    with open(os.path.join(FIX, name + ".events2")) as f:
        return f.read()


@pytest.fixture(autouse=True)
def _module_loaded(monkeypatch):
    """These tests play a node with the DRBD module loaded (the host has none)."""
    monkeypatch.setattr(drbdtool, "module_loaded", lambda: True)


ENV = {"OCF_RESKEY_drbd_resource": "r0", "OCF_RESOURCE_INSTANCE": "r0", "OCF_RESKEY_crm_feature_set": "3.16.1",
       "OCF_RESKEY_CRM_meta_interval": "31000"}


@pytest.mark.parametrize(("name", "role", "disk", "connected", "score"), [
    ("primary-connected", "Primary", "UpToDate", True, 10000),
    ("secondary-uptodate-peer-primary", "Secondary", "UpToDate", True, 10000),
    ("secondary-outdated-alone", "Secondary", "Outdated", False, None),
    ("primary-diskless", "Primary", "Diskless", True, None),
    ("up-just-now", "Secondary", "Inconsistent", False, None),
    ("secondary-inconsistent-connected", "Secondary", "Inconsistent", True, None),
    ("primary-syncsource", "Primary", "UpToDate", True, 10000),
    ("secondary-synctarget", "Secondary", "Inconsistent", True, None),
    ("primary-peer-unknown", "Primary", "UpToDate", False, 10000),
    ("secondary-diskless", "Secondary", "Diskless", True, None),
    ("primary-peer-diskless", "Primary", "UpToDate", True, 10000),
])
def test_events2_states_and_promotion_scores(name, role, disk, connected, score):
    res = parse_events2(fixture(name))["r0"]
    assert (res.role, res.disk, res.connected) == (role, disk, connected)
    assert promotion_score(res) == score


def test_uptodate_alone_scores_below_connected_and_above_consistent():
    res = parse_events2(fixture("secondary-outdated-alone"))["r0"]
    res.disks = ["UpToDate"]
    alone = promotion_score(res)
    res.disks = ["Consistent"]
    assert 10000 > alone > promotion_score(res) > 0


@pytest.mark.parametrize(("name", "rc", "score_call"), [
    ("primary-connected", Rc.RUNNING_PROMOTED, [*SCORE, "-v", "10000"]),
    ("secondary-uptodate-peer-primary", Rc.SUCCESS, [*SCORE, "-v", "10000"]),
    ("secondary-outdated-alone", Rc.SUCCESS, [*SCORE, "-D"]),
    ("primary-diskless", Rc.FAILED_PROMOTED, [*SCORE, "-D"]),
])
def test_monitor_reports_the_role_and_sets_the_score(name, rc, score_call):
    r = FakeRunner().expect(STATUS, fixture(name)).expect(score_call)
    assert drbd.main(["drbd", "monitor"], ENV, r) == rc
    r.assert_done()


def test_monitor_of_a_resource_that_is_down_is_7():
    assert parse_events2(fixture("down")) == {}
    r = FakeRunner().expect(STATUS, fixture("down"))
    assert drbd.main(["drbd", "monitor"], ENV, r) == Rc.NOT_RUNNING
    r.assert_done()


def test_without_the_kernel_module_start_is_5_probe_7_stop_0(capsys, monkeypatch):
    monkeypatch.setattr(drbdtool, "module_loaded", lambda: False)
    for action, rc in (("start", Rc.ERR_INSTALLED), ("monitor", Rc.NOT_RUNNING), ("stop", Rc.SUCCESS)):
        r = FakeRunner()
        if action == "stop":
            r.expect([*SCORE, "-D"])  # no DRBD in the kernel proves it stopped: its score goes
        assert drbd.main(["drbd", action], dict(ENV, OCF_RESKEY_CRM_meta_interval="0"), r) == rc
        r.assert_done()  # no drbdsetup or drbdadm was run
    assert "DRBD kernel module is not loaded" in capsys.readouterr().err


def test_module_gone_under_drbdsetup_is_reported_as_not_installed(capsys, monkeypatch):
    nomod = "Could not connect to 'drbd' generic netlink family"
    loaded = iter([True, True, True, False])  # start looks once; stop twice, then finds it gone
    monkeypatch.setattr(drbdtool, "module_loaded", lambda: next(loaded))
    r = FakeRunner().expect(STATUS, "", nomod, rc=20)
    assert drbd.main(["drbd", "start"], dict(ENV, OCF_RESKEY_CRM_meta_interval="0"), r) == Rc.ERR_INSTALLED
    assert "DRBD kernel module is not loaded" in capsys.readouterr().err
    r = FakeRunner().expect(STATUS, "", nomod, rc=20).expect([*SCORE, "-D"])
    assert drbd.main(["drbd", "stop"], ENV, r) == Rc.SUCCESS
    r.assert_done()


@pytest.mark.parametrize("agent", [drbd, drbddisk])
def test_stop_with_drbd_loaded_but_drbdsetup_missing_fails(agent, capsys):
    # Missing tools prove nothing while DRBD is in the kernel: the resource may be Primary.
    r = FakeRunner().expect(STATUS, missing=True)
    assert agent.main(["x", "stop"], ENV, r) == Rc.ERR_GENERIC
    r.assert_done()
    err = capsys.readouterr().err
    assert "ocf-exit-reason:drbdsetup: command not found, but DRBD is loaded in the kernel: r0 may be up" in err


@pytest.mark.parametrize("agent", [drbd, drbddisk])
def test_probe_with_drbd_loaded_but_drbdsetup_missing_does_not_guess(agent):
    r = FakeRunner().expect(STATUS, missing=True)
    assert agent.main(["x", "monitor"], dict(ENV, OCF_RESKEY_CRM_meta_interval="0"), r) == Rc.ERR_GENERIC


def test_drbd_stop_of_a_primary_without_drbdadm_fails_with_5(capsys):
    r = FakeRunner().expect(STATUS, fixture("primary-connected")).expect(["drbdadm", "secondary", "r0"], missing=True)
    assert drbd.main(["drbd", "stop"], ENV, r) == Rc.ERR_INSTALLED
    r.assert_done()
    assert "may still be running" in capsys.readouterr().err


def test_drbddisk_all_without_drbdadm_fails_stop_while_drbd_is_loaded():
    r = FakeRunner().expect(["drbdadm", "sh-resources"], missing=True)
    e = dict(ENV, OCF_RESKEY_drbd_resource="all")
    assert drbddisk.main(["drbddisk", "stop"], e, r) == Rc.ERR_INSTALLED
    r = FakeRunner().expect(["drbdadm", "sh-resources"], missing=True)
    assert drbddisk.main(["drbddisk", "monitor"], dict(e, OCF_RESKEY_CRM_meta_interval="0"), r) == Rc.ERR_GENERIC


@pytest.mark.parametrize("conf", ["/nonexistent/drbd.conf", "/etc"])
def test_drbddisk_misconfigured_on_a_node_without_drbd_probe_7_stop_0(conf, monkeypatch):
    # issue 20: "all" with an unusable drbdconf made probe and stop return 1 (drbdadm sh-resources failed).
    monkeypatch.setattr(drbdtool, "module_loaded", lambda: False)
    e = dict(ENV, OCF_RESKEY_drbd_resource="all", OCF_RESKEY_drbdconf=conf, OCF_RESKEY_CRM_meta_interval="0")
    for action, rc in (("monitor", Rc.NOT_RUNNING), ("stop", Rc.SUCCESS)):
        r = FakeRunner()
        assert drbddisk.main(["drbddisk", action], e, r) == rc
        r.assert_done()


@pytest.mark.parametrize("agent", [drbd, drbddisk])
@pytest.mark.parametrize("name", ["-v", "--help", "r 0", "r0;x", ""])
def test_a_resource_name_that_drbd_cannot_have_is_a_configuration_error(agent, name):
    # It never reaches drbdadm/drbdsetup (as an option); such a resource cannot be running.
    e = dict(ENV, OCF_RESKEY_drbd_resource=name, OCF_RESKEY_CRM_meta_interval="0")
    if name == "":
        if agent is drbddisk:
            return  # unset: drbddisk's default "all"
        expected = {"start": Rc.ERR_CONFIGURED, "monitor": Rc.NOT_RUNNING, "stop": Rc.SUCCESS}
    else:
        expected = {"start": Rc.ERR_CONFIGURED, "monitor": Rc.NOT_RUNNING, "stop": Rc.SUCCESS,
                    "validate-all": Rc.ERR_CONFIGURED}
    for action, rc in expected.items():
        r = FakeRunner()
        assert agent.main(["x", action], e, r) == rc, action
        r.assert_done()


def test_promotion_of_an_outdated_disk_is_refused(capsys):
    r = FakeRunner().expect(STATUS, fixture("secondary-outdated-alone"))
    assert drbd.main(["drbd", "promote"], ENV, r) == Rc.ERR_GENERIC
    r.assert_done()
    assert "refusing to promote r0: its disk is Outdated" in capsys.readouterr().err


def test_promote_and_demote_run_drbdadm():
    r = FakeRunner().expect(STATUS, fixture("secondary-uptodate-peer-primary")).expect(["drbdadm", "primary", "r0"])
    assert drbd.main(["drbd", "promote"], ENV, r) == Rc.SUCCESS
    r.assert_done()
    r = FakeRunner().expect(STATUS, fixture("primary-connected")).expect(["drbdadm", "secondary", "r0"])
    assert drbd.main(["drbd", "demote"], ENV, r) == Rc.SUCCESS
    r.assert_done()


def test_drbddisk_retries_while_the_peer_is_still_primary():
    r = FakeRunner().expect(STATUS, fixture("secondary-uptodate-peer-primary"))
    r.expect(["drbdadm", "primary", "r0"], "", "r0: State change failed: (-1) Multiple primaries not allowed", rc=11)
    r.expect(["drbdadm", "primary", "r0"])
    assert drbddisk.main(["drbddisk", "start"], dict(ENV, OCF_RESKEY_CRM_meta_timeout="20000"), r) == Rc.SUCCESS
    r.assert_done()


def test_drbddisk_refuses_a_stale_disk_unless_forced(capsys):
    r = FakeRunner().expect(STATUS, fixture("secondary-outdated-alone"))
    assert drbddisk.main(["drbddisk", "start"], ENV, r) == Rc.ERR_GENERIC
    assert "its disk is Outdated, not UpToDate" in capsys.readouterr().err
    r = FakeRunner().expect(STATUS, fixture("secondary-outdated-alone")).expect(["drbdadm", "primary", "r0"])
    assert drbddisk.main(["drbddisk", "start"], dict(ENV, OCF_RESKEY_force_primary="yes"), r) == Rc.SUCCESS
    r.assert_done()


def test_drbddisk_brings_a_down_resource_up_first():
    r = FakeRunner().expect(STATUS, fixture("down")).expect(["drbdadm", "up", "r0"])
    r.expect(STATUS, fixture("secondary-uptodate-peer-primary").replace("role:Primary", "role:Secondary"))
    r.expect(["drbdadm", "primary", "r0"])
    assert drbddisk.main(["drbddisk", "start"], ENV, r) == Rc.SUCCESS
    r.assert_done()


def test_promote_retries_while_the_failed_peer_still_counts_as_primary():
    r = FakeRunner().expect(STATUS, fixture("secondary-uptodate-peer-primary"))
    r.expect(["drbdadm", "primary", "r0"], "", "r0: State change failed: (-1) Multiple primaries not allowed", rc=11)
    r.expect(["drbdadm", "primary", "r0"])
    assert drbd.main(["drbd", "promote"], dict(ENV, OCF_RESKEY_CRM_meta_timeout="20000"), r) == Rc.SUCCESS
    r.assert_done()
