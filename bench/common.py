"""Side-by-side timing of two commands (an ocfkit agent action and the ClusterLabs shell agent's).

Not a test: run by hand or by bench/run.py, results go into docs/benchmarks.md. Runs are paired and
alternated A B A B so that machine noise hits both sides alike; reports medians and the median of
the per-pair ratios.
"""

from __future__ import annotations

import os
import statistics
import time


def time_once(argv: list[str], env: dict[str, str], expect_rc: int | None = None) -> float:
    """Wall time in ms of one run of argv (stdout/stderr discarded); checks the exit code."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0] if argv[0].startswith("/") else _which(argv[0]), argv, env,
                             file_actions=[(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                                           (os.POSIX_SPAWN_DUP2, null, 2)])
        _, status = os.waitpid(pid, 0)
        ms = (time.perf_counter() - t0) * 1000
    finally:
        os.close(null)
    rc = os.waitstatus_to_exitcode(status)
    if expect_rc is not None and rc != expect_rc:
        raise RuntimeError(f"{argv}: rc {rc}, expected {expect_rc}")
    return ms


def _which(name: str) -> str:
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    raise FileNotFoundError(name)


class Comparison:
    """The paired timings of one case."""

    def __init__(self, name: str, ours: list[float], theirs: list[float]) -> None:
        self.name, self.ours, self.theirs = name, ours, theirs

    @property
    def ratio(self) -> float:
        """Median of per-pair ratios ours/theirs."""
        return statistics.median(o / t for o, t in zip(self.ours, self.theirs))

    def row(self) -> str:
        """A markdown table row."""
        return (f"| {self.name} | {statistics.median(self.ours):.1f} | {statistics.median(self.theirs):.1f} "
                f"| {self.ratio:.2f} | {len(self.ours)} |")


HEADER = "| case | ocfkit median ms | ClusterLabs median ms | median ratio | pairs |\n|---|---:|---:|---:|---:|"


def compare(name: str, ours: tuple[list[str], dict[str, str]], theirs: tuple[list[str], dict[str, str]], *,
            pairs: int = 20, warmup: int = 2, expect_rc: int | None = 0) -> Comparison:
    """Time ours and theirs alternately, pairs times each, after warm-up runs."""
    for _ in range(warmup):
        time_once(*ours, expect_rc)
        time_once(*theirs, expect_rc)
    a, b = [], []
    for _ in range(pairs):
        a.append(time_once(*ours, expect_rc))
        b.append(time_once(*theirs, expect_rc))
    return Comparison(name, a, b)
