"""The front end of the iSCSI agents: what iSCSITarget and iSCSILogicalUnit share.

The agents hold the parameters and the OCF rules; the work is a backend's (agents/iscsi/backend.py:
tgt, LIO or IET), loaded when used, so a monitor loads one of them. The actions find a missing
implementation on their way (NotInstalledError: a probe says 7, a stop 0).
"""

from __future__ import annotations

from agents.iscsi.backend import IMPLEMENTATIONS, backend, detect
from agents.tools import system_path, tgtadm
from ocf.agent import Agent, action
from ocf.errors import ConfigError, NotInstalledError, OcfError, Rc
from ocf.params import Param, choice

TYPE_CHECKING = False  # typing costs ~4 ms per agent start; mypy treats the name as true
if TYPE_CHECKING:
    from agents.iscsi.backend import Backend


class IscsiAgent(Agent):
    """Shared parts of the target and LUN agents."""

    implementation = Param(choice(*IMPLEMENTATIONS), shortdesc="iSCSI target implementation",
                           longdesc="The iSCSI target implementation: tgt (userspace tgtd through tgtadm), lio "
                                    "(the kernel target, through configfs) or iet (iSCSI Enterprise Target, "
                                    "through ietadm and /proc/net/iet). When unset: lio if "
                                    "/sys/kernel/config/target exists or target_core_mod is loaded, else iet if "
                                    "/proc/net/iet exists, else tgt if tgtadm is installed.")
    _backend_obj = None
    backend_kind = ""  # the backend class name: Target or Lun

    def impl(self) -> str:
        """The implementation in use (NotInstalledError when none is found)."""
        impl = self.implementation or detect(self.env)
        if not impl:
            raise NotInstalledError("no iSCSI target implementation found (LIO configfs, IET /proc/net/iet or tgtadm)")
        return impl

    def backend(self) -> Backend:
        """The backend object of the implementation, its configuration checked."""
        if self._backend_obj is None:
            self._backend_obj = backend(self.impl(), self.backend_kind, self)
        return self._backend_obj

    def path_of(self, which: str) -> str:
        """A system directory, moved by OCFKIT_*_ROOT for tests."""
        return system_path(self.env, which)

    def check_config(self) -> None:
        """Rules that hold on every node; the backend's own when the implementation is given."""
        self.common_checks()
        if self.implementation:
            self.backend()

    def common_checks(self) -> None:
        """Rules for every backend."""

    def environment_problems(self) -> list[OcfError]:
        """validate-all level 10."""
        try:
            self.backend().require()
        except OcfError as e:
            return [e]
        return []

    @action(timeout=10, interval=10, depth=0)
    def monitor(self) -> int:
        """0 when running, 7 when cleanly stopped."""
        try:
            b = self.backend()
        except NotInstalledError as e:
            # No implementation found (a probe's 7), unless a tgtd whose tgtadm is gone still runs.
            self._fail_if_tgtd_runs(e)
            raise
        return b.monitor()

    def _fail_if_tgtd_runs(self, e: NotInstalledError) -> None:
        alive = tgtadm.daemon_running(self.env, self.path_of("proc"))
        if alive:
            raise OcfError(f"{e.reason}, but {alive}") from None

    @action(timeout=10)
    def start(self) -> int:
        """Ensure the configuration step by step (undone when a step fails), then monitor."""
        b = self.backend()
        b.start()
        return b.monitor()

    @action(timeout=10)
    def stop(self) -> int:
        """Remove what start made (nothing to do is success)."""
        try:
            b = self.backend()
        except ConfigError as e:
            # Only when the implementation was detected rather than given (check_config checks a given
            # one before the action): with this configuration that backend could not have started it.
            self.log.warning(f"stop: {e.reason}: it cannot have been started with this implementation")
            return Rc.SUCCESS
        except NotInstalledError as e:
            # No implementation found: no LIO target core, no IET module, no tgtadm. Only a tgtd that
            # still runs (its tgtadm gone) could export something.
            self._fail_if_tgtd_runs(e)
            self.log.info(f"stop: {e.reason}: nothing can be exported")
            return Rc.SUCCESS
        b.stop()
        return Rc.SUCCESS

    @action(timeout=10)
    def status(self) -> int:
        """Legacy alias of monitor."""
        return self.monitor()
