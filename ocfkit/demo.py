"""`ocfkit demo`: the reference HA iSCSI SAN failing over on one machine.

Two nodes and a client live in network namespaces on a bridge (each node also in a private mount
namespace). One loop-backed file is the LUN both nodes export: it stands in for DRBD, which needs a
kernel module this machine does not have. The seed's heartbeat group runs on node1 through ocfkit's
agents with heartbeat's takeover semantics: Filesystem (the config volume), IPaddr2 (the portal
address), portblock block, iSCSITarget + iSCSILogicalUnit (tgt), portblock unblock. An iSCSI client
writes a checksummed stream through the VIP while the demo moves the group: a planned switchover to
node2, a planned switchback, then a crash of node1 (its tgtd killed, its link cut) and takeover on
node2. At the end every acknowledged write is read back and checked.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

IQN = "iqn.2024-01.demo.ocfkit:lun.filer"
VIP = "10.98.0.100"
NODES = {"node1": "10.98.0.1", "node2": "10.98.0.2"}
CLIENT_IP = "10.98.0.10"


class DemoError(Exception):
    """The demo cannot continue; the message says why."""


def _run(argv: list[str], *, timeout: float = 30, check: bool = True, env: dict | None = None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if check and r.returncode != 0:
        raise DemoError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


class Node:
    """A SAN node: a network namespace, a private mount namespace, its own tgtd."""

    def __init__(self, name: str, prefix: str, workdir: str, provider: str) -> None:
        self.name, self.ns = name, f"{prefix}-{name}"
        self.dir = os.path.join(workdir, name)
        self.provider = provider
        self.holder: subprocess.Popen | None = None
        self.tgtd: subprocess.Popen | None = None
        self.socket = os.path.join(self.dir, "tgtsock", "socket")
        self.log = os.path.join(workdir, "logs", f"{name}.log")

    def start(self, ip: str) -> None:
        os.makedirs(os.path.join(self.dir, "rsctmp"), exist_ok=True)
        os.makedirs(os.path.dirname(self.socket), exist_ok=True)
        _run(["ip", "netns", "exec", self.ns, "sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1"])
        self.holder = subprocess.Popen(["ip", "netns", "exec", self.ns, "unshare", "-m", "--propagation", "private",
                                        "sleep", "infinity"])
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if os.readlink(f"/proc/{self.holder.pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt"):
                    break
            except OSError:
                pass
            time.sleep(0.02)
        with open(self.log, "a") as log:
            self.tgtd = subprocess.Popen([*self.enter, "tgtd", "-f", "--iscsi", f"portal={VIP}:3260"],
                                         env={"TGT_IPC_SOCKET": self.socket, "PATH": os.environ.get("PATH", "")},
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket + ".0"):
            if time.monotonic() > deadline or self.tgtd.poll() is not None:
                raise DemoError(f"tgtd did not start on {self.name} (see {self.log})")
            time.sleep(0.05)

    @property
    def enter(self) -> list[str]:
        """argv prefix that runs a command on this node (its network and mount namespaces)."""
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n"]

    def agent(self, res, action: str) -> int:
        """Run one OCF action of a group member on this node, as heartbeat would."""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": "/usr/lib/ocf", "HA_RSCTMP":
               os.path.join(self.dir, "rsctmp"), "TGT_IPC_SOCKET": self.socket,
               "OCF_RESOURCE_INSTANCE": res.instance, "OCF_RESKEY_CRM_meta_timeout": "20000"}
        env.update({"OCF_RESKEY_" + k: v for k, v in res.params.items()})
        r = subprocess.run([*self.enter, f"/usr/lib/ocf/resource.d/{self.provider}/{res.agent}", action],
                           env=env, capture_output=True, text=True, timeout=60, check=False)
        with open(self.log, "a") as log:
            log.write(f"--- {time.strftime('%H:%M:%S')} {res.agent} {action}: rc {r.returncode}\n{r.stderr}")
        return r.returncode

    def crash(self) -> None:
        """The node dies: its target daemon is killed and its link goes dead."""
        if self.tgtd and self.tgtd.poll() is None:
            self.tgtd.kill()
            self.tgtd.wait()
        _run(["ip", "-n", self.ns, "link", "set", "eth0", "down"], check=False)

    def stop(self) -> None:
        if self.tgtd and self.tgtd.poll() is None:
            env = {"TGT_IPC_SOCKET": self.socket, "PATH": os.environ.get("PATH", "")}
            _run(["tgtadm", "--lld", "iscsi", "--op", "delete", "--force", "--mode", "target", "--tid", "1"],
                 check=False, env=env)
            _run(["tgtadm", "--lld", "iscsi", "--op", "delete", "--mode", "system"], check=False, env=env)
            try:
                self.tgtd.wait(3)
            except subprocess.TimeoutExpired:
                self.tgtd.kill()
                self.tgtd.wait()
        if self.holder and self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait()


class Client:
    """The iSCSI client process in its namespace, and what it reported."""

    def __init__(self, ns: str, seconds: float, logdir: str) -> None:
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_client.py")
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-I", script, f"{VIP}:3260", IQN,
                                      "1", str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(logdir, "client.log"), "w"),  # noqa: SIM115
                                     text=True)
        self.t0 = time.monotonic()
        self.acks: list[float] = []  # host monotonic time of each acknowledged write
        self.errors = 0
        self.verify: list[str] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            words = line.split()
            if not words:
                continue
            with self.lock:
                if words[0] == "ACK":
                    self.acks.append(time.monotonic())
                elif words[0] == "ERR":
                    self.errors += 1
                elif words[0] == "VERIFY":
                    self.verify.append(line.strip())

    def stall_now(self) -> float:
        with self.lock:
            last = self.acks[-1] if self.acks else self.t0
        return time.monotonic() - last

    def rate(self, window: float = 1.0) -> float:
        import bisect

        now = time.monotonic()
        with self.lock:
            n = len(self.acks) - bisect.bisect_left(self.acks, now - window)
        return n * 64 / 1024 / window  # 64 KiB per write, in MiB/s

    def max_gap(self, start: float, end: float) -> float:
        """The longest time without an acknowledged write that overlaps [start, end]."""
        with self.lock:
            times = list(self.acks)
        before = [t for t in times if t <= start]
        points = ([before[-1]] if before else [start]) + [t for t in times if start < t <= end]
        after = [t for t in times if t > end]
        if after:
            points.append(after[0])
        return max((b - a for a, b in zip(points, points[1:])), default=end - start)

    def finish(self) -> None:
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
        except OSError:
            pass
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(5)


def run_demo(*, provider: str = "ocfkit", steady: float = 4.0, as_json: bool = False, keep_logs: bool = True) -> dict:
    """Build the SAN, run the failovers, clean up; return the summary."""
    from heartbeat_legacy.takeover import Resource, release, takeover

    if os.geteuid() != 0:
        raise DemoError("the demo needs root (network namespaces, loop devices, mounts)")
    for tool in ("tgtd", "tgtadm", "nsenter", "unshare", "losetup", "mkfs.ext4"):
        if not shutil.which(tool):
            raise DemoError(f"{tool} is not installed (run scripts/setup.sh)")
    for agent in ("Filesystem", "IPaddr2", "portblock", "iSCSITarget", "iSCSILogicalUnit"):
        if not os.access(f"/usr/lib/ocf/resource.d/{provider}/{agent}", os.X_OK):
            raise DemoError(f"ocf:{provider}:{agent} is not installed (ocfkit install)")
    out = sys.stderr if as_json else sys.stdout
    tty = out.isatty()
    t_start = time.monotonic()

    def say(msg: str) -> None:
        out.write(("\r\033[K" if tty else "") + f"[{time.monotonic() - t_start:6.1f}s] {msg}\n")
        out.flush()

    prefix = f"ocfkd{os.getpid() % 100000}"
    workdir = tempfile.mkdtemp(prefix="ocfkit-demo-")
    logdir = os.path.join(workdir, "logs")
    os.makedirs(logdir)
    nodes = {n: Node(n, prefix, workdir, provider) for n in NODES}
    namespaces: list[str] = []
    loop = ""
    client: Client | None = None
    active: Node | None = None
    summary: dict = {"failovers": [], "logs": logdir, "lun_stand_in": "a loop-backed file shared by both nodes "
                     "(in place of DRBD, which needs a kernel module)"}
    group: list = []

    def call_on(node: Node):
        return node.agent

    def progress(phase: str, until: float) -> None:
        while time.monotonic() < until:
            if client is not None:
                msg = f"{phase:<38} | client {client.rate():5.2f} MiB/s | writes {len(client.acks):6d}"
                stall = client.stall_now()
                if stall > 0.5:
                    msg += f" | STALLED {stall:4.1f}s"
                if tty:
                    out.write(f"\r\033[K[{time.monotonic() - t_start:6.1f}s] {msg}")
                    out.flush()
                elif int(time.monotonic() * 2) % 2 == 0:
                    say(msg)
            if active is not None and group:
                active.agent(group[-1], "monitor")  # the unblock side saves the connection list
            time.sleep(0.5)

    old_int = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        say("building: bridge, node1, node2 and client namespaces; LUN file; config volume on a loop device")
        for n in ("br", "node1", "node2", "client"):
            _run(["ip", "netns", "add", f"{prefix}-{n}"])
            namespaces.append(f"{prefix}-{n}")
            _run(["ip", "-n", f"{prefix}-{n}", "link", "set", "lo", "up"])
        br = f"{prefix}-br"
        _run(["ip", "-n", br, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", br, "link", "set", "br0", "up"])
        for i, (n, ip) in enumerate([*NODES.items(), ("client", CLIENT_IP)]):
            a, b = f"{prefix[:9]}a{i}", f"{prefix[:9]}b{i}"
            _run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
            _run(["ip", "link", "set", a, "netns", f"{prefix}-{n}", "name", "eth0"])
            _run(["ip", "link", "set", b, "netns", br, "name", f"p{i}"])
            _run(["ip", "-n", br, "link", "set", f"p{i}", "master", "br0", "up"])
            _run(["ip", "-n", f"{prefix}-{n}", "link", "set", "eth0", "up"])
            _run(["ip", "-n", f"{prefix}-{n}", "addr", "add", f"{ip}/24", "dev", "eth0"])
        lun = os.path.join(workdir, "lun.img")
        with open(lun, "wb") as f:
            f.truncate(64 * 1024 * 1024)
        cfg = os.path.join(workdir, "config.img")
        with open(cfg, "wb") as f:
            f.truncate(16 * 1024 * 1024)
        _run(["mkfs.ext4", "-q", "-F", "-L", "iscsi-config", cfg])
        loop = _run(["losetup", "--find", "--show", cfg]).stdout.strip()
        for n, node in nodes.items():
            node.start(NODES[n])
        mnt = os.path.join(workdir, "config")
        os.makedirs(mnt)
        group = [
            Resource("Filesystem", {"device": loop, "directory": mnt, "fstype": "ext4"}, instance="config_fs"),
            Resource("IPaddr2", {"ip": VIP, "cidr_netmask": "24", "nic": "eth0"}, instance="vip"),
            Resource("portblock", {"protocol": "tcp", "portno": "3260", "action": "block", "ip": VIP},
                     instance="portblock_block"),
            Resource("iSCSITarget", {"implementation": "tgt", "iqn": IQN, "tid": "1"}, instance="iscsi_target"),
            Resource("iSCSILogicalUnit", {"implementation": "tgt", "target_iqn": IQN, "lun": "1", "path": lun},
                     instance="iscsi_lun_filer"),
            Resource("portblock", {"protocol": "tcp", "portno": "3260", "action": "unblock", "ip": VIP,
                                   "tickle_dir": mnt}, instance="portblock_unblock"),
        ]
        say("node1 takes over the group: " + " -> ".join(r.agent + ("(" + r.params["action"] + ")"
                                                                     if r.agent == "portblock" else "") for r in group))
        takeover(group, call_on(nodes["node1"]))
        active = nodes["node1"]
        total = steady * 4 + 60
        client = Client(f"{prefix}-client", total, logdir)
        progress("steady on node1", time.monotonic() + steady)

        def failover(kind: str, src: Node, dst: Node) -> None:
            nonlocal active
            t0 = time.monotonic()
            say(f"{kind}: {src.name} -> {dst.name}")
            if kind == "crash":
                src.crash()
                say(f"{src.name} crashed (tgtd killed -9, link down); declared dead at once (no membership layer "
                    "here); takeover starts")
                t_dead = time.monotonic()
            else:
                release(group, call_on(src))
                t_dead = time.monotonic()
            events = takeover(group, call_on(dst))
            t1 = time.monotonic()
            active = dst
            progress(f"steady on {dst.name}", time.monotonic() + steady)
            stall = client.max_gap(t0, t1)
            summary["failovers"].append({
                "kind": kind, "from": src.name, "to": dst.name, "release_s": round(t_dead - t0, 3),
                "takeover_s": round(t1 - t_dead, 3), "client_stall_s": round(stall, 3),
                "steps": [f"{e.action} {e.resource.instance} rc={e.rc} {e.seconds:.2f}s" for e in events
                          if e.action == "start"]})
            say(f"{kind} done: release {t_dead - t0:.2f}s, takeover {t1 - t_dead:.2f}s, client stalled {stall:.2f}s")

        failover("planned switchover", nodes["node1"], nodes["node2"])
        failover("planned switchover", nodes["node2"], nodes["node1"])
        failover("crash", nodes["node1"], nodes["node2"])
        say("stopping the client; reading back every acknowledged write")
        client.finish()
        verdict = client.verify[-1] if client.verify else "VERIFY missing"
        words = verdict.split()
        summary.update(writes_acknowledged=len(client.acks), write_errors_seen=client.errors,
                       verified=words[1] == "ok" if len(words) > 1 else False,
                       slots_verified=int(words[2]) if len(words) > 2 and words[2].isdigit() else 0,
                       lost_acknowledged_writes=sum(1 for v in client.verify if v.startswith("VERIFY bad")))
        release(group, call_on(active))
        active = None
    finally:
        signal.signal(signal.SIGINT, old_int)
        if client is not None and client.proc.poll() is None:
            client.proc.kill()
            client.proc.wait()
        if active is not None and group:
            try:
                release(group, call_on(active), retries=1)
            except Exception:  # noqa: BLE001 - best effort: the namespaces go next anyway
                pass
        for node in nodes.values():
            node.stop()
        for ns in namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        if loop:
            subprocess.run(["losetup", "-d", loop], capture_output=True, check=False)
        for name in os.listdir(workdir):
            if name != "logs":
                p = os.path.join(workdir, name)
                shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else os.unlink(p)
        if not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
    summary["seconds"] = round(time.monotonic() - t_start, 1)
    return summary


def print_summary(s: dict) -> None:
    """A human summary."""
    print("\n== summary")
    for f in s["failovers"]:
        print(f"  {f['kind']:<20} {f['from']} -> {f['to']}: client stalled {f['client_stall_s']:.2f}s "
              f"(release {f['release_s']:.2f}s, takeover {f['takeover_s']:.2f}s)")
    print(f"  writes acknowledged: {s['writes_acknowledged']}, errors seen by the client: {s['write_errors_seen']}")
    print(f"  data verified: {'yes' if s['verified'] else 'NO'} ({s['slots_verified']} chunks read back, "
          f"{s['lost_acknowledged_writes']} acknowledged writes lost)")
    print(f"  the LUN was {s['lun_stand_in']}")
    print(f"  logs: {s['logs']}")


def main(args) -> int:
    """The `ocfkit demo` subcommand."""
    try:
        s = run_demo(provider=args.provider, steady=args.steady, as_json=args.json)
    except KeyboardInterrupt:
        print("\ninterrupted: everything the demo created was removed", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        print_summary(s)
    return 0 if s.get("verified") and not s.get("lost_acknowledged_writes") else 1
