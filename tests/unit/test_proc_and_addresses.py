"""ocf.proc on a scripted /proc tree, and the one place an address's family is read."""

from __future__ import annotations

import pytest

from ocf import proc
from ocf.calling import action_env
from ocf.params import canonical_network, ip_version


def _process(root, pid: int, comm: str, stat: str, cmdline: bytes = b"") -> None:
    d = root / str(pid)
    d.mkdir()
    (d / "comm").write_text(comm + "\n")
    (d / "stat").write_text(stat)
    (d / "cmdline").write_bytes(cmdline)


def test_processes_are_read_from_the_given_proc_tree(tmp_path):
    _process(tmp_path, 10, "tgtd", "10 (tgtd) S 1 10 10 0")
    _process(tmp_path, 11, "odd) name", "11 (odd) name) Z 10 11 11 0", b"garp.py\0eth0\0")
    (tmp_path / "self").mkdir()
    assert sorted(proc.pids(str(tmp_path))) == [10, 11]
    assert proc.comm(10, str(tmp_path)) == "tgtd"
    assert proc.is_alive(10, str(tmp_path)) and not proc.is_alive(11, str(tmp_path))  # 11 is a zombie
    assert proc.parent(11, str(tmp_path)) == 10
    assert proc.cmdline(11, str(tmp_path)) == b"garp.py\0eth0\0"


def test_a_process_that_is_gone_reads_as_absent(tmp_path):
    assert proc.comm(99, str(tmp_path)) == "" and proc.cmdline(99, str(tmp_path)) == b""
    assert not proc.is_alive(99, str(tmp_path)) and proc.parent(99, str(tmp_path)) is None
    assert proc.pids(str(tmp_path / "missing")) == []


def test_the_address_family_and_networks():
    assert ip_version("192.0.2.1") == 4 and ip_version("2001:db8::1/64") == 6
    assert canonical_network(" 2001:DB8::1/064 ") == "2001:db8::1/64"
    assert canonical_network("192.0.2.0/24") == "192.0.2.0/24"
    for bad in ("192.0.2.0/33", "2001:db8::/129", "192.0.2.0/x", "host/24"):
        with pytest.raises(ValueError):
            canonical_network(bad)


def test_an_action_gets_the_environment_pacemaker_would_give_it():
    env = action_env({"PATH": "/bin", "OCF_RESKEY_stale": "x"}, "IPaddr2", "vip", {"ip": "192.0.2.9"},
                     version="1.0", timeout_ms=20000)
    assert env == {"PATH": "/bin", "OCF_ROOT": "/usr/lib/ocf", "OCF_RA_VERSION_MAJOR": "1",
                   "OCF_RA_VERSION_MINOR": "0", "OCF_RESOURCE_TYPE": "IPaddr2", "OCF_RESOURCE_INSTANCE": "vip",
                   "OCF_RESKEY_ip": "192.0.2.9", "OCF_RESKEY_CRM_meta_timeout": "20000"}


def test_ocf_system_gives_posix_at_once_and_the_rest_on_first_use():
    import os
    import posix
    import signal
    import stat

    from ocf import exec as seam
    from ocf import system

    assert system.stat is posix.stat and system.listdir is posix.listdir
    assert system.path is os.path and system.makedirs is os.makedirs
    assert system.SIGKILL is signal.SIGKILL and system.S_ISBLK is stat.S_ISBLK
    assert system.which is seam.which and system.spawn is seam.spawn
    with pytest.raises(AttributeError):
        system.environ  # noqa: B018 - the agent's env is the one environment
    assert getattr(system, "O_NOSUCHFLAG", 0) == 0
