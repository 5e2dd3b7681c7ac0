"""ocf:ocfkit:drbd, DRBD as a promotable clone: unpromoted = Secondary, promoted = Primary."""

from __future__ import annotations

import time

from agents.tools import drbd as tool
from agents.tools.drbd import resource_name
from ocf import promotion
from ocf.agent import Agent, action
from ocf.errors import OcfError, Rc
from ocf.notify import Notification
from ocf.params import Param, boolean

# Promotion scores: where Pacemaker may promote. A node whose disk is not known good never gets a
# positive score, so it is never promoted over good data.
SCORE_UPTODATE = 10000
SCORE_UPTODATE_ALONE = 1000
SCORE_CONSISTENT = 100


def promotion_score(res) -> int | None:
    """The score for this node's disk state (None: remove it)."""
    if res is None:
        return None
    disk = res.disk
    if disk == "UpToDate":
        return SCORE_UPTODATE if res.connected or res.role == "Primary" else SCORE_UPTODATE_ALONE
    if disk == "Consistent":
        return SCORE_CONSISTENT
    return None  # Outdated, Inconsistent, Diskless, Failed, unknown


class drbd(Agent):  # noqa: N801 - the class name is the OCF type
    """Manages a DRBD resource as a promotable clone: start attaches and connects (drbdadm up, or
    adjust when already up), stop takes it down, promote makes it Primary and demote Secondary.
    Monitor returns 0 unpromoted (Secondary), 8 promoted (Primary), 7 stopped and 9 when promoted
    with a failed disk, and sets the promotion score from the disk and connection state: an UpToDate
    disk scores higher than a Consistent one; an Outdated or Inconsistent disk never gets a positive
    score. Promotion of a disk that is not UpToDate is refused unless force_promote is set."""

    shortdesc = "Manages a DRBD resource as a promotable clone"

    drbd_resource = Param(resource_name, required=True, shortdesc="DRBD resource name",
                          longdesc="The name of the DRBD resource from the DRBD configuration.")
    drbdconf = tool.config_param()
    force_promote = Param(boolean, default="false", shortdesc="Promote a disk that is not UpToDate",
                          longdesc="Allow promotion of a Consistent, Outdated or Inconsistent disk (deliberate "
                                   "recovery only).")

    def _status(self):
        # Without the kernel module drbdsetup says so (NotInstalledError: start 5, probe 7, stop 0).
        return tool.status(self.run, self.drbd_resource)

    def _score(self, res) -> None:
        score = promotion_score(res)
        try:
            if score is None:
                promotion.delete_score(self.run, self.env)
            else:
                promotion.set_score(self.run, self.env, score)
        except OcfError as e:
            # Outside a cluster (ocf-tester, by hand) there is no attribute daemon to talk to.
            self.log.debug(f"promotion score not set: {e.reason}")

    @action(timeout=240)
    def start(self) -> int:
        """Attach and connect (unpromoted)."""
        res = self._status()
        tool.adm(self.run, "adjust" if res is not None else "up", self.drbd_resource, self.drbdconf)
        res = self._status()
        if res is None:
            raise OcfError(f"{self.drbd_resource} is not up after drbdadm up")
        self._score(res)
        return Rc.SUCCESS

    @action(timeout=100)
    def stop(self) -> int:
        """Take the resource down (demoting first)."""
        # No DRBD in the kernel proves that nothing is up; missing tools with DRBD loaded do not.
        res = tool.known_status(self.run, self.drbd_resource)
        if res is not None:
            if res.role == "Primary":
                tool.adm(self.run, "secondary", self.drbd_resource, self.drbdconf)
            tool.adm(self.run, "down", self.drbd_resource, self.drbdconf)
        self._score(None)
        return Rc.SUCCESS

    @action(timeout=90)
    def promote(self) -> int:
        """Become Primary (UpToDate disks only, unless forced)."""
        res = self._status()
        if res is None:
            raise OcfError(f"{self.drbd_resource} is not up")
        if res.role == "Primary":
            return Rc.SUCCESS
        if res.disk != "UpToDate" and not self.force_promote:
            raise OcfError(f"refusing to promote {self.drbd_resource}: its disk is {res.disk}, not UpToDate")
        while True:
            r = tool.adm(self.run, "primary", self.drbd_resource, self.drbdconf, ok=tuple(range(256)))
            if r.returncode == 0:
                return Rc.SUCCESS
            if self.deadline.remaining() < 1.5:
                raise OcfError(f"could not promote {self.drbd_resource}: {r.stderr.strip() or r.stdout.strip()}")
            # A peer that just failed may still count as Primary until DRBD notices it is gone.
            time.sleep(1)

    @action(timeout=90)
    def demote(self) -> int:
        """Become Secondary."""
        res = self._status()
        if res is not None and res.role == "Primary":
            tool.adm(self.run, "secondary", self.drbd_resource, self.drbdconf)
        return Rc.SUCCESS

    @action(timeout=90)
    def notify(self) -> int:
        """Log what the cluster is about to do; refresh the score after a peer changed."""
        n = Notification(self.env)
        self.log.debug(f"notify {n.key}: promote {n.nodes('promote')} demote {n.nodes('demote')}")
        if n.type == "post":
            res = self._status()
            self._score(res)
        return Rc.SUCCESS

    @action(timeout=20, interval=29, depth=0, role="Promoted")
    @action(timeout=20, interval=31, depth=0, role="Unpromoted")
    def monitor(self) -> int:
        """0 Secondary, 8 Primary, 9 Primary with a failed disk, 7 down; sets the promotion score."""
        res = tool.known_status(self.run, self.drbd_resource)
        if res is None:
            return Rc.NOT_RUNNING
        self._score(res)
        if res.role == "Primary":
            if res.disk in ("Failed", "Diskless"):
                return Rc.FAILED_PROMOTED
            return Rc.RUNNING_PROMOTED
        return Rc.SUCCESS


if __name__ == "__main__":
    raise SystemExit(drbd.main())
