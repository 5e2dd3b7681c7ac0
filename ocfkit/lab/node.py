"""A namespace node: one machine of a lab cluster, made of Linux namespaces on this host.

The node's init (``init.py``) is PID 1 of a new PID namespace and owns new mount, UTS, IPC and
network namespaces. Inside them the node has its own hostname, its own sysfs (its interfaces), its
own /run and /dev/shm (tmpfs, fresh at every boot, as on a real machine), its own
/var/lib/{pacemaker,corosync,heartbeat}, /var/log, /etc/corosync and /etc/ha.d (bind mounts of
per-node directories under the lab directory, kept across the node's reboots like a disk), and
/usr/sbin and cluster-glue's external STONITH plugin directory seen through read-only overlays that
add the lab's fence agent and plugin. Its links are veth pairs to bridges in the lab's switch
namespace. Nothing of this is visible in the host's namespaces. Killing the init kills every process
of the node.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time

INIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "init.py")
NAMESPACES = ("net", "pid", "mnt", "uts", "ipc")
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/root", "PCMK_logfacility": "none",
       "HA_LOGFACILITY": "none"}

# Host directories a node gets a private copy of (the key is the per-node directory's name): their
# layout only (owner, group, mode of every directory, two levels; no files), except /etc/ha.d, copied
# whole (heartbeat's harc, shellfuncs, rc.d and resource.d scripts live there).
PRIVATE_DIRS = {
    "var-lib-pacemaker": "/var/lib/pacemaker",
    "var-lib-corosync": "/var/lib/corosync",
    "var-lib-heartbeat": "/var/lib/heartbeat",
    "etc-corosync": "/etc/corosync",
    "etc-ha.d": "/etc/ha.d",
    "etc-tgt": "/etc/tgt",  # tgt-admin's default targets.conf (heartbeat's bare iscsitarget reads it)
}
# systemd-tmpfiles' job at boot: the directories the cluster packages want in a fresh /run.
TMPFILES = ("heartbeat.conf", "resource-agents.conf", "fence-agents.conf", "drbd.conf")
LOG_DIRS = ("/var/log/pacemaker", "/var/log/pacemaker/bundles", "/var/log/corosync", "/var/log/cluster",
            "/var/log/heartbeat")


class LabError(Exception):
    """The lab cannot go on; the message says why."""


def run(argv: list[str], *, timeout: float = 30, check: bool = True, input: str | None = None,  # noqa: A002
        env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command of the lab's own plumbing (argv list, bounded)."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout, input=input,
                           env=env if env is not None else ENV, check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"{' '.join(argv)}: no answer in {timeout} s") from None
    if check and r.returncode != 0:
        raise LabError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def children(pid: int) -> list[int]:
    """Direct children of pid (host PIDs)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(w) for w in f.read().split()]
    except OSError:
        return []


def mirror_dirs(src: str, dst: str, depth: int = 2) -> None:
    """Create dst and the directories under src (to depth) with src's owners and modes; no files."""
    if not os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
        return
    st = os.stat(src)
    os.makedirs(dst, exist_ok=True)
    os.chown(dst, st.st_uid, st.st_gid)
    os.chmod(dst, st.st_mode & 0o7777)
    if depth:
        for entry in os.scandir(src):
            if entry.is_dir(follow_symlinks=False):
                mirror_dirs(entry.path, os.path.join(dst, entry.name), depth - 1)


def run_dirs(tmpfiles_dir: str = "/usr/lib/tmpfiles.d") -> list[list]:
    """[path, mode, uid, gid] of each 'd' line under /run in the cluster packages' tmpfiles.d files."""
    import grp
    import pwd

    out: list[list] = [["/run/lock", 0o1777, 0, 0]]
    for name in TMPFILES:
        try:
            with open(os.path.join(tmpfiles_dir, name), encoding="utf-8") as f:
                lines = f.read(65536).splitlines()
        except OSError:
            continue
        for line in lines:
            w = line.split()
            if len(w) < 5 or w[0] != "d" or not w[1].startswith("/run/") or ".." in w[1]:
                continue
            try:
                uid = 0 if w[3] == "-" else pwd.getpwnam(w[3]).pw_uid
                gid = 0 if w[4] == "-" else grp.getgrnam(w[4]).gr_gid
                out.append([w[1], int(w[2], 8), uid, gid])
            except (KeyError, ValueError):
                continue
    return out


class Node:
    """One namespace node; ``boot`` starts it, ``kill`` ends every process of it."""

    def __init__(self, name: str, nodeid: int, directory: str, *, switch: str,
                 links: list[tuple[str, str, str]], overlays: list[tuple[str, str]],
                 manager: str = "pacemaker") -> None:
        self.name, self.nodeid = name, nodeid
        self.dir = directory
        self.switch = switch  # the switch's network namespace
        self.links = links  # (bridge, interface in the node, address/prefix)
        self.overlays = overlays  # (private directory, host directory it is laid over, read-only)
        if manager not in ("pacemaker", "heartbeat"):
            raise LabError(f"unknown cluster manager {manager!r}")
        self.manager = manager
        self.unshare: subprocess.Popen | None = None
        self.init_pid = 0
        self.ns: dict[str, str] = {}
        # Open descriptors of the node's namespaces: while one is open the kernel cannot free the namespace,
        # so its identifier (an nsfs inode number, which the kernel hands out again as soon as a namespace
        # is gone) keeps naming the node's namespace only. kill() SIGKILLs by these identifiers.
        self._ns_fds: list[int] = []
        self.daemons: dict[str, subprocess.Popen] = {}

    # -- the machine -------------------------------------------------------------------------------

    def prepare(self) -> None:
        """The node's disk: its private directories (kept across reboots)."""
        for key, host in PRIVATE_DIRS.items():
            path = os.path.join(self.dir, key)
            if os.path.exists(path):
                continue
            if key == "etc-ha.d" and os.path.isdir(host):
                # heartbeat's scripts (harc, shellfuncs, rc.d, resource.d) live in its config directory.
                shutil.copytree(host, path, symlinks=True)
            else:
                mirror_dirs(host, path)
        log = os.path.join(self.dir, "var-log")
        for d in LOG_DIRS:
            path = log + d[len("/var/log"):]
            if not os.path.exists(path):
                if os.path.isdir(d):
                    mirror_dirs(d, path, depth=0)
                else:
                    os.makedirs(path, mode=0o755)
        os.chmod(log, 0o755)

    def spec(self) -> dict:
        # /sys too: the host's sysfs shows the host's interfaces (/sys/class/net/eth0/address would be the
        # host's MAC, and gratuitous ARPs would announce it).
        mounts = [["sysfs", "", "/sys"], ["tmpfs", "mode=0755", "/run"], ["tmpfs", "mode=1777", "/dev/shm"]]
        # A directory the host lacks (no heartbeat installed: no /etc/ha.d) has nothing to hide.
        mounts += [["bind", os.path.join(self.dir, key), host] for key, host in PRIVATE_DIRS.items()
                   if os.path.isdir(host)]
        mounts.append(["bind", os.path.join(self.dir, "var-log"), "/var/log"])
        mounts += [["overlay", f"{lower}:{target}", target] for lower, target in self.overlays if os.path.isdir(target)]
        return {"hostname": self.name, "mounts": mounts, "dirs": run_dirs()}

    @property
    def running(self) -> bool:
        return self.unshare is not None and self.unshare.poll() is None

    def boot(self, timeout: float = 20) -> None:
        """Start the node's init in fresh namespaces, then plug its links into the switch."""
        if self.running:
            raise LabError(f"{self.name} is already running")
        self.prepare()
        self.daemons, self.ns, self.init_pid = {}, {}, 0
        log = open(os.path.join(self.dir, "boot.log"), "a")  # noqa: SIM115 - handed to the child
        try:
            self.unshare = subprocess.Popen(
                # setpriv: SIGKILL to unshare when the lab's thread that started it ends, so a killed lab
                # leaves no node behind (unshare --kill-child then kills the node's init).
                ["setpriv", "--pdeathsig", "KILL", "--",
                 "unshare", "--fork", "--kill-child", "--pid", "--mount-proc", "--net", "--uts", "--ipc", "--mount",
                 "--propagation", "private", "--", sys.executable, "-I", INIT, json.dumps(self.spec())],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=ENV, start_new_session=True)
        finally:
            log.close()
        try:
            line = self._read_line(self.unshare.stdout, timeout)
            if line != "ready":
                raise LabError(f"{self.name} did not boot: {line or 'no answer'} (see {self.dir}/boot.log)")
            kids = children(self.unshare.pid)
            if len(kids) != 1:
                raise LabError(f"{self.name}: cannot find its init (children of unshare: {kids})")
            self.init_pid = kids[0]
            ns = self._hold_namespaces(self.init_pid)
            # kill() SIGKILLs every process in these namespaces: they must be the node's own, never ours.
            shared = [n for n in NAMESPACES if ns[n] == os.readlink(f"/proc/self/ns/{n}")]
            if shared:
                raise LabError(f"{self.name}: its init shares the host's {', '.join(shared)} namespace")
            self.ns = ns
            with open(os.path.join(self.dir, "init.pid"), "w", encoding="ascii") as f:
                f.write(f"{self.init_pid}\n")
            for i, (bridge, ifname, address) in enumerate(self.links):
                port = self.port(i)
                run(["ip", "-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", ifname,
                     "netns", str(self.init_pid)])
                run(["ip", "-n", self.switch, "link", "set", port, "master", bridge, "up"])
                self.run(["ip", "addr", "add", address, "dev", ifname])
                self.run(["ip", "link", "set", ifname, "up"])
        except BaseException:
            self.kill()
            raise
        finally:
            if self.unshare.stdout:
                self.unshare.stdout.close()

    def port(self, i: int) -> str:
        """The switch-side name of the node's link i (unique within the lab's switch)."""
        return f"n{self.nodeid}l{i}"

    @staticmethod
    def _read_line(stream, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        data = b""
        fd = stream.fileno()
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace").strip()

    @property
    def enter(self) -> list[str]:
        """argv prefix that runs a command inside the node (all its namespaces, / as working directory)."""
        if not self.init_pid:
            raise LabError(f"{self.name} is not running")
        return ["nsenter", "-t", str(self.init_pid), "-m", "-u", "-i", "-n", "-p", "--wd=/"]

    def run(self, argv: list[str], *, timeout: float = 30, check: bool = True, input: str | None = None,  # noqa: A002
            env: dict | None = None) -> subprocess.CompletedProcess:
        """Run a command inside the node and wait for it."""
        return run([*self.enter, *argv], timeout=timeout, check=check, input=input, env={**ENV, **(env or {})})

    def spawn(self, key: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        """Start a daemon inside the node (output appended to <node dir>/<key>.out)."""
        with open(os.path.join(self.dir, f"{key}.out"), "a") as out:
            p = subprocess.Popen([*self.enter, *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 env={**ENV, **(env or {})}, start_new_session=True)
        self.daemons[key] = p
        return p

    def daemon_pid(self, key: str, timeout: float = 5) -> int:
        """Host PID of a daemon started with spawn (the child nsenter forked into the node)."""
        p = self.daemons.get(key)
        deadline = time.monotonic() + timeout
        while p is not None and p.poll() is None:
            kids = children(p.pid)
            if kids:
                return kids[0]
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        return 0

    def processes(self) -> list[int]:
        """Host PIDs of every live process that uses one of the node's namespaces."""
        if not self.ns:
            return []
        host = {os.readlink(f"/proc/self/ns/{n}") for n in NAMESPACES}
        mine = set(self.ns.values()) - host
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            for n in NAMESPACES:
                try:
                    if os.readlink(f"/proc/{entry}/ns/{n}") in mine:
                        found.append(int(entry))
                        break
                except OSError:
                    break  # gone, a zombie, or a kernel thread
        return found

    def cut_links(self) -> None:
        """Remove the node's switch ports (the veth pairs go with them)."""
        for i in range(len(self.links)):
            run(["ip", "-n", self.switch, "link", "del", self.port(i)], check=False)

    def kill(self, timeout: float = 10) -> None:
        """Power cut: SIGKILL to the init (the kernel kills its PID namespace), then to any process
        still in one of the node's namespaces; links removed. Returns when nothing of the node runs."""
        if self.init_pid:
            try:
                os.kill(self.init_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.cut_links()
        if self.unshare is not None and self.unshare.poll() is None:
            # unshare reaps the init and exits (no zombie left for the host's PID 1 to reap); without a
            # known init, killing unshare kills it (--kill-child).
            try:
                if not self.init_pid:
                    raise subprocess.TimeoutExpired(self.unshare.args, 0)
                self.unshare.wait(timeout)
            except subprocess.TimeoutExpired:
                self.unshare.kill()
                self.unshare.wait(timeout)
        deadline = time.monotonic() + timeout
        while True:
            left = self.processes()
            if not left:
                break
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: processes {left} survive SIGKILL")
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        for p in self.daemons.values():
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.init_pid = 0
        self._release_namespaces()

    def _hold_namespaces(self, pid: int) -> dict[str, str]:
        """The identifiers of pid's namespaces, each held open until _release_namespaces."""
        self._release_namespaces()
        self._ns_fds = [os.open(f"/proc/{pid}/ns/{n}", os.O_RDONLY | os.O_CLOEXEC) for n in NAMESPACES]
        return {n: os.readlink(f"/proc/self/fd/{fd}") for n, fd in zip(NAMESPACES, self._ns_fds)}

    def _release_namespaces(self) -> None:
        """Forget the node's namespaces (once nothing of the node runs): their identifiers may name
        another program's namespaces as soon as these descriptors are closed."""
        self.ns = {}
        for fd in self._ns_fds:
            os.close(fd)
        self._ns_fds = []

    # -- the cluster stack -------------------------------------------------------------------------

    def start_cluster(self, timeout: float = 30, *, wait: bool = True) -> None:
        """The cluster stack, as the node's init system would start it: corosync then pacemakerd, or
        heartbeat. Without wait, heartbeat is only started (``wait_cluster`` waits for it): a lone
        heartbeat counts as up only after initdead."""
        if self.manager == "heartbeat":
            self.spawn("heartbeat", ["/usr/libexec/heartbeat/heartbeat", "-f"])
            if wait:
                self.wait_cluster(timeout)
            return
        self.spawn("corosync", ["corosync", "-f"])
        self._wait_for("corosync", ["corosync-cfgtool", "-s"], timeout,
                       f"{self.dir}/var-log/corosync/corosync.log")
        self.spawn("pacemakerd", ["pacemakerd", "-f"])

    def wait_cluster(self, timeout: float = 30) -> None:
        """Wait until the node's cluster stack answers (heartbeat: its status is active)."""
        if self.manager == "heartbeat":
            self._wait_for("heartbeat", ["cl_status", "hbstatus"], timeout, f"{self.dir}/var-log/heartbeat/ha.log")

    def _wait_for(self, key: str, probe: list[str], timeout: float, log: str) -> None:
        deadline = time.monotonic() + timeout
        while self.run(probe, check=False, timeout=10).returncode != 0:
            if self.daemons[key].poll() is not None or time.monotonic() > deadline:
                raise LabError(f"{key} did not start on {self.name} (see {self.dir}/{key}.out and {log})")
            time.sleep(0.2)

    def stop_cluster(self, timeout: float = 60) -> None:
        """Orderly stop: pacemakerd (it stops the resources first), then corosync; or heartbeat (it
        releases its resources first)."""
        for key in ("heartbeat", "pacemakerd", "corosync"):
            p = self.daemons.get(key)
            if p is None or p.poll() is not None:
                continue
            pid = self.daemon_pid(key)
            if pid:
                os.kill(pid, signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                raise LabError(f"{key} on {self.name} did not stop in {timeout} s") from None

    def shutdown(self) -> None:
        """Orderly shutdown of the whole node."""
        if self.running:
            try:
                self.stop_cluster()
            finally:
                self.kill()

    def remove(self) -> None:
        """Delete the node's disk (only once it is down)."""
        if self.running:
            raise LabError(f"{self.name} is running")
        shutil.rmtree(self.dir, ignore_errors=True)
