"""authkeys (heartbeat 3.0.6): parse, write (mode 0600), validate. Keys never appear in messages."""

from __future__ import annotations

import os
import stat

from heartbeat_legacy.files import split_lines
from heartbeat_legacy.findings import Finding

METHODS = ("crc", "md5", "sha1")


class AuthKeys:
    """The active key number and the keys by number: (method, key or "")."""

    def __init__(self, active: int | None, keys: dict[int, tuple[str, str]], *, lines: dict[int, int] | None = None,
                 problems: list[tuple[int, str]] | None = None) -> None:
        self.active, self.keys = active, keys
        self.lines = lines or {}
        self.problems = problems or []


def _is_number(text: str) -> bool:
    """ASCII digits only (str.isdigit() also takes '²', which int() refuses), short enough for int()."""
    return 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def parse(text: str) -> AuthKeys:
    """Parse authkeys text; syntax problems are kept for validate() (with line numbers, never keys)."""
    active = None
    keys: dict[int, tuple[str, str]] = {}
    lines: dict[int, int] = {}
    problems: list[tuple[int, str]] = []
    for number, raw in enumerate(split_lines(text), start=1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "auth":
            if len(words) != 2 or not _is_number(words[1]):
                problems.append((number, "auth takes one key number"))
            else:
                active = int(words[1])
                lines[-1] = number
            continue
        if not _is_number(words[0]):
            # The word is not shown: a line holding only a key (its number and method forgotten) is common.
            problems.append((number, "expected 'auth N' or 'N METHOD [KEY]'"))
            continue
        num = int(words[0])
        if len(words) < 2:
            problems.append((number, f"key {num} has no method"))
            continue
        keys[num] = (words[1], " ".join(words[2:]))
        lines[num] = number
    return AuthKeys(active, keys, lines=lines, problems=problems)


def dump(ak: AuthKeys) -> str:
    """authkeys text."""
    out = [f"auth {ak.active}"]
    for num in sorted(ak.keys):
        method, key = ak.keys[num]
        out.append(f"{num} {method} {key}".rstrip())
    return "\n".join(out) + "\n"


def write(path: str, ak: AuthKeys) -> None:
    """Write authkeys readable by its owner only (heartbeat refuses anything group/other readable)."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, dump(ak).encode())
    finally:
        os.close(fd)
    os.replace(path + ".tmp", path)


def validate(ak: AuthKeys, *, mode: int | None = None, file: str = "authkeys") -> list[Finding]:
    """Check authkeys as heartbeat's auth.c does; mode is the file's st_mode when known."""
    out = [Finding("error", file, ln, msg) for ln, msg in ak.problems]
    if mode is not None and mode & (stat.S_IRGRP | stat.S_IROTH):
        out.append(Finding("error", file, 0, f"permissions {stat.S_IMODE(mode):04o}: heartbeat refuses a keyfile "
                                             "readable by group or others; use 0600"))
    for num, (method, key) in sorted(ak.keys.items()):
        ln = ak.lines.get(num, 0)
        if not 0 <= num <= 15:
            out.append(Finding("error", file, ln, f"invalid key number {num} (1..15)"))
        if method not in METHODS:
            # Name the method only when it looks like one: "1 KEY" (method forgotten) puts the key here.
            shown = f" {method!r}" if len(method) <= 8 and method.lower().startswith(("sha", "md", "crc")) else ""
            out.append(Finding("error", file, ln, f"key {num}: invalid method{shown} (crc, md5 or sha1)"))
        elif method in ("md5", "sha1") and not key:
            out.append(Finding("error", file, ln, f"key {num}: {method} requires a key"))
        elif method == "crc" and key:
            out.append(Finding("error", file, ln, f"key {num}: crc does not use a key"))
        elif method == "crc":
            out.append(Finding("warning", file, ln, f"key {num}: crc only detects corruption, it authenticates "
                                                     "nothing; use sha1"))
        elif method == "md5":
            out.append(Finding("warning", file, ln, f"key {num}: md5 is weaker than sha1"))
    if ak.active is None:
        out.append(Finding("error", file, 0, "missing auth directive"))
    elif ak.active not in ak.keys:
        out.append(Finding("error", file, ak.lines.get(-1, 0), f"auth {ak.active} names a key that is not defined"))
    return out
