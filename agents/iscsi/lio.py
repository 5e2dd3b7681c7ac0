"""The LIO backend of iSCSITarget and iSCSILogicalUnit: the kernel target, driven through configfs.

Target: target/iscsi/<iqn>/tpgt_1 with np/<ip:port> portals, attrib (authentication,
generate_node_acls, cache_dynamic_acls, demo_mode_write_protect), acls/<initiator> with CHAP in
auth/userid and auth/password (TPG-level auth/ without ACLs), param/ and attrib/ from
additional_parameters, then enable=1. LUN: a storage object core/iblock_N/<name> (udev_path) or
core/fileio_N/<name> (fd_dev_name, fd_dev_size) with its unit serial, linked from
tpgt_1/lun/lun_<L>/<name>, and mapped (acls/<initiator>/lun_<L>/<name>) into every ACL.
"""

from __future__ import annotations

from agents.iscsi.config import check_known, instance_name, is_initiator_name, target_missing
from agents.iscsi.rollback import Rollback
from agents.tools import lio
from ocf import system
from ocf.errors import ConfigError, NotInstalledError, OcfError, Rc

TPG = "tpgt_1"
DEFAULT_PORTAL = "0.0.0.0:3260"


def _require(agent) -> str:
    root = agent.path_of("configfs")
    if not lio.is_loaded(root):
        raise NotInstalledError(f"LIO is not available ({root}/target is missing: configfs not mounted or "
                                "target_core_mod not loaded)")
    return root


class Target:
    """An iSCSI target in LIO."""

    def __init__(self, agent) -> None:
        self.a = agent
        self.root = agent.path_of("configfs")
        self.tdir = lio.target_dir(self.root, agent.iqn)
        self.tpg = f"{self.tdir}/{TPG}"

    def check(self) -> None:
        """LIO's configuration rules."""
        a = self.a
        addresses = [i for i in a.allowed_initiators or [] if not is_initiator_name(i)]
        if addresses:
            raise ConfigError("allowed_initiators: LIO ACLs are by initiator name (iqn./eui./naa.), addresses "
                              "are not supported: " + " ".join(addresses) + " (filter addresses with a firewall, "
                              "e.g. portblock)")
        check_known(a.additional_parameters, lio.TPG_PARAMS | lio.TPG_ATTRIBS, "LIO has no TPG parameter or attribute")

    def require(self) -> None:
        """configfs with the target core."""
        _require(self.a)

    def monitor(self) -> int:
        """0 when the target exists with tpgt_1 enabled; 7 when it does not exist."""
        _require(self.a)
        if not system.path.isdir(self.tdir):
            return Rc.NOT_RUNNING
        if lio.read(f"{self.tpg}/enable") != "1":
            # Neither running nor cleanly stopped: a leftover that stop removes.
            raise OcfError(f"target {self.a.iqn} exists but {TPG} is not enabled")
        user = self.a.incoming_username
        if user:
            # CHAP lives in this target's own TPG (demo mode) or ACLs: no other target can share it, but
            # it can still be switched off or changed behind the agent's back.
            acls = [f"{self.tpg}/acls/{i}/auth" for i in self.a.allowed_initiators or []]
            if lio.read(f"{self.tpg}/attrib/authentication") != "1" or \
                    any(lio.read(f"{d}/userid") != user for d in acls or [f"{self.tpg}/auth"]):
                raise OcfError(f"target {self.a.iqn} has lost its CHAP account {user}")
        return Rc.SUCCESS

    def start(self) -> None:
        """Ensure each part; undo what this start created when a step fails."""
        _require(self.a)
        with Rollback(self.a.log) as undo:
            self._ensure(undo)

    def _ensure(self, undo: Rollback) -> None:
        a = self.a
        lio.mkdir(f"{self.root}/target/iscsi")  # loads iscsi_target_mod; shared by every target, kept
        if lio.mkdir(self.tdir):
            undo.add(lio.rmdir, self.tdir)
        if lio.mkdir(self.tpg):
            undo.add(lio.rmdir, self.tpg)
        wanted = [lio.portal_name(p) for p in a.portals]
        for np in lio.children(f"{self.tpg}/np"):
            if np not in wanted:
                lio.rmdir(f"{self.tpg}/np/{np}")
        for np in wanted:
            if lio.mkdir(f"{self.tpg}/np/{np}"):
                undo.add(lio.rmdir, f"{self.tpg}/np/{np}")
        chap = bool(a.incoming_username)
        attrib = f"{self.tpg}/attrib"
        initiators = list(a.allowed_initiators or [])
        if initiators:
            lio.write(f"{attrib}/generate_node_acls", "0")
            lio.write(f"{attrib}/cache_dynamic_acls", "0")
        else:
            # Demo mode: every initiator gets a dynamic ACL with all LUNs, writable.
            lio.write(f"{attrib}/generate_node_acls", "1")
            lio.write(f"{attrib}/cache_dynamic_acls", "1")
            lio.write(f"{attrib}/demo_mode_write_protect", "0")
        lio.write(f"{attrib}/authentication", "1" if chap else "0")
        for acl in lio.children(f"{self.tpg}/acls"):
            if acl not in initiators:
                for lun in lio.children(f"{self.tpg}/acls/{acl}"):
                    if lun.startswith("lun_"):
                        lio.remove_mapped_lun(f"{self.tpg}/acls/{acl}", lun)
                lio.rmdir(f"{self.tpg}/acls/{acl}")
        for init in initiators:
            d = f"{self.tpg}/acls/{init}"
            if lio.mkdir(d):
                undo.add(lio.rmdir, d)
                self._map_existing_luns(d, undo)
            if chap:
                self._set_chap(f"{d}/auth")
        if chap and not initiators:
            self._set_chap(f"{self.tpg}/auth")
        for k, v in (a.additional_parameters or {}).items():
            lio.write(f"{self.tpg}/{'attrib' if k in lio.TPG_ATTRIBS else 'param'}/{k}", v)
        lio.write(f"{self.tpg}/enable", "1")

    def _set_chap(self, auth: str) -> None:
        lio.write(f"{auth}/userid", self.a.incoming_username)
        lio.write(f"{auth}/password", self.a.incoming_password, secret=True)

    def _map_existing_luns(self, acl: str, undo: Rollback) -> None:
        """Map the LUNs the TPG already has into a new ACL (a restart with LUNs still there)."""
        for lun in lio.children(f"{self.tpg}/lun"):
            d = f"{acl}/{lun}"
            if lio.mkdir(d):
                undo.add(lio.rmdir, d)
            # A mapped LUN holds one link; a second one is refused by the kernel.
            if not lio.links_in(d) and lio.link(f"{self.tpg}/lun/{lun}", f"{d}/{lun}"):
                undo.add(lio.unlink, f"{d}/{lun}")

    def stop(self) -> None:
        """Remove the whole target: mapped LUNs, ACLs, LUN links, portals, TPG, target."""
        lio.remove_target(self.root, self.a.iqn)

    def reload(self, changes: dict[str, str]) -> None:
        """Write session parameters and TPG attributes of the running target, and read them back."""
        for k, v in changes.items():
            f = f"{self.tpg}/{'attrib' if k in lio.TPG_ATTRIBS else 'param'}/{k}"
            lio.write(f, v)
            if lio.read(f) != v:
                raise OcfError(f"{f} reads {lio.read(f)!r} after writing {v!r}")


class Lun:
    """A logical unit of an LIO target, with its storage object."""

    def __init__(self, agent) -> None:
        self.a = agent
        self.root = agent.path_of("configfs")
        self.tpg = f"{lio.target_dir(self.root, agent.target_iqn)}/{TPG}"
        self.name = instance_name(agent.instance)
        self.lun_dir = f"{self.tpg}/lun/lun_{agent.lun}"

    def check(self) -> None:
        """LIO's configuration rules."""
        check_known(self.a.additional_parameters, lio.DEV_ATTRIBS, "LIO storage objects have no attribute")

    def require(self) -> None:
        """configfs with the target core."""
        _require(self.a)

    def storage_objects(self) -> list[str]:
        """This resource's storage objects that exist (iblock_N/NAME and fileio_N/NAME)."""
        n = self.a.lio_hba
        found = [f"{self.root}/target/core/{kind}_{n}/{self.name}" for kind in ("iblock", "fileio")]
        return [d for d in found if system.path.isdir(d)]

    def wanted_storage_object(self) -> str:
        """The storage object directory for path: iblock for a block device, fileio for a file."""
        kind = "iblock" if self.a.is_block_device() else "fileio"
        return f"{self.root}/target/core/{kind}_{self.a.lio_hba}/{self.name}"

    def linked(self) -> str | None:
        """The storage object the LUN links to, or None when there is no LUN."""
        links = lio.links_in(self.lun_dir)
        return lio.resolve(links[0]) if links else None

    def monitor(self) -> int:
        """0 when the LUN links to a storage object on this path; 7 when there is no LUN."""
        _require(self.a)
        so = self.linked()
        if so is None:
            return Rc.NOT_RUNNING
        backing = lio.read(f"{so}/udev_path")
        if backing != self.a.path:
            raise OcfError(f"LUN {self.a.lun} of {self.a.target_iqn} is {backing or so}, not {self.a.path}")
        return Rc.SUCCESS

    def start(self) -> None:
        """Ensure storage object, LUN and mappings; undo what this start created when a step fails."""
        a = self.a
        _require(a)
        if not system.path.isdir(self.tpg):
            raise target_missing(a)
        so = self.linked()
        if so is not None and lio.read(f"{so}/udev_path") != a.path:
            raise OcfError(f"LUN {a.lun} of {a.target_iqn} is already {lio.read(f'{so}/udev_path') or so}")
        if a.readonly and not a.is_block_device() and not lio.children(f"{self.tpg}/acls"):
            raise OcfError("readonly: LIO write-protects a file-backed LUN only per ACL, and the target has no "
                           "ACLs (set allowed_initiators on the iSCSITarget)")
        with Rollback(a.log) as undo:
            if so is None:
                so = self._ensure_storage_object(undo)
                if lio.mkdir(self.lun_dir):
                    undo.add(lio.rmdir, self.lun_dir)
                if lio.link(so, f"{self.lun_dir}/{self.name}"):
                    undo.add(lio.unlink, f"{self.lun_dir}/{self.name}")
            self._map(undo)

    def _ensure_storage_object(self, undo: Rollback) -> str:
        a = self.a
        so = self.wanted_storage_object()
        if system.path.isdir(so) and lio.read(f"{so}/enable") == "1":
            # Left by a start that died before linking it: reuse it if it is ours (same path).
            if lio.read(f"{so}/udev_path") != a.path:
                raise OcfError(f"storage object {so} exists for {lio.read(f'{so}/udev_path')}, not {a.path}")
            return so
        hba = system.path.dirname(so)
        lio.mkdir(hba)  # shared by every storage object of this HBA number, kept
        if lio.mkdir(so):
            undo.add(lio.rmdir, so)
        if so.rsplit("/", 2)[1].startswith("iblock_"):
            lio.write(f"{so}/control", f"udev_path={a.path}")
            if a.readonly:
                lio.write(f"{so}/control", "readonly=1")
        else:
            size = system.stat(a.path).st_size
            lio.write(f"{so}/control", f"fd_dev_name={a.path},fd_dev_size={size}")
        lio.write(f"{so}/udev_path", a.path)
        lio.write(f"{so}/enable", "1")
        # The identity must be set before the object is exported (the kernel refuses it afterwards).
        _sid, sn = a.identity()
        lio.write(f"{so}/wwn/vpd_unit_serial", sn)
        for attr, value in (("vendor_id", a.vendor_id), ("product_id", a.product_id)):
            if not value:
                continue
            if system.path.exists(f"{so}/wwn/{attr}"):
                lio.write(f"{so}/wwn/{attr}", value)
            else:
                a.log.warning(f"this kernel has no wwn/{attr}: {attr} not set")
        for k, v in (a.additional_parameters or {}).items():
            lio.write(f"{so}/attrib/{k}", v)
        return so

    def _map(self, undo: Rollback) -> None:
        """Map the LUN into every ACL of the target (write-protected when readonly)."""
        a = self.a
        lun = f"lun_{a.lun}"
        for acl in lio.children(f"{self.tpg}/acls"):
            d = f"{self.tpg}/acls/{acl}/{lun}"
            if lio.mkdir(d):
                undo.add(lio.rmdir, d)
            if not lio.links_in(d) and lio.link(self.lun_dir, f"{d}/{self.name}"):
                undo.add(lio.unlink, f"{d}/{self.name}")
            lio.write(f"{d}/write_protect", "1" if a.readonly else "0")

    def stop(self) -> None:
        """Unmap the LUN from the ACLs, remove it, then remove the storage object."""
        a = self.a
        so = self.linked()
        if so is not None:
            if lio.read(f"{so}/udev_path") != a.path:
                a.log.warning(f"LUN {a.lun} of {a.target_iqn} is {lio.read(f'{so}/udev_path')}: not ours, kept")
                return
            lun = f"lun_{a.lun}"
            for acl in lio.children(f"{self.tpg}/acls"):
                lio.remove_mapped_lun(f"{self.tpg}/acls/{acl}", lun)
            lio.remove_lun(self.tpg, lun)
        for d in self.storage_objects():
            if lio.read(f"{d}/udev_path") in (a.path, ""):
                lio.rmdir(d)
