"""The narrow interface between the iSCSI agents and their three backends, and the choice among them.

A backend is a module with a Target and a Lun class (agents/iscsi/tgt.py, agents/iscsi/lio.py and
agents/iet.py). Each is built from the agent, whose typed parameters, run, log, env and rsctmp it
reads; the agent calls only the methods of Backend below. A monitor loads the one backend it uses.
"""

from __future__ import annotations

from agents.tools import system_path
from ocf import load
from ocf.exec import which
from ocf.state import exists, is_dir

# The implementation -> the module of its backend.
BACKENDS = {"tgt": "agents.iscsi.tgt", "lio": "agents.iscsi.lio", "iet": "agents.iet"}
IMPLEMENTATIONS = tuple(BACKENDS)

# The interface is written for the reader and mypy: typing costs ~4 ms per agent start, so it is not
# defined at run time (mypy treats any TYPE_CHECKING name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    from ocf.agent import Agent

    class Backend(Protocol):
        """What the agents ask of a backend's Target or Lun."""

        def check(self) -> None:
            """The backend's configuration rules (ConfigError), without looking at the host."""

        def require(self) -> None:
            """The implementation is usable on this host (NotInstalledError), for validate-all."""

        def monitor(self) -> int:
            """Rc.SUCCESS when the object is there as configured, Rc.NOT_RUNNING when cleanly absent."""

        def start(self) -> None:
            """Make the object, undoing the steps made so far when one fails."""

        def stop(self) -> None:
            """Remove what start made; nothing to remove is success."""

        def reload(self, changes: dict[str, str]) -> None:
            """Target only: set changed session parameters on the running target (reload-agent)."""


def iet_loaded(env) -> bool:
    """Whether the IET kernel module is loaded (it publishes /proc/net/iet)."""
    return exists(system_path(env, "proc") + "/net/iet")


def detect(env) -> str:
    """The implementation this host runs, or "": lio, then iet, then tgt.

    Kernel targets first: a loaded target module is a deliberate choice, while tgtadm may be installed
    and unused; lio before iet because both cannot usefully share port 3260 and LIO is in every
    current kernel."""
    if is_dir(system_path(env, "configfs") + "/target") or \
            is_dir(system_path(env, "sysfs") + "/module/target_core_mod"):
        return "lio"
    if iet_loaded(env):
        return "iet"
    return "tgt" if which("tgtadm") else ""


def backend(impl: str, kind: str, agent: Agent) -> Backend:
    """The kind ("Target" or "Lun") of the implementation's backend for agent, its configuration checked."""
    b = load(f"{BACKENDS[impl]}:{kind}")(agent)
    b.check()
    return b
