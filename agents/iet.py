"""IET (iSCSI Enterprise Target), the seed's target: the IET backend of iSCSITarget and iSCSILogicalUnit
(agents/iscsi/backend.py), ietadm for changes, /proc/net/iet for state. The daemon ietd itself is run
by the iscsitarget agent (agents/iscsi/daemon.py).

Allowed initiators are lines of ietd's initiators.allow (`<iqn> <initiator>, <initiator>`) plus an
`<iqn> ALL` line in initiators.deny (older ietd allow everyone a deny file does not refuse); the
agent records the exact lines it added in HA_RSCTMP and stop removes exactly those.
"""

from __future__ import annotations

from agents.iscsi.config import check_known, instance_name, lun_is_ours, lun_state, target_missing
from agents.iscsi.rollback import Rollback
from agents.tools import ietadm
from ocf import system
from ocf.errors import ConfigError, NotInstalledError, OcfError, Rc
from ocf.exec import which
from ocf.state import Lock, StateFile

DEFAULT_PORTAL = "0.0.0.0:3260"


def _require(agent) -> None:
    if not ietadm.is_loaded(agent.path_of("proc")):
        raise NotInstalledError(f"IET is not loaded ({agent.path_of('proc')}/net/iet is missing)")
    if not which("ietadm"):
        raise NotInstalledError("ietadm is not installed")


def initiators_files(agent) -> tuple[str, str]:
    """(initiators.allow, initiators.deny): in /etc/iet when that directory exists (Debian), else /etc."""
    etc = agent.path_of("etc")
    base = f"{etc}/iet" if system.path.isdir(f"{etc}/iet") else etc
    return f"{base}/initiators.allow", f"{base}/initiators.deny"


def _no_separators(what: str, value: str) -> None:
    # ietadm splits its --params argument at commas and equals signs.
    if "," in value or "=" in value:
        raise ConfigError(f"{what} {value!r}: IET cannot take ',' or '=' in it")


class _Part:
    """What the IET target and LUN share: the agent, and the /proc that shows IET's state."""

    def __init__(self, agent) -> None:
        self.a = agent
        self.proc = agent.path_of("proc")

    def require(self) -> None:
        """IET loaded and ietadm installed."""
        _require(self.a)


class Target(_Part):
    """An iSCSI target in IET."""

    def check(self) -> None:
        """IET's configuration rules."""
        a = self.a
        check_known(a.additional_parameters, ietadm.TARGET_PARAMS, "IET does not know")
        if a.incoming_username:
            _no_separators("incoming_username", a.incoming_username)
            if "," in a.incoming_password or "=" in a.incoming_password:
                raise ConfigError("incoming_password: IET cannot take ',' or '=' in it")
        for i in a.allowed_initiators or []:
            _no_separators("allowed_initiators entry", i)

    def _state(self):
        return StateFile(f"{self.a.rsctmp}/iSCSITarget-iet-{instance_name(self.a.iqn)}.lines")

    def _recorded(self) -> list[tuple[str, str]]:
        text = self._state().read() or ""
        return [tuple(x.split("\t", 1)) for x in text.splitlines() if "\t" in x]  # type: ignore[misc]

    def _record(self, lines: list[tuple[str, str]]) -> None:
        if lines:
            self._state().write("".join(f"{f}\t{ln}\n" for f, ln in lines))
        else:
            self._state().remove()

    def monitor(self) -> int:
        """0 when IET has a target with this IQN (under tid, if given); 7 when it does not."""
        a = self.a
        t = ietadm.by_name(ietadm.targets(self.proc), a.iqn)
        if t is None:
            return Rc.NOT_RUNNING
        if a.tid is not None and t.tid != a.tid:
            raise OcfError(f"{a.iqn} is tid {t.tid}, not {a.tid}")
        return Rc.SUCCESS

    def start(self) -> None:
        """Ensure target, parameters, initiator lines and CHAP; undo on failure."""
        a = self.a
        if [p for p in a.portals if p != DEFAULT_PORTAL]:
            a.log.warning("portals: IET listens where ietd was told to (ietd -a/-p); the parameter is ignored")
        # The lock makes picking the next free tid and creating the target one step among agents.
        with Lock(f"{a.rsctmp}/iSCSITarget-iet.lock", timeout=max(a.deadline.remaining(), 0.1)):
            found = ietadm.targets(self.proc)
            existing = ietadm.by_name(found, a.iqn)
            if a.tid is not None:
                other = found.get(a.tid)
                if other is not None and other.iqn != a.iqn:
                    raise OcfError(f"tid {a.tid} is already used by {other.iqn}")
                if existing is not None and existing.tid != a.tid:
                    raise OcfError(f"{a.iqn} already exists as tid {existing.tid}")
                tid = a.tid
            else:
                tid = existing.tid if existing is not None else max(found, default=0) + 1
            with Rollback(a.log) as undo:
                if existing is None:
                    ietadm.new_target(a.run, tid, a.iqn)
                    undo.add(ietadm.delete_target, a.run, tid)
                self._ensure(tid, undo)

    def _ensure(self, tid: int, undo: Rollback) -> None:
        a = self.a
        if a.additional_parameters:
            ietadm.update_target(a.run, tid, dict(a.additional_parameters))
        allow, deny = initiators_files(a)
        wanted: list[tuple[str, str]] = []
        if a.allowed_initiators:
            wanted = [(allow, f"{a.iqn} {', '.join(a.allowed_initiators)}"), (deny, f"{a.iqn} ALL")]
        before = self._recorded()
        for f, ln in before:
            if (f, ln) not in wanted:
                ietadm.remove_line(f, ln)
        ours = [x for x in before if x in wanted]
        undo.add(self._record, list(ours))
        for f, ln in wanted:
            if ietadm.add_line(f, ln):
                ours.append((f, ln))
                undo.add(ietadm.remove_line, f, ln)
        self._record(ours)
        if a.incoming_username:
            # The password may have changed: recreate the account rather than trust it.
            ietadm.delete_user(a.run, tid, a.incoming_username)
            ietadm.new_user(a.run, tid, a.incoming_username, a.incoming_password)
            undo.add(ietadm.delete_user, a.run, tid, a.incoming_username)

    def reload(self, changes: dict[str, str]) -> None:
        """Set iSCSI parameters of the running target (ietadm --op update)."""
        t = ietadm.by_name(ietadm.targets(self.proc), self.a.iqn)
        if t is None:
            raise OcfError(f"{self.a.iqn} vanished")
        ietadm.update_target(self.a.run, t.tid, changes)

    def stop(self) -> None:
        """Revoke access (initiator lines), close the connections, delete the account and the target."""
        a = self.a
        for f, ln in self._recorded():
            ietadm.remove_line(f, ln)
        self._state().remove()
        try:
            t = ietadm.by_name(ietadm.targets(self.proc), a.iqn)
        except NotInstalledError:
            return  # IET is gone, and its targets with it
        if t is None:
            return
        tid = t.tid
        if a.incoming_username:
            ietadm.delete_user(a.run, tid, a.incoming_username)

        def gone() -> bool:
            now = ietadm.by_name(ietadm.targets(self.proc, sessions=True), a.iqn)
            if now is None:
                return True
            # IET refuses to delete a target with sessions: close every connection, then try.
            for sid, _initiator, cids in now.sessions:
                for cid in cids:
                    ietadm.delete_connection(a.run, tid, sid, cid)
            ietadm.delete_target(a.run, tid)
            return ietadm.by_name(ietadm.targets(self.proc), a.iqn) is None

        a.wait_for(f"target {a.iqn} (tid {tid}) to be deleted", gone, interval=0.2)


class Lun(_Part):
    """A logical unit of an IET target."""

    def check(self) -> None:
        """IET's configuration rules."""
        a = self.a
        check_known(a.additional_parameters, ietadm.LUN_PARAMS, "IET logical units do not know")
        _no_separators("path", a.path)
        # The defaults come from the resource name, an XML ID without ',' or '='.
        for name, value in (("scsi_id", a.scsi_id), ("scsi_sn", a.scsi_sn)):
            if value:
                _no_separators(name, value)

    def _find(self):
        return ietadm.by_name(ietadm.targets(self.proc), self.a.target_iqn)

    def monitor(self) -> int:
        """0 when the target has this LUN on this path; 7 when not."""
        a = self.a
        t = self._find()
        lun = t.luns.get(a.lun) if t is not None else None
        return lun_state(a, lun)

    def start(self) -> None:
        """Create the LUN with its type and identity."""
        a = self.a
        t = self._find()
        if t is None:
            raise target_missing(a)
        lun = t.luns.get(a.lun)
        if lun is not None:
            if lun.path != a.path:
                raise OcfError(f"LUN {a.lun} of {a.target_iqn} is already {lun.path}")
            return
        sid, sn = a.identity()
        params = {"Path": a.path, "Type": a.iet_type or ("blockio" if a.is_block_device() else "fileio"),
                  "ScsiId": sid, "ScsiSN": sn}
        if a.readonly:
            params["IOMode"] = "ro"
        params.update(a.additional_parameters or {})
        ietadm.new_lun(a.run, t.tid, a.lun, params)

    def stop(self) -> None:
        """Delete the LUN (IET deletes it even while initiators use it)."""
        a = self.a
        try:
            t = self._find()
        except NotInstalledError:
            return
        if not lun_is_ours(a, t):
            return
        ietadm.delete_lun(a.run, t.tid, a.lun)
