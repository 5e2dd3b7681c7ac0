"""iSCSITarget and iSCSILogicalUnit on each backend: LIO against a fake configfs tree, IET against
captured-style /proc/net/iet files and scripted ietadm, tgt against scripted tgtadm."""

from __future__ import annotations

import os

import pytest

from agents.iscsi.backend import detect
from agents.iscsi.logical_unit import iSCSILogicalUnit
from agents.iscsi.target import iSCSITarget
from agents.tools import ietadm
from ocf.errors import CommandError
from ocf.testing import FakeRunner
from tests.unit.fake_configfs import FakeConfigfs

IQN = "iqn.2024-01.org.example:filer"
INIT_A = "iqn.1993-08.org.debian:01:nodea"
INIT_B = "iqn.1993-08.org.debian:01:nodeb"
SECRET = "s3cr3t-Chap-pw"
FIX = os.path.join(os.path.dirname(__file__), "fixtures", "iet")


def fixture(name: str) -> str:
    with open(os.path.join(FIX, name)) as f:
        return f.read()


@pytest.fixture
def cfs(tmp_path, monkeypatch):
    return FakeConfigfs(str(tmp_path / "configfs"), monkeypatch)


def lio_env(cfs, tmp_path, **kw):
    rsctmp = tmp_path / "rsctmp"
    rsctmp.mkdir(exist_ok=True)
    e = {"OCF_RESOURCE_INSTANCE": "target", "OCFKIT_CONFIGFS_ROOT": cfs.root, "HA_RSCTMP": str(rsctmp),
         "OCF_RESKEY_implementation": "lio", "OCF_RESKEY_iqn": IQN, "OCF_RESKEY_CRM_meta_interval": "10000"}
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return e


def lun_env(base, backing, **kw):
    e = {k: v for k, v in base.items() if not k.startswith("OCF_RESKEY_") or k.endswith(("implementation",
                                                                                           "interval"))}
    e.update({"OCF_RESOURCE_INSTANCE": "lun1", "OCF_RESKEY_target_iqn": IQN, "OCF_RESKEY_lun": "1",
              "OCF_RESKEY_path": str(backing)})
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return e


def probe(env):
    return dict(env, OCF_RESKEY_CRM_meta_interval="0")


def call(agent, action, env, run=None):
    r = run or FakeRunner()
    rc = agent.main([agent.__name__, action], env, r)
    r.assert_done()
    return rc


# ----- LIO: iSCSITarget ----------------------------------------------------------------------------

def test_lio_target_start_builds_a_demo_mode_target_with_the_default_portal(cfs, tmp_path):
    env = lio_env(cfs, tmp_path)
    assert call(iSCSITarget, "monitor", probe(env)) == 7
    assert call(iSCSITarget, "start", env) == 0
    t = f"iscsi/{IQN}/tpgt_1"
    assert cfs.tree() == ["iscsi", f"iscsi/{IQN}", t, f"{t}/np/0.0.0.0:3260"]
    assert [cfs.read(f"{t}/attrib/{a}") for a in ("generate_node_acls", "cache_dynamic_acls",
                                                   "demo_mode_write_protect", "authentication")] == ["1", "1", "0", "0"]
    assert cfs.read(f"{t}/enable") == "1"
    assert call(iSCSITarget, "monitor", env) == 0
    assert call(iSCSITarget, "start", env) == 0  # idempotent: nothing new
    assert cfs.tree() == ["iscsi", f"iscsi/{IQN}", t, f"{t}/np/0.0.0.0:3260"]


def test_lio_target_with_initiators_and_chap_gets_acls_and_the_secret_in_each(cfs, tmp_path, capfd):
    env = lio_env(cfs, tmp_path, allowed_initiators=f"{INIT_A} {INIT_B}", incoming_username="filer",
                  incoming_password=SECRET, portals="10.99.0.100:3260 fd00:99::100:3261",
                  additional_parameters="MaxRecvDataSegmentLength=65536 login_timeout=10")
    assert call(iSCSITarget, "start", env) == 0
    t = f"iscsi/{IQN}/tpgt_1"
    assert f"{t}/acls/{INIT_A}" in cfs.tree() and f"{t}/acls/{INIT_B}" in cfs.tree()
    assert f"{t}/np/10.99.0.100:3260" in cfs.tree() and f"{t}/np/[fd00:99::100]:3261" in cfs.tree()
    assert f"{t}/np/0.0.0.0:3260" not in cfs.tree()
    assert cfs.read(f"{t}/acls/{INIT_A}/auth/userid") == "filer"
    assert cfs.read(f"{t}/acls/{INIT_B}/auth/password") == SECRET
    assert cfs.read(f"{t}/attrib/generate_node_acls") == "0" and cfs.read(f"{t}/attrib/authentication") == "1"
    assert cfs.read(f"{t}/param/MaxRecvDataSegmentLength") == "65536"
    assert cfs.read(f"{t}/attrib/login_timeout") == "10"
    # Dropping an initiator on a restart removes its ACL.
    assert call(iSCSITarget, "start", dict(env, OCF_RESKEY_allowed_initiators=INIT_A)) == 0
    assert f"{t}/acls/{INIT_B}" not in cfs.tree()
    assert SECRET not in capfd.readouterr().err


def test_lio_stop_removes_the_target_and_is_idempotent(cfs, tmp_path):
    env = lio_env(cfs, tmp_path, allowed_initiators=INIT_A)
    assert call(iSCSITarget, "start", env) == 0
    assert call(iSCSITarget, "stop", env) == 0
    assert cfs.tree() == ["iscsi"]  # the fabric directory is shared and stays
    assert call(iSCSITarget, "stop", env) == 0
    assert call(iSCSITarget, "monitor", probe(env)) == 7


def test_lio_stop_of_a_missing_target_and_without_lio_succeeds(cfs, tmp_path):
    assert call(iSCSITarget, "stop", lio_env(cfs, tmp_path)) == 0
    gone = dict(lio_env(cfs, tmp_path), OCFKIT_CONFIGFS_ROOT=str(tmp_path / "nothing"))
    assert call(iSCSITarget, "stop", gone) == 0
    assert call(iSCSITarget, "monitor", probe(gone)) == 7
    assert call(iSCSITarget, "start", gone) == 5


def test_lio_start_failing_in_the_middle_undoes_its_work_and_the_next_start_succeeds(cfs, tmp_path, capfd):
    env = lio_env(cfs, tmp_path, allowed_initiators=INIT_A, incoming_username="filer", incoming_password=SECRET)
    cfs.failing.add("tpgt_1/enable")
    assert call(iSCSITarget, "start", env) == 1
    assert "tpgt_1/enable" in capfd.readouterr().err
    assert cfs.tree() == ["iscsi"]
    cfs.failing.clear()
    assert call(iSCSITarget, "start", env) == 0
    assert call(iSCSITarget, "monitor", env) == 0


def test_lio_failed_chap_write_does_not_show_the_secret(cfs, tmp_path, capfd):
    env = lio_env(cfs, tmp_path, incoming_username="filer", incoming_password=SECRET)
    cfs.failing.add("tpgt_1/auth/password")
    assert call(iSCSITarget, "start", env) == 1
    err = capfd.readouterr().err
    assert "auth/password" in err and SECRET not in err
    assert cfs.tree() == ["iscsi"]


@pytest.mark.parametrize("initiators", ["", INIT_A])
def test_lio_monitor_finds_chap_switched_off_or_changed(cfs, tmp_path, capfd, initiators):
    env = lio_env(cfs, tmp_path, incoming_username="filer", incoming_password=SECRET,
                  **({"allowed_initiators": initiators} if initiators else {}))
    assert call(iSCSITarget, "start", env) == 0
    assert call(iSCSITarget, "monitor", env) == 0
    t = f"{cfs.root}/target/iscsi/{IQN}/tpgt_1"
    auth = f"{t}/acls/{INIT_A}/auth" if initiators else f"{t}/auth"
    with open(f"{auth}/userid", "w") as f:
        f.write("intruder\n")
    assert call(iSCSITarget, "monitor", env) == 1
    assert "lost its CHAP account filer" in capfd.readouterr().err
    assert call(iSCSITarget, "start", env) == 0  # start puts it back
    with open(f"{t}/attrib/authentication", "w") as f:
        f.write("0\n")
    assert call(iSCSITarget, "monitor", env) == 1


def test_lio_disabled_target_is_a_failure_not_a_clean_stop(cfs, tmp_path):
    env = lio_env(cfs, tmp_path)
    assert call(iSCSITarget, "start", env) == 0
    with open(f"{cfs.root}/target/iscsi/{IQN}/tpgt_1/enable", "w") as f:
        f.write("0\n")
    assert call(iSCSITarget, "monitor", env) == 1


def test_lio_refuses_initiator_addresses_with_a_reason(cfs, tmp_path, capfd):
    env = lio_env(cfs, tmp_path, allowed_initiators=f"{INIT_A} 10.99.0.2")
    assert call(iSCSITarget, "validate-all", dict(env, OCF_CHECK_LEVEL="0")) == 6
    assert "addresses are not supported: 10.99.0.2" in capfd.readouterr().err
    assert call(iSCSITarget, "start", env) == 6
    assert cfs.tree() == []


def test_lio_unknown_additional_parameter_is_a_configuration_error(cfs, tmp_path):
    assert call(iSCSITarget, "start", lio_env(cfs, tmp_path, additional_parameters="Wthreads=8")) == 6


# ----- LIO: iSCSILogicalUnit ---------------------------------------------------------------------------

@pytest.fixture
def backing(tmp_path):
    p = tmp_path / "filer.img"
    p.write_bytes(b"\0" * 65536)
    return p


def test_lio_file_lun_start_monitor_stop(cfs, tmp_path, backing):
    tenv = lio_env(cfs, tmp_path, allowed_initiators=f"{INIT_A} {INIT_B}")
    env = lun_env(tenv, backing, vendor_id="OCFKIT", product_id="filer", scsi_sn="0badc0de")
    assert call(iSCSILogicalUnit, "start", env) == 1  # no target yet
    assert call(iSCSITarget, "start", tenv) == 0
    assert call(iSCSILogicalUnit, "monitor", probe(env)) == 7
    assert call(iSCSILogicalUnit, "start", env) == 0
    so, t = "core/fileio_0/lun1", f"iscsi/{IQN}/tpgt_1"
    assert cfs.read(f"{so}/control") == f"fd_dev_name={backing},fd_dev_size=65536"
    assert cfs.read(f"{so}/udev_path") == str(backing) and cfs.read(f"{so}/enable") == "1"
    assert cfs.read(f"{so}/wwn/vpd_unit_serial") == "0badc0de"
    assert cfs.read(f"{so}/wwn/vendor_id") == "OCFKIT" and cfs.read(f"{so}/wwn/product_id") == "filer"
    tree = cfs.tree()
    assert f"{t}/lun/lun_1/lun1 -> {so}" in tree
    for init in (INIT_A, INIT_B):
        assert f"{t}/acls/{init}/lun_1/lun1 -> {t}/lun/lun_1" in tree
        assert cfs.read(f"{t}/acls/{init}/lun_1/write_protect") == "0"
    assert call(iSCSILogicalUnit, "monitor", env) == 0
    assert call(iSCSILogicalUnit, "start", env) == 0
    assert cfs.tree() == tree
    assert call(iSCSILogicalUnit, "stop", env) == 0
    assert [x for x in cfs.tree() if "lun" in x.split("/")[-1] or x.startswith("core/fileio_0/")] == []
    assert call(iSCSILogicalUnit, "stop", env) == 0
    assert call(iSCSILogicalUnit, "monitor", probe(env)) == 7
    assert call(iSCSITarget, "stop", tenv) == 0
    assert cfs.tree() == ["core/fileio_0", "iscsi"]


def test_lio_target_stop_with_a_lun_left_unmaps_and_unlinks_it_first(cfs, tmp_path, backing):
    tenv = lio_env(cfs, tmp_path, allowed_initiators=INIT_A)
    assert call(iSCSITarget, "start", tenv) == 0
    assert call(iSCSILogicalUnit, "start", lun_env(tenv, backing)) == 0
    assert call(iSCSITarget, "stop", tenv) == 0
    assert cfs.tree() == ["core/fileio_0", "core/fileio_0/lun1", "iscsi"]  # the storage object is the LUN's
    assert call(iSCSILogicalUnit, "stop", lun_env(tenv, backing)) == 0
    assert cfs.tree() == ["core/fileio_0", "iscsi"]


def test_lio_new_acl_gets_the_luns_already_there(cfs, tmp_path, backing):
    tenv = lio_env(cfs, tmp_path, allowed_initiators=INIT_A)
    assert call(iSCSITarget, "start", tenv) == 0
    assert call(iSCSILogicalUnit, "start", lun_env(tenv, backing)) == 0
    assert call(iSCSITarget, "start", dict(tenv, OCF_RESKEY_allowed_initiators=f"{INIT_A} {INIT_B}")) == 0
    t = f"iscsi/{IQN}/tpgt_1"
    assert f"{t}/acls/{INIT_B}/lun_1/lun_1 -> {t}/lun/lun_1" in cfs.tree()
    assert call(iSCSILogicalUnit, "start", lun_env(tenv, backing)) == 0
    assert [x for x in cfs.tree() if x.startswith(f"{t}/acls/{INIT_B}/lun_1/")] == [
        f"{t}/acls/{INIT_B}/lun_1/lun_1 -> {t}/lun/lun_1"]  # one link per mapped LUN


def test_lio_lun_start_failing_in_the_middle_undoes_and_retries_cleanly(cfs, tmp_path, backing):
    tenv = lio_env(cfs, tmp_path, allowed_initiators=INIT_A)
    env = lun_env(tenv, backing)
    assert call(iSCSITarget, "start", tenv) == 0
    before = cfs.tree()
    cfs.failing.add("lun_1/write_protect")  # the mapping into the ACL, after backstore and LUN
    assert call(iSCSILogicalUnit, "start", env) == 1
    assert cfs.tree() == sorted(["core/fileio_0", *before])  # only the shared HBA directory stays
    cfs.failing.clear()
    assert call(iSCSILogicalUnit, "start", env) == 0
    assert call(iSCSILogicalUnit, "monitor", env) == 0


def test_lio_lun_on_another_path_is_a_failure_and_stop_keeps_it(cfs, tmp_path, backing):
    tenv = lio_env(cfs, tmp_path)
    assert call(iSCSITarget, "start", tenv) == 0
    assert call(iSCSILogicalUnit, "start", lun_env(tenv, backing)) == 0
    other = tmp_path / "other.img"
    other.write_bytes(b"\0" * 512)
    env2 = dict(lun_env(tenv, other), OCF_RESOURCE_INSTANCE="lun1b")
    assert call(iSCSILogicalUnit, "monitor", env2) == 1
    assert call(iSCSILogicalUnit, "start", env2) == 1
    assert call(iSCSILogicalUnit, "stop", env2) == 0
    assert call(iSCSILogicalUnit, "monitor", lun_env(tenv, backing)) == 0


def test_lio_readonly_file_lun_needs_acls(cfs, tmp_path, backing):
    tenv = lio_env(cfs, tmp_path)
    assert call(iSCSITarget, "start", tenv) == 0
    assert call(iSCSILogicalUnit, "start", lun_env(tenv, backing, readonly="true")) == 1
    acl_env = lio_env(cfs, tmp_path, allowed_initiators=INIT_A)
    assert call(iSCSITarget, "start", acl_env) == 0
    assert call(iSCSILogicalUnit, "start", lun_env(tenv, backing, readonly="true")) == 0
    assert cfs.read(f"iscsi/{IQN}/tpgt_1/acls/{INIT_A}/lun_1/write_protect") == "1"


def test_lio_vendor_id_is_skipped_with_a_warning_where_the_kernel_lacks_it(tmp_path, monkeypatch, backing, capfd):
    cfs = FakeConfigfs(str(tmp_path / "configfs"), monkeypatch, vendor_attrs=False)
    tenv = lio_env(cfs, tmp_path)
    assert call(iSCSITarget, "start", tenv) == 0
    assert call(iSCSILogicalUnit, "start", lun_env(tenv, backing, vendor_id="OCFKIT")) == 0
    assert "no wwn/vendor_id" in capfd.readouterr().err


def _block_device() -> str | None:
    for name in ("loop0", "loop1", "sda", "vda", "ram0"):
        p = f"/dev/{name}"
        if os.path.exists(p) and os.stat(p).st_mode & 0o170000 == 0o060000:
            return p
    return None


@pytest.mark.skipif(_block_device() is None, reason="no block device node to point a LUN at")
def test_lio_block_lun_uses_iblock_with_udev_path_and_readonly(cfs, tmp_path):
    dev = _block_device()
    tenv = lio_env(cfs, tmp_path)
    assert call(iSCSITarget, "start", tenv) == 0
    before = cfs.tree()
    env = lun_env(tenv, dev, readonly="yes")
    assert call(iSCSILogicalUnit, "start", env) == 0
    assert cfs.read("core/iblock_0/lun1/udev_path") == dev
    assert cfs.read("core/iblock_0/lun1/control") == "readonly=1"  # the last control write
    assert call(iSCSILogicalUnit, "stop", env) == 0
    assert cfs.tree() == sorted(["core/iblock_0", *before])


# ----- auto-detection ------------------------------------------------------------------------------

def test_detection_prefers_lio_then_iet_then_tgt(tmp_path):
    from ocf.exec import which

    env = {"OCFKIT_CONFIGFS_ROOT": str(tmp_path / "cfg"), "OCFKIT_SYSFS_ROOT": str(tmp_path / "sys"),
           "OCFKIT_PROC_ROOT": str(tmp_path / "proc")}
    assert detect(env) == ("tgt" if which("tgtadm") else "")
    (tmp_path / "proc/net/iet").mkdir(parents=True)
    assert detect(env) == "iet"
    (tmp_path / "sys/module/target_core_mod").mkdir(parents=True)
    assert detect(env) == "lio"
    os.rmdir(tmp_path / "sys/module/target_core_mod")
    (tmp_path / "cfg/target").mkdir(parents=True)
    assert detect(env) == "lio"


def test_unset_implementation_uses_the_detected_one(cfs, tmp_path):
    env = lio_env(cfs, tmp_path)
    del env["OCF_RESKEY_implementation"]
    assert call(iSCSITarget, "start", env) == 0
    assert os.path.isdir(f"{cfs.root}/target/iscsi/{IQN}/tpgt_1")


# ----- IET -----------------------------------------------------------------------------------------

class Iet:
    """A fake /proc/net/iet and /etc for one test."""

    def __init__(self, tmp_path, volume: str, session: str) -> None:
        self.proc = tmp_path / "proc"
        (self.proc / "net/iet").mkdir(parents=True)
        self.etc = tmp_path / "etc"
        (self.etc / "iet").mkdir(parents=True)
        self.allow = self.etc / "iet/initiators.allow"
        self.deny = self.etc / "iet/initiators.deny"
        self.allow.write_text("# admin's own rules\niqn.2024-01.org.example:other 192.168.7.0/24\n")
        self.set(volume, session)

    def set(self, volume: str, session: str) -> None:
        (self.proc / "net/iet/volume").write_text(volume)
        (self.proc / "net/iet/session").write_text(session)

    def to(self, volume: str, session: str):
        return lambda: self.set(volume, session)


def iet_env(iet, tmp_path, **kw):
    rsctmp = tmp_path / "rsctmp"
    rsctmp.mkdir(exist_ok=True)
    e = {"OCF_RESOURCE_INSTANCE": "target", "OCFKIT_PROC_ROOT": str(iet.proc), "OCFKIT_ETC_ROOT": str(iet.etc),
         "HA_RSCTMP": str(rsctmp), "OCF_RESKEY_implementation": "iet", "OCF_RESKEY_iqn": IQN,
         "OCF_RESKEY_CRM_meta_interval": "10000"}
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return e


OTHER_VOLUME = ("tid:2 name:iqn.2024-01.org.example:other\n"
                "\tlun:0 state:0 iotype:blockio iomode:wt blocks:2097152 blocksize:512 path:/dev/vg0/other\n")
OTHER_SESSION = "tid:2 name:iqn.2024-01.org.example:other\n"


def test_iet_fixtures_parse():
    vols = ietadm.parse_volumes(fixture("volume"))
    assert sorted(vols) == [1, 2] and vols[1].iqn == IQN
    assert (vols[1].luns[0].path, vols[1].luns[0].iotype) == ("/srv/iscsi/filer lun0.img", "fileio")
    assert vols[1].luns[1].path == "/dev/vg0/filer" and vols[2].luns == {}
    ietadm.parse_sessions(fixture("session"), vols)
    assert vols[1].sessions == [("281474997486080", INIT_A, ["0"]), ("562949974196736", INIT_B, ["0", "1"])]
    assert vols[2].sessions == []


def test_iet_target_start_takes_the_next_tid_edits_initiators_and_stop_reverts(tmp_path, capfd):
    iet = Iet(tmp_path, OTHER_VOLUME, OTHER_SESSION)
    env = iet_env(iet, tmp_path, allowed_initiators=f"{INIT_A} 192.168.7.20", incoming_username="filer",
                  incoming_password=SECRET, additional_parameters="MaxRecvDataSegmentLength=65536 Wthreads=4")
    ours = OTHER_VOLUME + f"tid:3 name:{IQN}\n"
    assert call(iSCSITarget, "monitor", probe(env)) == 7
    r = (FakeRunner().expect(["ietadm", "--op", "new", "--tid=3", f"--params=Name={IQN}"],
                         effect=iet.to(ours, OTHER_SESSION + f"tid:3 name:{IQN}\n"))
         .expect(["ietadm", "--op", "update", "--tid=3", "--params=MaxRecvDataSegmentLength=65536,Wthreads=4"])
         .expect(["ietadm", "--op", "delete", "--tid=3", "--user", "--params=IncomingUser=filer"], rc=1)
         .expect(["ietadm", "--op", "new", "--tid=3", "--user",
                  f"--params=IncomingUser=filer,Password={SECRET}"]))
    assert call(iSCSITarget, "start", env, r) == 0
    allow = iet.allow.read_text().splitlines()
    assert allow[-1] == f"{IQN} {INIT_A}, 192.168.7.20" and allow[:2][1].startswith("iqn.2024-01.org.example:other")
    assert iet.deny.read_text() == f"{IQN} ALL\n"
    assert call(iSCSITarget, "monitor", env) == 0
    # A second start changes nothing in the files.
    r = (FakeRunner()
         .expect(["ietadm", "--op", "update", "--tid=3", "--params=MaxRecvDataSegmentLength=65536,Wthreads=4"])
         .expect(["ietadm", "--op", "delete", "--tid=3", "--user", "--params=IncomingUser=filer"])
         .expect(["ietadm", "--op", "new", "--tid=3", "--user", f"--params=IncomingUser=filer,Password={SECRET}"]))
    assert call(iSCSITarget, "start", env, r) == 0
    assert iet.allow.read_text().splitlines() == allow
    r = (FakeRunner().expect(["ietadm", "--op", "delete", "--tid=3", "--user", "--params=IncomingUser=filer"])
         .expect(["ietadm", "--op", "delete", "--tid=3"], effect=iet.to(OTHER_VOLUME, OTHER_SESSION)))
    assert call(iSCSITarget, "stop", env, r) == 0
    assert iet.allow.read_text() == "# admin's own rules\niqn.2024-01.org.example:other 192.168.7.0/24\n"
    assert iet.deny.read_text() == ""
    assert call(iSCSITarget, "stop", env) == 0  # nothing left: no command
    assert call(iSCSITarget, "monitor", probe(env)) == 7
    assert SECRET not in capfd.readouterr().err


def test_iet_start_failing_in_the_middle_undoes_and_does_not_leak_the_secret(tmp_path, capfd):
    iet = Iet(tmp_path, OTHER_VOLUME, OTHER_SESSION)
    env = iet_env(iet, tmp_path, tid="7", allowed_initiators=INIT_A, incoming_username="filer",
                  incoming_password=SECRET)
    ours = OTHER_VOLUME + f"tid:7 name:{IQN}\n"
    r = (FakeRunner().expect(["ietadm", "--op", "new", "--tid=7", f"--params=Name={IQN}"], effect=iet.to(ours, ""))
         .expect(["ietadm", "--op", "delete", "--tid=7", "--user", "--params=IncomingUser=filer"])
         .expect(["ietadm", "--op", "new", "--tid=7", "--user", f"--params=IncomingUser=filer,Password={SECRET}"],
                 stderr=f"Invalid argument: Password={SECRET}.\n", rc=22)
         .expect(["ietadm", "--op", "delete", "--tid=7"], effect=iet.to(OTHER_VOLUME, OTHER_SESSION)))
    assert call(iSCSITarget, "start", env, r) == 1
    err = capfd.readouterr().err
    assert "exit 22" in err and "Password=***" in err and SECRET not in err
    assert IQN not in iet.allow.read_text() and iet.deny.read_text() == ""
    assert [n for n in os.listdir(tmp_path / "rsctmp") if n.endswith(".lines")] == []
    r = (FakeRunner().expect(["ietadm", "--op", "new", "--tid=7", f"--params=Name={IQN}"], effect=iet.to(ours, ""))
         .expect(["ietadm", "--op", "delete", "--tid=7", "--user", "--params=IncomingUser=filer"])
         .expect(["ietadm", "--op", "new", "--tid=7", "--user", f"--params=IncomingUser=filer,Password={SECRET}"]))
    assert call(iSCSITarget, "start", env, r) == 0
    assert iet.allow.read_text().splitlines()[-1] == f"{IQN} {INIT_A}"


def test_ietadm_error_text_never_carries_the_password():
    r = FakeRunner().expect(["ietadm", "--op", "new", "--tid=1", "--user",
                             f"--params=IncomingUser=u,Password={SECRET}"], stderr=f"bad {SECRET}", rc=1)
    with pytest.raises(CommandError) as e:
        ietadm.new_user(lambda argv, **kw: r(argv, timeout=5, **kw), 1, "u", SECRET)
    assert SECRET not in str(e.value) and SECRET not in e.value.stderr and "Password=***" in str(e.value)
    assert e.value.__context__ is None


def test_iet_stop_closes_connections_before_deleting_the_target(tmp_path):
    iet = Iet(tmp_path, fixture("volume"), fixture("session"))
    env = iet_env(iet, tmp_path)
    r = (FakeRunner().expect(["ietadm", "--op", "delete", "--tid=1", "--sid=281474997486080", "--cid=0"])
         .expect(["ietadm", "--op", "delete", "--tid=1", "--sid=562949974196736", "--cid=0"])
         .expect(["ietadm", "--op", "delete", "--tid=1", "--sid=562949974196736", "--cid=1"],
                 effect=iet.to(fixture("volume"), fixture("session").split("\tsid")[0]))
         # The sessions are not gone at once: the first delete is refused, the next one works.
         .expect(["ietadm", "--op", "delete", "--tid=1"], rc=16, stderr="Device or resource busy.\n")
         .expect(["ietadm", "--op", "delete", "--tid=1"], effect=iet.to(OTHER_VOLUME, OTHER_SESSION)))
    assert call(iSCSITarget, "stop", env, r) == 0


def test_iet_tid_taken_by_another_target_is_refused(tmp_path):
    iet = Iet(tmp_path, OTHER_VOLUME, OTHER_SESSION)
    assert call(iSCSITarget, "start", iet_env(iet, tmp_path, tid="2")) == 1


def test_iet_probe_without_iet_loaded_is_not_running_and_stop_succeeds(tmp_path):
    env = iet_env(Iet(tmp_path, "", ""), tmp_path, OCFKIT_PROC_ROOT=str(tmp_path / "none"))
    env["OCFKIT_PROC_ROOT"] = str(tmp_path / "none")
    assert call(iSCSITarget, "monitor", probe(env)) == 7
    assert call(iSCSITarget, "stop", env) == 0
    assert call(iSCSILogicalUnit, "stop", lun_env(env, "/dev/null")) == 0


def test_iet_checks_parameters_per_backend(tmp_path):
    env = iet_env(Iet(tmp_path, "", ""), tmp_path)
    assert call(iSCSITarget, "start", dict(env, OCF_RESKEY_additional_parameters="login_timeout=5")) == 6
    assert call(iSCSITarget, "start", dict(env, OCF_RESKEY_incoming_username="a,b",
                                           OCF_RESKEY_incoming_password="x" * 12)) == 6


def test_iet_lun_start_monitor_stop(tmp_path, backing):
    iet = Iet(tmp_path, fixture("volume"), fixture("session"))
    env = lun_env(iet_env(iet, tmp_path), backing, lun="2")
    assert call(iSCSILogicalUnit, "monitor", probe(env)) == 7
    with_lun = fixture("volume") + f"\tlun:2 state:0 iotype:fileio iomode:ro blocks:128 blocksize:512 path:{backing}\n"
    r = FakeRunner().expect(["ietadm", "--op", "new", "--tid=1", "--lun=2",
                         f"--params=Path={backing},Type=fileio,ScsiId=lun1,ScsiSN=333f8b44,IOMode=ro"],
                        effect=iet.to(with_lun, fixture("session")))
    assert call(iSCSILogicalUnit, "start", dict(env, OCF_RESKEY_readonly="1"), r) == 0
    assert call(iSCSILogicalUnit, "monitor", env) == 0
    assert call(iSCSILogicalUnit, "start", env) == 0  # there already: no command
    r = FakeRunner().expect(["ietadm", "--op", "delete", "--tid=1", "--lun=2"], effect=iet.to(fixture("volume"), ""))
    assert call(iSCSILogicalUnit, "stop", env, r) == 0
    assert call(iSCSILogicalUnit, "stop", env) == 0
    # LUN 1 of the fixture is on another path: a failure, and stop keeps it.
    other = lun_env(iet_env(iet, tmp_path), backing, lun="1")
    assert call(iSCSILogicalUnit, "monitor", other) == 1
    assert call(iSCSILogicalUnit, "stop", other) == 0


def test_iet_lun_rejects_separators_in_ietadm_params(tmp_path):
    env = lun_env(iet_env(Iet(tmp_path, "", ""), tmp_path), "/srv/a,b.img")
    assert call(iSCSILogicalUnit, "validate-all", dict(env, OCF_CHECK_LEVEL="0")) == 6


def test_initiator_lines_are_exact_and_keep_the_mode(tmp_path):
    f = tmp_path / "initiators.allow"
    f.write_text(f"{IQN} {INIT_A}, {INIT_B}\n")
    os.chmod(f, 0o640)
    assert ietadm.add_line(str(f), f"{IQN} {INIT_A}")
    assert not ietadm.add_line(str(f), f"{IQN} {INIT_A}")
    assert ietadm.remove_line(str(f), f"{IQN} {INIT_A}")
    assert f.read_text() == f"{IQN} {INIT_A}, {INIT_B}\n" and os.stat(f).st_mode & 0o777 == 0o640
    assert not ietadm.remove_line(str(f), f"{IQN} {INIT_A}")


# ----- tgt (the behaviour the backend split must keep) --------------------------------------------

TGT = ["tgtadm", "--lld", "iscsi"]
SHOW = ["tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "target"]
SYSTEM = ["tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "system"]


def tgt_show(acl="ALL", lun=None):
    text = (f"Target 1: {IQN}\n    System information:\n        Driver: iscsi\n        State: ready\n"
            "    I_T nexus information:\n    LUN information:\n        LUN: 0\n            Type: controller\n"
            "            Backing store path: None\n")
    if lun:
        text += f"        LUN: 1\n            Type: disk\n            Backing store path: {lun}\n"
    text += "    Account information:\n    ACL information:\n"
    if acl:
        text += f"        {acl}\n"
    return text


def tgt_env(tmp_path, **kw):
    e = {"OCF_RESOURCE_INSTANCE": "target", "HA_RSCTMP": str(tmp_path), "OCF_RESKEY_implementation": "tgt",
         "OCF_RESKEY_iqn": IQN, "OCF_RESKEY_tid": "1", "OCF_RESKEY_CRM_meta_interval": "10000",
         "TGT_IPC_SOCKET": str(tmp_path / "tgtsock")}
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return e


def test_tgt_target_start_monitor_stop_keep_their_commands(tmp_path):
    env = tgt_env(tmp_path, allowed_initiators=INIT_A)
    r = (FakeRunner().expect(SHOW)
         .expect([*TGT, "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN])
         .expect(SHOW, tgt_show(acl=""))
         .expect([*TGT, "--op", "bind", "--mode", "target", "--tid", "1", "-Q", INIT_A])
         .expect(SHOW, tgt_show(acl=INIT_A)))
    assert call(iSCSITarget, "start", env, r) == 0
    r = FakeRunner().expect(SHOW, tgt_show(acl=INIT_A))
    assert call(iSCSITarget, "monitor", env, r) == 0
    r = (FakeRunner().expect(SHOW, tgt_show(acl=INIT_A))
         .expect([*TGT, "--op", "unbind", "--mode", "target", "--tid", "1", "-Q", INIT_A])
         .expect([*TGT, "--op", "delete", "--force", "--mode", "target", "--tid", "1"]))
    assert call(iSCSITarget, "stop", env, r) == 0
    r = FakeRunner().expect(SHOW, "").expect(SYSTEM)
    assert call(iSCSITarget, "monitor", probe(env), r) == 7


def test_tgt_target_start_and_stop_ask_tgtd_once_whether_it_answers_and_what_it_has(tmp_path, capfd):
    env = tgt_env(tmp_path)
    r = FakeRunner().expect(SHOW, rc=107)  # one tgtadm: no `show --mode system` before it
    assert call(iSCSITarget, "start", env, r) == 1
    r.assert_done()
    assert "tgtd is not running: start it first" in capfd.readouterr().err
    # The stop's teardown works from that same answer: unbind and delete, no second show.
    r = (FakeRunner().expect(SHOW, tgt_show())
         .expect([*TGT, "--op", "unbind", "--mode", "target", "--tid", "1", "-I", "ALL"])
         .expect([*TGT, "--op", "delete", "--force", "--mode", "target", "--tid", "1"]))
    assert call(iSCSITarget, "stop", env, r) == 0
    r.assert_done()


def test_tgt_needs_a_tid_and_lun_1_or_more(tmp_path, backing):
    env = tgt_env(tmp_path)
    del env["OCF_RESKEY_tid"]
    assert call(iSCSITarget, "start", env) == 6
    assert call(iSCSILogicalUnit, "start", lun_env(tgt_env(tmp_path), backing, lun="0")) == 6


def test_tgt_failed_account_does_not_leak_the_secret(tmp_path, capfd):
    env = tgt_env(tmp_path, incoming_username="filer", incoming_password=SECRET)
    r = (FakeRunner().expect(SHOW)
         .expect([*TGT, "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN])
         .expect(SHOW, tgt_show())
         .expect(SHOW, tgt_show())
         .expect([*TGT, "--op", "show", "--mode", "account"], "Account list:\n")
         .expect([*TGT, "--op", "new", "--mode", "account", "--user", "filer", "--password", SECRET], rc=22,
                 stderr="tgtadm: invalid request\n")
         .expect(SHOW, tgt_show())
         .expect([*TGT, "--op", "unbind", "--mode", "target", "--tid", "1", "-I", "ALL"])
         .expect([*TGT, "--op", "delete", "--force", "--mode", "target", "--tid", "1"])
         .expect(SHOW, "")
         .expect([*TGT, "--op", "delete", "--mode", "account", "--user", "filer"]))
    assert call(iSCSITarget, "start", env, r) == 1
    err = capfd.readouterr().err
    assert "--password '***'" in err and SECRET not in err
    with pytest.raises(CommandError) as e:
        from agents.tools import tgtadm

        r = FakeRunner().expect([*TGT, "--op", "new", "--mode", "account", "--user", "u", "--password", SECRET],
                                rc=1)
        tgtadm.new_account(lambda argv, **kw: r(argv, timeout=5, **kw), "u", SECRET)
    assert SECRET not in str(e.value)


def test_tgt_lun_start_and_stop(tmp_path, backing):
    env = lun_env(tgt_env(tmp_path), backing)
    r = (FakeRunner().expect(SHOW, tgt_show())
         .expect([*TGT, "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", str(backing)])
         .expect([*TGT, "--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "--params",
                  "scsi_id=lun1,scsi_sn=333f8b44"])
         .expect(SHOW, tgt_show(lun=str(backing))))
    assert call(iSCSILogicalUnit, "start", env, r) == 0
    r = (FakeRunner().expect(SHOW, tgt_show(lun=str(backing)))
         .expect([*TGT, "--op", "delete", "--mode", "logicalunit", "--tid", "1", "--lun", "1"])
         .expect(SHOW, tgt_show()))
    assert call(iSCSILogicalUnit, "stop", env, r) == 0



def tgt_target(tid, iqn, *, accounts=(), acl="ALL"):
    """One target of `tgtadm --op show --mode target`, with bound accounts."""
    text = (f"Target {tid}: {iqn}\n    System information:\n        Driver: iscsi\n        State: ready\n"
            "    I_T nexus information:\n    LUN information:\n        LUN: 0\n            Type: controller\n"
            "            Backing store path: None\n    Account information:\n")
    text += "".join(f"        {a}\n" for a in accounts)
    return text + "    ACL information:\n" + (f"        {acl}\n" if acl else "")


OTHER = "iqn.2024-01.org.example:other"
ACCOUNTS = [*TGT, "--op", "show", "--mode", "account"]


def test_tgt_stop_without_tgtadm_fails_while_tgtd_holds_its_control_lock(tmp_path, capfd):
    import fcntl

    env = tgt_env(tmp_path)
    lock = tmp_path / "tgtsock.0.lock"
    with open(lock, "w") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)  # what a running tgtd holds (usr/mgmt.c)
        r = FakeRunner().expect(SHOW, missing=True)
        assert call(iSCSITarget, "stop", env, r) == 1
        assert "tgtadm: command not found, but tgtd (pid" in capfd.readouterr().err
        # The same for a tgtd that does not answer (hung or busy).
        assert call(iSCSITarget, "stop", env, FakeRunner().expect(SHOW, rc=107)) == 1
        fcntl.lockf(f, fcntl.LOCK_UN)
    # No lock holder and no listener: no tgtd, nothing exported.
    assert call(iSCSITarget, "stop", env, FakeRunner().expect(SHOW, missing=True)) == 0


def test_tgt_stop_fails_while_something_listens_on_the_control_socket(tmp_path):
    import _socket  # socket.socket is a class over the guarded _socket.socket

    env = tgt_env(tmp_path)
    srv = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        srv.bind(str(tmp_path / "tgtsock.0"))
        srv.listen(1)
        assert call(iSCSITarget, "stop", env, FakeRunner().expect(SHOW, rc=107)) == 1
    finally:
        srv.close()
    # A stale socket file (tgtd died) refuses connections: not running.
    assert call(iSCSITarget, "stop", env, FakeRunner().expect(SHOW, rc=107)) == 0


def test_tgt_stop_without_tgtd_succeeds_with_chap_and_added_portals(tmp_path):
    env = tgt_env(tmp_path, incoming_username="filer", incoming_password=SECRET, portals="10.9.0.1:3260")
    (tmp_path / "iSCSITarget-1.portals").write_text("10.9.0.1:3260")
    assert call(iSCSITarget, "monitor", probe(env), FakeRunner().expect(SHOW, rc=107).expect(SYSTEM, rc=107)) == 7
    assert call(iSCSITarget, "stop", env, FakeRunner().expect(SHOW, rc=107)) == 0
    assert not (tmp_path / "iSCSITarget-1.portals").exists()


def test_tgt_probe_never_guesses_while_a_tgtd_holds_its_lock_but_cannot_be_asked(tmp_path, backing, capfd):
    import fcntl

    env = tgt_env(tmp_path)
    lenv = lun_env(env, backing)
    with open(tmp_path / "tgtsock.0.lock", "w") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        for agent, e in ((iSCSITarget, env), (iSCSILogicalUnit, lenv)):
            assert call(agent, "monitor", probe(e), FakeRunner().expect(SHOW, missing=True)) == 1
            assert call(agent, "monitor", probe(e), FakeRunner().expect(SHOW, rc=107).expect(SYSTEM, rc=107)) == 1
        assert "but tgtd (pid" in capfd.readouterr().err
    for agent, e in ((iSCSITarget, env), (iSCSILogicalUnit, lenv)):
        assert call(agent, "monitor", probe(e), FakeRunner().expect(SHOW, missing=True)) == 7
        assert call(agent, "monitor", probe(e), FakeRunner().expect(SHOW, rc=107).expect(SYSTEM, rc=107)) == 7
        assert call(agent, "monitor", e, FakeRunner().expect(SHOW, rc=107).expect(SYSTEM, rc=107)) == 1


def test_tgt_lun_stop_without_tgtadm_needs_tgtd_to_be_gone(tmp_path, backing):
    import fcntl

    env = lun_env(tgt_env(tmp_path), backing)
    assert call(iSCSILogicalUnit, "stop", env, FakeRunner().expect(SHOW, missing=True)) == 0
    assert call(iSCSILogicalUnit, "stop", env, FakeRunner().expect(SHOW, rc=107).expect(SYSTEM, rc=107)) == 0
    assert call(iSCSILogicalUnit, "stop", env, FakeRunner().expect(SHOW, "").expect(SYSTEM)) == 0
    with open(tmp_path / "tgtsock.0.lock", "w") as f:
        fcntl.lockf(f, fcntl.LOCK_EX)
        assert call(iSCSILogicalUnit, "stop", env, FakeRunner().expect(SHOW, missing=True)) == 1
        # A tgtd that holds its lock but does not answer may still export the LUN.
        assert call(iSCSILogicalUnit, "stop", env, FakeRunner().expect(SHOW, rc=107).expect(SYSTEM, rc=107)) == 1


def test_tgt_second_target_with_the_same_chap_user_leaves_the_first_ones_binding(tmp_path, capfd):
    env = tgt_env(tmp_path, tid="2", iqn=OTHER, incoming_username="filer", incoming_password=SECRET)
    first = tgt_target(1, IQN, accounts=["filer"])
    r = (FakeRunner().expect(SHOW, first)
         .expect([*TGT, "--op", "new", "--mode", "target", "--tid", "2", "-T", OTHER])
         .expect(SHOW, first + tgt_target(2, OTHER))
         .expect(SHOW, first + tgt_target(2, OTHER))
         # no account delete (it would unbind tid 1), no new account: only our binding
         .expect([*TGT, "--op", "bind", "--mode", "account", "--tid", "2", "--user", "filer"])
         .expect(SHOW, first + tgt_target(2, OTHER, accounts=["filer"])))
    assert call(iSCSITarget, "start", env, r) == 0
    assert "also bound to tid 1" in capfd.readouterr().err
    # Stopping the second target keeps the account the first one uses.
    r = (FakeRunner().expect(SHOW, first + tgt_target(2, OTHER, accounts=["filer"]))
         .expect([*TGT, "--op", "unbind", "--mode", "target", "--tid", "2", "-I", "ALL"])
         .expect([*TGT, "--op", "delete", "--force", "--mode", "target", "--tid", "2"])
         .expect(SHOW, first))
    assert call(iSCSITarget, "stop", env, r) == 0
    assert SECRET not in capfd.readouterr().err


def test_tgt_account_used_by_no_other_target_is_recreated_and_deleted_at_stop(tmp_path):
    env = tgt_env(tmp_path, incoming_username="filer", incoming_password=SECRET)
    mine = tgt_target(1, IQN)
    r = (FakeRunner().expect(SHOW, mine).expect(SHOW, mine).expect(SHOW, mine)
         .expect(ACCOUNTS, "Account list:\n    filer\n")
         .expect([*TGT, "--op", "delete", "--mode", "account", "--user", "filer"])
         .expect([*TGT, "--op", "new", "--mode", "account", "--user", "filer", "--password", SECRET])
         .expect([*TGT, "--op", "bind", "--mode", "account", "--tid", "1", "--user", "filer"])
         .expect(SHOW, tgt_target(1, IQN, accounts=["filer"])))
    assert call(iSCSITarget, "start", env, r) == 0
    r = (FakeRunner().expect(SHOW, tgt_target(1, IQN, accounts=["filer"]))
         .expect([*TGT, "--op", "unbind", "--mode", "target", "--tid", "1", "-I", "ALL"])
         .expect([*TGT, "--op", "delete", "--force", "--mode", "target", "--tid", "1"])
         .expect(SHOW, "")
         .expect([*TGT, "--op", "delete", "--mode", "account", "--user", "filer"]))
    assert call(iSCSITarget, "stop", env, r) == 0


def test_tgt_monitor_finds_a_target_stripped_of_its_chap_account(tmp_path, capfd):
    env = tgt_env(tmp_path, incoming_username="filer", incoming_password=SECRET)
    assert call(iSCSITarget, "monitor", env, FakeRunner().expect(SHOW, tgt_target(1, IQN, accounts=["filer"]))) == 0
    assert call(iSCSITarget, "monitor", env, FakeRunner().expect(SHOW, tgt_target(1, IQN))) == 1
    assert "lost its CHAP account filer" in capfd.readouterr().err


# ----- iscsitarget (the daemon) ----------------------------------------------------------------------

class Proc:
    """A fake /proc with the daemon's process entry."""

    def __init__(self, tmp_path) -> None:
        self.root = tmp_path / "proc"
        self.root.mkdir(exist_ok=True)

    def process(self, pid: int, comm: str, state: str = "S"):
        def make():
            d = self.root / str(pid)
            d.mkdir()
            (d / "comm").write_text(comm + "\n")
            (d / "stat").write_text(f"{pid} ({comm}) {state} 1 {pid} {pid} 0 -1 4194624\n")
        return make

    def gone(self, pid: int):
        def remove():
            for f in ("comm", "stat"):
                (self.root / str(pid) / f).unlink()
            (self.root / str(pid)).rmdir()
        return remove


def daemon_env(tmp_path, proc, **kw):
    rsctmp = tmp_path / "rsctmp"
    rsctmp.mkdir(exist_ok=True)
    e = {"OCF_RESOURCE_INSTANCE": "iscsid", "HA_RSCTMP": str(rsctmp), "OCFKIT_PROC_ROOT": str(proc.root),
         "OCF_RESKEY_CRM_meta_interval": "10000", "OCF_RESKEY_CRM_meta_timeout": "5000"}
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return e


def test_iet_daemon_starts_ietd_with_its_config_and_stops_it_through_ietadm(tmp_path):
    from agents.iscsi.daemon import iscsitarget

    proc = Proc(tmp_path)
    (proc.root / "net/iet").mkdir(parents=True)
    conf = tmp_path / "ietd.conf"
    conf.write_text(f"Target {IQN}\n    Lun 0 Path=/dev/vg0/filer,Type=blockio\n")
    env = daemon_env(tmp_path, proc, implementation="iet", config=str(conf), portal="10.99.0.100:3260")
    assert call(iscsitarget, "monitor", probe(env)) == 7
    r = FakeRunner().expect(["ietd", "-c", str(conf), "-a", "10.99.0.100", "-p", "3260"],
                        effect=proc.process(4242, "ietd"))
    assert call(iscsitarget, "start", env, r) == 0
    assert (tmp_path / "rsctmp/iscsitarget-iscsid.pid").read_text() == "4242\n"
    assert call(iscsitarget, "monitor", env) == 0
    assert call(iscsitarget, "start", env) == 0  # running: nothing to do
    r = FakeRunner().expect(["ietadm", "--op", "delete"], effect=proc.gone(4242))
    assert call(iscsitarget, "stop", env, r) == 0
    assert not (tmp_path / "rsctmp/iscsitarget-iscsid.pid").exists()
    assert call(iscsitarget, "stop", env) == 0
    assert call(iscsitarget, "monitor", env) == 7


def test_iet_daemon_that_died_is_a_failure_and_needs_the_module(tmp_path):
    from agents.iscsi.daemon import iscsitarget

    proc = Proc(tmp_path)
    env = daemon_env(tmp_path, proc, implementation="iet")
    assert call(iscsitarget, "start", env) == 5  # no /proc/net/iet
    (tmp_path / "rsctmp/iscsitarget-iscsid.pid").write_text("4243\n")
    proc.process(4243, "bash")()  # the pid was reused by something else
    assert call(iscsitarget, "monitor", env) == 1
    assert call(iscsitarget, "monitor", probe(env)) == 7


def test_daemon_implementation_auto_follows_the_module_and_the_config_name(tmp_path):
    from agents.iscsi.daemon import iscsitarget

    proc = Proc(tmp_path)
    agent = iscsitarget(daemon_env(tmp_path, proc))
    assert (agent.impl, agent.daemon, agent.config_file) == ("tgt", "tgtd", "/etc/tgt/targets.conf")
    agent = iscsitarget(daemon_env(tmp_path, proc, config="/srv/iscsi-config/ietd.conf"))
    assert agent.impl == "iet"
    (proc.root / "net/iet").mkdir(parents=True)  # the seed's bare `iscsitarget` on an IET host
    agent = iscsitarget(daemon_env(tmp_path, proc))
    assert (agent.impl, agent.daemon, agent.config_file) == ("iet", "ietd", "/etc/iet/ietd.conf")
    agent = iscsitarget(daemon_env(tmp_path, proc, implementation="tgt"))
    assert agent.impl == "tgt"
    conf = tmp_path / "ietd.conf"
    conf.write_text(f"Target {IQN}\n")
    r = FakeRunner().expect(["ietd", "-c", str(conf)], effect=proc.process(4244, "ietd"))
    env = daemon_env(tmp_path, proc, config=str(conf))
    assert call(iscsitarget, "start", env, r) == 0
    r.assert_done()


def test_tgt_daemon_monitor_asks_tgtd(tmp_path):
    from agents.iscsi.daemon import iscsitarget

    proc = Proc(tmp_path)
    proc.process(5151, "tgtd")()
    env = daemon_env(tmp_path, proc)
    (tmp_path / "rsctmp/iscsitarget-iscsid.pid").write_text("5151\n")
    assert call(iscsitarget, "monitor", env, FakeRunner().expect(SYSTEM)) == 0
    assert call(iscsitarget, "monitor", env, FakeRunner().expect(SYSTEM, rc=107)) == 1
    proc.process(5152, "tgtd", state="Z")()
    (tmp_path / "rsctmp/iscsitarget-iscsid.pid").write_text("5152\n")
    assert call(iscsitarget, "monitor", env) == 1


def test_iet_lun_rejects_separators_in_the_scsi_identity(tmp_path):
    env = lun_env(iet_env(Iet(tmp_path, "", ""), tmp_path), "/srv/a.img", scsi_sn="ab=cd")
    assert call(iSCSILogicalUnit, "validate-all", dict(env, OCF_CHECK_LEVEL="0")) == 6
    assert call(iSCSILogicalUnit, "validate-all", dict(env, OCF_CHECK_LEVEL="0", OCF_RESKEY_scsi_sn="abcd")) == 0


def test_tgt_daemon_stop_without_tgtadm_kills_tgtd_instead_of_calling_it_stopped(tmp_path, capfd, monkeypatch):
    import os
    import signal

    from agents.iscsi.daemon import iscsitarget

    proc = Proc(tmp_path)
    pid = 4194400  # above any pid_max: the signals reach no real process
    proc.process(pid, "tgtd")()
    signals = []
    monkeypatch.setattr(os, "kill", lambda p, sig: (signals.append((p, sig)), proc.gone(p)()))
    env = dict(daemon_env(tmp_path, proc), OCF_RESKEY_CRM_meta_timeout="2500")
    (tmp_path / "rsctmp/iscsitarget-iscsid.pid").write_text(f"{pid}\n")
    assert call(iscsitarget, "stop", env, FakeRunner().expect(SYSTEM, missing=True)) == 0
    assert signals == [(pid, signal.SIGKILL)]  # tgtd ignores SIGTERM
    err = capfd.readouterr().err
    assert f"ending tgtd[{pid}] with SIGKILL" in err


def test_stop_with_the_detected_backend_refusing_the_configuration_succeeds(tmp_path):
    from ocf.exec import which

    if not which("tgtadm"):
        pytest.skip("tgt is detected only where tgtadm is installed")
    env = tgt_env(tmp_path)
    env = {k: v for k, v in env.items() if k not in ("OCF_RESKEY_implementation", "OCF_RESKEY_tid")}
    env.update(OCFKIT_CONFIGFS_ROOT=str(tmp_path / "c"), OCFKIT_SYSFS_ROOT=str(tmp_path / "s"),
               OCFKIT_PROC_ROOT=str(tmp_path / "p"))
    assert call(iSCSITarget, "stop", env) == 0  # tgt without a tid could never have started it


@pytest.mark.parametrize("params", [
    {"iqn": "iqn.2024-01.org.example:a/../../b"}, {"iqn": "iqn.2024-01.org.example:a,Type=fileio"},
    {"incoming_username": "-x", "incoming_password": SECRET}, {"incoming_username": "a b", "incoming_password": SECRET},
    {"incoming_username": "a,Password=x", "incoming_password": SECRET},
    {"portals": "10.0.0.1:3260,nop_interval=1"}, {"portals": "-x:3260"}, {"portals": "10.0.0.1:99999"},
    {"allowed_initiators": "iqn.2024-01.org.example:x/../y"}, {"allowed_initiators": "-I"},
    {"allowed_initiators": "10.0.0.0/99"}])
def test_target_values_that_would_reach_a_tool_as_options_or_paths_are_refused(tmp_path, params):
    env = tgt_env(tmp_path, **params)
    assert call(iSCSITarget, "validate-all", dict(env, OCF_CHECK_LEVEL="0")) == 6
    assert call(iSCSITarget, "start", env) == 6
    assert call(iSCSITarget, "monitor", probe(env)) == 7
    assert call(iSCSITarget, "stop", env) == 0


def test_target_accepts_names_addresses_networks_and_bracketed_ipv6_portals(tmp_path):
    env = tgt_env(tmp_path, allowed_initiators=f"{INIT_A} 10.0.0.0/24 fd00::5 ALL",
                  portals="[fd00::1]:3260 10.0.0.1:3261", incoming_username="filer.user_1", incoming_password=SECRET)
    assert call(iSCSITarget, "validate-all", dict(env, OCF_CHECK_LEVEL="0")) == 0


@pytest.mark.parametrize("params", [{"scsi_id": "a,online=0"}, {"scsi_sn": "1=2"}, {"vendor_id": "V,x=1"}])
def test_tgt_lun_identity_cannot_smuggle_params(tmp_path, backing, params):
    env = lun_env(tgt_env(tmp_path), backing, **params)
    assert call(iSCSILogicalUnit, "validate-all", dict(env, OCF_CHECK_LEVEL="0")) == 6
    assert call(iSCSILogicalUnit, "stop", env) == 0


def test_daemon_portal_is_ip_and_port_only(tmp_path):
    from agents.iscsi.daemon import iscsitarget

    env = daemon_env(tmp_path, Proc(tmp_path), implementation="tgt", portal="0.0.0.0:3260,nop_interval=1")
    assert call(iscsitarget, "validate-all", dict(env, OCF_CHECK_LEVEL="0")) == 6
    assert call(iscsitarget, "start", env) == 6
    assert call(iscsitarget, "validate-all", dict(env, OCF_CHECK_LEVEL="0", OCF_RESKEY_portal="10.0.0.1:3260")) == 0


# `tgtadm --lld iscsi --op show --mode target` of tgt 1.0.x with a session, a disk LUN, CHAP and ACLs.
TGT_SHOW_FULL = f"""Target 1: {IQN}
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
        I_T nexus: 3
            Initiator: iqn.1993-08.org.debian:01:abc alias: pollux
            Connection: 0
                IP Address: 10.0.0.7
    LUN information:
        LUN: 0
            Type: controller
            SCSI ID: IET     00010000
            SCSI SN: beaf10
            Size: 0 MB, Block size: 1
            Online: Yes
            Removable media: No
            Prevent removal: No
            Readonly: No
            SWP: No
            Thin-provisioning: No
            Backing store type: null
            Backing store path: None
            Backing store flags:
        LUN: 1
            Type: disk
            SCSI ID: lun1
            SCSI SN: sn1
            Size: 1074 MB, Block size: 512
            Readonly: Yes
            Backing store type: rdwr
            Backing store path: /dev/vg0drbd/lun1
            Backing store flags:
    Account information:
        filer
        out (outgoing)
    ACL information:
        10.0.0.0/24
Target 2: {IQN}2
    System information:
        Driver: iscsi
        State: ready
    I_T nexus information:
    LUN information:
        LUN: 0
            Type: controller
            Backing store path: None
    Account information:
    ACL information:
        ALL
"""


def test_tgtadm_show_with_sessions_luns_and_accounts_parses():
    from agents.tools import tgtadm

    ts = tgtadm.parse_targets(TGT_SHOW_FULL)
    assert sorted(ts) == [1, 2] and ts[2].iqn == IQN + "2"
    t = ts[1]
    assert (t.luns[1].path, t.luns[1].readonly, t.luns[1].scsi_sn) == ("/dev/vg0drbd/lun1", True, "sn1")
    assert t.accounts == ["filer", "out"] and t.acls == ["10.0.0.0/24"]
    assert t.nexus == [(3, "iqn.1993-08.org.debian:01:abc", ["10.0.0.7"])]
    assert tgtadm.parse_targets(tgt_show()) and tgtadm.parse_targets("") == {}


@pytest.mark.parametrize("garbage", [
    "\x00}{ Target x: y\nLUN: z\nnot running running OK [1,", "tgtadm: out of memory\n",
    "Target x: iqn.a:b\n", tgt_show() + "LUN: 1\n", tgt_show().replace("LUN: 0", "LUN: zero"),
    "    LUN information:\n        LUN: 1\n"])
def test_tgtadm_output_that_is_not_tgtadms_is_an_error_not_no_targets(garbage):
    from agents.tools import tgtadm
    from ocf.errors import OcfError

    with pytest.raises(ValueError, match="not tgtadm's"):
        tgtadm.parse_targets(garbage)
    r = FakeRunner().expect(SHOW, stdout=garbage)
    with pytest.raises(OcfError, match="unexpected output from tgtadm --lld iscsi --op show --mode target"):
        tgtadm.targets(lambda argv, **kw: r(argv, timeout=5, **kw))
