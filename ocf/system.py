"""What agents need from the operating system, in one module: `from ocf import system`.

`system.stat`, `system.listdir`, `system.readlink`, `system.kill`, `system.getpid`... are the
built-in posix module's own functions, loaded with the interpreter. Whatever else an agent asks
for is loaded on its first use: `system.path`, `system.makedirs` and the rest of os (importing os
costs an agent start about 1 ms, which the monitors of Dummy, portblock and IPaddr2 never pay),
`system.SIGTERM` and the other signals (the signal module loads enum, ~3.5 ms), `system.S_ISBLK`
and the other file-type tests (the stat module), and the command seam's `system.which` and
`system.spawn` (ocf.exec, which a monitor that runs no command never loads). So no agent
chooses between os and posix, and the start-up trick stays here.

The environment is not here: it is the agent's own `self.env` (ocf.environ for the process's).
"""

import posix
import sys

TYPE_CHECKING = False  # typing costs ~4 ms per agent start; mypy treats the name as true
if TYPE_CHECKING:
    from typing import Any


def __getattr__(name: str) -> "Any":
    """name from the seam (which, spawn), else from os when something has loaded it already (tests
    and `ocfkit run`: a stand-in set on os is seen), else from posix, signal, stat or os, loaded now.
    Looked up on every use, never copied, so it is always what those modules hold at the time."""
    if name == "environ":
        raise AttributeError("ocf.system has no environ: use the agent's env (or ocf.environ())")
    if name in ("which", "spawn"):
        from ocf import exec as seam

        return getattr(seam, name)
    os = sys.modules.get("os")
    if os is not None and hasattr(os, name):
        return getattr(os, name)
    if hasattr(posix, name):
        return getattr(posix, name)
    if name.startswith("SIG"):
        import signal

        return getattr(signal, name)
    if name.startswith("S_"):
        import stat

        return getattr(stat, name)
    import os

    return getattr(os, name)
