"""ocf:ocfkit:iSCSITarget: an iSCSI target on tgt, LIO or IET (the daemon itself is agents/iscsi/daemon.py)."""

from __future__ import annotations

from agents.iscsi.config import Iqn, KeyValues, check_initiator, check_portal
from agents.iscsi.frontend import IscsiAgent
from ocf.agent import action
from ocf.errors import ConfigError, OcfError, Rc
from ocf.params import Param, integer, string, words


class iSCSITarget(IscsiAgent):  # noqa: N801 - the class name is the OCF type
    """Manages an iSCSI target: its name, portals, allowed initiators, CHAP authentication and session
    parameters, on tgt, LIO or IET. Start is a sequence of ensure steps that undoes what it made when a
    step fails, so the next start never trips over half-built objects; stop removes exactly what start
    created and finishes within its deadline even while initiators are logged in and reconnecting
    (access is revoked first, then the target is deleted with its sessions). The CHAP password is never
    logged nor shown in an exit reason. tgt: tid required; portals other than 0.0.0.0:3260 are added to
    tgtd; initiator names and addresses. LIO: driven through configfs directly; every portal (the
    default too) is created under the target; allowed_initiators become ACLs, which LIO only knows by
    initiator name (addresses are a configuration error); without them the target runs in demo mode
    (dynamic ACLs, writable). IET: through ietadm; tid optional (the next free one is taken); portals
    are ietd's (a warning); allowed_initiators (names or addresses) are lines in initiators.allow (and
    an ALL line in initiators.deny for older ietd), removed again at stop."""

    shortdesc = "iSCSI target export agent"
    backend_kind = "Target"

    iqn = Param(Iqn(), required=True, unique=True, shortdesc="iSCSI target IQN",
                longdesc="The target iSCSI Qualified Name.")
    tid = Param(integer(1, 65535), unique=True, shortdesc="iSCSI target ID",
                longdesc="The target id: required by tgt (give the same tid on every node); optional for IET "
                         "(unset: the next free one); not used by LIO.")
    portals = Param(words, default="0.0.0.0:3260", shortdesc="iSCSI portal addresses",
                    longdesc="Space-separated ip:port portals. tgt listens on 0.0.0.0:3260 by default; other "
                             "portals are added when missing and removed at stop if this agent added them. LIO: "
                             "each portal (the default too) is created under the target. IET: ietd's own "
                             "listening address applies (a warning when set to something else).")
    allowed_initiators = Param(words, shortdesc="List of iSCSI initiators allowed to connect",
                               longdesc="Space-separated initiators; unset allows everyone. tgt and IET: names "
                                        "(iqn...) and/or addresses or networks. LIO: initiator names only (LIO "
                                        "ACLs are by name).")
    incoming_username = Param(string, unique=True, shortdesc="Incoming account username",
                              longdesc="CHAP user name initiators must log in with.")
    incoming_password = Param(string, secret=True, shortdesc="Incoming account password",
                              longdesc="CHAP secret (12 to 16 characters for most initiators).")
    additional_parameters = Param(KeyValues(), reloadable=True, shortdesc="List of iSCSI target parameters",
                                  longdesc="Session parameters as name=value, e.g. MaxRecvDataSegmentLength=65536 "
                                           "InitialR2T=No ImmediateData=Yes, checked against what the "
                                           "implementation accepts (LIO: also TPG attributes such as "
                                           "login_timeout; IET: also Wthreads, QueuedCommands, NOPInterval...).")

    def common_checks(self) -> None:
        """Rules for every backend."""
        if bool(self.incoming_username) != bool(self.incoming_password):
            raise ConfigError("incoming_username and incoming_password go together")
        user = self.incoming_username
        if user and (user.startswith("-") or not user.isprintable() or any(c.isspace() or c in ",=" for c in user)):
            # One word per line in tgtadm's account list, a Key=Value item for ietadm, never an option.
            raise ConfigError(f"incoming_username {user!r}: no whitespace, ',', '=' or leading '-'")
        for p in self.portals:
            check_portal(p)
        for i in self.allowed_initiators or []:
            check_initiator(i)

    @action(name="reload-agent", timeout=10)
    def reload_agent(self) -> int:
        """Set changed or added session parameters on the running target (sessions logged in keep what
        they negotiated until their next login). A name dropped from additional_parameters cannot be
        returned to the implementation's default live: that fails, and Pacemaker restarts the target."""
        old = self.previous("additional_parameters") or {}
        new = self.additional_parameters or {}
        dropped = sorted(set(old) - set(new))
        if dropped:
            raise OcfError(f"additional_parameters: {', '.join(dropped)} no longer set: only a restart returns "
                           "them to the implementation's defaults")
        changes = {k: v for k, v in new.items() if old.get(k) != v}
        if changes:
            self.backend().reload(changes)
            self.log.info("reloaded " + " ".join(f"{k}={v}" for k, v in changes.items()))
        return Rc.SUCCESS


if __name__ == "__main__":
    raise SystemExit(iSCSITarget.main())
