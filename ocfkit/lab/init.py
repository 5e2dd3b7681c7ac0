"""PID 1 of a namespace node: sets the node up inside its fresh namespaces, then reaps orphans.

Started by ``Node.boot`` as ``unshare --fork --pid --mount-proc --net --uts --ipc --mount
--propagation private -- python3 -I init.py SPEC``, so everything here happens inside the node's
own mount, UTS and network namespaces and is invisible to the host. SPEC is JSON:

    {"hostname": "node1",
     "mounts": [["tmpfs", "mode=0755", "/run"], ["bind", "/lab/node1/var-lib-pacemaker", "/var/lib/pacemaker"],
                ["overlay", "/lab/sbin:/usr/sbin", "/usr/sbin"], ...],
     "dirs": [["/run/lock", 1023, 0, 0], ...]}

Prints ``ready`` on stdout once the node is set up (or ``error: ...`` and exits 1). Afterwards it
reaps every orphan the node's daemons leave behind. SIGTERM ends it, and with it (the kernel kills a
PID namespace with its init) every process of the node. Standard library only: it runs with -I.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys


def _mount(kind: str, source: str, target: str) -> None:
    if kind == "tmpfs":
        argv = ["mount", "-t", "tmpfs", "-o", f"{source},nosuid,nodev", "ocfkit-lab", target]
    elif kind == "bind":
        argv = ["mount", "--bind", source, target]
    elif kind == "sysfs":  # a sysfs mounted in the node's network namespace shows the node's interfaces
        argv = ["mount", "-t", "sysfs", "-o", "nosuid,nodev,noexec", "sysfs", target]
    elif kind == "overlay":  # read-only overlay of lower directories (leftmost on top)
        argv = ["mount", "-t", "overlay", "-o", f"lowerdir={source}", "ocfkit-lab", target]
    else:
        raise ValueError(f"unknown mount kind {kind!r}")
    r = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    if r.returncode:
        raise OSError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")


def setup(spec: dict) -> None:
    """Hostname, private mounts, directories, loopback: everything inside the node's namespaces."""
    # unshare --propagation private already made every mount private; say it again so that nothing
    # mounted below can ever propagate to the host.
    subprocess.run(["mount", "--make-rprivate", "/"], check=True, timeout=20, capture_output=True)
    socket.sethostname(spec["hostname"])
    for kind, source, target in spec["mounts"]:
        _mount(kind, source, target)
    for path, mode, uid, gid in spec.get("dirs", ()):
        os.makedirs(path, exist_ok=True)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=20, capture_output=True)


def reap_forever() -> None:
    """Reap every child (orphans are re-parented to us) until SIGTERM or SIGINT."""
    signals = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    while True:
        sig = signal.sigwait(signals)
        if sig != signal.SIGCHLD:
            return
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break


def main(argv: list[str]) -> int:
    try:
        setup(json.loads(argv[1]))
    except (OSError, ValueError, KeyError, IndexError, subprocess.SubprocessError) as e:
        print(f"error: {e}", flush=True)
        return 1
    print("ready", flush=True)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.close(devnull)
    reap_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
