"""ocf:ocfkit:Dummy, the framework's end-to-end example (behaves like ocf:heartbeat:Dummy)."""

from __future__ import annotations

import time

from ocf import system
from ocf.agent import Agent, action
from ocf.errors import ArgsError, OcfError, Rc
from ocf.params import Param, duration, path, string
from ocf.state import StateFile


class Dummy(Agent):
    """This is a dummy OCF resource agent. It does absolutely nothing except keep track of whether
    it is running or not, in a state file. Its purpose is testing and serving as a template for
    resource agent writers, and proving the ocfkit framework end to end."""

    shortdesc = "Example stateless resource agent"
    version = "1.0"

    state = Param(path(), unique=True, default="${HA_RSCTMP}/Dummy-${OCF_RESOURCE_INSTANCE}.state",
                  shortdesc="State file",
                  longdesc="Location to store the resource state in.")
    fake = Param(string, default="dummy", reloadable=True,
                 shortdesc="Fake attribute that can be changed to cause an agent reload",
                 longdesc="Fake attribute that can be changed to cause an agent reload.")
    passwd = Param(string, secret=True, reloadable=True, shortdesc="Fake password field",
                   longdesc="Fake password field, never logged.")
    op_sleep = Param(duration, default="0", reloadable=True,
                     shortdesc="Operation sleep duration",
                     longdesc="Number of seconds to sleep during operations. Useful for testing timeouts.")
    fail_start_on = Param(string, reloadable=True, shortdesc="Report bogus start failure on specified host",
                          longdesc="Start, migrate_from and reload-agent actions return failure when "
                                   "running on the host specified here, but the resource starts "
                                   "successfully anyway (future monitor calls find it running).")
    envfile = Param(path(), reloadable=True, shortdesc="Environment dump file",
                    longdesc="If this is set, the environment is dumped to this file for every call.")

    @property
    def state_file(self) -> StateFile:
        """The state file, with the default's variables filled in."""
        return StateFile(self.state)

    def _common(self) -> None:
        if self.op_sleep:
            time.sleep(min(self.op_sleep, max(self.deadline.remaining(), 0)))
        if self.envfile:
            try:
                with open(self.envfile, "a", encoding="utf-8") as f:
                    f.write(f"# {self.action} {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
                    for k in sorted(self.env):
                        if k.startswith("OCF_") and k != "OCF_RESKEY_passwd":
                            f.write(f"{k}={self.env[k]}\n")
            except OSError as e:
                # A debugging aid: the shell Dummy carries on when its redirection fails, and a stop
                # that failed over it would get the node fenced.
                self.log.warning(f"cannot write the environment to {self.envfile}: {e.strerror}")

    def _check_fail_start_on(self) -> None:
        if self.fail_start_on and self.fail_start_on == system.uname().nodename:
            raise OcfError(f"simulated failure on {self.fail_start_on}")

    @action(timeout=20)
    def start(self) -> int:
        """Create the state file."""
        self._common()
        if not self.state_file.exists():
            self.state_file.write(self.fake or "")
        self._check_fail_start_on()
        return Rc.SUCCESS

    @action(timeout=20)
    def stop(self) -> int:
        """Remove the state file."""
        self._common()
        self.state_file.remove()
        return Rc.SUCCESS

    @action(timeout=20, interval=10, depth=0)
    def monitor(self) -> int:
        """Running if and only if the state file exists."""
        self._common()
        return Rc.SUCCESS if self.state_file.exists() else Rc.NOT_RUNNING

    @action(timeout=20)
    def reload(self) -> int:
        """Reload the (non-existent) service configuration."""
        self._common()
        self.log.info(f"Reloading {self.instance} ...")
        return Rc.SUCCESS

    @action(name="reload-agent", timeout=20)
    def reload_agent(self) -> int:
        """Apply changed reloadable parameters to the running instance."""
        self._common()
        if self.state_file.exists():
            self.state_file.write(self.fake or "")
        self._check_fail_start_on()
        return Rc.SUCCESS

    @action(timeout=20)
    def migrate_to(self) -> int:
        """Live-migrate away: the state goes with the resource."""
        self.log.info(f"Migrating {self.instance} to {self.env.get('OCF_RESKEY_CRM_meta_migrate_target', '?')}.")
        return self.stop()

    @action(timeout=20)
    def migrate_from(self) -> int:
        """Live-migrate here."""
        self.log.info(f"Migrating {self.instance} from {self.env.get('OCF_RESKEY_CRM_meta_migrate_source', '?')}.")
        return self.start()

    def environment_problems(self) -> list[OcfError]:
        """The state file's directory must exist and be writable."""
        d = system.path.dirname(self.state_file.path) or "."
        if not system.path.isdir(d):
            # HA_RSCTMP itself is created on demand, like ha_pseudo_resource does.
            if d == self.rsctmp:
                return []
            return [ArgsError(f"state directory {d} does not exist")]
        if not system.access(d, system.W_OK):
            return [ArgsError(f"state directory {d} is not writable")]
        return []


if __name__ == "__main__":
    raise SystemExit(Dummy.main())
