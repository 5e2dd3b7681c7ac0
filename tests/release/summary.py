"""pytest plugin (`-p tests.release.summary`): a summary line naming the Debian release the tests ran on.

It prints `== Debian 13.2 (trixie): 812 passed, 9 skipped` just before pytest's own closing line, which
stays the last line of the run."""

from __future__ import annotations

ORDER = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "deselected")


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


def counts(stats: dict) -> str:
    """'N passed, N failed, ...' in pytest's order, only the outcomes that occurred."""
    parts = []
    for key in ORDER:
        n = len([r for r in stats.get(key, ()) if getattr(r, "when", "call") in ("call", "setup", "teardown")])
        if n:
            parts.append(f"{n} {'errors' if key == 'error' and n > 1 else key}")
    return ", ".join(parts) or "no tests ran"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminalreporter.write_line(f"== {release()}: {counts(terminalreporter.stats)} (exit {int(exitstatus)})")
