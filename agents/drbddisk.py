"""ocf:ocfkit:drbddisk, heartbeat's drbddisk: make this node Primary for a DRBD resource (no clone)."""

from __future__ import annotations

import time

from agents.tools import drbd
from agents.tools.drbd import resource_name
from ocf import system
from ocf.agent import Agent, action
from ocf.errors import NotInstalledError, OcfError, Rc
from ocf.params import Param, boolean
from ocf.proc import comm


def _openers(device: str) -> list[str]:
    """Who keeps a DRBD device open: holders in sysfs (LVM, dm) and processes with it open."""
    out = []
    name = system.path.basename(system.path.realpath(device))
    try:
        out += [f"{h} (holder)" for h in system.listdir(f"/sys/block/{name}/holders")]
    except OSError:
        pass
    real = system.path.realpath(device)
    for pid in filter(str.isdigit, system.listdir("/proc")):
        try:
            for fd in system.listdir(f"/proc/{pid}/fd"):
                if system.readlink(f"/proc/{pid}/fd/{fd}") == real:
                    out.append(f"{comm(int(pid))}[{pid}]")
                    break
        except OSError:
            continue
    return out


class drbddisk(Agent):  # noqa: N801 - the class name is the OCF type
    """Makes this node the DRBD Primary of a resource on start and Secondary on stop, as heartbeat's
    drbddisk does (the resource is brought up first if it is down). Start retries within its deadline
    while the peer is still Primary (heartbeat's deadtime can be shorter than DRBD's ping timeout), and
    refuses to become Primary on a disk that is not UpToDate unless force_primary is set. Stop retries,
    and names what keeps the device open when it cannot demote. Monitor reads the local role from
    drbdsetup events2 --now."""

    shortdesc = "Manages the DRBD role (heartbeat drbddisk)"

    drbd_resource = Param(resource_name, default="all", shortdesc="DRBD resource name",
                          longdesc="The DRBD resource, or all.")
    drbdconf = drbd.config_param()
    force_primary = Param(boolean, default="false", shortdesc="Become Primary on a disk that is not UpToDate",
                          longdesc="Allow promotion of an Inconsistent, Outdated or Consistent disk. Data from a "
                                   "stale disk then becomes the truth: only for a deliberate recovery.")

    def _names(self) -> list[str]:
        if self.drbd_resource != "all":
            return [self.drbd_resource]
        return drbd.resources(self.run, self.drbdconf)

    @action(timeout=60)
    def start(self) -> int:
        """Bring the resource up if needed and become Primary."""
        for res in self._names():
            st = drbd.status(self.run, res)
            if st is None:
                drbd.adm(self.run, "up", res, self.drbdconf)
                st = drbd.status(self.run, res)
            if st is not None and st.role == "Primary":
                continue
            disk = st.disk if st else "Unknown"
            if disk != "UpToDate" and not self.force_primary:
                raise OcfError(f"refusing to make {res} Primary: its disk is {disk}, not UpToDate "
                               "(set force_primary to override)")
            while True:
                r = drbd.adm(self.run, "primary", res, self.drbdconf, ok=tuple(range(256)))
                if r.returncode == 0:
                    break
                if self.deadline.remaining() < 1.5:
                    raise OcfError(f"could not make {res} Primary: {r.stderr.strip() or r.stdout.strip()}")
                # The peer may still be Primary until DRBD notices it is gone: retry.
                time.sleep(1)
        return Rc.SUCCESS

    @action(timeout=60)
    def stop(self) -> int:
        """Become Secondary; fails, naming the openers, while the device is in use."""
        if not drbd.module_loaded():
            self.log.info("no DRBD in the kernel: nothing can be Primary")
            return Rc.SUCCESS
        # With DRBD loaded, a missing drbdadm (names of "all") or drbdsetup fails the stop.
        for res in self._names():
            st = drbd.known_status(self.run, res)
            if st is None or st.role != "Primary":
                continue
            while True:
                r = drbd.adm(self.run, "secondary", res, self.drbdconf, ok=tuple(range(256)))
                if r.returncode == 0:
                    break
                if self.deadline.remaining() < 1.5:
                    who = [o for dev in drbd.devices(self.run, res, self.drbdconf) for o in _openers(dev)]
                    raise OcfError(f"could not make {res} Secondary"
                                   + (f": held open by {', '.join(who)}" if who else f": {r.stderr.strip()}"))
                time.sleep(1)
        return Rc.SUCCESS

    @action(timeout=20, interval=10, depth=0)
    def monitor(self) -> int:
        """0 when this node is Primary of every resource, 7 when of none."""
        if not drbd.module_loaded():
            return Rc.NOT_RUNNING  # no DRBD in the kernel: certain
        try:
            names = self._names()
        except NotInstalledError as e:
            # A probe never guesses: "not installed" would read as stopped, but DRBD is loaded.
            raise OcfError(f"{e.reason}: cannot list the resources while DRBD is loaded") from None
        roles = [getattr(drbd.known_status(self.run, res), "role", "Down") for res in names]
        if roles and all(r == "Primary" for r in roles):
            return Rc.SUCCESS
        if any(r == "Primary" for r in roles):
            raise OcfError(f"only some resources are Primary: {', '.join(roles)}")
        return Rc.NOT_RUNNING

    @action(timeout=20)
    def status(self) -> int:
        """Legacy alias of monitor."""
        return self.monitor()


if __name__ == "__main__":
    raise SystemExit(drbddisk.main())
