"""Mounts from /proc/self/mountinfo (proc(5)): no child process, octal escapes decoded."""

from __future__ import annotations

from ocf import system


class Mount:
    """One line of mountinfo."""

    __slots__ = ("mount_id", "parent_id", "major", "minor", "root", "mountpoint", "options", "fstype", "source",
                 "super_options")

    def __init__(self, fields: list[str]) -> None:
        self.mount_id, self.parent_id = int(fields[0]), int(fields[1])
        major, _, minor = fields[2].partition(":")
        self.major, self.minor = int(major), int(minor)
        self.root = unescape(fields[3])
        self.mountpoint = unescape(fields[4])
        self.options = fields[5]
        sep = fields.index("-", 6)
        self.fstype = fields[sep + 1]
        self.source = unescape(fields[sep + 2]) if len(fields) > sep + 2 else ""
        self.super_options = fields[sep + 3] if len(fields) > sep + 3 else ""

    @property
    def dev(self) -> int:
        """The device number as system.makedev would build it."""
        return system.makedev(self.major, self.minor)

    def __repr__(self) -> str:
        return f"Mount({self.source!r} on {self.mountpoint!r} type {self.fstype} {self.major}:{self.minor})"


def unescape(text: str) -> str:
    """Decode the \\ooo octal escapes the kernel uses for space, tab, newline and backslash."""
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 3 < len(text) + 0 and text[i + 1:i + 4].isdigit():
            out.append(chr(int(text[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse(text: str) -> list[Mount]:
    """Parse mountinfo text."""
    return [Mount(line.split(" ")) for line in text.splitlines() if line.strip()]


def mounts(path: str = "/proc/self/mountinfo") -> list[Mount]:
    """The mounts this process sees, in mount order."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return parse(f.read())


def top(all_mounts: list[Mount], mountpoint: str) -> Mount | None:
    """The mount visible at mountpoint (the one no other mount there is stacked on), or None."""
    here = [m for m in all_mounts if m.mountpoint == mountpoint]
    covered = {m.parent_id for m in here}
    uncovered = [m for m in here if m.mount_id not in covered]
    return (uncovered or here or [None])[-1]


def below(all_mounts: list[Mount], directory: str) -> list[Mount]:
    """Mounts strictly below directory, deepest first."""
    prefix = directory.rstrip("/") + "/"
    found = [m for m in all_mounts if m.mountpoint.startswith(prefix)]
    return sorted(found, key=lambda m: -m.mountpoint.count("/"))
