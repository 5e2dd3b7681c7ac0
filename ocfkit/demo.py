"""`ocfkit demo`: the reference HA iSCSI SAN failing over between two real cluster nodes on one machine.

Each node is a namespace node of ocfkit's lab (``ocfkit.lab``: its own PID, mount, UTS, IPC and
network namespaces, private /run, /dev/shm, /var/lib/pacemaker, /var/lib/heartbeat, logs) running the
real corosync and Pacemaker, or heartbeat 3.0.6 with ``--manager heartbeat``. The cluster is
configured only from ``ocfkit generate``'s output for ``examples/demo.toml``: corosync.conf and
cib.xml (or ha.cf, authkeys, haresources), targets.conf on the configuration volume. Fencing is real:
``fence_ocfkit_netns`` asks the lab's power switch to power a node off and on.

One loop device (the configuration volume) and one file (the LUN) are seen by both nodes: they stand
in for DRBD, which needs a kernel module this machine does not have. A client on the LAN writes a
checksummed stream through the VIP while the demo moves the group: a planned switchover and a
switchback with the cluster's own command, then a crash of node1 (every process killed at once, its
links cut); the cluster notices, fences node1 and starts the group on node2; node1 boots again and
rejoins, and the group stays on node2. At the end every acknowledged write is read back and checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

from ocfkit.lab.node import LabError
from ocfkit.lab.timeline import Progress

IQN = "iqn.2024-01.demo.ocfkit:lun.filer"
VIP = "10.98.0.100"
RETRY_EVERY = 0.25  # the client's login retry (seconds); open-iscsi waits for TCP's SYN retransmission (1 s)
PLACEHOLDER = "/srv/ocfkit-demo"  # examples/demo.toml's paths; the demo puts its working directory there
LUN_STAND_IN = ("a loop device (the configuration volume) and a file (the LUN) that both nodes see, in place of "
                "DRBD, which needs a kernel module this machine does not have")


# What the last run could not remove (said on stderr; the demo then does not claim a clean exit).
LEFTOVERS: list[str] = []


class DemoError(Exception):
    """The demo cannot continue; the message says why."""


def _run(argv: list[str], *, timeout: float = 30, check: bool = True, env: dict | None = None):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    if check and r.returncode != 0:
        raise DemoError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


class Client:
    """The iSCSI client process in its namespace, and what it reported."""

    def __init__(self, ns: str, seconds: float, logdir: str) -> None:
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_client.py")
        # --retry-every: a login attempt unanswered for 0.25 s is given up and tried again (docs/demo.md).
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-I", script, "--retry-every",
                                      str(RETRY_EVERY), f"{VIP}:3260", IQN, "1", str(seconds)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(logdir, "client.log"), "w"),  # noqa: SIM115
                                     text=True)
        self.t0 = time.time()
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
                    self.acks.append(time.time())
                elif words[0] == "ERR":
                    self.errors += 1
                elif words[0] == "VERIFY":
                    self.verify.append(line.strip())

    def stall_now(self) -> float:
        with self.lock:
            last = self.acks[-1] if self.acks else self.t0
        return time.time() - last

    def rate(self, window: float = 1.0) -> float:
        import bisect

        now = time.time()
        with self.lock:
            n = len(self.acks) - bisect.bisect_left(self.acks, now - window)
        return n * 64 / 1024 / window  # 64 KiB per write, in MiB/s

    def max_gap(self, start: float, end: float) -> float:
        """The longest time without an acknowledged write that overlaps [start, end]."""
        a, b = self.stall_window(start, end)
        return b - a

    def stall_window(self, start: float, end: float) -> tuple[float, float]:
        """(last acknowledged write before, first after) of the longest gap overlapping [start, end]."""
        with self.lock:
            times = list(self.acks)
        before = [t for t in times if t <= start]
        points = ([before[-1]] if before else [start]) + [t for t in times if start < t <= end]
        after = [t for t in times if t > end]
        points.append(after[0] if after else time.time())  # no write since: the stall still runs
        return max(zip(points, points[1:]), key=lambda ab: ab[1] - ab[0], default=(start, end))

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


def _example() -> str:
    """examples/demo.toml: beside the package in a source tree (an editable install), in the venv's
    share/ocfkit (scripts/setup.sh's install: pip does not carry examples/ into site-packages), or
    installed with the documentation (the Debian package)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for path in (os.path.join(here, "examples", "demo.toml"),
                 os.path.join(sys.prefix, "share", "ocfkit", "examples", "demo.toml"),
                 "/usr/share/doc/ocfkit/examples/demo.toml"):
        if os.path.isfile(path):
            return path
    raise DemoError("examples/demo.toml not found (the demo's cluster description)")


def describe(workdir: str, provider: str) -> str:
    """The demo's description: examples/demo.toml with the working directory in place of /srv/ocfkit-demo
    and the provider of the installed agents. Returns the path of the derived description."""
    with open(_example(), encoding="utf-8") as f:
        text = f.read(1 << 20)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", provider):
        raise DemoError(f"provider {provider!r}: letters, digits, '_', '.', '-'")
    text = text.replace(PLACEHOLDER, workdir)
    text = re.sub(r'(?m)^provider = "[^"]*"', f'provider = "{provider}"', text)
    text = re.sub(r'(?m)^auth_key = "[^"]*"', f'auth_key = "{os.urandom(20).hex()}"', text)
    path = os.path.join(workdir, "demo.toml")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)  # it holds the key
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def generate(description: str, out: str) -> str:
    """`ocfkit generate DESCRIPTION --out DIR` (the real command); returns what it printed."""
    r = _run([sys.executable, "-m", "ocfkit", "generate", description, "--out", out], timeout=120)
    return r.stdout + r.stderr


def groups_of(cib_xml: str) -> list[tuple[str, list[str]]]:
    """(group id, member ids in start order) of each group of a CIB, in document order."""
    root = ET.fromstring(cib_xml)
    return [(g.get("id", ""), [p.get("id", "") for p in g.findall("primitive")]) for g in root.iter("group")]


class Pacemaker:
    """The demo's view of and commands to a corosync + Pacemaker lab cluster."""

    name = "pacemaker"

    def __init__(self, lab, gen: str) -> None:
        from ocfkit.lab.pacemaker import configure

        self.lab, self.gen = lab, gen
        with open(os.path.join(gen, "cib.xml"), encoding="utf-8") as f:
            cib = f.read(1 << 20)
        self.groups = groups_of(cib)
        self.members = [m for _, ms in self.groups for m in ms]
        self._configure = lambda node: configure(node, ET.tostring(ET.fromstring(cib).find("configuration"),
                                                                   encoding="unicode"), lab.dir)

    @staticmethod
    def describe_stack() -> str:
        return "corosync with the generated corosync.conf, then pacemakerd"

    def prepare(self) -> None:
        """Nothing before boot: the configuration is loaded once both nodes are online."""

    def mark_crash(self, name: str) -> None:
        """Nothing: detection comes from corosync's log."""

    def rejoined(self, name: str) -> bool:
        v = self.observe()
        return v is not None and name in v.online

    def configure(self) -> None:
        """Load the generated cib.xml's configuration inside node1 (cibadmin --replace), keeping the
        lab's dc-deadtime (a rebooted node would otherwise wait Pacemaker's default 20 s for a DC)."""
        from ocfkit.lab.lab import DC_DEADTIME

        # Only into a formed cluster: a replace made before the DC has synced the nodes' CIBs at the join
        # is overwritten by the DC's own (empty) one, and nothing ever starts (seen on a loaded machine).
        deadline = time.monotonic() + 60
        while True:
            v = self.observe()
            if v is not None and v.dc and v.online >= {"node1", "node2"}:
                break
            if time.monotonic() > deadline:
                raise DemoError("the cluster did not form in 60 s: " + (self.status() if v else "no answer"))
            time.sleep(0.2)
        n1 = self.lab.node("node1")
        self._configure(n1)
        n1.run(["crm_attribute", "--type", "crm_config", "--name", "dc-deadtime", "--update", DC_DEADTIME])

    def observe(self):
        """(online nodes, dc, {resource: node}, unclean nodes) from crm_mon inside a running node."""
        from ocfkit.lab.pacemaker import view

        for name in ("node2", "node1"):
            node = self.lab.node(name)
            if node.running:
                v = view(node, timeout=10)
                if v.ok:
                    return v
        return None

    def where(self) -> str:
        """The node running every member of every group, '' when they are not all on one node."""
        v = self.observe()
        if v is None:
            return ""
        nodes = {v.placement.get(m, "") for m in self.members}
        return nodes.pop() if len(nodes) == 1 else ""

    def status(self) -> str:
        v = self.observe()
        if v is None:
            return "cluster: no answer"
        on = {}
        for m in self.members:
            on.setdefault(v.placement.get(m, "stopped"), []).append(m)
        where = " ".join(f"{n}:{len(ms)}/{len(self.members)}" for n, ms in sorted(on.items()))
        fence = ""
        if v.fencing:
            e = max(v.fencing, key=lambda e: e.get("completed", "") or "~")  # a pending one sorts last
            fence = f" | fencing {e.get('action', '?')} {e.get('target', '?')}: {e.get('status', '?')}"
        return (f"online {','.join(sorted(v.online)) or '-'} | DC {v.dc or '-'}"
                + (f" | UNCLEAN {','.join(sorted(v.unclean))}" if v.unclean else "") + fence
                + f" | resources {where}")

    def move(self, src: str, dst: str) -> list[list[str]]:
        """The planned switchover, the cluster's own way: crm_resource --move of the first group (the
        configuration volume; the service group is colocated with it and follows), then --clear once
        it runs on dst (with stickiness it stays there)."""
        first = self.groups[0][0]
        return [["crm_resource", "--move", "--resource", first, "--node", dst],
                ["crm_resource", "--clear", "--resource", first]]

    def _ours(self, ops: dict[str, float]) -> dict[str, float]:
        """The group's members (ocfkit's agents) in start order; the fence device is not ocfkit's."""
        return {m: ops[m] for m in self.members if m in ops}

    def switchover_breakdown(self, src: str, dst: str, t0: float, t1: float) -> dict:
        from ocfkit.lab.timeline import durations, events, metadata_intervals, operation_intervals, switchover

        evts = sorted(events(self.lab.node(src).dir, t0 - 1) + events(self.lab.node(dst).dir, t0 - 1))
        phases = switchover(evts, self.members, src, dst, t0)
        stops = self._ours(operation_intervals(evts, "stop", src, t0 - 0.001, t1 + 1))
        starts = self._ours(operation_intervals(evts, "start", dst, t0 - 0.001, t1 + 1))
        meta = self._ours(metadata_intervals(evts, dst, t0 - 0.001, t1 + 1))
        out = {"phases_s": phases, "agents_stop_s": durations(stops), "agents_start_s": durations(starts),
               "agents_metadata_s": durations(meta)}
        out["ocfkit_s"] = round(sum(sum(out[k].values()) for k in ("agents_stop_s", "agents_start_s",
                                                                   "agents_metadata_s")), 3)
        out["_intervals"] = [*stops.values(), *starts.values(), *meta.values()]
        return out

    def crash_breakdown(self, crashed: str, survivor: str, t_crash: float, t1: float) -> dict:
        from ocfkit.lab.pacemaker import fence_history
        from ocfkit.lab.timeline import durations, events, failover, metadata_intervals, operation_intervals

        evts = events(self.lab.node(survivor).dir, t_crash - 1)
        phases = failover(evts, crashed, survivor, self.members[-1], t_crash)
        start_times = self._ours(operation_intervals(evts, "start", survivor, t_crash, t1 + 1))
        meta_times = self._ours(metadata_intervals(evts, survivor, t_crash, t1 + 1))
        starts, meta = durations(start_times), durations(meta_times)
        history = [e for e in fence_history(self.lab.node(survivor), crashed)]
        done = [e for e in history if e.get("status") == "success"]
        fence = done[-1] if done else (history[-1] if history else {})
        return {"detection_s": phases["membership"], "token_lost_s": phases["token_lost"],
                "decision_s": phases["decision"], "fencing_s": phases["fencing"],
                "resources_s": phases["resources"], "cluster_total_s": phases["total"],
                "fence_event": {k: fence.get(k, "") for k in ("action", "target", "delegate", "status",
                                                              "completed")},
                "agents_start_s": starts, "agents_metadata_s": meta,
                "ocfkit_s": round(sum(starts.values()) + sum(meta.values()), 3),
                "_intervals": [*start_times.values(), *meta_times.values()]}


class Heartbeat:
    """The demo's view of and commands to a heartbeat 3.0.6 (R1, haresources) lab cluster.

    heartbeat has no per-resource status: cl_status gives membership (nodestatus) and what a node holds
    (rscstatus: all, local, foreign, none, transition); the demo also looks at the group's effects in
    each node (the config volume mounted, the VIP on eth0, tgtd running). heartbeat logs whole seconds,
    so its phases are timed by polling cl_status every 0.2 s and from the power switch's log (ms)."""

    name = "heartbeat"
    PARTS = ("mount", "vip", "tgtd")

    def __init__(self, lab, gen: str) -> None:
        self.lab, self.gen = lab, gen
        with open(os.path.join(gen, "haresources"), encoding="utf-8") as f:
            lines = [ln.split() for ln in f.read(1 << 20).splitlines() if ln.strip() and not ln.startswith("#")]
        self.members = [tok for words in lines for tok in words[1:]]
        fs = next(t for t in self.members if t.startswith("Filesystem::"))
        self.mountpoint = fs.split("::")[2]
        vip = next(t for t in self.members if t.startswith("IPaddr2::"))
        self.vip = vip.split("::")[1].split("/")[0]
        self.dead_at: dict[str, float] = {}

    @staticmethod
    def describe_stack() -> str:
        return "heartbeat 3.0.6 with the generated ha.cf, authkeys and haresources"

    def prepare(self) -> None:
        """The generated README's step for tgt under heartbeat: each node's /etc/tgt/targets.conf is a
        symlink to the targets.conf on the configuration volume (the bare iscsitarget reads it)."""
        for node in self.lab.nodes.values():
            link = os.path.join(node.dir, "etc-tgt", "targets.conf")
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(os.path.join(self.mountpoint, "targets.conf"), link)

    def configure(self) -> None:
        """Nothing more: heartbeat read ha.cf, authkeys and haresources when it started."""

    def cl_status(self, node: str, *args: str) -> str:
        n = self.lab.node(node)
        if not n.running:
            return "off"
        try:
            r = n.run(["cl_status", *args], check=False, timeout=10)
        except LabError:  # powered off or booting (heartbeat's reset runs in the power switch's thread)
            return "off"
        return r.stdout.strip() or "?"  # `nodestatus` of a dead node prints "dead" and exits 1

    def held(self, node: str) -> set[str]:
        """What of the group a node holds, by its effects inside the node."""
        n = self.lab.node(node)
        if not n.running or not n.init_pid:
            return set()
        out = set()
        try:
            with open(f"/proc/{n.init_pid}/mounts", encoding="utf-8") as f:
                if any(line.split()[1] == self.mountpoint for line in f if len(line.split()) > 1):
                    out.add("mount")
        except OSError:
            return set()
        try:
            if f" {self.vip}/" in n.run(["ip", "-o", "-4", "addr", "show", "dev", "eth0"], check=False).stdout:
                out.add("vip")
        except LabError:  # powered off meanwhile
            return set()
        for pid in n.processes():
            try:
                with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
                    if f.read().strip() == "tgtd":
                        out.add("tgtd")
                        break
            except OSError:
                continue
        return out

    def _members_status(self) -> dict[str, str]:
        now = time.time()
        st = {}
        for name in ("node1", "node2"):
            peer = "node2" if name == "node1" else "node1"
            st[name] = self.cl_status(peer, "nodestatus", name) if self.lab.node(peer).running else "?"
            if st[name] == "dead" and name not in self.dead_at:
                self.dead_at[name] = now
        return st

    def where(self) -> str:
        for name, other in (("node1", "node2"), ("node2", "node1")):
            if (self.held(name) == set(self.PARTS) and not self.held(other)
                    and self.cl_status(name, "rscstatus") in ("all", "local", "foreign")):
                return name
        return ""

    def rejoined(self, name: str) -> bool:
        return self._members_status().get(name) == "active"

    def status(self) -> str:
        members = self._members_status()
        rsc = {n: self.cl_status(n, "rscstatus") for n in ("node1", "node2")}
        holds = " ".join(f"{n}:{','.join(sorted(self.held(n))) or '-'}" for n in ("node1", "node2"))
        return (" ".join(f"{n} {s}" for n, s in members.items()) + " | rscstatus "
                + " ".join(f"{n}:{s}" for n, s in rsc.items()) + f" | holds {holds}")

    def move(self, src: str, dst: str) -> list[list[str]]:
        """hb_standby on the node that holds the group: it releases all and the peer takes over."""
        return [["/usr/share/heartbeat/hb_standby", "all"]]

    def _calls(self, node: str, start: float, end: float) -> list[tuple[float, float, int, str]]:
        """The resource.d calls a node made (the lab's timing shim, ms) that started within [start, end]."""
        from ocfkit.lab.lab import actions

        return [c for c in actions(self.lab.node(node).dir) if start <= c[0] <= end]

    @staticmethod
    def _agents(calls: dict[str, list]) -> dict:
        """The agents' share: each call (node, wrapper arguments and action, seconds), their sum."""
        rows = [[node, what, round(b - a, 3)] for node, cs in calls.items() for a, b, _rc, what in cs]
        return {"agents_calls": rows, "ocfkit_s": round(sum(r[2] for r in rows), 3),
                "_intervals": [(a, b) for cs in calls.values() for a, b, _rc, _what in cs]}

    def switchover_breakdown(self, src: str, dst: str, t0: float, t1: float) -> dict:
        """From the timing shim's log (ms): request (hb_standby -> the first call on the source), release
        (its stops, in reverse order), handover (-> the first call on the target), acquire (each
        member's status and start, in order), seen (-> the demo saw the group on the target)."""
        rel, acq = self._calls(src, t0 - 0.001, t1 + 1), self._calls(dst, t0 - 0.001, t1 + 1)

        def span(a, b):
            return None if a is None or b is None else round(b - a, 3)

        r0, r1 = (rel[0][0], max(c[1] for c in rel)) if rel else (None, None)
        a0, a1 = (acq[0][0], max(c[1] for c in acq)) if acq else (None, None)
        phases = {"request": span(t0, r0), "release": span(r0, r1), "handover": span(r1, a0),
                  "acquire": span(a0, a1), "seen": span(a1, t1), "total": span(t0, a1)}
        return {"phases_s": phases, **self._agents({src: rel, dst: acq})}

    def mark_crash(self, name: str) -> None:
        self.dead_at.pop(name, None)

    def crash_breakdown(self, crashed: str, survivor: str, t_crash: float, t1: float) -> dict:
        power = []
        try:
            with open(self.lab.power_log, encoding="utf-8") as f:
                for line in f.read(1 << 20).splitlines():
                    t, _, what = line.partition(" ")
                    try:
                        power.append((float(t), what))
                    except ValueError:
                        continue
        except OSError:
            pass
        t_off = next((t for t, w in power if w == f"off {crashed} requested" and t > t_crash), None)
        t_off_done = next((t for t, w in power if w == f"off {crashed} done" and t > t_crash), None)
        t_on = next((t for t, w in power if w == f"on {crashed} done" and t > t_crash), None)
        try:
            with open(os.path.join(self.lab.node(survivor).dir, "var-log", "heartbeat", "ha.log"),
                      encoding="utf-8", errors="replace") as f:
                log = f.read(64 << 20)
        except OSError:
            log = ""
        reset = f"node {crashed} now reset" in log
        dead = self.dead_at.get(crashed)

        def span(a, b):
            return None if a is None or b is None else round(b - a, 3)

        fenced = t_on or t_off_done
        calls = self._calls(survivor, t_crash, t1 + 1)
        c0, c1 = (calls[0][0], max(c[1] for c in calls)) if calls else (None, None)
        return {"detection_s": span(t_crash, dead), "fencing_requested_s": span(t_crash, t_off),
                "fencing_s": span(t_off, fenced), "takeover_s": span(fenced, t1),
                "takeover_phases_s": {"before_agents": span(fenced, c0), "agents": span(c0, c1), "seen": span(c1, t1)},
                "cluster_total_s": span(t_crash, c1),
                "fence_event": {"action": "reset", "target": crashed, "delegate": survivor,
                                "status": "success" if reset else "not logged", "completed": ""},
                **self._agents({survivor: calls}), "_power_on": t_on,
                "note": "detection: when cl_status on the survivor first said dead (polled with the live view, "
                        "every 0.5 to 1 s: an upper bound; fencing_requested_s, from the power switch's log, bounds "
                        "it too); fencing: the power switch's log, off requested -> on done (a reset); takeover: "
                        "fenced -> the group seen on the survivor: heartbeat's mach_down and ResourceManager "
                        "(before_agents and between the calls) and ocfkit's agents (each resource.d call timed "
                        "by the lab's shim: agents_calls)"}


def host_refusal() -> str:
    """One line when this host runs a cluster of its own (the demo must not start next to it)."""
    from ocfkit.lab.lab import host_cluster

    running = host_cluster()
    return f"this host runs a cluster of its own ({running}): the demo refuses to start next to it" if running else ""


def run_demo(*, provider: str = "ocfkit", steady: float = 4.0, as_json: bool = False, keep_logs: bool = True,
             manager: str = "pacemaker") -> dict:
    """Build the two-node cluster, run the events, clean up; return the summary."""
    from ocfkit.lab import Lab

    if os.geteuid() != 0:
        raise DemoError("the demo needs root (namespaces, loop devices, mounts)")
    if manager not in MANAGERS:
        raise DemoError(f"--manager {manager}: one of {', '.join(MANAGERS)}")
    tools = ["tgtd", "tgtadm", "nsenter", "unshare", "setpriv", "losetup", "mkfs.ext4"]
    tools += ["corosync", "pacemakerd", "crm_mon", "crm_resource"] if manager == "pacemaker" else ["cl_status"]
    for tool in tools:
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            raise DemoError(f"{tool} is not installed (run scripts/setup.sh)")
    if manager == "heartbeat":
        for path in ("/usr/libexec/heartbeat/heartbeat", "/usr/share/heartbeat/hb_standby"):
            if not os.access(path, os.X_OK):
                raise DemoError(f"{path} is not installed (Debian's heartbeat package)")
    for agent in ("Filesystem", "IPaddr2", "portblock", "iscsitarget"):
        if not os.access(f"/usr/lib/ocf/resource.d/{provider}/{agent}", os.X_OK):
            raise DemoError(f"ocf:{provider}:{agent} is not installed (ocfkit install)")
    refusal = host_refusal()
    if refusal:
        raise DemoError(refusal)
    say = Progress(sys.stderr if as_json else sys.stdout)

    LEFTOVERS.clear()
    prefix = f"ocfkd{os.getpid() % 100000}"
    workdir = tempfile.mkdtemp(prefix="ocfkit-demo-")
    os.chmod(workdir, 0o755)
    logdir = os.path.join(workdir, "logs")
    gen = os.path.join(workdir, "generated")
    os.makedirs(logdir)
    loop = ""
    client: Client | None = None
    lab = None
    summary: dict = {"manager": manager, "failovers": [], "logs": logdir, "lun_stand_in": LUN_STAND_IN}

    old_int = signal.getsignal(signal.SIGINT)
    old_term = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        say(f"working directory {workdir} (the generated files and the logs stay there)")
        say(f"generating the cluster's files from examples/demo.toml (ocfkit generate, manager {manager})")
        desc = describe(workdir, provider)
        notes = generate(desc, gen)
        with open(os.path.join(logdir, "generate.txt"), "w", encoding="utf-8") as f:
            f.write(notes)
        summary.update(description=desc, generated=gen)
        say("shared storage: " + LUN_STAND_IN)
        with open(os.path.join(workdir, "lun.img"), "wb") as f:
            f.truncate(64 * 1024 * 1024)
        seed = os.path.join(workdir, "config-seed")
        os.makedirs(seed)
        shutil.copy(os.path.join(gen, "targets.conf"), os.path.join(seed, "targets.conf"))
        cfg = os.path.join(workdir, "config.img")
        with open(cfg, "wb") as f:
            f.truncate(16 * 1024 * 1024)
        # targets.conf goes on the configuration volume, as the generated README says.
        _run(["mkfs.ext4", "-q", "-F", "-L", "iscsi-config", "-d", seed, cfg])
        loop = _run(["losetup", "--find", "--show", cfg]).stdout.strip()
        os.symlink(loop, os.path.join(workdir, "config.disk"))
        os.makedirs(os.path.join(workdir, "config"))

        lab = Lab(os.path.join(workdir, "lab"), prefix=prefix, manager=manager, provider=provider, generated=gen,
                  timed_wrappers=manager == "heartbeat")
        lab.open()
        cluster = MANAGERS[manager](lab, gen)
        cluster.prepare()
        say(f"booting node1 and node2 ({cluster.describe_stack()})")
        lab.boot_all(timeout=60)
        cluster.configure()
        say("configuration loaded; waiting for the group on node1: " + " -> ".join(cluster.members))
        _wait(lambda: cluster.where() == "node1", 90, "the group to start on node1", cluster)
        say("steady on node1 soon: " + cluster.status())
        client_ns = lab.add_client("client")
        client = Client(client_ns, steady * 6 + 120, logdir)

        def progress(phase: str, until: float, stop=None) -> float | None:
            """Show the cluster's view and the client until `until` (or until stop() is true: returns when)."""
            while time.monotonic() < until:
                if stop is not None and stop():
                    return time.time()
                msg = f"{phase:<22} | {cluster.status()}"
                if client is not None:
                    msg += f" | client {client.rate():5.2f} MiB/s, {len(client.acks)} writes"
                    stall = client.stall_now()
                    if stall > 0.5:
                        msg += f" | STALLED {stall:4.1f}s"
                say.live(msg)
                time.sleep(0.2)
            return None

        _wait(lambda: client.acks, 30, "the client's first acknowledged write", cluster)
        progress("steady on node1", time.monotonic() + steady)

        def switchover(src: str, dst: str) -> None:
            say(f"planned switchover {src} -> {dst}: " + " ; ".join(" ".join(c) for c in cluster.move(src, dst)))
            t0 = time.time()
            commands = cluster.move(src, dst)
            lab.node(src).run(commands[0], timeout=60)
            t1 = progress(f"moving to {dst}", time.monotonic() + 60, lambda: cluster.where() == dst)
            if t1 is None:
                raise DemoError(f"the group did not move to {dst} in 60 s: {cluster.status()}")
            for cmd in commands[1:]:
                lab.node(dst).run(cmd, timeout=60)
            _resumed(client, t1, progress, f"resuming on {dst}")
            stall = client.max_gap(t0, t1)
            entry = {"kind": "planned switchover", "from": src, "to": dst, "command": commands,
                     "client_stall_s": round(stall, 3), "cluster_s": round(t1 - t0, 3)}
            entry.update(cluster.switchover_breakdown(src, dst, t0, t1))
            _share_in_stall(entry, client.stall_window(t0, t1))
            total = (entry.get("phases_s") or {}).get("total")
            if total is not None:
                entry["client_after_cluster_s"] = _client_after(client, t0 + total)
            summary["failovers"].append(entry)
            say(f"switchover done: the group runs on {dst} after {t1 - t0:.2f}s, client stalled {stall:.2f}s, "
                f"ocfkit's agents {_fmt(entry['ocfkit_s'])}")
            progress(f"steady on {dst}", time.monotonic() + steady)

        switchover("node1", "node2")
        switchover("node2", "node1")

        say("crash: node1 loses power (every process of its namespaces killed at once, its links cut); "
            "the cluster is not told")
        cluster.mark_crash("node1")
        t_crash = lab.crash("node1")
        t1 = progress("node1 crashed", time.monotonic() + 90, lambda: cluster.where() == "node2")
        if t1 is None:
            raise DemoError(f"node2 did not take over in 90 s: {cluster.status()}")
        _resumed(client, t1, progress, "resuming on node2")
        stall = client.max_gap(t_crash, t1)
        entry = {"kind": "crash", "from": "node1", "to": "node2", "client_stall_s": round(stall, 3),
                 "cluster_s": round(t1 - t_crash, 3)}
        entry.update(cluster.crash_breakdown("node1", "node2", t_crash, t1))
        _share_in_stall(entry, client.stall_window(t_crash, t1))
        if entry.get("cluster_total_s") is not None:
            entry["client_after_cluster_s"] = _client_after(client, t_crash + entry["cluster_total_s"])
        power_on = entry.pop("_power_on", None)
        summary["failovers"].append(entry)
        say(f"takeover done: client stalled {stall:.2f}s; detection {_fmt(entry['detection_s'])}, fencing "
            f"{_fmt(entry['fencing_s'])} ({entry['fence_event'].get('action')} of node1 by "
            f"{entry['fence_event'].get('delegate')}: {entry['fence_event'].get('status')}), ocfkit's agents "
            f"{_fmt(entry['ocfkit_s'])}")
        progress("steady on node2", time.monotonic() + steady)
        if lab.node("node1").running:
            say("node1 was reset by the fencing (off, then on): a fresh boot; its cluster stack starts and rejoins")
            t_on = power_on or t_crash
        else:
            say("node1 is powered on again (the lab's power switch, as an operator would): a fresh boot, its "
                "cluster stack starts and rejoins")
            t_on = time.time()
            lab.power_on("node1")
        t2 = progress("node1 coming back", time.monotonic() + 90, lambda: cluster.rejoined("node1"))
        if t2 is None:
            raise DemoError(f"node1 did not rejoin in 90 s: {cluster.status()}")
        progress("node1 back", time.monotonic() + min(steady, 3))
        stayed = cluster.where()
        summary["rejoin"] = {"node": "node1", "after_power_on_s": round(t2 - t_on, 3), "group_on": stayed}
        say(f"node1 rejoined {t2 - t_on:.2f}s after its power-on; the group stays on {stayed or '(split!)'}")
        say("stopping the client; reading back every acknowledged write")
        client.finish()
        verdict = client.verify[-1] if client.verify else "VERIFY missing"
        words = verdict.split()
        summary.update(writes_acknowledged=len(client.acks), write_errors_seen=client.errors,
                       verified=words[1] == "ok" if len(words) > 1 else False,
                       slots_verified=int(words[2]) if len(words) > 2 and words[2].isdigit() else 0,
                       lost_acknowledged_writes=sum(1 for v in client.verify if v.startswith("VERIFY bad")))
    except LabError as e:
        raise DemoError(str(e)) from None
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        if client is not None and client.proc.poll() is None:
            client.proc.kill()
            client.proc.wait()
        if lab is not None:
            try:
                lab.close()
            except LabError as e:  # reported, never a traceback: the rest is removed all the same
                LEFTOVERS.append(f"the lab: {e}")
            finally:
                _keep_node_logs(lab, logdir)
        if loop and not _detach(loop, os.path.join(workdir, "config.img")):
            LEFTOVERS.append(f"loop device {loop} (losetup -d {loop})")
        if LEFTOVERS:
            sys.stderr.write("ocfkit demo: could not remove: " + "; ".join(LEFTOVERS) + "\n")
        for name in os.listdir(workdir):
            if name not in ("logs", "generated", "demo.toml"):
                p = os.path.join(workdir, name)
                shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
        if not keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
    summary["seconds"] = round(say.elapsed(), 1)
    return summary


def _share_in_stall(entry: dict, window: tuple[float, float]) -> None:
    """ocfkit_in_stall_s: the seconds of the client's stall (its last acknowledged write before to its
    first after) during which one of ocfkit's agents ran (an action or a meta-data run; overlapping ones,
    such as the configuration group's beside the service group's, counted once): the agents' share of
    what the client felt, where ocfkit_s is the plain sum of every action."""
    from ocfkit.lab.timeline import covered

    intervals = entry.pop("_intervals", None)
    if intervals is not None:
        entry["ocfkit_in_stall_s"] = covered(intervals, *window)


def _client_after(client: Client, t: float) -> float | None:
    """Seconds from t (the cluster's last start: the port open again) to the client's next acknowledged
    write: its reconnect and login."""
    with client.lock:
        later = [a for a in client.acks if a > t]
    return round(later[0] - t, 3) if later else None


def _resumed(client: Client, t: float, progress, phase: str) -> None:
    """Show progress until the client has an acknowledged write after t (its stall is over), at most 30 s."""
    def again() -> bool:
        with client.lock:
            return bool(client.acks) and client.acks[-1] > t

    progress(phase, time.monotonic() + 30, again)


def _detach(loop: str, backing: str, timeout: float = 20) -> bool:
    """Detach the demo's loop device. The nodes' mount namespaces (where it was mounted) go away with
    their last process, but the kernel may release the mount a moment later: losetup -d is retried
    until the device no longer names the demo's file."""
    sysfs = f"/sys/block/{os.path.basename(loop)}/loop/backing_file"
    deadline = time.monotonic() + timeout
    while True:
        subprocess.run(["losetup", "-d", loop], capture_output=True, check=False)
        try:
            with open(sysfs, encoding="utf-8") as f:
                if f.read().strip().removesuffix(" (deleted)") != backing:
                    return True  # detached (and perhaps reused by someone else since)
        except OSError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def _fmt(v) -> str:
    return "?" if v is None else f"{v:.2f}s"


def _wait(predicate, timeout: float, what: str, cluster) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise DemoError(f"timed out ({timeout:g} s) waiting for {what}: {cluster.status()}")
        time.sleep(0.3)


def _keep_node_logs(lab, logdir: str) -> None:
    """Each node's logs (its /var/log) and the power switch's log go to the demo's log directory."""
    for name, node in lab.nodes.items():
        src = os.path.join(node.dir, "var-log")
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(logdir, name), dirs_exist_ok=True, symlinks=True)
    if os.path.exists(lab.power_log):
        shutil.copy(lab.power_log, os.path.join(logdir, "power.log"))


MANAGERS = {"pacemaker": Pacemaker, "heartbeat": Heartbeat}


def print_summary(s: dict) -> None:
    """A human summary."""
    print(f"\n== summary ({s['manager']})")
    labels = (("scheduling", "scheduling"), ("stop", "stop"), ("start", "start"), ("request", "request"),
              ("release", "release"), ("handover", "handover"), ("acquire", "acquire"), ("total", "in all"))
    for f in s["failovers"]:
        print(f"  {f['kind']:<19} {f['from']} -> {f['to']}: client stalled {f['client_stall_s']:.2f}s")
        if f["kind"] == "crash":
            fe = f.get("fence_event", {})
            parts = [f"detection {_fmt(f.get('detection_s'))}"]
            if "decision_s" in f:
                parts.append(f"decision {_fmt(f['decision_s'])}")
            parts.append(f"fencing {_fmt(f.get('fencing_s'))} ({fe.get('action', '?')} of {fe.get('target', '?')} by "
                         f"{fe.get('delegate', '?')}: {fe.get('status', '?')})")
            if "takeover_s" in f:
                tp = f.get("takeover_phases_s", {})
                parts.append(f"takeover {_fmt(f['takeover_s'])} (heartbeat's scripts {_fmt(tp.get('before_agents'))}, "
                             f"then the agents' calls {_fmt(tp.get('agents'))})")
            else:
                parts.append(f"resources {_fmt(f.get('resources_s'))}")
            print("      " + ", ".join(parts))
        else:
            ph = f.get("phases_s", {})
            parts = [f"{label} {_fmt(ph[k])}" for k, label in labels if ph.get(k) is not None]
            print("      " + ", ".join(parts))
        if f.get("ocfkit_s") is not None:
            print(f"      ocfkit's agents: {_fmt(f['ocfkit_s'])} summed over every action, "
                  f"{_fmt(f.get('ocfkit_in_stall_s'))} of the client's stall")
        if f.get("note"):
            print(f"      ({f['note']})")
    if "rejoin" in s:
        r = s["rejoin"]
        print(f"  {r['node']} rejoined {r['after_power_on_s']:.2f}s after its power-on; the group stayed on "
              f"{r['group_on']}")
    print(f"  writes acknowledged: {s['writes_acknowledged']}, errors seen by the client: {s['write_errors_seen']}")
    print(f"  data verified: {'yes' if s['verified'] else 'NO'} ({s['slots_verified']} chunks read back, "
          f"{s['lost_acknowledged_writes']} acknowledged writes lost)")
    print(f"  shared storage: {s['lun_stand_in']}")
    print(f"  generated files: {s.get('generated')}; logs: {s['logs']}")


def main(args) -> int:
    """The `ocfkit demo` subcommand."""
    if getattr(args, "guests", False):
        from ocfkit.lab.guests import heartbeat as hb_guests
        from ocfkit.lab.guests import scenario

        try:
            if getattr(args, "manager", "pacemaker") == "heartbeat":
                return hb_guests.main(args)
            return scenario.main(args)
        except scenario.DemoError as e:
            raise DemoError(str(e)) from None
    if args.steady is None:
        args.steady = 4.0
    try:
        s = run_demo(provider=args.provider, steady=args.steady, as_json=args.json,
                     manager=getattr(args, "manager", "pacemaker"))
    except KeyboardInterrupt:
        print("\ninterrupted: " + ("everything the demo created was removed" if not LEFTOVERS else
                                   "the rest of what the demo created was removed"), file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        print_summary(s)
    return 0 if s.get("verified") and not s.get("lost_acknowledged_writes") and not LEFTOVERS else 1
