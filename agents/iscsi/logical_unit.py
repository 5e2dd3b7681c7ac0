"""ocf:ocfkit:iSCSILogicalUnit: a logical unit (LUN) of an iSCSI target on tgt, LIO or IET."""

from __future__ import annotations

from agents.iscsi.config import Iqn, KeyValues
from agents.iscsi.frontend import IscsiAgent
from ocf import system
from ocf.agent import action
from ocf.errors import ConfigError, NotInstalledError, OcfError
from ocf.params import Param, boolean, choice, integer, path, string


class iSCSILogicalUnit(IscsiAgent):  # noqa: N801 - the class name is the OCF type
    """Manages an iSCSI logical unit (LUN) of a target, backed by a block device or a file, on tgt, LIO
    or IET. The SCSI ID and serial number default to values derived from the resource name, so that
    they stay the same on every node and initiators (and multipath) see the same disk after a failover.
    LIO: a storage object core/iblock_N/NAME (block device) or core/fileio_N/NAME (file), NAME being
    the resource name, linked as the LUN and mapped into every ACL of the target; stop removes the
    mappings, the LUN and the storage object. IET: ietadm with Type=blockio (block device) or fileio
    (file)."""

    shortdesc = "iSCSI logical unit agent"
    backend_kind = "Lun"

    target_iqn = Param(Iqn(), required=True, shortdesc="iSCSI target IQN",
                       longdesc="The IQN of the target that holds this LUN.")
    lun = Param(integer(0, 255), required=True, shortdesc="Logical Unit number (LUN)",
                longdesc="The LUN number (tgt reserves 0 for its controller: 1 or more there).")
    path = Param(path(), required=True, shortdesc="Block device (or file) path",
                 longdesc="The block device or file that backs the LUN.")
    scsi_id = Param(string, unique=True, shortdesc="SCSI ID",
                    longdesc="The SCSI ID (tgt, IET); default: the first 16 characters of the resource name.")
    scsi_sn = Param(string, unique=True, shortdesc="SCSI serial number",
                    longdesc="The SCSI serial number (LIO: the unit serial VPD page); default: 8 hex digits "
                             "derived from the resource name.")
    vendor_id = Param(string, shortdesc="SCSI vendor ID",
                      longdesc="The SCSI vendor id (8 characters at most; LIO: where the kernel offers "
                               "wwn/vendor_id).")
    product_id = Param(string, shortdesc="SCSI product ID",
                       longdesc="The SCSI product id (16 characters at most; LIO: where the kernel offers "
                                "wwn/product_id).")
    readonly = Param(boolean, default="false", shortdesc="Read only",
                     longdesc="Export the LUN read only (LIO: block devices opened read only, and the LUN "
                              "write-protected in every ACL; IET: IOMode=ro).")
    additional_parameters = Param(KeyValues(), shortdesc="Logical unit parameters",
                                  longdesc="name=value pairs for the implementation: tgt logical unit parameters "
                                           "(product_rev, removable, sense_format, online, thin_provisioning); "
                                           "LIO storage object attributes (emulate_tpu, emulate_3pc, "
                                           "emulate_caw, queue_depth, ...); IET IOMode, BlockSize.")
    tgt_bstype = Param(string, shortdesc="tgt backing store type", longdesc="tgtadm --bstype (rdwr, aio, ...).")
    tgt_bsoflags = Param(string, shortdesc="tgt backing store flags", longdesc="tgtadm --bsoflags (direct, sync).")
    tgt_device_type = Param(string, shortdesc="tgt device type", longdesc="tgtadm --device-type (disk, ...).")
    lio_hba = Param(integer(0, 65535), default="0", shortdesc="LIO HBA number",
                    longdesc="N of the LIO storage object's core/iblock_N or core/fileio_N directory.")
    iet_type = Param(choice("blockio", "fileio"), shortdesc="IET I/O type",
                     longdesc="IET Type= of the LUN; default: blockio for a block device, fileio for a file.")

    def identity(self) -> tuple[str, str]:
        """(scsi_id, scsi_sn), stable across nodes."""
        name = self.instance.split(":", 1)[0]
        sid = self.scsi_id or name[:16]
        if self.scsi_sn:
            return sid, self.scsi_sn
        try:
            # CPython's built-in MD5, the same digest as hashlib's: importing hashlib loads OpenSSL and
            # costs ~4 ms of CPU, a fifth of a LUN's start (docs/benchmarks.md, "Many LUNs").
            from _md5 import md5
        except ImportError:
            from hashlib import md5
        return sid, md5(name.encode(), usedforsecurity=False).hexdigest()[:8]

    def is_block_device(self) -> bool:
        """Whether path is a block device (else a file)."""
        try:
            return system.S_ISBLK(system.stat(self.path).st_mode)
        except OSError:
            return False

    def common_checks(self) -> None:
        """Rules for every backend."""
        if self.vendor_id and len(self.vendor_id) > 8:
            raise ConfigError("vendor_id is at most 8 characters")
        if self.product_id and len(self.product_id) > 16:
            raise ConfigError("product_id is at most 16 characters")

    def environment_problems(self) -> list[OcfError]:
        """validate-all level 10."""
        problems = super().environment_problems()
        if not system.path.exists(self.path):
            problems.append(NotInstalledError(f"{self.path} does not exist"))
        return problems

    @action(timeout=10)
    def start(self) -> int:
        """Ensure the LUN with its identity (undone when a step fails), then monitor."""
        b = self.backend()
        if not system.path.exists(self.path):
            raise NotInstalledError(f"{self.path} does not exist")
        b.start()
        return b.monitor()


if __name__ == "__main__":
    raise SystemExit(iSCSILogicalUnit.main())
