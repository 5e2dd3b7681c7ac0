"""pytest plugin (`-p tests.release.summary`): a summary line naming the Debian release the tests ran on.

It prints `== Debian 13.2 (trixie): 812 passed, 9 skipped (exit 0)` just before pytest's own closing line,
which stays the last line of the run. The guest tier (tests/guest) runs in qemu guests with their own
Debian kernels, not on this release: when it ran, its outcomes get a line of their own before it. With
OCFKIT_RELEASE_SUMMARY set, the lines are also written to that file (scripts/test.sh collects them)."""

from __future__ import annotations

import os

ORDER = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "deselected")
GUEST = "tests/guest/"


def release(root: str = "/") -> str:
    """'Debian <version> (<codename>)' from the system's own files."""
    try:
        with open(f"{root}etc/debian_version", encoding="utf-8") as f:
            version = f.read().strip()
    except OSError:
        version = "?"
    codename = ""
    try:
        with open(f"{root}etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VERSION_CODENAME="):
                    codename = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"Debian {version} ({codename or '?'})"


def counts(stats: dict, guest: bool | None = None) -> str:
    """'N passed, N failed, ...' in pytest's order, only the outcomes that occurred; guest=True counts only
    the guest tier's tests, guest=False only the others, None all."""
    parts = []
    for key in ORDER:
        n = len([r for r in stats.get(key, ()) if getattr(r, "when", "call") in ("call", "setup", "teardown")
                 and (guest is None or str(getattr(r, "nodeid", "")).startswith(GUEST) == guest)])
        if n:
            parts.append(f"{n} {'errors' if key == 'error' and n > 1 else key}")
    return ", ".join(parts) or "no tests ran"


def lines(stats: dict, exitstatus: int, root: str = "/") -> list[str]:
    out = []
    if counts(stats, guest=True) != "no tests ran":
        out.append(f"== guest tier, in Debian 12 and 13 qemu guests (their own kernels) started from {release(root)}: "
                   f"{counts(stats, guest=True)}")
    out.append(f"== {release(root)}: {counts(stats, guest=False)} (exit {int(exitstatus)})")
    return out


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    found = lines(terminalreporter.stats, exitstatus)
    for line in found:
        terminalreporter.write_line(line)
    path = os.environ.get("OCFKIT_RELEASE_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write("".join(f"{line}\n" for line in found))
