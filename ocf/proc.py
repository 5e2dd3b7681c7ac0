"""Processes as /proc shows them: the few facts agents read about a pid (name, state, parent, command).

Every function takes the /proc directory (a test may pass its own tree) and reads through a Kernel
(ocf.kernel; a unit test passes ocf.testing.FakeKernel), with the built-in posix module and open(),
so none of this costs an agent start anything. A process that is gone, or whose files cannot be
read, reads as absent ("", None, False), never as an exception.
"""

from __future__ import annotations

from ocf.kernel import KERNEL, Kernel


def pids(proc: str = "/proc", *, kernel: Kernel = KERNEL) -> list[int]:
    """The pids of every process in this pid namespace ([] when proc cannot be read)."""
    try:
        return [int(name) for name in kernel.listdir(proc) if name.isdigit()]
    except OSError:
        return []


def comm(pid: int, proc: str = "/proc", *, kernel: Kernel = KERNEL) -> str:
    """The process name (cut at 15 characters by the kernel), "" if gone."""
    try:
        return kernel.read_text(f"{proc}/{pid}/comm").strip()
    except OSError:
        return ""


def cmdline(pid: int, proc: str = "/proc", *, kernel: Kernel = KERNEL) -> bytes:
    """The command line as the kernel keeps it (arguments NUL-separated), b"" if gone."""
    try:
        return kernel.read(f"{proc}/{pid}/cmdline")
    except OSError:
        return b""


def _stat(pid: int, proc: str, kernel: Kernel) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and ')')."""
    try:
        return kernel.read_text(f"{proc}/{pid}/stat").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def is_alive(pid: int, proc: str = "/proc", *, kernel: Kernel = KERNEL) -> bool:
    """Whether pid exists and is not a zombie."""
    fields = _stat(pid, proc, kernel)
    return bool(fields) and fields[0] != "Z"


def parent(pid: int, proc: str = "/proc", *, kernel: Kernel = KERNEL) -> int | None:
    """The parent's pid, None if gone."""
    fields = _stat(pid, proc, kernel)
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None
