"""LIO (the kernel iSCSI target) through configfs directly.

Neither targetcli nor rtslib: under the guest tier's emulation one targetcli call costs 5-7 s (its
Python start-up plus rtslib's scan of all of configfs, and targetcli-fb 2.1.53 needs a D-Bus system
bus), rtslib alone 3 s; these agents need a dozen mkdir/write/symlink calls, each microseconds. The
layout used (kernel 4.x-6.x):

    target/iscsi/IQN/tpgt_1/{enable, attrib/*, param/*, auth/*, np/IP:PORT, lun/lun_N/<link>, acls/INIT/...}
    target/core/{iblock_0,fileio_0}/NAME/{control, udev_path, enable, wwn/vpd_unit_serial, ...}

`Configfs` is the one place that touches the tree, so unit tests can run it on a directory that plays
configfs (where mkdir does not create the attribute files by itself).
"""

from __future__ import annotations

import os

ROOT = "/sys/kernel/config/target"
TPG = "tpgt_1"

# iSCSI parameters of a TPG (tpgt_1/param/*) that additional_parameters may set.
PARAMS = {"AuthMethod", "DataDigest", "DataPDUInOrder", "DataSequenceInOrder", "DefaultTime2Retain",
          "DefaultTime2Wait", "ErrorRecoveryLevel", "FirstBurstLength", "HeaderDigest", "IFMarkInt", "IFMarker",
          "ImmediateData", "InitialR2T", "MaxBurstLength", "MaxConnections", "MaxOutstandingR2T",
          "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength", "OFMarkInt", "OFMarker", "TargetAlias"}


class Configfs:
    """Reads and writes below the target root (one attribute = one write, as configfs wants)."""

    def __init__(self, root: str = ROOT) -> None:
        self.root = root

    def p(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def exists(self, *parts: str) -> bool:
        return os.path.lexists(self.p(*parts))

    def read(self, *parts: str) -> str:
        with open(self.p(*parts), encoding="utf-8", errors="replace") as f:
            return f.read().strip()

    def write(self, value: str, *parts: str) -> None:
        with open(self.p(*parts), "w", encoding="utf-8") as f:
            f.write(value)

    def mkdir(self, *parts: str) -> bool:
        """Create a configfs object; False when it was already there."""
        try:
            os.mkdir(self.p(*parts))
            return True
        except FileExistsError:
            return False

    def rmdir(self, *parts: str) -> None:
        try:
            os.rmdir(self.p(*parts))
        except FileNotFoundError:
            pass

    def symlink(self, target_parts: tuple[str, ...], *parts: str) -> None:
        os.symlink(self.p(*target_parts), self.p(*parts))

    def unlink(self, *parts: str) -> None:
        try:
            os.unlink(self.p(*parts))
        except FileNotFoundError:
            pass

    def listdir(self, *parts: str) -> list[str]:
        try:
            return sorted(os.listdir(self.p(*parts)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def links(self, *parts: str) -> list[str]:
        return [n for n in self.listdir(*parts) if os.path.islink(self.p(*parts, n))]


def configfs() -> Configfs:
    """The live tree (tests replace this function)."""
    return Configfs()


def loaded(fs: Configfs) -> bool:
    """Whether the target core is there (its configfs directory exists)."""
    return os.path.isdir(fs.root)


def ensure_loaded(fs: Configfs, run) -> None:
    """Load the target core and the iSCSI fabric when needed."""
    from ocf.errors import NotInstalledError

    if not fs.exists("iscsi"):
        if not loaded(fs):
            run(["modprobe", "-a", "target_core_mod", "target_core_iblock", "target_core_file", "iscsi_target_mod"],
                ok=tuple(range(256)))
        if not loaded(fs):
            raise NotInstalledError("LIO is not available: no target_core_mod (or configfs is not mounted on "
                                    "/sys/kernel/config)")
        fs.mkdir("iscsi")  # creating the fabric directory loads iscsi_target_mod on demand


def tpg(iqn: str) -> tuple[str, ...]:
    return ("iscsi", iqn, TPG)


def target_enabled(fs: Configfs, iqn: str) -> bool | None:
    """True enabled, False present but disabled, None absent."""
    if not fs.exists(*tpg(iqn)):
        return None
    try:
        return fs.read(*tpg(iqn), "enable") == "1"
    except OSError:
        return False


def portal_dir(portal: str) -> str:
    """configfs name of an ip:port portal ([v6]:port stays as it is)."""
    return portal


def map_lun(fs: Configfs, iqn: str, acl: str, lun: int, readonly: bool) -> None:
    """Give an ACL the TPG's LUN under the same number."""
    base = (*tpg(iqn), "acls", acl, f"lun_{lun}")
    if fs.mkdir(*base) or not fs.links(*base):
        fs.symlink((*tpg(iqn), "lun", f"lun_{lun}"), *base, "tpg_lun")
    if readonly and fs.exists(*base, "write_protect"):
        fs.write("1", *base, "write_protect")


def unmap_lun(fs: Configfs, iqn: str, acl: str, lun: int) -> None:
    base = (*tpg(iqn), "acls", acl, f"lun_{lun}")
    for link in fs.links(*base):
        fs.unlink(*base, link)
    fs.rmdir(*base)


def tpg_luns(fs: Configfs, iqn: str) -> list[int]:
    return [int(n[4:]) for n in fs.listdir(*tpg(iqn), "lun") if n.startswith("lun_") and n[4:].isdigit()]


def acls(fs: Configfs, iqn: str) -> list[str]:
    return fs.listdir(*tpg(iqn), "acls")


def delete_target(fs: Configfs, iqn: str) -> None:
    """Disable the TPG, then remove mapped LUNs, ACLs, LUN links, portals, the TPG and the target."""
    if not fs.exists("iscsi", iqn):
        return
    if fs.exists(*tpg(iqn), "enable"):
        fs.write("0", *tpg(iqn), "enable")
    for acl in acls(fs, iqn):
        for m in fs.listdir(*tpg(iqn), "acls", acl):
            if m.startswith("lun_") and m[4:].isdigit():
                unmap_lun(fs, iqn, acl, int(m[4:]))
        fs.rmdir(*tpg(iqn), "acls", acl)
    for n in tpg_luns(fs, iqn):
        delete_tpg_lun(fs, iqn, n)
    for np in fs.listdir(*tpg(iqn), "np"):
        fs.rmdir(*tpg(iqn), "np", np)
    fs.rmdir(*tpg(iqn))
    fs.rmdir("iscsi", iqn)


def delete_tpg_lun(fs: Configfs, iqn: str, lun: int) -> None:
    for acl in acls(fs, iqn):
        unmap_lun(fs, iqn, acl, lun)
    base = (*tpg(iqn), "lun", f"lun_{lun}")
    for link in fs.links(*base):
        fs.unlink(*base, link)
    fs.rmdir(*base)


def lun_backstore(fs: Configfs, iqn: str, lun: int) -> tuple[str, str] | None:
    """(hba, name) of the storage object a TPG LUN points to, None when the LUN is absent."""
    base = (*tpg(iqn), "lun", f"lun_{lun}")
    for link in fs.links(*base):
        real = os.path.realpath(fs.p(*base, link))
        return os.path.basename(os.path.dirname(real)), os.path.basename(real)
    return None


def backstore_path(fs: Configfs, hba: str, name: str) -> str:
    """The device or file behind a storage object (udev_path, written for every kind at creation)."""
    try:
        return fs.read("core", hba, name, "udev_path")
    except OSError:
        return ""


def backstores(fs: Configfs) -> dict[tuple[str, str], str]:
    """{(hba, name): path} of every storage object."""
    out = {}
    for hba in fs.listdir("core"):
        if hba.startswith(("iblock_", "fileio_")):
            for name in fs.listdir("core", hba):
                if os.path.isdir(fs.p("core", hba, name)) and fs.exists("core", hba, name, "udev_path"):
                    out[(hba, name)] = backstore_path(fs, hba, name)
    return out
