"""Processes as /proc shows them: the few facts agents read about a pid (name, state, parent, command).

Every function takes the /proc directory (a test passes its own tree) and reads with the built-in
posix module and open(), so none of this costs an agent start anything. A process that is gone, or
whose files cannot be read, reads as absent ("", None, False), never as an exception.
"""

from __future__ import annotations

import posix


def pids(proc: str = "/proc") -> list[int]:
    """The pids of every process in this pid namespace ([] when proc cannot be read)."""
    try:
        return [int(name) for name in posix.listdir(proc) if name.isdigit()]
    except OSError:
        return []


def comm(pid: int, proc: str = "/proc") -> str:
    """The process name (cut at 15 characters by the kernel), "" if gone."""
    try:
        with open(f"{proc}/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def cmdline(pid: int, proc: str = "/proc") -> bytes:
    """The command line as the kernel keeps it (arguments NUL-separated), b"" if gone."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _stat(pid: int, proc: str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and ')')."""
    try:
        with open(f"{proc}/{pid}/stat", encoding="utf-8", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def is_alive(pid: int, proc: str = "/proc") -> bool:
    """Whether pid exists and is not a zombie."""
    fields = _stat(pid, proc)
    return bool(fields) and fields[0] != "Z"


def parent(pid: int, proc: str = "/proc") -> int | None:
    """The parent's pid, None if gone."""
    fields = _stat(pid, proc)
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None
