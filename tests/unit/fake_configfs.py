"""A directory tree that behaves like LIO's configfs for the unit tests of the LIO backend.

In configfs, mkdir of an object makes the kernel create its attribute files and default groups, and
rmdir fails with ENOTEMPTY while anything the user made (a subdirectory, a link) remains inside.
This fake does the same by wrapping os.mkdir and os.rmdir for paths under its root, so the backend's
ordering mistakes fail here as they would on a kernel. Writes to an attribute named in `failing` fail
(the attribute is made a directory: even root cannot write it), to test undo after a failed step.
"""

from __future__ import annotations

import errno
import os

TPG_ATTRIBS = ("authentication", "cache_dynamic_acls", "default_cmdsn_depth", "default_erl", "demo_mode_discovery",
               "demo_mode_write_protect", "generate_node_acls", "login_timeout", "netif_timeout",
               "prod_mode_write_protect", "t10_pi", "fabric_prot_type", "tpg_enabled_sendtargets",
               "login_keys_workaround")
TPG_PARAMS = ("AuthMethod", "DataDigest", "DataPDUInOrder", "DataSequenceInOrder", "DefaultTime2Retain",
              "DefaultTime2Wait", "ErrorRecoveryLevel", "FirstBurstLength", "HeaderDigest", "IFMarkInt", "IFMarker",
              "ImmediateData", "InitialR2T", "MaxBurstLength", "MaxConnections", "MaxOutstandingR2T",
              "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength", "OFMarkInt", "OFMarker", "TargetAlias")
AUTH = ("userid", "password", "userid_mutual", "password_mutual", "authenticate_target")
DEV_ATTRIBS = ("block_size", "emulate_3pc", "emulate_caw", "emulate_tpu", "emulate_write_cache", "queue_depth")

# (depth below target/, where the parent is) -> (files, {default group: files})
LAYOUT = {
    "iscsi-target": ((), {"fabric_statistics": ()}),
    "tpg": (("enable", "rtpi", "dynamic_sessions"),
            {"acls": (), "attrib": TPG_ATTRIBS, "auth": AUTH, "lun": (), "np": (), "param": TPG_PARAMS,
             "fabric_statistics": ()}),
    "np": (("iser", "offload"), {}),
    "acl": (("cmdsn_depth", "info", "tag"), {"attrib": ("dataout_timeout",), "auth": AUTH, "param": (),
                                              "fabric_statistics": ()}),
    "mapped-lun": (("write_protect",), {"statistics": ()}),
    "lun": (("alua_tg_pt_gp", "alua_tg_pt_offline", "alua_tg_pt_status", "alua_tg_pt_write_md"),
            {"statistics": ()}),
    "hba": (("hba_info", "hba_mode"), {}),
    "storage-object": (("control", "enable", "udev_path", "info", "alias"),
                       {"attrib": DEV_ATTRIBS, "wwn": ("vpd_unit_serial", "vpd_protocol_identifier", "vendor_id",
                                                       "product_id", "revision"), "pr": (), "alua": (),
                        "statistics": ()}),
}


def kind_of(rel: list[str]) -> str | None:
    """Which configfs object a path below target/ is (None: not one the fake knows)."""
    n = len(rel)
    if rel[:1] == ["iscsi"]:
        if n == 2:
            return "iscsi-target"
        if n == 3 and rel[2].startswith("tpgt_"):
            return "tpg"
        if n == 5 and rel[3] == "np":
            return "np"
        if n == 5 and rel[3] == "acls":
            return "acl"
        if n == 6 and rel[3] == "acls" and rel[5].startswith("lun_"):
            return "mapped-lun"
        if n == 5 and rel[3] == "lun" and rel[4].startswith("lun_"):
            return "lun"
    if rel[:1] == ["core"]:
        if n == 2:
            return "hba"
        if n == 3:
            return "storage-object"
    return None


class FakeConfigfs:
    """configfs semantics for mkdir/rmdir under root (the OCFKIT_CONFIGFS_ROOT of the agent)."""

    def __init__(self, root: str, monkeypatch, *, vendor_attrs: bool = True) -> None:
        self.root = root
        self.made: set[str] = set()  # paths the "kernel" made (attribute files and default groups)
        self.failing: set[str] = set()  # attribute paths relative to target/ whose writes fail, e.g. "*/enable"
        self.vendor_attrs = vendor_attrs
        self._mkdir, self._rmdir = os.mkdir, os.rmdir
        self._mkdir(root)
        self._mkdir(f"{root}/target")
        self._mkdir(f"{root}/target/core")
        self.made.add(f"{root}/target/core")  # always there with target_core_mod
        monkeypatch.setattr(os, "mkdir", self.mkdir)
        monkeypatch.setattr(os, "rmdir", self.rmdir)

    def _under(self, path) -> list[str] | None:
        p = os.path.abspath(os.fspath(path))
        base = self.root + "/target/"
        return p[len(base):].split("/") if p.startswith(base) else None

    def _file(self, path: str, rel_name: str) -> None:
        if any(rel_name.endswith(f) for f in self.failing):
            self._mkdir(path)
        else:
            with open(path, "w") as f:
                f.write("0\n" if path.endswith(("enable", "write_protect")) else "")
        self.made.add(path)

    def mkdir(self, path, mode=0o777, *, dir_fd=None):
        rel = self._under(path)
        self._mkdir(path, mode) if dir_fd is None else self._mkdir(path, mode, dir_fd=dir_fd)
        kind = kind_of(rel) if rel else None
        if kind is None:
            return
        p = os.path.abspath(os.fspath(path))
        files, groups = LAYOUT[kind]
        for f in files:
            self._file(f"{p}/{f}", "/".join([*rel, f]))
        for g, gfiles in groups.items():
            self._mkdir(f"{p}/{g}")
            self.made.add(f"{p}/{g}")
            for f in gfiles:
                if g == "wwn" and f in ("vendor_id", "product_id") and not self.vendor_attrs:
                    continue
                self._file(f"{p}/{g}/{f}", "/".join([*rel, g, f]))

    def rmdir(self, path, *, dir_fd=None):
        rel = self._under(path)
        if rel is None or dir_fd is not None:
            return self._rmdir(path) if dir_fd is None else self._rmdir(path, dir_fd=dir_fd)
        p = os.path.abspath(os.fspath(path))
        if not os.path.isdir(p) or os.path.islink(p):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", p)
        for dirpath, dirnames, filenames in os.walk(p):
            for name in dirnames + filenames:
                full = f"{dirpath}/{name}"
                if full not in self.made or os.path.islink(full):
                    raise OSError(errno.ENOTEMPTY, "Directory not empty", p)
        for dirpath, dirnames, filenames in os.walk(p, topdown=False):
            for name in filenames:
                os.unlink(f"{dirpath}/{name}")
            for name in dirnames:
                self._rmdir(f"{dirpath}/{name}")
        self._rmdir(p)
        self.made = {m for m in self.made if not m.startswith(p + "/")}
        return None

    def tree(self) -> list[str]:
        """Every user-made entry below target/ (what the agents created), as relative paths; links as 'a -> b'."""
        out = []
        base = self.root + "/target/"
        for dirpath, dirnames, filenames in os.walk(self.root + "/target"):
            for name in sorted(dirnames + filenames):
                full = f"{dirpath}/{name}"
                if full in self.made:
                    continue
                if os.path.islink(full):
                    out.append(f"{full[len(base):]} -> {os.path.realpath(full)[len(base):]}")
                else:
                    out.append(full[len(base):])
        return sorted(out)

    def read(self, rel: str) -> str:
        """An attribute's content (relative to target/), without the newline."""
        with open(f"{self.root}/target/{rel}") as f:
            return f.read().rstrip("\n")
