"""The IET backend on /proc/net/iet contents in IET's documented format and scripted ietadm runs
(no IET kernel exists on the machines ocfkit is tested on)."""

from __future__ import annotations

import pytest

from agents.iet import iSCSILogicalUnit, iSCSITarget
from agents.tools import ietadm
from ocf.errors import Rc
from ocf.testing import FakeRunner

IQN = "iqn.2015-12.cl.caschile:lun.filer"

VOLUME_EMPTY = ""
VOLUME_TARGET = f"tid:1 name:{IQN}\n"
VOLUME_LUN = VOLUME_TARGET + "\tlun:0 state:0 iotype:fileio iomode:wt blocks:8 blocksize:512 path:{path}\n"
SESSION_ONE = (f"tid:1 name:{IQN}\n\tsid:281474997486080 initiator:iqn.1993-08.org.debian:01:abc\n"
               "\t\tcid:0 ip:192.168.7.10 state:active hd:none dd:none\n")


@pytest.fixture
def iet(tmp_path, monkeypatch):
    proc = tmp_path / "iet"
    proc.mkdir()
    allow = tmp_path / "initiators.allow"
    allow.write_text("# admin's own line\nALL 10.0.0.0/8\n")
    monkeypatch.setattr(ietadm, "PROC", str(proc))
    monkeypatch.setattr(ietadm, "ALLOW", str(allow))
    monkeypatch.setattr("agents.iet.which", lambda name: f"/usr/sbin/{name}", raising=False)
    monkeypatch.setattr("ocf.exec.which", lambda name: f"/usr/sbin/{name}")

    def state(volume: str, session: str = "") -> None:
        (proc / "volume").write_text(volume)
        (proc / "session").write_text(session)

    state(VOLUME_EMPTY)
    return state, allow


def env(**kw) -> dict:
    e = {"OCF_RESOURCE_INSTANCE": "lun-filer", "OCF_RESKEY_implementation": "iet"}
    e.update({f"OCF_RESKEY_{k}": v for k, v in kw.items()})
    return e


TA = {"iqn": IQN, "tid": "1"}


def test_parse_volume_and_session(iet, tmp_path):
    state, _ = iet
    state(VOLUME_LUN.format(path="/dev/vg0drbd/filer"), SESSION_ONE)
    t = ietadm.targets(ietadm.PROC)[1]
    assert t.iqn == IQN and t.luns[0]["path"] == "/dev/vg0drbd/filer" and t.luns[0]["iotype"] == "fileio"
    assert t.sessions == {"281474997486080": ["0"]}


def test_target_start_with_parameters_chap_and_allow_line(iet, capsys):
    state, allow = iet
    params = dict(TA, incoming_username="u", incoming_password="topsecret-123", allowed_initiators="iqn.x:a 10.1.1.1",
                  additional_parameters="MaxRecvDataSegmentLength=65536 InitialR2T=No")
    r = FakeRunner()
    r.expect(["ietadm", "--op", "new", "--tid=1", f"--params=Name={IQN}"], effect=lambda: state(VOLUME_TARGET))
    r.expect(["ietadm", "--op", "update", "--tid=1", "--params=MaxRecvDataSegmentLength=65536,InitialR2T=No"])
    r.expect(["ietadm", "--op", "delete", "--tid=1", "--user", "--params=IncomingUser=u"], rc=2)
    r.expect(["ietadm", "--op", "new", "--tid=1", "--user", "--params=IncomingUser=u,Password=topsecret-123"])
    assert iSCSITarget.main(["x", "start"], env(**params), r) == Rc.SUCCESS
    r.assert_done()
    assert allow.read_text().splitlines() == ["# admin's own line", "ALL 10.0.0.0/8", f"{IQN} iqn.x:a, 10.1.1.1"]
    assert "topsecret-123" not in capsys.readouterr().err
    # Stop closes the session, deletes the target and takes exactly its line out again.
    state(VOLUME_TARGET, SESSION_ONE)
    r = FakeRunner()
    r.expect(["ietadm", "--op", "delete", "--tid=1", "--sid=281474997486080", "--cid=0"])
    r.expect(["ietadm", "--op", "delete", "--tid=1"], effect=lambda: state(VOLUME_EMPTY))
    assert iSCSITarget.main(["x", "stop"], env(**params), r) == Rc.SUCCESS
    r.assert_done()
    assert allow.read_text().splitlines() == ["# admin's own line", "ALL 10.0.0.0/8"]
    assert iSCSITarget.main(["x", "stop"], env(**params), FakeRunner()) == Rc.SUCCESS
    assert iSCSITarget.main(["x", "monitor"], env(**params), FakeRunner()) == Rc.NOT_RUNNING


def test_failed_step_removes_the_new_target(iet, capsys):
    state, _ = iet
    params = dict(TA, incoming_username="u", incoming_password="topsecret-123")
    r = FakeRunner()
    r.expect(["ietadm", "--op", "new", "--tid=1", f"--params=Name={IQN}"], effect=lambda: state(VOLUME_TARGET))
    r.expect(["ietadm", "--op", "delete", "--tid=1", "--user", "--params=IncomingUser=u"])
    r.expect(["ietadm", "--op", "new", "--tid=1", "--user", "--params=IncomingUser=u,Password=topsecret-123"],
             "", "ietadm: topsecret-123 rejected", rc=1)
    r.expect(["ietadm", "--op", "delete", "--tid=1"], effect=lambda: state(VOLUME_EMPTY))
    assert iSCSITarget.main(["x", "start"], env(**params), r) == Rc.ERR_GENERIC
    r.assert_done()
    err = capsys.readouterr().err
    assert "ocf-exit-reason:" in err and "topsecret-123" not in err


def test_tid_taken_by_another_target(iet, capsys):
    state, _ = iet
    state("tid:1 name:iqn.2000-01.other:t\n")
    assert iSCSITarget.main(["x", "start"], env(**TA), FakeRunner()) == Rc.ERR_GENERIC
    assert "already used by iqn.2000-01.other:t" in capsys.readouterr().err
    assert iSCSITarget.main(["x", "monitor"], env(**TA), FakeRunner()) == Rc.ERR_GENERIC


def test_lun_start_monitor_stop(iet, tmp_path):
    state, _ = iet
    disk = tmp_path / "lun0.img"
    disk.write_bytes(b"\0" * 4096)
    state(VOLUME_TARGET)
    lu = {"target_iqn": IQN, "lun": "0", "path": str(disk), "scsi_sn": "0a0b0c0d", "readonly": "1"}
    assert iSCSILogicalUnit.main(["x", "monitor"], env(**lu), FakeRunner()) == Rc.NOT_RUNNING
    r = FakeRunner()
    r.expect(["ietadm", "--op", "new", "--tid=1", "--lun=0",
              f"--params=Path={disk},Type=fileio,ScsiId=lun-filer,ScsiSN=0a0b0c0d,IOMode=ro"],
             effect=lambda: state(VOLUME_LUN.format(path=disk)))
    assert iSCSILogicalUnit.main(["x", "start"], env(**lu), r) == Rc.SUCCESS
    r.assert_done()
    assert iSCSILogicalUnit.main(["x", "start"], env(**lu), FakeRunner()) == Rc.SUCCESS  # idempotent
    assert iSCSILogicalUnit.main(["x", "monitor"], env(**lu), FakeRunner()) == Rc.SUCCESS
    r = FakeRunner().expect(["ietadm", "--op", "delete", "--tid=1", "--lun=0"], effect=lambda: state(VOLUME_TARGET))
    assert iSCSILogicalUnit.main(["x", "stop"], env(**lu), r) == Rc.SUCCESS
    r.assert_done()
    assert iSCSILogicalUnit.main(["x", "stop"], env(**lu), FakeRunner()) == Rc.SUCCESS


def test_not_running_probe_7_stop_0_start_5(tmp_path, monkeypatch):
    monkeypatch.setattr(ietadm, "PROC", str(tmp_path / "absent"))
    monkeypatch.setattr("ocf.exec.which", lambda name: f"/usr/sbin/{name}")
    e = dict(env(**TA), OCF_RESKEY_CRM_meta_interval="0")
    assert iSCSITarget.main(["x", "monitor"], e, FakeRunner()) == Rc.NOT_RUNNING
    assert iSCSITarget.main(["x", "stop"], e, FakeRunner()) == Rc.SUCCESS
    assert iSCSITarget.main(["x", "start"], e, FakeRunner()) == Rc.ERR_INSTALLED


def test_unknown_parameter_is_a_configuration_error(iet, capsys):
    assert iSCSITarget.main(["x", "validate-all"], env(**dict(TA, additional_parameters="Bogus=1")),
                            FakeRunner()) == Rc.ERR_CONFIGURED
    assert "iet does not know Bogus" in capsys.readouterr().err
