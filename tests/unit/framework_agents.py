"""Small agents that exercise the framework in unit tests."""

from ocf.agent import Agent, action
from ocf.errors import ArgsError, NotInstalledError, OcfError, Rc
from ocf.params import Param, Parser, boolean, choice, integer, string


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


class _Fragile(Parser):
    """A parser with a bug: it fails with something other than ValueError on "boom"."""

    def parse(self, text):
        if text == "boom":
            raise TypeError("parser bug")
        return text


class Faulty(Agent):
    """An agent that fails where its parameters say, to test where the context rules apply."""

    fault = Param(choice("none", "bug", "oserror", "notinstalled", "args", "config"), default="none",
                  shortdesc="What the action body raises")
    config_fault = Param(choice("none", "bug", "oserror"), default="none", shortdesc="What check_config raises")
    fragile = Param(_Fragile(), shortdesc="Parsed by a parser with a bug")
    secret = Param(string, secret=True, shortdesc="A CHAP-like secret")

    def _body(self):
        if self.secret:
            self.log.info(f"logging in with {self.secret}")
            self.run(["tool", "login", "--password", self.secret])
        fault = self.fault
        if fault == "bug":
            raise KeyError("bug")
        if fault == "oserror":
            with open("/nonexistent-ocfkit-dir/state", encoding="utf-8") as f:
                f.read()
        if fault == "notinstalled":
            raise NotInstalledError("tool: command not found")
        if fault == "args":
            raise ArgsError("device /dev/nothing does not exist")
        if fault == "config":
            from ocf.errors import ConfigError

            raise ConfigError("found out in the body")
        return Rc.SUCCESS

    def check_config(self):
        if self.config_fault == "bug":
            {}["missing"]  # noqa: B018 - the bug under test
        if self.config_fault == "oserror":
            raise PermissionError(13, "Permission denied", "/etc/ocfkit-test.conf")

    @action(timeout=20)
    def start(self):
        return self._body()

    @action(timeout=20)
    def stop(self):
        return self._body()

    @action(timeout=20, interval=10)
    def monitor(self):
        return self._body()
