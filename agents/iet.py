"""ocf:ocfkit:iSCSITarget and ocf:ocfkit:iSCSILogicalUnit (iSCSI target and LUN).

Backends: tgt (userspace tgtd through tgtadm), LIO (the kernel target, through configfs directly:
agents/tools/lio.py says why not targetcli or rtslib) and IET (ietadm and /proc/net/iet; tested on
scripted runs only, as no IET kernel exists here).
"""

from __future__ import annotations

import os  # already loaded by the interpreter: free

from ocf.agent import Agent, action
from ocf.errors import ConfigError, NotInstalledError, OcfError, Rc
from ocf.params import Param, Parser, boolean, choice, integer, path, string, words

# iSCSI session parameters tgt accepts per target (tgtadm --op update --name).
TGT_PARAMS = {"MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength", "HeaderDigest", "DataDigest",
              "InitialR2T", "MaxOutstandingR2T", "ImmediateData", "FirstBurstLength", "MaxBurstLength",
              "DataPDUInOrder", "DataSequenceInOrder", "ErrorRecoveryLevel", "IFMarker", "OFMarker",
              "DefaultTime2Wait", "DefaultTime2Retain", "OFMarkInt", "IFMarkInt", "MaxConnections",
              "RDMAExtensions", "TargetRecvDataSegmentLength", "InitiatorRecvDataSegmentLength",
              "MaxOutstandingUnexpectedPDUs", "MaxQueueCmd"}


class _Iqn(Parser):
    def parse(self, text: str) -> str:
        t = text.strip()
        if not t.lower().startswith(("iqn.", "eui.", "naa.")) or any(c.isspace() for c in t):
            raise ValueError("expected an iSCSI name such as iqn.2024-01.com.example:target")
        return t

    def hint(self) -> str:
        return "An iSCSI qualified name (iqn.YYYY-MM.reverse.domain:name)."


class _KeyValues(Parser):
    def parse(self, text: str) -> dict[str, str]:
        out = {}
        for item in text.replace(",", " ").split():
            k, sep, v = item.partition("=")
            if not sep or not k or not v:
                raise ValueError(f"{item!r} is not name=value")
            out[k] = v
        return out

    def hint(self) -> str:
        return "Space-separated name=value pairs."


def _backend_available() -> str:
    """LIO when the kernel target core is loaded, else tgt when tgtadm is installed."""
    import os

    from ocf.exec import which

    if os.path.isdir("/sys/kernel/config/target") or os.path.isdir("/sys/module/target_core_mod"):
        return "lio"
    from agents.tools import ietadm

    if ietadm.running(ietadm.PROC):
        return "iet"
    return "tgt" if which("tgtadm") else ""


def _safe_name(text: str) -> str:
    """A configfs object name from a resource name."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:64] or "lun"


class _Iscsi(Agent):
    """Shared parts of the target and LUN agents."""

    implementation = Param(choice("tgt", "lio", "iet"), shortdesc="iSCSI target implementation",
                           longdesc="tgt (userspace tgtd), lio (the kernel target, driven through configfs) or iet "
                                    "(iSCSI Enterprise Target, through ietadm). When unset: lio if the kernel target "
                                    "core is loaded, else iet if /proc/net/iet exists, else tgt if tgtadm is "
                                    "installed.")

    def backend(self) -> str:
        """The implementation to use, or NotInstalledError."""
        impl = self.implementation or _backend_available()
        if not impl:
            raise NotInstalledError("no iSCSI target implementation found (install tgt, or load LIO's "
                                    "target_core_mod)")
        from ocf.exec import which

        if impl == "tgt" and not which("tgtadm"):
            raise NotInstalledError("tgtadm is not installed")
        if impl == "iet":
            from agents.tools import ietadm

            if not which("ietadm"):
                raise NotInstalledError("ietadm is not installed")
            if not ietadm.running(ietadm.PROC):
                raise NotInstalledError("IET is not running (no /proc/net/iet: load iscsi_trgt and start ietd)")
        return impl

    def lio(self):
        """The LIO configfs tree, loaded (modules) for start."""
        from agents.tools import lio

        return lio.configfs()

    def find_tid(self, iqn: str):
        """The tgt target with this IQN, or None."""
        from agents.tools import tgtadm

        for t in tgtadm.targets(self.run).values():
            if t.iqn == iqn:
                return t
        return None


class iSCSITarget(_Iscsi):  # noqa: N801 - the class name is the OCF type
    """Manages an iSCSI target: its name, portals, allowed initiators (names or addresses), CHAP
    authentication and session parameters. Start is a sequence of ensure steps that undoes what it
    made when a step fails, so the next start never trips over half-built objects; stop removes
    exactly what start created and finishes within its deadline even while initiators are logged in
    and reconnecting (access is revoked first, then the target is deleted with its sessions). The CHAP
    password is never logged nor shown in an exit reason."""

    shortdesc = "iSCSI target export agent"

    iqn = Param(_Iqn(), required=True, unique=True, shortdesc="iSCSI target IQN",
                longdesc="The target iSCSI Qualified Name.")
    tid = Param(integer(1, 65535), unique=True, shortdesc="iSCSI target ID",
                longdesc="The target id, required by tgt (LIO has none). Give the same tid on every node.")
    portals = Param(words, default="0.0.0.0:3260", shortdesc="iSCSI portal addresses",
                    longdesc="Space-separated ip:port portals. tgt listens on 0.0.0.0:3260 by default; other "
                             "portals are added when missing and removed at stop if this agent added them.")
    allowed_initiators = Param(words, shortdesc="List of iSCSI initiators allowed to connect",
                               longdesc="Space-separated initiator names (iqn...) and/or addresses or networks; "
                                        "unset allows everyone.")
    incoming_username = Param(string, unique=True, shortdesc="Incoming account username",
                              longdesc="CHAP user name initiators must log in with.")
    incoming_password = Param(string, secret=True, shortdesc="Incoming account password",
                              longdesc="CHAP secret (12 to 16 characters for most initiators).")
    additional_parameters = Param(_KeyValues(), shortdesc="List of iSCSI target parameters",
                                  longdesc="Session parameters as name=value, e.g. MaxRecvDataSegmentLength=65536 "
                                           "InitialR2T=No ImmediateData=Yes (checked against what tgt accepts).")

    def check_config(self) -> None:
        """Rules that hold on every node."""
        if bool(self.incoming_username) != bool(self.incoming_password):
            raise ConfigError("incoming_username and incoming_password go together")
        impl = self.implementation or _backend_available() or "tgt"
        if impl in ("tgt", "iet") and self.tid is None:
            raise ConfigError(f"tid is required with implementation={impl}")
        if impl == "lio":
            from agents.tools import lio

            known = lio.PARAMS
            addresses = [i for i in self.allowed_initiators or () if not i.lower().startswith(("iqn.", "eui.", "naa."))]
            if addresses:
                raise ConfigError("LIO allows initiators by name only, not by address: " + ", ".join(addresses))
        elif impl == "iet":
            from agents.tools import ietadm

            known = ietadm.PARAMS
        else:
            known = TGT_PARAMS
        unknown = sorted(set(self.additional_parameters or {}) - known)
        if unknown:
            raise ConfigError(f"additional_parameters: {impl} does not know " + ", ".join(unknown))
        for p in self.portals:
            host, sep, port = p.rpartition(":")
            if not sep or not port.isdigit() or not host:
                raise ConfigError(f"portal {p!r} is not ip:port")

    def environment_problems(self) -> list[OcfError]:
        """validate-all level 10."""
        try:
            self.backend()
        except OcfError as e:
            return [e]
        return []

    @action(timeout=10, interval=10, depth=0)
    def monitor(self) -> int:
        """0 when the target exists and is enabled (tgt: under its tid with this IQN)."""
        from agents.tools import tgtadm

        impl = self.backend()
        if impl == "lio":
            return self._lio_monitor()
        if impl == "iet":
            return self._iet_monitor()
        t = tgtadm.targets(self.run).get(self.tid)
        if t is None:
            if not self.is_probe and not tgtadm.answering(self.run):
                # Not "cleanly stopped": the daemon died with the target.
                raise OcfError("tgtd is not running (the target died with it)")
            return Rc.NOT_RUNNING
        if t.iqn != self.iqn:
            raise OcfError(f"tid {self.tid} is {t.iqn}, not {self.iqn}")
        return Rc.SUCCESS

    @action(timeout=10)
    def start(self) -> int:
        """Ensure target, parameters, portals, ACLs and CHAP; undo on failure."""
        from agents.tools import tgtadm

        impl = self.backend()
        if impl == "lio":
            return self._lio_start()
        if impl == "iet":
            return self._iet_start()
        if not tgtadm.answering(self.run):
            raise OcfError("tgtd is not running: start it first (ocf:ocfkit:iscsitarget, or the tgt service)")
        existing = tgtadm.targets(self.run).get(self.tid)
        if existing is not None and existing.iqn != self.iqn:
            raise OcfError(f"tid {self.tid} is already used by {existing.iqn}")
        created = existing is None
        try:
            if created:
                tgtadm.new_target(self.run, self.tid, self.iqn)
            for k, v in (self.additional_parameters or {}).items():
                tgtadm.update_target(self.run, self.tid, k, v)
            self._ensure_portals()
            t = tgtadm.targets(self.run)[self.tid]
            wanted = list(self.allowed_initiators or ["ALL"])
            for acl in t.acls:
                if acl not in wanted:
                    tgtadm.unbind(self.run, self.tid, acl)
            for acl in wanted:
                if acl not in t.acls:
                    tgtadm.bind(self.run, self.tid, acl)
            if self.incoming_username:
                if self.incoming_username in tgtadm.accounts(self.run):
                    # The password may have changed: recreate the account rather than trust it.
                    tgtadm.delete_account(self.run, self.incoming_username)
                tgtadm.new_account(self.run, self.incoming_username, self.incoming_password)
                tgtadm.bind_account(self.run, self.tid, self.incoming_username)
        except OcfError:
            if created:
                self._teardown()
            raise
        return self.monitor()

    def _portal_state(self):
        from ocf.state import StateFile

        return StateFile(f"{self.rsctmp}/iSCSITarget-{self.tid}.portals")

    def _ensure_portals(self) -> None:
        from agents.tools import tgtadm

        wanted = [p for p in self.portals if p != "0.0.0.0:3260"]
        if not wanted:
            return
        have = tgtadm.portals(self.run)
        added = []
        for p in wanted:
            if p not in have:
                tgtadm.new_portal(self.run, p)
                added.append(p)
        if added:
            old = (self._portal_state().read() or "").split()
            self._portal_state().write(" ".join(sorted(set(old + added))))

    def _teardown(self) -> None:
        from agents.tools import tgtadm

        t = tgtadm.targets(self.run).get(self.tid)
        if t is not None and t.iqn == self.iqn:
            # Revoke access first so reconnecting initiators cannot log in again, then delete the target
            # with its sessions (--force): no waiting for initiators to go away.
            for acl in t.acls:
                tgtadm.unbind(self.run, self.tid, acl)
            tgtadm.delete_target(self.run, self.tid)
        if self.incoming_username:
            in_use = any(self.incoming_username in other.accounts for other in tgtadm.targets(self.run).values())
            if not in_use:
                tgtadm.delete_account(self.run, self.incoming_username)
        for p in (self._portal_state().read() or "").split():
            tgtadm.delete_portal(self.run, p)
        self._portal_state().remove()

    @action(timeout=10)
    def stop(self) -> int:
        """Revoke access, delete the target with its sessions, the account and added portals."""
        impl = self.backend()
        if impl == "lio":
            from agents.tools import lio

            lio.delete_target(self.lio(), self.iqn)
            return Rc.SUCCESS
        if impl == "iet":
            self._iet_teardown()
            return Rc.SUCCESS
        self._teardown()
        return Rc.SUCCESS

    # -- IET ------------------------------------------------------------------------------------

    def _iet_monitor(self) -> int:
        from agents.tools import ietadm

        t = ietadm.targets(ietadm.PROC).get(self.tid)
        if t is None:
            return Rc.NOT_RUNNING
        if t.iqn != self.iqn:
            raise OcfError(f"tid {self.tid} is {t.iqn}, not {self.iqn}")
        return Rc.SUCCESS

    def _iet_allow(self) -> str | None:
        from agents.tools import ietadm

        return ietadm.allow_line(self.iqn, list(self.allowed_initiators)) if self.allowed_initiators else None

    def _iet_start(self) -> int:
        """Target, parameters, CHAP user and the initiators.allow line; undone when a step fails."""
        from agents.tools import ietadm

        existing = ietadm.targets(ietadm.PROC).get(self.tid)
        if existing is not None and existing.iqn != self.iqn:
            raise OcfError(f"tid {self.tid} is already used by {existing.iqn}")
        if [p for p in self.portals if p != "0.0.0.0:3260"]:
            self.log.warning("IET listens where ietd was told to (ietd -a): portals are not set per target")
        created = existing is None
        try:
            if created:
                ietadm.new_target(self.run, self.tid, self.iqn)
            ietadm.update_target(self.run, self.tid, dict(self.additional_parameters or {}))
            if self.incoming_username:
                ietadm.delete_user(self.run, self.tid, self.incoming_username)  # a changed secret takes effect
                ietadm.new_user(self.run, self.tid, self.incoming_username, self.incoming_password)
            line = self._iet_allow()
            if line:
                ietadm.edit_allow(ietadm.ALLOW, add=line)
        except (OcfError, OSError) as e:
            if created:
                self._iet_teardown()
            if isinstance(e, OSError):
                raise OcfError(f"cannot edit {ietadm.ALLOW}: {e.strerror}") from None
            raise
        return self._iet_monitor()

    def _iet_teardown(self) -> None:
        from agents.tools import ietadm

        t = ietadm.targets(ietadm.PROC).get(self.tid)
        if t is not None and t.iqn == self.iqn:
            ietadm.delete_target(self.run, t)
        line = self._iet_allow()
        if line:
            try:
                ietadm.edit_allow(ietadm.ALLOW, remove=line)
            except OSError as e:
                raise OcfError(f"cannot edit {ietadm.ALLOW}: {e.strerror}") from None

    # -- LIO ------------------------------------------------------------------------------------

    def _lio_monitor(self) -> int:
        from agents.tools import lio

        fs = self.lio()
        state = lio.target_enabled(fs, self.iqn) if lio.loaded(fs) else None
        if state is None:
            return Rc.NOT_RUNNING
        if not state:
            raise OcfError(f"target {self.iqn} exists but is disabled")
        return Rc.SUCCESS

    def _lio_start(self) -> int:
        """Ensure target, TPG, portals, attributes, ACLs (with the TPG's LUNs mapped), CHAP, enable."""
        from agents.tools import lio

        fs = self.lio()
        lio.ensure_loaded(fs, self.run)
        created = not fs.exists("iscsi", self.iqn)
        tpg = lio.tpg(self.iqn)
        try:
            fs.mkdir("iscsi", self.iqn)
            fs.mkdir(*tpg)
            wanted_np = [lio.portal_dir(p) for p in self.portals]
            for np in fs.listdir(*tpg, "np"):
                if np not in wanted_np:
                    fs.rmdir(*tpg, "np", np)
            for np in wanted_np:
                try:
                    fs.mkdir(*tpg, "np", np)
                except OSError as e:
                    raise OcfError(f"cannot listen on portal {np}: {e.strerror}") from None
            for k, v in (self.additional_parameters or {}).items():
                fs.write(v, *tpg, "param", k)
            chap = bool(self.incoming_username)
            names = list(self.allowed_initiators or [])
            demo = not names
            fs.write("1" if chap else "0", *tpg, "attrib", "authentication")
            fs.write("1" if demo else "0", *tpg, "attrib", "generate_node_acls")
            fs.write("1" if demo else "0", *tpg, "attrib", "cache_dynamic_acls")
            fs.write("0", *tpg, "attrib", "demo_mode_write_protect")
            for acl in lio.acls(fs, self.iqn):
                if acl not in names:
                    for n in lio.tpg_luns(fs, self.iqn):
                        lio.unmap_lun(fs, self.iqn, acl, n)
                    fs.rmdir(*tpg, "acls", acl)
            for acl in names:
                fs.mkdir(*tpg, "acls", acl)
                for n in lio.tpg_luns(fs, self.iqn):
                    lio.map_lun(fs, self.iqn, acl, n, readonly=False)
            # CHAP: per ACL when initiators are listed, on the TPG in demo mode (secret never logged).
            for where in ([(*tpg, "acls", a, "auth") for a in names] if names else [(*tpg, "auth")]):
                fs.write(self.incoming_username or "", *where, "userid")
                fs.write(self.incoming_password or "", *where, "password")
            fs.write("1", *tpg, "enable")
        except OSError as e:
            if created:
                lio.delete_target(fs, self.iqn)
            raise OcfError(f"LIO refused to build target {self.iqn}: {e.strerror or e}") from None
        except OcfError:
            if created:
                lio.delete_target(fs, self.iqn)
            raise
        return self._lio_monitor()

    @action(timeout=10)
    def status(self) -> int:
        """Legacy alias of monitor."""
        return self.monitor()


class iSCSILogicalUnit(_Iscsi):  # noqa: N801 - the class name is the OCF type
    """Manages an iSCSI logical unit (LUN) of a target, backed by a block device or a file. The SCSI
    ID and serial number default to values derived from the resource name, so that they stay the same
    on every node and initiators (and multipath) see the same disk after a failover."""

    shortdesc = "iSCSI logical unit agent"

    target_iqn = Param(_Iqn(), required=True, shortdesc="iSCSI target IQN",
                       longdesc="The IQN of the target that holds this LUN.")
    lun = Param(integer(0, 255), required=True, shortdesc="Logical Unit number (LUN)",
                longdesc="The LUN number (tgt reserves 0 for its controller; LIO and IET start at 0).")
    path = Param(path(), required=True, shortdesc="Block device (or file) path",
                 longdesc="The block device or file that backs the LUN.")
    scsi_id = Param(string, unique=True, shortdesc="SCSI ID",
                    longdesc="The SCSI ID; default: the first 16 characters of the resource name.")
    scsi_sn = Param(string, unique=True, shortdesc="SCSI serial number",
                    longdesc="The SCSI serial number; default: 8 hex digits derived from the resource name.")
    vendor_id = Param(string, shortdesc="SCSI vendor ID", longdesc="The SCSI vendor id (8 characters at most).")
    product_id = Param(string, shortdesc="SCSI product ID", longdesc="The SCSI product id (16 characters at most).")
    readonly = Param(boolean, default="false", shortdesc="Read only", longdesc="Export the LUN read only.")
    tgt_bstype = Param(string, shortdesc="tgt backing store type", longdesc="tgtadm --bstype (rdwr, aio, ...).")
    tgt_bsoflags = Param(string, shortdesc="tgt backing store flags", longdesc="tgtadm --bsoflags (direct, sync).")
    tgt_device_type = Param(string, shortdesc="tgt device type", longdesc="tgtadm --device-type (disk, ...).")
    allowed_initiators = Param(words, shortdesc="Initiators that see this LUN",
                               longdesc="LIO: map the LUN only into these initiators' ACLs (default: every ACL of "
                                        "the target). tgt has no per-LUN access control.")
    iet_type = Param(choice("auto", "blockio", "fileio"), default="auto", shortdesc="IET LUN type",
                     longdesc="IET Type= of the LUN: blockio (direct to a block device) or fileio (through the page "
                              "cache); auto: blockio for block devices, fileio for files.")
    lio_backstore = Param(choice("auto", "block", "fileio"), default="auto", shortdesc="LIO backstore type",
                          longdesc="block (iblock: a block device, the kernel's queue) or fileio (a file, or a "
                                   "block device through the page cache); auto: block for block devices, fileio "
                                   "for files.")

    def identity(self) -> tuple[str, str]:
        """(scsi_id, scsi_sn), stable across nodes."""
        import hashlib

        name = self.instance.split(":", 1)[0]
        sid = self.scsi_id or name[:16]
        sn = self.scsi_sn or hashlib.md5(name.encode(), usedforsecurity=False).hexdigest()[:8]
        return sid, sn

    def check_config(self) -> None:
        """Rules that hold on every node."""
        impl = self.implementation or _backend_available() or "tgt"
        if self.lun == 0 and impl == "tgt":
            raise ConfigError("tgt reserves LUN 0 for its controller: use 1 or more")
        if self.allowed_initiators and impl == "tgt":
            raise ConfigError("tgt has no per-LUN access control: set allowed_initiators on the iSCSITarget")
        if self.vendor_id and len(self.vendor_id) > 8:
            raise ConfigError("vendor_id is at most 8 characters")
        if self.product_id and len(self.product_id) > 16:
            raise ConfigError("product_id is at most 16 characters")

    def environment_problems(self) -> list[OcfError]:
        """validate-all level 10."""
        import os

        problems: list[OcfError] = []
        try:
            self.backend()
        except OcfError as e:
            problems.append(e)
        if not os.path.exists(self.path):
            problems.append(NotInstalledError(f"{self.path} does not exist"))
        return problems

    @action(timeout=10, interval=10, depth=0)
    def monitor(self) -> int:
        """0 when the target has this LUN on this path."""
        impl = self.backend()
        if impl == "lio":
            return self._lio_monitor()
        if impl == "iet":
            return self._iet_monitor()
        t = self.find_tid(self.target_iqn)
        lun = t.luns.get(self.lun) if t else None
        if lun is None:
            if t is None and not self.is_probe:
                from agents.tools import tgtadm

                if not tgtadm.answering(self.run):
                    raise OcfError("tgtd is not running (the LUN died with it)")
            return Rc.NOT_RUNNING
        if lun.path != self.path:
            raise OcfError(f"LUN {self.lun} of {self.target_iqn} is {lun.path}, not {self.path}")
        return Rc.SUCCESS

    @action(timeout=10)
    def start(self) -> int:
        """Ensure the LUN with its identity; undo it when a step fails."""
        import os

        from agents.tools import tgtadm

        impl = self.backend()
        if not os.path.exists(self.path):
            raise NotInstalledError(f"{self.path} does not exist")
        if impl == "lio":
            return self._lio_start()
        if impl == "iet":
            return self._iet_start()
        t = self.find_tid(self.target_iqn)
        if t is None:
            raise OcfError(f"target {self.target_iqn} does not exist (start the iSCSITarget first)")
        lun = t.luns.get(self.lun)
        if lun is not None and lun.path != self.path:
            raise OcfError(f"LUN {self.lun} of {self.target_iqn} is already {lun.path}")
        if lun is not None:
            return Rc.SUCCESS
        sid, sn = self.identity()
        tgtadm.new_lun(self.run, t.tid, self.lun, self.path, bstype=self.tgt_bstype or "",
                       bsoflags=self.tgt_bsoflags or "", device_type=self.tgt_device_type or "")
        try:
            params = {"scsi_id": sid, "scsi_sn": sn}
            if self.vendor_id:
                params["vendor_id"] = self.vendor_id
            if self.product_id:
                params["product_id"] = self.product_id
            if self.readonly:
                params["readonly"] = "1"
            tgtadm.update_lun(self.run, t.tid, self.lun, params)
        except OcfError:
            tgtadm.delete_lun(self.run, t.tid, self.lun)
            raise
        return self.monitor()

    @action(timeout=10)
    def stop(self) -> int:
        """Delete the LUN (connected initiators then see it gone)."""
        from agents.tools import tgtadm

        impl = self.backend()
        if impl == "lio":
            return self._lio_stop()
        if impl == "iet":
            return self._iet_stop()
        t = self.find_tid(self.target_iqn)
        if t is None or self.lun not in t.luns:
            return Rc.SUCCESS
        if t.luns[self.lun].path != self.path:
            self.log.warning(f"LUN {self.lun} of {self.target_iqn} is {t.luns[self.lun].path}: not ours, kept")
            return Rc.SUCCESS

        def gone() -> bool:
            tgtadm.delete_lun(self.run, t.tid, self.lun)
            now = self.find_tid(self.target_iqn)
            return now is None or self.lun not in now.luns

        self.wait_for(f"LUN {self.lun} of {self.target_iqn} to be deleted", gone, interval=0.2)
        return Rc.SUCCESS

    @action(timeout=10)
    def status(self) -> int:
        """Legacy alias of monitor."""
        return self.monitor()


    # -- IET ------------------------------------------------------------------------------------

    def _iet_target(self):
        from agents.tools import ietadm

        for t in ietadm.targets(ietadm.PROC).values():
            if t.iqn == self.target_iqn:
                return t
        return None

    def _iet_monitor(self) -> int:
        t = self._iet_target()
        lun = t.luns.get(self.lun) if t else None
        if lun is None:
            return Rc.NOT_RUNNING
        if lun.get("path") != self.path:
            raise OcfError(f"LUN {self.lun} of {self.target_iqn} is {lun.get('path')}, not {self.path}")
        return Rc.SUCCESS

    def _iet_start(self) -> int:
        import stat

        from agents.tools import ietadm

        t = self._iet_target()
        if t is None:
            raise OcfError(f"target {self.target_iqn} does not exist (start the iSCSITarget first)")
        lun = t.luns.get(self.lun)
        if lun is not None:
            if lun.get("path") != self.path:
                raise OcfError(f"LUN {self.lun} of {self.target_iqn} is already {lun.get('path')}")
            return Rc.SUCCESS
        kind = self.iet_type
        if kind == "auto":
            kind = "blockio" if stat.S_ISBLK(os.stat(self.path).st_mode) else "fileio"
        if self.vendor_id or self.product_id:
            self.log.warning("IET has no per-LUN vendor_id/product_id: ignored")
        sid, sn = self.identity()
        params = {"Path": self.path, "Type": kind, "ScsiId": sid, "ScsiSN": sn}
        if self.readonly:
            params["IOMode"] = "ro"
        ietadm.new_lun(self.run, t.tid, self.lun, params)
        return self._iet_monitor()

    def _iet_stop(self) -> int:
        from agents.tools import ietadm

        t = self._iet_target()
        lun = t.luns.get(self.lun) if t else None
        if lun is None:
            return Rc.SUCCESS
        if lun.get("path") != self.path:
            self.log.warning(f"LUN {self.lun} of {self.target_iqn} is {lun.get('path')}: not ours, kept")
            return Rc.SUCCESS
        ietadm.delete_lun(self.run, t.tid, self.lun)
        return Rc.SUCCESS

    # -- LIO ------------------------------------------------------------------------------------

    def _lio_object(self) -> tuple[str, str]:
        """(hba, name) of this LUN's storage object."""
        import stat

        kind = self.lio_backstore
        if kind == "auto":
            try:
                kind = "block" if stat.S_ISBLK(os.stat(self.path).st_mode) else "fileio"
            except OSError:
                kind = "block" if self.path.startswith("/dev/") else "fileio"
        return ("iblock_0" if kind == "block" else "fileio_0"), _safe_name(self.instance.split(":", 1)[0])

    def _lio_monitor(self) -> int:
        from agents.tools import lio

        fs = self.lio()
        if not lio.loaded(fs):
            return Rc.NOT_RUNNING
        bs = lio.lun_backstore(fs, self.target_iqn, self.lun)
        if bs is None:
            return Rc.NOT_RUNNING
        path = lio.backstore_path(fs, *bs)
        if path != self.path:
            raise OcfError(f"LUN {self.lun} of {self.target_iqn} is {path or bs[1]}, not {self.path}")
        return Rc.SUCCESS

    def _lio_start(self) -> int:
        """Ensure the storage object (identity, read-only), the TPG LUN and its mapping in every ACL."""
        from agents.tools import lio

        fs = self.lio()
        lio.ensure_loaded(fs, self.run)
        if not fs.exists(*lio.tpg(self.target_iqn)):
            raise OcfError(f"target {self.target_iqn} does not exist (start the iSCSITarget first)")
        bs = lio.lun_backstore(fs, self.target_iqn, self.lun)
        if bs is not None:
            path = lio.backstore_path(fs, *bs)
            if path != self.path:
                raise OcfError(f"LUN {self.lun} of {self.target_iqn} is already {path or bs[1]}")
        hba, name = self._lio_object()
        sid, sn = self.identity()
        made_object = made_lun = False
        try:
            if not fs.exists("core", hba, name):
                for other, path in lio.backstores(fs).items():
                    if path == self.path:
                        raise OcfError(f"{self.path} is already exported as {other[1]}")
                fs.mkdir("core", hba)
                fs.mkdir("core", hba, name)
                made_object = True
                if hba.startswith("fileio"):
                    size = os.stat(self.path).st_size
                    fs.write(f"fd_dev_name={self.path},fd_dev_size={size}", "core", hba, name, "control")
                else:
                    fs.write(f"udev_path={self.path}", "core", hba, name, "control")
                if self.readonly and hba.startswith("iblock"):
                    fs.write("readonly=1", "core", hba, name, "control")
                fs.write(self.path, "core", hba, name, "udev_path")
                fs.write("1", "core", hba, name, "enable")
                # The unit serial (and the NAA WWN LIO derives from it) is what initiators and multipath
                # identify the disk by: the same on every node.
                fs.write(sn, "core", hba, name, "wwn", "vpd_unit_serial")
                for attr, value in (("vendor_id", self.vendor_id), ("product_id", self.product_id)):
                    if value and fs.exists("core", hba, name, "wwn", attr):
                        fs.write(value, "core", hba, name, "wwn", attr)
                self.log.debug(f"storage object {hba}/{name} for {self.path} (scsi_id {sid} has no LIO field)")
            lun_dir = (*lio.tpg(self.target_iqn), "lun", f"lun_{self.lun}")
            if bs is None:
                made_lun = fs.mkdir(*lun_dir)
                if not fs.links(*lun_dir):
                    fs.symlink(("core", hba, name), *lun_dir, name)
            for acl in lio.acls(fs, self.target_iqn):
                if self.allowed_initiators and acl not in self.allowed_initiators:
                    continue
                lio.map_lun(fs, self.target_iqn, acl, self.lun, readonly=self.readonly)
        except (OSError, OcfError) as e:
            if made_lun:
                lio.delete_tpg_lun(fs, self.target_iqn, self.lun)
            if made_object:
                fs.rmdir("core", hba, name)
            if isinstance(e, OcfError):
                raise
            raise OcfError(f"LIO refused LUN {self.lun} on {self.path}: {e.strerror or e}") from None
        return self._lio_monitor()

    def _lio_stop(self) -> int:
        """Remove the LUN from every ACL and the TPG, then its storage object."""
        from agents.tools import lio

        fs = self.lio()
        if not lio.loaded(fs):
            return Rc.SUCCESS
        bs = lio.lun_backstore(fs, self.target_iqn, self.lun)
        if bs is not None:
            if lio.backstore_path(fs, *bs) != self.path:
                self.log.warning(f"LUN {self.lun} of {self.target_iqn} is {bs[1]}: not ours, kept")
                return Rc.SUCCESS
            lio.delete_tpg_lun(fs, self.target_iqn, self.lun)
        hba, name = self._lio_object()
        if fs.exists("core", hba, name):
            try:
                fs.rmdir("core", hba, name)
            except OSError as e:
                raise OcfError(f"storage object {name} is still in use: {e.strerror}") from None
        return Rc.SUCCESS

class iscsitarget(Agent):  # noqa: N801 - the class name is the OCF type (the seed's heartbeat resource)
    """Runs the iSCSI target daemon itself, as the seed's heartbeat `iscsitarget` resource does: start
    launches tgtd (its own pid file under HA_RSCTMP) and loads the targets of a configuration file that
    can live on the replicated configuration filesystem (tgt-admin -e -c FILE); stop deletes every
    target with its sessions, shuts the daemon down and waits for it, killing it at the deadline;
    monitor checks that the daemon lives and answers. Only tgt is implemented (not IET)."""

    shortdesc = "iSCSI target daemon (tgtd) with its configuration file"

    implementation = Param(choice("tgt"), default="tgt", shortdesc="iSCSI target implementation",
                           longdesc="Only tgt is implemented.")
    config = Param(path(), default="/etc/tgt/targets.conf", shortdesc="targets.conf to load",
                   longdesc="The tgt-admin configuration to load on start (missing: start the daemon only).")
    portal = Param(string, shortdesc="Listening portal",
                   longdesc="ip:port for tgtd to listen on (--iscsi portal=); default: all addresses, 3260.")

    def _pidfile(self) -> str:
        return f"{self.rsctmp}/iscsitarget-{self.instance.replace('/', '_')}.pid"

    def _pid(self) -> int | None:
        """The daemon's pid when it is alive (and is tgtd)."""
        import os

        try:
            with open(self._pidfile(), encoding="ascii") as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/comm", encoding="ascii") as f:
                if f.read().strip() != "tgtd":
                    return None
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return None
            return pid if os.path.exists(f"/proc/{pid}") else None
        except (OSError, ValueError, IndexError):
            return None

    def _answers(self) -> bool:
        r = self.run(["tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "system"], ok=tuple(range(256)),
                     timeout=5)
        return r.returncode == 0

    @action(timeout=30)
    def start(self) -> int:
        """Start tgtd (if needed) and load the configuration."""
        import os

        if self._pid() is None:
            os.makedirs(self.rsctmp, exist_ok=True)
            argv = ["tgtd", "-p", self._pidfile()]
            if self.portal:
                argv += ["--iscsi", f"portal={self.portal}"]
            self.run(argv)  # tgtd daemonises itself (its own session: not killed with the agent)
            self.wait_for("tgtd to answer", lambda: self._pid() is not None and self._answers(), interval=0.1)
        if os.path.exists(self.config):
            self.run(["tgt-admin", "-e", "-c", self.config])
        else:
            self.log.warning(f"{self.config} does not exist: tgtd runs without configured targets")
        return Rc.SUCCESS

    @action(timeout=30)
    def stop(self) -> int:
        """Delete the targets with their sessions, shut tgtd down, wait for it (SIGKILL at the deadline)."""
        import os
        import signal
        import time

        from agents.tools import tgtadm

        pid = self._pid()
        if pid is not None:
            if self._answers():
                for tid in tgtadm.targets(self.run):
                    tgtadm.delete_target(self.run, tid)
                self.run(["tgtadm", "--lld", "iscsi", "--op", "delete", "--mode", "system"], ok=(0, 22))
            while self._pid() is not None and self.deadline.remaining() > 1:
                time.sleep(0.1)
            if self._pid() is not None:
                self.log.warning(f"tgtd[{pid}] did not exit: killing it")
                os.kill(pid, signal.SIGKILL)
        try:
            os.unlink(self._pidfile())
        except FileNotFoundError:
            pass
        return Rc.SUCCESS

    @action(timeout=20, interval=10, depth=0)
    def monitor(self) -> int:
        """0 while tgtd lives and answers; 7 when cleanly stopped; 1 when it died or hangs."""
        import os

        pid = self._pid()
        if pid is None:
            if os.path.exists(self._pidfile()) and not self.is_probe:
                raise OcfError("tgtd died (its pid file remains)")
            return Rc.NOT_RUNNING
        if not self._answers():
            raise OcfError(f"tgtd[{pid}] does not answer on its management socket")
        return Rc.SUCCESS


if __name__ == "__main__":
    # Installed agents import their class directly; run as a module this is the target agent.
    raise SystemExit(iSCSITarget.main())
