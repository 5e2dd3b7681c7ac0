"""Test configuration: unit tests may not start real processes; system tests opt in with a marker."""

from __future__ import annotations

import os
import posix
import socket as _socket_py  # noqa: F401  before any test patches _socket.socket (see _netlink_refused)
import subprocess

import pytest

REAL_MARKERS = ("system", "guest")


def _netlink_refused(real):
    """_socket.socket that refuses netlink (agents read kernel state over it instead of running ip/nft
    or iptables): a unit test sees nfnetlink/rtnetlink as unavailable, never the host's state.

    The socket module is imported above, before any test runs: its class socket subclasses
    _socket.socket at import, and under this patch (a function) that import fails (Python 3.13 no
    longer imports socket before the tests do)."""

    cls, netlink = real.socket, real.AF_NETLINK

    def socket(family=-1, *args, **kwargs):
        if family == netlink:
            raise PermissionError(1, "a unit test may not read the kernel's state over netlink")
        return cls(family, *args, **kwargs)

    return socket


def _refuse(*args, **kwargs):
    raise AssertionError(f"a unit test tried to start a real process: {args[:2]!r}; "
                         "fake the command seam (ocf.testing.FakeRunner) or mark the test system")


@pytest.fixture(autouse=True)
def _no_real_processes(request, monkeypatch):
    """Make any real process start fail a unit test (system/guest tests are exempt)."""
    if any(request.node.get_closest_marker(m) for m in REAL_MARKERS):
        yield
        return
    # ocf.exec spawns through the built-in posix module (os re-exports the same functions): both.
    for module in (os, posix):
        for name in ("posix_spawn", "posix_spawnp", "fork", "forkpty", "system", "execv", "execve", "execvp",
                     "execvpe", "popen"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, _refuse)
    monkeypatch.setattr(subprocess.Popen, "_execute_child", _refuse)
    import _socket

    monkeypatch.setattr(_socket, "socket", _netlink_refused(_socket))
    yield


def pytest_collection_modifyitems(config, items):
    """Skip real-system tests when not root (they need namespaces, loop devices, iptables)."""
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root")
    for item in items:
        if item.get_closest_marker("system") or item.get_closest_marker("guest"):
            item.add_marker(skip)
