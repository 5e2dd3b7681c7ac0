"""Processes that hold a mount busy, found by walking /proc with readlink only.

readlink never stats the target, so a dead NFS server cannot hang the walk (what fuser and lsof do).
A process holds a mount through its cwd, root, executable, open files or memory maps.
"""

from __future__ import annotations

from ocf import system
from ocf.proc import comm, parent

# Never signalled: the cluster stack and its helpers, whatever holds.
PROTECTED = frozenset({
    "pacemakerd", "pacemaker-based", "pacemaker-fenced", "pacemaker-execd", "pacemaker-attrd",
    "pacemaker-schedulerd", "pacemaker-controld", "pacemaker-remoted", "corosync", "heartbeat", "ha_logd",
    "crmd", "cib", "lrmd", "attrd", "pengine", "stonithd", "stonith-ng", "ccm", "ipfail", "sbd", "dlm_controld",
    "corosync-qdevice", "systemd", "init",
})


def _under(path: str, mountpoint: str) -> bool:
    path = path.removesuffix(" (deleted)")
    return path == mountpoint or path.startswith(mountpoint.rstrip("/") + "/")


def _fd_mount_id(pid: int, fd: str) -> int | None:
    """The mount ID an open file lives on (/proc/PID/fdinfo/FD mnt_id), None when unknown."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("mnt_id:"):
                    return int(line.split(":", 1)[1])
    except (OSError, ValueError):
        pass
    return None


def holds(pid: int, mountpoint: str, mount_id: int | None = None) -> str:
    """How pid holds mountpoint ("cwd", "root", "exe", "fd", "map") or "" if it does not.

    With mount_id, an open file whose fdinfo names another mount (a mount stacked on the same path in
    between) does not count."""
    base = f"/proc/{pid}"
    for what in ("cwd", "root", "exe"):
        try:
            target = system.readlink(f"{base}/{what}")
        except OSError:
            continue
        if what == "root":
            if target != "/" and _under(target, mountpoint):
                return "root"
        elif _under(target, mountpoint):
            return what
    try:
        for fd in system.listdir(f"{base}/fd"):
            try:
                if _under(system.readlink(f"{base}/fd/{fd}"), mountpoint) and (
                        mount_id is None or _fd_mount_id(pid, fd) in (mount_id, None)):
                    return "fd"
            except OSError:
                continue
    except OSError:
        pass
    try:
        with open(f"{base}/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and _under(parts[5].strip(), mountpoint):
                    return "map"
    except OSError:
        pass
    return ""


def holders(mountpoint: str, mount_id: int | None = None) -> dict[int, str]:
    """pid -> how it holds mountpoint, for every process in our mount namespace.

    Only paths under mountpoint count: the kernel names a file by the mount it was reached through,
    so a holder of the same filesystem through another bind mount is not one of them."""
    me = system.getpid()
    try:
        my_ns = system.readlink("/proc/self/ns/mnt")
    except OSError:
        my_ns = ""
    out = {}
    for name in system.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == me:
            continue
        try:
            if my_ns and system.readlink(f"/proc/{pid}/ns/mnt") != my_ns:
                continue  # paths of another mount namespace mean something else
        except OSError:
            continue
        how = holds(pid, mountpoint, mount_id)
        if how:
            out[pid] = how
    return out


def is_protected(pid: int) -> bool:
    """PID 1, this process and its ancestors, and the cluster stack are never signalled."""
    if pid <= 1:
        return True
    ancestors = set()
    p = system.getpid()
    while p > 1 and p not in ancestors:
        ancestors.add(p)
        up = parent(p)
        if up is None:
            break
        p = up
    # comm is cut at 15 characters (pacemaker-schedulerd reads pacemaker-sched).
    return pid in ancestors or comm(pid) in {n[:15] for n in PROTECTED}
