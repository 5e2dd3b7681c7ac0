"""The LIO backend on a directory that plays configfs (the guest tier runs it on the real one)."""

from __future__ import annotations

import os

import pytest

from agents.iet import iSCSILogicalUnit, iSCSITarget
from agents.tools import lio
from ocf.errors import Rc
from ocf.testing import FakeRunner

IQN = "iqn.2015-12.cl.caschile:lun.filer"
INIT = "iqn.2024-01.test:client"


class FakeConfigfs(lio.Configfs):
    """Plays configfs: mkdir creates the attribute files and default groups the kernel would, rmdir
    removes them with the object but fails while a user-made directory or link is inside; attributes
    are written only where the kernel has them (values are checked lightly)."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.auto: set[str] = set()

    def rmdir(self, *parts: str) -> None:
        import shutil

        path = self.p(*parts)
        if not os.path.isdir(path) or os.path.islink(path):
            return
        for root, dirs, _files in os.walk(path):
            for d in dirs:
                full = os.path.join(root, d)
                if full not in self.auto:
                    raise OSError(39, "Directory not empty", path)
            for f in _files:
                if os.path.islink(os.path.join(root, f)):
                    raise OSError(39, "Directory not empty", path)
        shutil.rmtree(path)

    def mkdir(self, *parts: str) -> bool:
        made = super().mkdir(*parts)
        if not made:
            return False
        base = self.p(*parts)
        name = parts[-1]
        kids: list[str] = []
        files: list[str] = []
        if name.startswith("tpgt_"):
            kids = ["np", "lun", "acls", "attrib", "param", "auth"]
            files = ["enable"]
        elif len(parts) >= 2 and parts[-2] == "acls":
            kids, files = ["auth"], []
        elif len(parts) == 3 and parts[0] == "core":
            kids, files = ["wwn"], ["control", "udev_path", "enable"]
        for k in kids:
            os.mkdir(os.path.join(base, k))
            self.auto.add(os.path.join(base, k))
        for f in files:
            open(os.path.join(base, f), "w").close()
        return True

    def write(self, value: str, *parts: str) -> None:
        path = self.p(*parts)
        if not os.path.exists(path) and os.path.dirname(path) not in self.auto:
            raise OSError(2, "No such file or directory", path)  # no such attribute
        if parts[-1] == "MaxRecvDataSegmentLength" and int(value) < 512:
            raise OSError(22, "Invalid argument")
        super().write(value, *parts)


@pytest.fixture
def fs(tmp_path, monkeypatch):
    root = tmp_path / "target"
    (root / "core").mkdir(parents=True)
    fake = FakeConfigfs(str(root))
    monkeypatch.setattr(lio, "configfs", lambda: fake)
    return fake


@pytest.fixture
def disk(tmp_path):
    p = tmp_path / "lun0.img"
    p.write_bytes(b"\0" * 4096)
    return str(p)


def env(**kw) -> dict:
    e = {"OCF_RESOURCE_INSTANCE": "lun-filer", "OCF_RESKEY_implementation": "lio"}
    e.update({f"OCF_RESKEY_{k}": v for k, v in kw.items()})
    return e


TA = {"iqn": IQN}


def test_target_start_monitor_stop(fs):
    assert iSCSITarget.main(["x", "monitor"], env(**TA), FakeRunner()) == Rc.NOT_RUNNING
    assert iSCSITarget.main(["x", "start"], env(**TA), FakeRunner()) == Rc.SUCCESS
    tpg = ("iscsi", IQN, "tpgt_1")
    assert fs.read(*tpg, "enable") == "1"
    assert fs.listdir(*tpg, "np") == ["0.0.0.0:3260"]  # the default portal is really created
    assert fs.read(*tpg, "attrib", "generate_node_acls") == "1"
    assert iSCSITarget.main(["x", "start"], env(**TA), FakeRunner()) == Rc.SUCCESS  # idempotent
    assert iSCSITarget.main(["x", "monitor"], env(**TA), FakeRunner()) == Rc.SUCCESS
    assert iSCSITarget.main(["x", "stop"], env(**TA), FakeRunner()) == Rc.SUCCESS
    assert fs.listdir("iscsi") == []
    assert iSCSITarget.main(["x", "stop"], env(**TA), FakeRunner()) == Rc.SUCCESS


def test_acls_chap_and_luns_mapped_both_ways(fs, disk, capsys):
    params = dict(TA, allowed_initiators=INIT, incoming_username="u", incoming_password="topsecret-123")
    assert iSCSITarget.main(["x", "start"], env(**params), FakeRunner()) == Rc.SUCCESS
    tpg = ("iscsi", IQN, "tpgt_1")
    assert fs.listdir(*tpg, "acls") == [INIT]
    assert fs.read(*tpg, "acls", INIT, "auth", "password") == "topsecret-123"
    assert fs.read(*tpg, "attrib", "authentication") == "1"
    lu = {"target_iqn": IQN, "lun": "0", "path": disk, "scsi_sn": "0a0b0c0d"}
    assert iSCSILogicalUnit.main(["x", "start"], env(**lu), FakeRunner()) == Rc.SUCCESS
    assert fs.read("core", "fileio_0", "lun-filer", "wwn", "vpd_unit_serial") == "0a0b0c0d"
    assert fs.read("core", "fileio_0", "lun-filer", "udev_path") == disk
    assert fs.links(*tpg, "acls", INIT, "lun_0") == ["tpg_lun"]  # mapped into the existing ACL
    assert iSCSILogicalUnit.main(["x", "monitor"], env(**lu), FakeRunner()) == Rc.SUCCESS
    # Restarting the target (ACL recreated) maps the LUN that already exists.
    lio.unmap_lun(fs, IQN, INIT, 0)
    fs.rmdir(*tpg, "acls", INIT)
    assert iSCSITarget.main(["x", "start"], env(**params), FakeRunner()) == Rc.SUCCESS
    assert fs.links(*tpg, "acls", INIT, "lun_0") == ["tpg_lun"]
    assert "topsecret-123" not in capsys.readouterr().err
    assert iSCSILogicalUnit.main(["x", "stop"], env(**lu), FakeRunner()) == Rc.SUCCESS
    assert fs.listdir("core", "fileio_0") == []
    assert fs.listdir(*tpg, "lun") == [] and fs.listdir(*tpg, "acls", INIT) == ["auth"]
    assert iSCSITarget.main(["x", "stop"], env(**params), FakeRunner()) == Rc.SUCCESS
    assert fs.listdir("iscsi") == []


def test_failure_in_the_middle_is_undone(fs, capsys):
    bad = dict(TA, additional_parameters="MaxRecvDataSegmentLength=1")
    assert iSCSITarget.main(["x", "start"], env(**bad), FakeRunner()) == Rc.ERR_GENERIC
    assert "LIO refused" in capsys.readouterr().err
    assert fs.listdir("iscsi") == []
    assert iSCSITarget.main(["x", "start"], env(**TA), FakeRunner()) == Rc.SUCCESS


def test_lun_of_another_path_is_not_ours(fs, disk, tmp_path, capsys):
    assert iSCSITarget.main(["x", "start"], env(**TA), FakeRunner()) == Rc.SUCCESS
    lu = {"target_iqn": IQN, "lun": "0", "path": disk}
    assert iSCSILogicalUnit.main(["x", "start"], env(**lu), FakeRunner()) == Rc.SUCCESS
    other = tmp_path / "other.img"
    other.write_bytes(b"\0" * 4096)
    lu2 = dict(lu, path=str(other))
    e2 = dict(env(**lu2), OCF_RESOURCE_INSTANCE="lun-other")
    assert iSCSILogicalUnit.main(["x", "start"], e2, FakeRunner()) == Rc.ERR_GENERIC
    assert "is already" in capsys.readouterr().err
    assert iSCSILogicalUnit.main(["x", "stop"], e2, FakeRunner()) == Rc.SUCCESS  # not ours: kept
    assert iSCSILogicalUnit.main(["x", "monitor"], env(**lu), FakeRunner()) == Rc.SUCCESS


def test_addresses_are_refused_for_lio_and_lun0_for_tgt(fs, capsys):
    assert iSCSITarget.main(["x", "start"], env(**dict(TA, allowed_initiators="10.0.0.1")),
                            FakeRunner()) == Rc.ERR_CONFIGURED
    assert "by name only" in capsys.readouterr().err
    e = {"OCF_RESOURCE_INSTANCE": "l", "OCF_RESKEY_implementation": "tgt", "OCF_RESKEY_target_iqn": IQN,
         "OCF_RESKEY_lun": "0", "OCF_RESKEY_path": "/dev/null"}
    assert iSCSILogicalUnit.main(["x", "validate-all"], e, FakeRunner()) == Rc.ERR_CONFIGURED


def test_probe_without_lio_loaded_is_7(tmp_path, monkeypatch):
    monkeypatch.setattr(lio, "configfs", lambda: lio.Configfs(str(tmp_path / "absent")))
    assert iSCSITarget.main(["x", "monitor"], env(**TA), FakeRunner()) == Rc.NOT_RUNNING
    assert iSCSITarget.main(["x", "stop"], env(**TA), FakeRunner()) == Rc.SUCCESS
    lu = {"target_iqn": IQN, "lun": "0", "path": "/dev/null"}
    assert iSCSILogicalUnit.main(["x", "monitor"], env(**lu), FakeRunner()) == Rc.NOT_RUNNING
