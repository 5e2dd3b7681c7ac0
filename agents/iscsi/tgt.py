"""The tgt backend of iSCSITarget and iSCSILogicalUnit: userspace tgtd through tgtadm."""

from __future__ import annotations

from agents.iscsi.config import check_known, lun_is_ours, lun_state, target_missing
from agents.tools import tgtadm
from ocf.errors import ConfigError, NotInstalledError, OcfError, Rc
from ocf.exec import which
from ocf.state import Lock, StateFile

# iSCSI session parameters tgt accepts per target (tgtadm --op update --name).
TGT_PARAMS = {"MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength", "HeaderDigest", "DataDigest",
              "InitialR2T", "MaxOutstandingR2T", "ImmediateData", "FirstBurstLength", "MaxBurstLength",
              "DataPDUInOrder", "DataSequenceInOrder", "ErrorRecoveryLevel", "IFMarker", "OFMarker",
              "DefaultTime2Wait", "DefaultTime2Retain", "OFMarkInt", "IFMarkInt", "MaxConnections",
              "RDMAExtensions", "TargetRecvDataSegmentLength", "InitiatorRecvDataSegmentLength",
              "MaxOutstandingUnexpectedPDUs", "MaxQueueCmd"}
# Logical unit parameters (tgtadm --op update --mode logicalunit --params) besides the ones the agent sets.
LUN_PARAMS = {"product_rev", "removable", "sense_format", "online", "thin_provisioning"}


def _require() -> None:
    """tgtadm is installed (validate-all; the actions learn it from the command seam)."""
    if not which("tgtadm"):
        raise NotInstalledError("tgtadm is not installed")


def find_target(run, iqn: str):
    """The tgt target with this IQN, or None."""
    for t in tgtadm.targets(run).values():
        if t.iqn == iqn:
            return t
    return None


def read_targets(a) -> dict:
    """tgtd's targets for a monitor; without tgtadm a NotInstalledError (a probe's 7) only when no tgtd
    runs on the control port, else a failure: a probe never guesses."""
    try:
        return tgtadm.targets(a.run)
    except NotInstalledError as e:
        alive = tgtadm.daemon_running(a.env, a.path_of("proc"))
        if alive:
            raise OcfError(f"{e.reason}, but {alive}: what it exports cannot be read") from None
        raise


def check_absent(a, what: str) -> None:
    """Nothing found in tgtd's answer: fine when a tgtd answered; else a failure, except for a probe
    where no tgtd runs at all (then nothing is exported: 7)."""
    if tgtadm.answering(a.run):
        return
    alive = tgtadm.daemon_running(a.env, a.path_of("proc"))
    if alive:
        raise OcfError(f"tgtd does not answer, but {alive}")
    if not a.is_probe:
        # Not "cleanly stopped": the daemon died with the target.
        raise OcfError(f"tgtd is not running (the {what} died with it)")


class Target:
    """An iSCSI target in tgtd."""

    def __init__(self, agent) -> None:
        self.a = agent

    def check(self) -> None:
        """tgt's configuration rules."""
        a = self.a
        if a.tid is None:
            raise ConfigError("tid is required with implementation=tgt")
        check_known(a.additional_parameters, TGT_PARAMS, "tgt does not know")

    def require(self) -> None:
        """tgtadm is installed."""
        _require()

    def monitor(self) -> int:
        """0 when tgtd has the target under its tid with this IQN."""
        a = self.a
        t = read_targets(a).get(a.tid)
        if t is None:
            check_absent(a, "target")
            return Rc.NOT_RUNNING
        if t.iqn != a.iqn:
            raise OcfError(f"tid {a.tid} is {t.iqn}, not {a.iqn}")
        if a.incoming_username and a.incoming_username not in t.accounts:
            # Without its account the target no longer asks initiators for CHAP.
            raise OcfError(f"target {a.iqn} has lost its CHAP account {a.incoming_username}")
        return Rc.SUCCESS

    def start(self) -> None:
        """Ensure target, parameters, portals, ACLs and CHAP; undo on failure."""
        a = self.a
        now = tgtadm.answer(a.run)  # one tgtadm: whether tgtd answers, and what it has
        if now is None:
            raise OcfError("tgtd is not running: start it first (ocf:ocfkit:iscsitarget, or the tgt service)")
        existing = now.get(a.tid)
        if existing is not None and existing.iqn != a.iqn:
            raise OcfError(f"tid {a.tid} is already used by {existing.iqn}")
        created = existing is None
        try:
            if created:
                tgtadm.new_target(a.run, a.tid, a.iqn)
            for k, v in (a.additional_parameters or {}).items():
                tgtadm.update_target(a.run, a.tid, k, v)
            self._ensure_portals()
            t = tgtadm.targets(a.run)[a.tid]
            wanted = list(a.allowed_initiators or ["ALL"])
            for acl in t.acls:
                if acl not in wanted:
                    tgtadm.unbind(a.run, a.tid, acl)
            for acl in wanted:
                if acl not in t.acls:
                    tgtadm.bind(a.run, a.tid, acl)
            if a.incoming_username:
                with self._lock():
                    self._ensure_account(t)
        except OcfError:
            if created:
                self._teardown()
            raise

    def _lock(self):
        """Serialises the account steps of the targets on this node (a shared account is one object)."""
        return Lock(f"{self.a.rsctmp}/iSCSITarget-tgt.lock", timeout=max(self.a.deadline.remaining(), 0.1))

    def _ensure_account(self, t) -> None:
        """The CHAP account exists and is bound to our target, never touching other targets' bindings.

        An account bound to no target is recreated (its password may have changed); one that another
        target uses is kept as it is: deleting it would strip CHAP from that target, and tgtadm has no
        way to change a password in place."""
        a = self.a
        user = a.incoming_username
        others = sorted(o.tid for o in tgtadm.targets(a.run).values() if o.tid != a.tid and user in o.accounts)
        if others:
            a.log.warning(f"CHAP account {user} is also bound to tid {', '.join(map(str, others))}: kept as it "
                          "is (its password is the one it was created with)")
        else:
            if user in tgtadm.accounts(a.run):
                tgtadm.delete_account(a.run, user)
            tgtadm.new_account(a.run, user, a.incoming_password)
        if user not in t.accounts or not others:
            # A recreated account lost every binding, ours too.
            tgtadm.bind_account(a.run, a.tid, user)

    def _portal_state(self):
        return StateFile(f"{self.a.rsctmp}/iSCSITarget-{self.a.tid}.portals")

    def _ensure_portals(self) -> None:
        a = self.a
        wanted = [p for p in a.portals if p != "0.0.0.0:3260"]
        if not wanted:
            return
        have = tgtadm.portals(a.run)
        added = []
        for p in wanted:
            if p not in have:
                tgtadm.new_portal(a.run, p)
                added.append(p)
        if added:
            old = (self._portal_state().read() or "").split()
            self._portal_state().write(" ".join(sorted(set(old + added))))

    def _teardown(self, now: dict | None = None) -> None:
        """Remove what start made; now: tgtd's targets when the caller has just read them."""
        a = self.a
        t = (tgtadm.targets(a.run) if now is None else now).get(a.tid)
        if t is not None and t.iqn == a.iqn:
            # Revoke access first so reconnecting initiators cannot log in again, then delete the target
            # with its sessions (--force): no waiting for initiators to go away.
            for acl in t.acls:
                tgtadm.unbind(a.run, a.tid, acl)
            tgtadm.delete_target(a.run, a.tid)
        if a.incoming_username:
            with self._lock():
                # Deleting the target dropped our binding; the account goes only when no target uses it.
                in_use = any(a.incoming_username in other.accounts for other in tgtadm.targets(a.run).values())
                if not in_use:
                    tgtadm.delete_account(a.run, a.incoming_username)
        for p in (self._portal_state().read() or "").split():
            tgtadm.delete_portal(a.run, p)
        self._portal_state().remove()

    def stop(self) -> None:
        """Revoke access, delete the target with its sessions, the account and added portals.

        When tgtadm cannot be used (not installed) or no tgtd answers, the target can only be gone if no
        tgtd runs on our control port (tgtadm.daemon_running): then there is nothing to remove and stop
        succeeds; otherwise it fails, since the target may still be exported."""
        a = self.a
        now = None
        try:
            now = tgtadm.answer(a.run)  # one tgtadm: whether tgtd answers, and what it has
            reachable = now is not None
            cause = "no tgtd answers"
        except NotInstalledError as e:
            reachable, cause = False, e.reason
        if not reachable:
            alive = tgtadm.daemon_running(a.env, a.path_of("proc"))
            if alive:
                raise OcfError(f"cannot remove target {a.iqn}: {cause}, but {alive}")
            a.log.info(f"{cause} and no tgtd runs ({tgtadm.control_paths(a.env)[0]}): nothing is exported")
            self._portal_state().remove()
            return
        self._teardown(now)

    def reload(self, changes: dict[str, str]) -> None:
        """Set session parameters of the running target (tgtadm --op update)."""
        for k, v in changes.items():
            tgtadm.update_target(self.a.run, self.a.tid, k, v)


class Lun:
    """A logical unit of a tgtd target."""

    def __init__(self, agent) -> None:
        self.a = agent

    def check(self) -> None:
        """tgt's configuration rules."""
        a = self.a
        if a.lun < 1:
            raise ConfigError("tgt reserves LUN 0 for its controller: lun must be 1 or more")
        for name in ("scsi_id", "scsi_sn", "vendor_id", "product_id"):
            value = getattr(a, name)
            if value and ("," in value or "=" in value):
                # tgtadm --params is one name=value,name=value list.
                raise ConfigError(f"{name} {value!r}: tgt cannot take ',' or '=' in it")
        check_known(a.additional_parameters, LUN_PARAMS, "tgt logical units do not know")

    def require(self) -> None:
        """tgtadm is installed."""
        _require()

    def monitor(self) -> int:
        """0 when the target has this LUN on this path."""
        a = self.a
        t = next((x for x in read_targets(a).values() if x.iqn == a.target_iqn), None)
        lun = t.luns.get(a.lun) if t else None
        if t is None:
            check_absent(a, "LUN")
        return lun_state(a, lun)

    def start(self) -> None:
        """Ensure the LUN with its identity; undo it when a step fails."""
        a = self.a
        t = find_target(a.run, a.target_iqn)
        if t is None:
            raise target_missing(a)
        lun = t.luns.get(a.lun)
        if lun is not None and lun.path != a.path:
            raise OcfError(f"LUN {a.lun} of {a.target_iqn} is already {lun.path}")
        if lun is not None:
            return
        sid, sn = a.identity()
        tgtadm.new_lun(a.run, t.tid, a.lun, a.path, bstype=a.tgt_bstype or "",
                       bsoflags=a.tgt_bsoflags or "", device_type=a.tgt_device_type or "")
        try:
            params = {"scsi_id": sid, "scsi_sn": sn}
            if a.vendor_id:
                params["vendor_id"] = a.vendor_id
            if a.product_id:
                params["product_id"] = a.product_id
            if a.readonly:
                params["readonly"] = "1"
            params.update(a.additional_parameters or {})
            tgtadm.update_lun(a.run, t.tid, a.lun, params)
        except OcfError:
            tgtadm.delete_lun(a.run, t.tid, a.lun)
            raise

    def stop(self) -> None:
        """Delete the LUN (connected initiators then see it gone); without tgtadm only when no tgtd runs."""
        a = self.a
        try:
            t = find_target(a.run, a.target_iqn)
            # No target in an empty answer is only "gone" when a tgtd gave that answer.
            reachable, cause = t is not None or tgtadm.answering(a.run), "no tgtd answers"
        except NotInstalledError as e:
            t, reachable, cause = None, False, e.reason
        if not reachable:
            alive = tgtadm.daemon_running(a.env, a.path_of("proc"))
            if alive:
                raise OcfError(f"cannot remove LUN {a.lun} of {a.target_iqn}: {cause}, but {alive}")
            return
        if not lun_is_ours(a, t):
            return

        def gone() -> bool:
            tgtadm.delete_lun(a.run, t.tid, a.lun)
            now = find_target(a.run, a.target_iqn)
            return now is None or a.lun not in now.luns

        a.wait_for(f"LUN {a.lun} of {a.target_iqn} to be deleted", gone, interval=0.2)
