"""Small agents that exercise the framework in unit tests."""

from ocf.agent import Agent, action
from ocf.errors import ArgsError, NotInstalledError, OcfError, Rc
from ocf.params import Param, boolean, choice, integer, string


class Sample(Agent):
    """A sample agent for the framework's tests.

    It runs one command per action through the seam."""

    shortdesc = "Sample agent"

    name_ = Param(string, required=True, unique=True, shortdesc="Object name")
    count = Param(integer(1, 10), default="3", shortdesc="How many")
    mode = Param(choice("fast", "safe"), default="safe", reloadable=True, shortdesc="Mode <&> \"quoted\"")
    enabled = Param(boolean, default="true", shortdesc="Enabled")
    password = Param(string, secret=True, shortdesc="Password")
    old_count = Param(integer(1, 10), replaced_by="count", shortdesc="Old name of count")

    @action(timeout=20)
    def start(self):
        self.run(["tool", "start", self.name_, str(self.count)])
        return Rc.SUCCESS

    @action(timeout=30)
    def stop(self):
        self.run(["tool", "stop", self.name_])

    @action(timeout=20, interval=10, depth=0)
    @action(timeout=40, interval=60, depth=20)
    def monitor(self):
        r = self.run(["tool", "status", self.name_], ok=(0, 3))
        return Rc.SUCCESS if r.returncode == 0 else Rc.NOT_RUNNING

    @action(name="reload-agent", timeout=10)
    def reload_agent(self):
        return Rc.SUCCESS

    def check_config(self):
        if self.count == 7 and self.mode == "fast":
            from ocf.errors import ConfigError

            raise ConfigError("count 7 cannot be fast")

    def environment_problems(self):
        problems = []
        if self.name_ == "missing":
            problems.append(ArgsError("object missing does not exist here"))
        if self.name_ == "noinstall":
            problems.append(NotInstalledError("tool is not installed"))
        return problems


class Broken(Agent):
    """An agent whose actions fail in every way the boundary must handle."""

    thing = Param(string, shortdesc="A thing")

    @action(timeout=20)
    def start(self):
        raise KeyError("bug")

    @action(timeout=20)
    def stop(self):
        raise NotInstalledError("tool missing")

    @action(timeout=20, interval=10)
    def monitor(self):
        raise OcfError("status unknown")

    @action(timeout=20)
    def notify(self):
        raise OcfError("notify broke")
