"""Filesystem for real: loop devices, ext4 and xfs, inside a private mount namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.system.support import LoopDevice, MountNs, agent_path, ocf_env, sh

pytestmark = pytest.mark.system


def fs_env(tmp_path, device, fstype="ext4", **params):
    p = {"device": device, "directory": str(tmp_path / "mnt"), "fstype": fstype}
    p.update(params)
    return ocf_env("fs1", p, rsctmp=str(tmp_path), interval_ms=20000)


def agent(ns: MountNs, action: str, env, timeout: float = 120):
    return subprocess.run([*ns.prefix, agent_path("Filesystem"), action], env=env, capture_output=True, text=True,
                          timeout=timeout)


def mounted(ns: MountNs, directory) -> bool:
    return ns.run("findmnt", "-n", str(directory), check=False).returncode == 0


@pytest.fixture
def ext4(tmp_path):
    with LoopDevice(64, str(tmp_path)) as loop:
        sh("mkfs.ext4", "-q", "-F", loop.device)
        yield loop.device


@pytest.fixture
def mns():
    with MountNs() as ns:
        yield ns


@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
def test_start_monitor_levels_stop(tmp_path, mns, fstype):
    size = 320 if fstype == "xfs" else 64  # mkfs.xfs wants 300 MB
    with LoopDevice(size, str(tmp_path)) as loop:
        sh("mkfs." + fstype, "-q", "-f" if fstype == "xfs" else "-F", loop.device)
        env = fs_env(tmp_path, loop.device, fstype)
        assert agent(mns, "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0")).returncode == 7
        r = agent(mns, "start", env)
        assert r.returncode == 0, r.stderr
        assert mounted(mns, tmp_path / "mnt")
        assert not mounted_on_host(tmp_path / "mnt")  # the private namespace keeps it off the host
        for level in ("0", "10", "20", "15", "30"):
            r = agent(mns, "monitor", dict(env, OCF_CHECK_LEVEL=level))
            assert r.returncode == 0, (level, r.stderr)
        status = mns.run("ls", "-A", str(tmp_path / "mnt" / ".Filesystem_status")).stdout
        assert f"fs1_{os.uname().nodename}" in status
        assert agent(mns, "start", env).returncode == 0
        r = agent(mns, "stop", env)
        assert r.returncode == 0, r.stderr
        assert not mounted(mns, tmp_path / "mnt")
        assert agent(mns, "stop", env).returncode == 0
        assert agent(mns, "monitor", env).returncode == 7


def mounted_on_host(directory) -> bool:
    return subprocess.run(["findmnt", "-n", str(directory)], capture_output=True).returncode == 0


def test_stop_kills_holders_with_open_files_and_cwd_inside(tmp_path, mns, ext4):
    env = fs_env(tmp_path, ext4)
    assert agent(mns, "start", env).returncode == 0
    mnt = tmp_path / "mnt"
    cwd = subprocess.Popen([*mns.prefix, "sh", "-c", f"cd {mnt} && exec sleep 300"])
    opener = subprocess.Popen([*mns.prefix, "sh", "-c", f"exec 3>{mnt}/held.txt; exec sleep 300"])
    time.sleep(0.5)
    try:
        t = time.monotonic()
        r = agent(mns, "stop", env)
        took = time.monotonic() - t
        assert r.returncode == 0, r.stderr
        assert not mounted(mns, mnt)
        assert cwd.wait(5) is not None and opener.wait(5) is not None
        assert "sending SIGTERM to holders" in r.stderr
        assert took < 5
    finally:
        for p in (cwd, opener):
            p.kill()
            p.wait()


def test_a_protected_process_is_never_signalled_and_named_in_the_reason(tmp_path, mns, ext4):
    env = dict(fs_env(tmp_path, ext4), OCF_RESKEY_CRM_meta_timeout="4000")
    assert agent(mns, "start", env).returncode == 0
    mnt = tmp_path / "mnt"
    fake = tmp_path / "corosync"
    shutil.copy("/bin/sleep", fake)
    holder = subprocess.Popen([*mns.prefix, "sh", "-c", f"cd {mnt} && exec {fake} 300"])
    time.sleep(0.5)
    try:
        t = time.monotonic()
        r = agent(mns, "stop", env)
        assert time.monotonic() - t < 4.5  # within the 4 s timeout
        assert r.returncode == 1
        assert "ocf-exit-reason:could not unmount" in r.stderr and "corosync[" in r.stderr
        assert holder.poll() is None  # never signalled
        assert mounted(mns, mnt)
    finally:
        holder.kill()
        holder.wait()
    assert agent(mns, "stop", env).returncode == 0


def test_nested_mounts_are_unmounted_first(tmp_path, mns, ext4):
    env = fs_env(tmp_path, ext4)
    assert agent(mns, "start", env).returncode == 0
    mns.run("mkdir", "-p", str(tmp_path / "mnt" / "inner"))
    mns.run("mount", "-t", "tmpfs", "tmpfs", str(tmp_path / "mnt" / "inner"))
    assert agent(mns, "stop", env).returncode == 0
    assert not mounted(mns, tmp_path / "mnt") and not mounted(mns, tmp_path / "mnt" / "inner")


def test_a_wrong_device_on_the_directory_is_reported_never_6(tmp_path, mns, ext4):
    env = fs_env(tmp_path, ext4)
    (tmp_path / "mnt").mkdir()
    mns.run("mount", "-t", "tmpfs", "tmpfs", str(tmp_path / "mnt"))
    r = agent(mns, "monitor", env)
    assert r.returncode == 1 and "has tmpfs (tmpfs) mounted, not" in r.stderr
    r = agent(mns, "start", env)
    assert r.returncode == 1 and "already has tmpfs" in r.stderr
    mns.run("umount", str(tmp_path / "mnt"))


def test_missing_device_is_5_on_start_and_7_on_probe(tmp_path, mns):
    env = fs_env(tmp_path, "/dev/ocfkit-no-such-device")
    assert agent(mns, "start", env).returncode == 5
    assert agent(mns, "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0")).returncode == 7
    assert agent(mns, "stop", env).returncode == 0


def test_clone_of_ext4_is_refused_unless_forced(tmp_path, mns, ext4):
    env = dict(fs_env(tmp_path, ext4), OCF_RESKEY_CRM_meta_clone_max="2")
    r = agent(mns, "start", env)
    assert r.returncode == 6 and "not cluster-aware" in r.stderr
    forced = dict(env, OCF_RESKEY_force_clones="true")
    assert agent(mns, "start", forced).returncode == 0
    assert agent(mns, "stop", forced).returncode == 0


def test_200_cycles_leave_no_mount(tmp_path, mns, ext4):
    env = fs_env(tmp_path, ext4)
    for _ in range(200):
        assert agent(mns, "start", env).returncode == 0
        assert agent(mns, "stop", env).returncode == 0
    assert not mounted(mns, tmp_path / "mnt")
    # Nothing of ours on the host (other tests' network namespaces are mounted there under /run/netns).
    assert str(tmp_path) not in subprocess.run(["findmnt", "-rn"], capture_output=True, text=True).stdout


def test_stop_with_100_holders_finishes_within_its_deadline(tmp_path, mns, ext4):
    env = dict(fs_env(tmp_path, ext4), OCF_RESKEY_CRM_meta_timeout="20000")
    assert agent(mns, "start", env).returncode == 0
    mnt = tmp_path / "mnt"
    script = f"cd {mnt}; for i in $(seq 100); do sleep 300 & done; wait"
    parent = subprocess.Popen([*mns.prefix, "sh", "-c", script])
    time.sleep(1.5)
    try:
        t = time.monotonic()
        r = agent(mns, "stop", env)
        took = time.monotonic() - t
        assert r.returncode == 0, r.stderr
        assert not mounted(mns, mnt)
        assert took < 18
        print(f"stop with 100 holders took {took:.2f}s")
    finally:
        parent.kill()
        parent.wait()


def test_ocf_tester_passes_on_the_installed_filesystem(tmp_path, mns, ext4):
    r = subprocess.run([*mns.prefix, "ocf-tester", "-n", "fst", "-o", f"device={ext4}", "-o",
                        f"directory={tmp_path}/mnt", "-o", "fstype=ext4", agent_path("Filesystem")],
                       capture_output=True, text=True, timeout=180,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert not mounted(mns, tmp_path / "mnt")


# ----- ownership: only our own mount, only its holders ----------------------------------------------

def _holder(ns: MountNs, directory) -> subprocess.Popen:
    """A process whose working directory is inside directory (the mount namespace's view)."""
    return subprocess.Popen([*ns.prefix, "sh", "-c", f"cd {directory} && exec sleep 300"])


def _mount_ids(ns: MountNs, directory) -> list[str]:
    r = ns.run("findmnt", "-n", "-o", "ID", "--mountpoint", str(directory), check=False)
    return r.stdout.split()


def test_stop_of_a_bind_mount_leaves_other_bind_mounts_and_their_holders_alone(tmp_path, mns, ext4):
    base, a, b = tmp_path / "fs", tmp_path / "a", tmp_path / "b"
    for d in (base, a, b):
        d.mkdir()
    mns.run("mount", ext4, str(base))
    mns.run("mkdir", str(base / "data"))
    mns.run("mount", "--bind", str(base / "data"), str(b))  # the admin's own bind mount (like /run/netns)
    env = ocf_env("bindA", {"device": str(base / "data"), "directory": str(a), "fstype": "none",
                            "options": "bind"}, rsctmp=str(tmp_path), interval_ms=20000)
    r = agent(mns, "start", env)
    assert r.returncode == 0, r.stderr
    held_b, held_a = _holder(mns, b), _holder(mns, a)
    time.sleep(0.5)
    try:
        r = agent(mns, "stop", env)
        assert r.returncode == 0, r.stderr
        assert not mounted(mns, a)
        assert mounted(mns, b) and mounted(mns, base)  # not ours: still there
        assert held_b.poll() is None  # the other bind mount's holder was never signalled
        assert held_a.wait(5) is not None  # ours was
        assert agent(mns, "monitor", env).returncode == 7
        assert agent(mns, "stop", env).returncode == 0
    finally:
        for p in (held_a, held_b):
            p.kill()
            p.wait()
        mns.run("umount", str(b), check=False)
        mns.run("umount", str(base), check=False)


def test_stop_of_a_filesystem_with_other_mounts_unmounts_only_its_own(tmp_path, mns, ext4):
    env = fs_env(tmp_path, ext4)
    assert agent(mns, "start", env).returncode == 0
    mnt, netns, again = tmp_path / "mnt", tmp_path / "netns", tmp_path / "again"
    netns.mkdir()
    again.mkdir()
    mns.run("mkdir", "-p", str(mnt / "sub"))
    mns.run("mount", "--bind", str(mnt / "sub"), str(netns))  # a bind mount of a directory of ours
    mns.run("mount", ext4, str(again))  # the same filesystem mounted a second time elsewhere
    holders = [_holder(mns, netns), _holder(mns, again)]
    ours = _holder(mns, mnt)
    time.sleep(0.5)
    try:
        r = agent(mns, "stop", env)
        assert r.returncode == 0, r.stderr
        assert not mounted(mns, mnt)
        assert mounted(mns, netns) and mounted(mns, again)
        assert all(p.poll() is None for p in holders)
        assert ours.wait(5) is not None
        assert "still in use through" in r.stderr  # says so, without touching them
    finally:
        for p in (*holders, ours):
            p.kill()
            p.wait()
        mns.run("umount", str(netns), check=False)
        mns.run("umount", str(again), check=False)


def test_stop_unmounts_only_its_mount_when_another_is_stacked_below(tmp_path, mns, ext4):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mns.run("mount", "-t", "tmpfs", "tmpfs", str(mnt))  # not ours, below where ours goes
    env = fs_env(tmp_path, ext4)
    # start refuses to mount over another mount; stack ours on top by hand, as a manual mount would.
    mns.run("mount", ext4, str(mnt))
    assert len(_mount_ids(mns, mnt)) == 2
    r = agent(mns, "stop", env)
    assert r.returncode == 0, r.stderr
    assert len(_mount_ids(mns, mnt)) == 1  # the tmpfs below stays
    assert agent(mns, "stop", env).returncode == 0  # a foreign mount alone is not ours: left alone
    assert len(_mount_ids(mns, mnt)) == 1
    mns.run("umount", str(mnt))


def test_stop_with_umount_missing_fails_while_mounted(tmp_path, mns, ext4):
    env = fs_env(tmp_path, ext4)
    assert agent(mns, "start", env).returncode == 0
    real = tmp_path / "umount-real"
    shutil.copy("/usr/bin/umount", real)
    mns.run("mount", "--bind", "/dev/null", "/usr/bin/umount")  # umount is gone, in this namespace only
    try:
        r = agent(mns, "stop", env)
        assert r.returncode != 0
        assert "ocf-exit-reason:umount: command not found" in r.stderr and "still mounted" in r.stderr
        assert mounted(mns, tmp_path / "mnt")
        assert agent(mns, "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0")).returncode == 0
    finally:
        mns.run(str(real), "/usr/bin/umount")
    assert agent(mns, "stop", env).returncode == 0


def test_every_advertised_depth_passes_on_a_read_only_bind_mount(tmp_path, mns):
    src = tmp_path / "src"
    src.mkdir()
    env = ocf_env("robind", {"device": str(src), "directory": str(tmp_path / "ro"), "fstype": "none",
                             "options": "bind,ro"}, rsctmp=str(tmp_path), interval_ms=22000)
    assert agent(mns, "start", env).returncode == 0
    try:
        assert "ro" in mns.run("findmnt", "-n", "-o", "OPTIONS", str(tmp_path / "ro")).stdout.split(",")
        for level in ("0", "10", "20"):
            r = agent(mns, "monitor", dict(env, OCF_CHECK_LEVEL=level))
            assert r.returncode == 0, (level, r.stderr)
    finally:
        assert agent(mns, "stop", env).returncode == 0
