"""Fixtures of the guest tier: the image (built once, cached), the two-node pair booted once per
session, the switch/client guest booted on demand, and a state reset between tests (common.py has
the topology)."""

from __future__ import annotations

import os
import shutil

import pytest

from ocfkit.lab.guests import vm
from ocfkit.lab.guests.topology import RESET, Cluster


def _skip_reason() -> str:
    if os.geteuid() != 0:
        return "the guest tier needs root"
    if not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
    for tool in ("debootstrap", "mkfs.ext4", "cpio", "depmod"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    if os.environ.get("OCFKIT_SKIP_GUESTS"):
        return "OCFKIT_SKIP_GUESTS is set"
    return ""


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    if reason:
        for item in items:
            if item.get_closest_marker("guest"):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def image() -> str:
    from ocfkit.lab.guests import image as build

    return build.build("bookworm")


@pytest.fixture(scope="session")
def rundir():
    d = os.path.join(vm.CACHE_RUNS, f"run-{os.getpid()}")
    os.makedirs(d, exist_ok=True)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(image, rundir):
    c = Cluster(image, rundir)
    try:
        c.boot("a", "b")
        yield c
    finally:
        c.stop_all()


@pytest.fixture
def nodes(cluster):
    """The pair, reset to its booted state before and after the test (crashed guests restarted)."""
    for n in ("a", "b"):
        if not cluster[n].alive():
            cluster.restart(n)
        cluster[n].sh(RESET, timeout=120)
    yield cluster
    for n in ("a", "b"):
        if cluster[n].alive():
            cluster[n].run(RESET, timeout=120, check=False)


@pytest.fixture
def lan(cluster, nodes):
    """The pair plus the switch/client guest on the service LAN."""
    c = cluster["c"]
    if not c.alive():
        cluster.boot("c")
    c.run("iscsiadm -m node --logoutall=all; pkill -x iscsid; true", check=False)
    return cluster

