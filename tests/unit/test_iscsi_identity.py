"""The default SCSI identity of a tgt logical unit: stable values, computed without loading hashlib."""

from __future__ import annotations

import hashlib
import sys

import pytest

from agents.iscsi.logical_unit import iSCSILogicalUnit
from ocf.testing import FakeRunner

IQN = "iqn.2024-01.org.example:filer"
TGT = ["tgtadm", "--lld", "iscsi"]
SHOW = [*TGT, "--op", "show", "--mode", "target"]


def show(lun: str | None = None) -> str:
    text = (f"Target 1: {IQN}\n    System information:\n        Driver: iscsi\n        State: ready\n"
            "    I_T nexus information:\n    LUN information:\n        LUN: 0\n            Type: controller\n"
            "            Backing store path: None\n")
    if lun:
        text += f"        LUN: 1\n            Type: disk\n            Backing store path: {lun}\n"
    return text + "    Account information:\n    ACL information:\n        ALL\n"


def start(tmp_path, instance: str, expected: str, **params: str) -> int:
    """Run the LUN's start against a fake tgtadm that wants --params expected; its exit code."""
    backing = tmp_path / "lun.img"
    backing.write_bytes(b"\0" * 4096)
    env = {"OCF_RESOURCE_INSTANCE": instance, "HA_RSCTMP": str(tmp_path), "OCF_RESKEY_implementation": "tgt",
           "OCF_RESKEY_target_iqn": IQN, "OCF_RESKEY_lun": "1", "OCF_RESKEY_path": str(backing),
           "OCF_RESKEY_CRM_meta_interval": "0", "TGT_IPC_SOCKET": str(tmp_path / "sock")}
    env.update({"OCF_RESKEY_" + k: v for k, v in params.items()})
    r = (FakeRunner().expect(SHOW, show())
         .expect([*TGT, "--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "-b", str(backing)])
         .expect([*TGT, "--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "--params",
                  expected])
         .expect(SHOW, show(lun=str(backing))))
    rc = iSCSILogicalUnit.main(["iSCSILogicalUnit", "start"], env, r)
    r.assert_done()
    return rc


@pytest.mark.parametrize("instance", ["lun1", "filer:0", "a-very-long-resource-name-for-a-lun"])
def test_default_serial_is_the_md5_prefix_of_the_resource_name(tmp_path, instance):
    # An SN that changed between versions would make multipath initiators see another disk.
    name = instance.split(":", 1)[0]
    expected = f"scsi_id={name[:16]},scsi_sn={hashlib.md5(name.encode()).hexdigest()[:8]}"
    assert start(tmp_path, instance, expected) == 0


def test_given_identity_is_kept(tmp_path):
    assert start(tmp_path, "lun1", "scsi_id=disk0,scsi_sn=0badc0de", scsi_id="disk0", scsi_sn="0badc0de") == 0


def test_lun_start_does_not_import_hashlib(tmp_path, monkeypatch):
    # hashlib loads OpenSSL: ~4 ms of CPU on every LUN start; the built-in MD5 gives the same digest.
    monkeypatch.setitem(sys.modules, "hashlib", None)
    assert start(tmp_path, "lun1", "scsi_id=lun1,scsi_sn=333f8b44") == 0  # md5(b"lun1") starts 333f8b44
