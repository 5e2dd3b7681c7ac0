"""A newcomer's agent: ocf:example:Symlink keeps a symbolic link in place (docs/framework.md)."""

from __future__ import annotations

import os

from ocf.agent import Agent, action
from ocf.errors import ConfigError, OcfError, Rc
from ocf.params import Param, boolean, path


class Symlink(Agent):
    """Keeps a symbolic link pointing at a target while the resource runs. Stop removes the link only
    when it still points at the target: a file or another link in its place is not ours."""

    shortdesc = "Manages a symbolic link"

    link = Param(path(), required=True, unique=True, shortdesc="The link's path")
    target = Param(path(), required=True, shortdesc="What the link points at")
    replace = Param(boolean, default="false", shortdesc="Replace another link found at the path")

    def check_config(self) -> None:
        if self.link == self.target:
            raise ConfigError("link and target are the same path")

    def _points_here(self) -> bool:
        try:
            return os.readlink(self.link) == self.target
        except OSError:
            return False

    @action(timeout=20, interval=10, depth=0)
    def monitor(self) -> int:
        if self._points_here():
            return Rc.SUCCESS
        if os.path.islink(self.link) and not self.is_probe:
            raise OcfError(f"{self.link} points at {os.readlink(self.link)}, not {self.target}")
        return Rc.NOT_RUNNING

    @action(timeout=20)
    def start(self) -> int:
        if not self._points_here():
            if os.path.islink(self.link) and self.replace:
                os.unlink(self.link)
            os.symlink(self.target, self.link)
        return self.monitor()

    @action(timeout=20)
    def stop(self) -> int:
        if self._points_here():
            os.unlink(self.link)
        return Rc.SUCCESS


if __name__ == "__main__":
    raise SystemExit(Symlink.main())
