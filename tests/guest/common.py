"""The guest tier's topology and helpers live in the lab package (ocfkit.lab.guests.topology)."""

import os
import shutil
import time

import pytest

from ocfkit.lab.guests import image as build
from ocfkit.lab.guests import pcmk, vm
from ocfkit.lab.guests.topology import FILTER, LAN, PREPARE, REPL, RESET, SWITCH, VIP, Cluster, agent, lvm_local

__all__ = ["FILTER", "LAN", "PREPARE", "REPL", "RESET", "SWITCH", "VIP", "Cluster", "agent", "lvm_local", "trixie_lab"]


def trixie_lab(make, tag: str):
    """A module fixture's body: the Debian 13 Pacemaker lab that make(image, rundir, wheel) builds, booted with
    ocfkit installed from the tree's wheel, then stopped and its run directory removed, also on failure."""
    if not shutil.which("zstd"):
        pytest.skip("zstd is not installed (Debian 13's kernel is zstd-compressed): apt-get install zstd")
    img = build.build("trixie")
    rundir = os.path.join(vm.CACHE_RUNS, f"run-{os.getpid()}-{tag}")
    shutil.rmtree(rundir, ignore_errors=True)
    wheel = pcmk.build_wheel(vm.REPO, os.path.join(rundir, "dist"))
    lab = make(img, rundir, wheel)
    lab.timings["image build (cached)"] = build.build_seconds(img)
    try:
        t0 = time.monotonic()
        lab.boot()
        lab.timings["boot + install + stack start"] = time.monotonic() - t0
        yield lab
    finally:
        lab.stop_all()
        shutil.rmtree(rundir, ignore_errors=True)
