"""Many LUNs on tgt: group takeover time and monitor CPU, ocfkit against the ClusterLabs agents.

Run as root: python3 -m bench.lun_scale [--luns 1,4,16,64] [--rounds N] [--reps N] [--json FILE].

One private tgtd (its own TGT_IPC_SOCKET prefix, its own network namespace, listening on that
namespace's loopback only) is started and stopped by its PID; the target (tid 1) and the LUNs
(sparse files) are the same for both implementations. Every agent action runs as pacemaker-execd
runs it: a new process per action with the OCF environment, spawned directly and waited for with
wait4, whose rusage covers the agent and every child it reaped (tgtadm, sed, grep...).

- takeover: start of the target and n LUNs in order, then stop of the n LUNs in reverse and the
  target, one implementation after the other (which one goes first alternates), --reps times after
  one warm-up each; wall time of the whole sequence, as the group's start/stop would take.
- monitor: one round = one monitor of each of the n+1 resources (interval 10 s in the environment);
  CPU seconds (user + sys) of the agents and, separately, of tgtd (answering the `--op show`
  requests); rounds alternate between the implementations; CPU per hour = round CPU * 360.

Everything created (namespace, tgtd, files) is removed at the end, also on failure or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

IQN = "iqn.2024-01.bench.ocfkit:lunscale"
THEIRS = "/usr/lib/ocf/resource.d/heartbeat"
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
ROUNDS_PER_HOUR = 360  # one monitor every 10 s


class Agents:
    """One implementation's two agents and the environments of the resources of a group of n LUNs."""

    def __init__(self, name: str, directory: str, provider: str, base: dict[str, str], paths: list[str]) -> None:
        self.name, self.dir, self.provider, self.base, self.paths = name, directory, provider, base, paths

    def env(self, kind: str, i: int, action: str) -> dict[str, str]:
        """The OCF environment pacemaker-execd gives resource i (0: the target, 1..n: LUN i)."""
        env = dict(self.base, OCF_RESOURCE_PROVIDER=self.provider, OCF_RESOURCE_TYPE=kind,
                   OCF_RESKEY_CRM_meta_interval="10000" if action == "monitor" else "0",
                   OCF_RESKEY_implementation="tgt")
        if kind == "iSCSITarget":
            env.update(OCF_RESOURCE_INSTANCE="tgt", OCF_RESKEY_iqn=IQN, OCF_RESKEY_tid="1")
        else:
            env.update(OCF_RESOURCE_INSTANCE=f"lun{i}", OCF_RESKEY_target_iqn=IQN, OCF_RESKEY_lun=str(i),
                       OCF_RESKEY_path=self.paths[i - 1])
        return env

    def action(self, i: int, action: str) -> tuple[list[str], dict[str, str]]:
        """argv and environment of one action of resource i."""
        kind = "iSCSITarget" if i == 0 else "iSCSILogicalUnit"
        return [f"{self.dir}/{kind}", action], self.env(kind, i, action)

    def steps(self, i: int, action: str) -> list[tuple[list[str], dict[str, str]]]:
        """The processes one action of resource i starts (here: the agent, once)."""
        return [self.action(i, action)]


class Floor(Agents):
    """No agent: the tgtadm commands an action needs, run directly (what neither agent can avoid)."""

    def steps(self, i: int, action: str) -> list[tuple[list[str], dict[str, str]]]:
        import hashlib

        t = ["/usr/sbin/tgtadm", "--lld", "iscsi"]
        if action == "monitor":
            cmds = [[*t, "--op", "show", "--mode", "target"]]
        elif i == 0:
            cmds = ([[*t, "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN],
                     [*t, "--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL"]] if action == "start"
                    else [[*t, "--op", "delete", "--mode", "target", "--tid", "1"]])
        elif action == "start":
            sn = hashlib.md5(f"lun{i}".encode()).hexdigest()[:8]
            lu = [*t, "--mode", "logicalunit", "--tid", "1", "--lun", str(i)]
            cmds = [[*lu, "--op", "new", "-b", self.paths[i - 1]],
                    [*lu, "--op", "update", "--params", f"scsi_id=lun{i},scsi_sn={sn}"]]
        else:
            cmds = [[*t, "--op", "delete", "--mode", "logicalunit", "--tid", "1", "--lun", str(i)]]
        return [(c, self.base) for c in cmds]


_running: list[int] = []  # the action in flight (its own process group), killed when the bench is stopped


def run_action(argv: list[str], env: dict[str, str], errlog: str, expect: int = 0) -> float:
    """Run one agent action as a new process; CPU seconds (user + sys) of it and its reaped children."""
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(errlog, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        pid = os.posix_spawn(argv[0], argv, env, setpgroup=0, file_actions=[
            (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, err, 2)])
        _running.append(pid)
        _, status, ru = os.wait4(pid, 0)
        _running.remove(pid)
    finally:
        os.close(null)
        os.close(err)
    rc = os.waitstatus_to_exitcode(status)
    if rc != expect:
        with open(errlog, encoding="utf-8", errors="replace") as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f"{' '.join(argv)} ({env.get('OCF_RESOURCE_INSTANCE')}): rc {rc}, expected {expect}\n{tail}")
    return ru.ru_utime + ru.ru_stime


def tgtd_cpu(pid: int) -> float:
    """CPU seconds tgtd's threads have run so far (schedstat: nanoseconds, not 10 ms ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def kill_running() -> None:
    """Kill the action interrupted by a failure or signal (a ClusterLabs stop would otherwise retry
    its delete once a second for ever once tgtd is gone), with its children, by its process group."""
    for pid in list(_running):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        _running.remove(pid)


class Tgtd:
    """A private tgtd in a namespace of its own; stopped by PID."""

    def __init__(self, d: str) -> None:
        self.ns = f"ocfk-b64-{os.getpid()}"
        self.sock = f"{d}/tgt/socket"
        self.proc: subprocess.Popen | None = None
        self.netns = False

    def start(self) -> None:
        subprocess.run(["ip", "netns", "add", self.ns], check=True, capture_output=True, timeout=30)
        self.netns = True
        subprocess.run(["ip", "-n", self.ns, "link", "set", "lo", "up"], check=True, capture_output=True, timeout=30)
        os.makedirs(os.path.dirname(self.sock))
        # ip netns exec execs tgtd in place: the PID is tgtd's.
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "tgtd", "-f", "--iscsi", "portal=127.0.0.1:3260"],
                                     env={"TGT_IPC_SOCKET": self.sock, "PATH": PATH},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock + ".0"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("tgtd did not come up")
            time.sleep(0.05)

    def tgtadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tgtadm", "--lld", "iscsi", *args], env={"TGT_IPC_SOCKET": self.sock, "PATH": PATH},
                              check=check, capture_output=True, text=True, timeout=60)

    def luns(self) -> int:
        """Logical units other than LUN 0 (the controller) that tgtd exports."""
        out = self.tgtadm("--op", "show", "--mode", "target").stdout
        return sum(1 for ln in out.splitlines() if ln.strip().startswith("Backing store path:")
                   and not ln.strip().endswith("None"))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            out = self.tgtadm("--op", "show", "--mode", "target", check=False).stdout
            for ln in out.splitlines():
                if ln.startswith("Target "):
                    self.tgtadm("--op", "delete", "--force", "--mode", "target", "--tid",
                                ln.split()[1].rstrip(":"), check=False)
            self.tgtadm("--op", "delete", "--mode", "system", check=False)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # by PID: the Popen's own process
                self.proc.wait()
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.ns], check=False, capture_output=True, timeout=30)
            self.netns = False


def tgtd_cpu_ticks(pid: int) -> float:
    """CPU seconds of the whole tgtd process, ended threads included (10 ms ticks: for long spans)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def takeover(agents: Agents, n: int, errlog: str, tgtd_pid: int) -> dict[str, float]:
    """Start target + n LUNs in order, then stop them in reverse: wall and agent CPU seconds of each,
    and tgtd's CPU over both."""
    d0, t0 = tgtd_cpu_ticks(tgtd_pid), time.perf_counter()
    cpu_start = sum(run_action(*x, errlog) for i in range(n + 1) for x in agents.steps(i, "start"))
    t1 = time.perf_counter()
    cpu_stop = sum(run_action(*x, errlog) for i in reversed(range(n + 1)) for x in agents.steps(i, "stop"))
    t2, d1 = time.perf_counter(), tgtd_cpu_ticks(tgtd_pid)
    return {"start": t1 - t0, "stop": t2 - t1, "start_cpu": cpu_start, "stop_cpu": cpu_stop, "tgtd": d1 - d0}


def monitor_round(agents: Agents, n: int, errlog: str, tgtd_pid: int) -> dict[str, float]:
    """One monitor of each of the n+1 resources: wall, agent CPU and tgtd CPU seconds."""
    d0, t0 = tgtd_cpu(tgtd_pid), time.perf_counter()
    cpu = sum(run_action(*x, errlog) for i in range(n + 1) for x in agents.steps(i, "monitor"))
    t1, d1 = time.perf_counter(), tgtd_cpu(tgtd_pid)
    return {"wall": t1 - t0, "cpu": cpu, "tgtd": d1 - d0}


def measure(n: int, sides: tuple[Agents, ...], tgtd: Tgtd, *, reps: int, rounds: int, errlog: str) -> dict:
    """Takeover and monitor figures of both implementations for a group of n LUNs, interleaved."""
    res: dict = {"luns": n, "takeover": {s.name: [] for s in sides}, "monitor": {s.name: [] for s in sides}}
    for k in range(reps + 1):  # the first of each side is a warm-up
        for s in sides[k % len(sides):] + sides[:k % len(sides)]:
            r = takeover(s, n, errlog, tgtd.proc.pid)
            if tgtd.luns() != 0:
                raise RuntimeError(f"{s.name}: LUNs left after the group's stop")
            if k:
                res["takeover"][s.name].append(r)
    # The group runs (started by the first implementation's agents; both monitors see the same state).
    for i in range(n + 1):
        run_action(*sides[0].action(i, "start"), errlog)
    if tgtd.luns() != n:
        raise RuntimeError(f"expected {n} LUNs, tgtd has {tgtd.luns()}")
    try:
        for k in range(rounds + 1):
            for s in sides[k % len(sides):] + sides[:k % len(sides)]:
                r = monitor_round(s, n, errlog, tgtd.proc.pid)
                if k:
                    res["monitor"][s.name].append(r)
    finally:
        for i in reversed(range(n + 1)):
            run_action(*sides[0].action(i, "stop"), errlog)
    return res


def profile(n: int, sides: tuple[Agents, ...], tgtd: Tgtd, runs: int, errlog: str) -> str:
    """Where one LUN's monitor, start and stop spend CPU with n LUNs in the target (medians of runs)."""
    ours, theirs = sides[0], sides[1]
    with open(f"{ours.dir}/iSCSILogicalUnit") as f:
        interp = f.readline()[2:].split()[0]  # the installed stub's interpreter
    for i in range(n + 1):
        run_action(*ours.action(i, "start"), errlog)
    rows = []

    def cpu(name: str, steps, expect: int = 0) -> None:
        xs = [sum(run_action(*x, errlog, expect) for x in steps()) for _ in range(runs)]
        rows.append(f"| {name} | {_med(xs) * 1000:.2f} |")

    try:
        show = ["/usr/sbin/tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "target"]
        cpu(f"{interp} -I -S -c pass (ocfkit's floor)", lambda: [([interp, "-I", "-S", "-c", "pass"], ours.base)])
        cpu("bash sourcing ocf-shellfuncs (ClusterLabs' floor)", lambda: [
            (["/bin/bash", "-c", ". /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs"], theirs.action(n, "monitor")[1])])
        cpu(f"tgtadm --op show, {n} LUNs", lambda: [(show, ours.base)])
        text = subprocess.run(show, env=ours.base, capture_output=True, text=True, check=True).stdout
        from agents.tools.tgtadm import parse_targets

        t0 = time.process_time()
        for _ in range(runs):
            parse_targets(text)
        rows.append(f"| ocfkit's parse of that show ({len(text.splitlines())} lines), in-process "
                    f"| {(time.process_time() - t0) / runs * 1000:.2f} |")
        for s in (ours, theirs):
            cpu(f"{s.name} iSCSITarget monitor", lambda s=s: s.steps(0, "monitor"))
            cpu(f"{s.name} iSCSILogicalUnit monitor", lambda s=s: s.steps(n, "monitor"))
        for s in (ours, theirs):
            run_action(*ours.action(n, "stop"), errlog)
            cpu(f"{s.name} iSCSILogicalUnit start + stop", lambda s=s: s.steps(n, "start") + s.steps(n, "stop"))
            run_action(*ours.action(n, "start"), errlog)
    finally:
        for i in reversed(range(n + 1)):
            run_action(*ours.action(i, "stop"), errlog)
    return "\n".join([f"CPU ms of one action, {n} LUNs in the target (median of {runs}):", "",
                      "| what | CPU ms |", "|---|---:|", *rows])


def _med(xs) -> float:
    return statistics.median(xs)


def _ratio(a: list[float], b: list[float]) -> float:
    """Median of the per-pair ratios a/b."""
    return statistics.median(x / y for x, y in zip(a, b))


def _floor(r: dict, what: str, value, scale: float, fmt: str) -> str:
    """The median of value over the tgtadm-alone runs, scaled; empty when there are none."""
    xs = r[what].get("tgtadm")
    return format(_med(value(x) for x in xs) * scale, fmt) if xs else ""


def tables(results: list[dict], ours: str, theirs: str) -> str:
    """The markdown tables: takeover wall and CPU, monitor CPU per hour, and growth per resource."""
    out = ["Takeover, wall seconds of the whole group (median; ratio: median of the per-pair ratios):", "",
           "| LUNs | ocfkit start | ClusterLabs start | ratio | ocfkit stop | ClusterLabs stop | ratio "
           "| ocfkit start+stop | ClusterLabs start+stop | ratio | tgtadm alone start+stop | reps |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        a, b = r["takeover"][ours], r["takeover"][theirs]
        row = [str(r["luns"])]
        for key in ("start", "stop", None):
            xa = [x["start"] + x["stop"] if key is None else x[key] for x in a]
            xb = [x["start"] + x["stop"] if key is None else x[key] for x in b]
            row += [f"{_med(xa):.3f}", f"{_med(xb):.3f}", f"{_ratio(xa, xb):.2f}"]
        floor = r["takeover"].get("tgtadm")
        row.append(f"{_med(x['start'] + x['stop'] for x in floor):.3f}" if floor else "")
        out.append("| " + " | ".join(row + [str(len(a))]) + " |")
    out += ["", "Takeover, CPU seconds of the agents (with their tgtadm, sed, grep...) and of tgtd, start+stop:", "",
            "| LUNs | ocfkit agents | ClusterLabs agents | ratio | ocfkit + tgtd | ClusterLabs + tgtd | ratio "
            "| tgtadm alone + tgtd |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        a, b = r["takeover"][ours], r["takeover"][theirs]
        ca, cb = [x["start_cpu"] + x["stop_cpu"] for x in a], [x["start_cpu"] + x["stop_cpu"] for x in b]
        ta, tb = [c + x["tgtd"] for c, x in zip(ca, a)], [c + x["tgtd"] for c, x in zip(cb, b)]
        out.append(f"| {r['luns']} | {_med(ca):.3f} | {_med(cb):.3f} | {_ratio(ca, cb):.2f} "
                   f"| {_med(ta):.3f} | {_med(tb):.3f} | {_ratio(ta, tb):.2f} "
                   f"| {_floor(r, 'takeover', lambda x: x['start_cpu'] + x['stop_cpu'] + x['tgtd'], 1, '.3f')} |")
    out += ["", "Monitor CPU seconds per hour (n LUN resources + 1 target, every 10 s; median round x 360):", "",
            "| LUNs | ocfkit agents | ClusterLabs agents | ratio | ocfkit + tgtd | ClusterLabs + tgtd | ratio "
            "| ocfkit round ms | ClusterLabs round ms | tgtadm alone + tgtd | rounds |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        a, b = r["monitor"][ours], r["monitor"][theirs]
        ca, cb = [x["cpu"] for x in a], [x["cpu"] for x in b]
        ta, tb = [x["cpu"] + x["tgtd"] for x in a], [x["cpu"] + x["tgtd"] for x in b]
        out.append(f"| {r['luns']} | {_med(ca) * ROUNDS_PER_HOUR:.1f} | {_med(cb) * ROUNDS_PER_HOUR:.1f} "
                   f"| {_ratio(ca, cb):.2f} | {_med(ta) * ROUNDS_PER_HOUR:.1f} | {_med(tb) * ROUNDS_PER_HOUR:.1f} "
                   f"| {_ratio(ta, tb):.2f} | {_med(x['wall'] for x in a) * 1000:.0f} "
                   f"| {_med(x['wall'] for x in b) * 1000:.0f} "
                   f"| {_floor(r, 'monitor', lambda x: x['cpu'] + x['tgtd'], ROUNDS_PER_HOUR, '.1f')} | {len(a)} |")
    out += ["", "Growth, per resource (n + 1 resources; flat = the whole grows linearly): takeover wall and "
            "agent CPU ms (start+stop), monitor CPU ms (agent + tgtd) per monitor:", "",
            "| LUNs | ocfkit takeover wall | ClusterLabs takeover wall | ocfkit takeover CPU "
            "| ClusterLabs takeover CPU | ocfkit monitor CPU | ClusterLabs monitor CPU |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        k = r["luns"] + 1
        row = [str(r["luns"])]
        row += [f"{_med(x['start'] + x['stop'] for x in r['takeover'][s]) / k * 1000:.1f}" for s in (ours, theirs)]
        row += [f"{_med(x['start_cpu'] + x['stop_cpu'] for x in r['takeover'][s]) / k * 1000:.1f}"
                for s in (ours, theirs)]
        row += [f"{_med(x['cpu'] + x['tgtd'] for x in r['monitor'][s]) / k * 1000:.2f}" for s in (ours, theirs)]
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def _terminate(signum, frame):  # noqa: ARG001
    raise SystemExit(128 + signum)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--luns", default="1,4,16,64", help="group sizes, comma-separated (default 1,4,16,64)")
    ap.add_argument("--rounds", type=int, default=10, help="monitor rounds per implementation and size")
    ap.add_argument("--reps", type=int, default=5, help="takeovers per implementation and size")
    ap.add_argument("--provider", default=os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit"))
    ap.add_argument("--json", help="also write the raw figures to this file")
    ap.add_argument("--profile", type=int, metavar="RUNS", default=0,
                    help="also break one LUN's actions down at the largest size, RUNS times each")
    args = ap.parse_args()
    sizes = [int(x) for x in args.luns.split(",") if x.strip()]
    if not sizes or min(sizes) < 1 or args.rounds < 1 or args.reps < 1:
        ap.error("--luns takes sizes of at least 1; --rounds and --reps at least 1")
    if os.geteuid() != 0:
        ap.error("run as root (tgtd and a network namespace)")
    ours_dir = f"/usr/lib/ocf/resource.d/{args.provider}"
    for d in (ours_dir, THEIRS):
        for kind in ("iSCSITarget", "iSCSILogicalUnit"):
            if not os.access(f"{d}/{kind}", os.X_OK):
                ap.error(f"{d}/{kind} is not installed")
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    d = tempfile.mkdtemp(prefix="ocfk-b64-")
    tgtd = Tgtd(d)
    results: list[dict] = []
    prof = ""
    try:
        paths = []
        for i in range(1, max(sizes) + 1):
            paths.append(f"{d}/lun{i}.img")
            with open(paths[-1], "wb") as f:
                f.truncate(4 << 20)
        os.makedirs(f"{d}/rsctmp")
        tgtd.start()
        base = {"PATH": PATH, "OCF_ROOT": "/usr/lib/ocf", "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1",
                "HA_RSCTMP": f"{d}/rsctmp", "TGT_IPC_SOCKET": tgtd.sock, "OCF_RESKEY_CRM_meta_timeout": "20000"}
        sides = (Agents("ocfkit", ours_dir, args.provider, base, paths),
                 Agents("ClusterLabs", THEIRS, "heartbeat", base, paths), Floor("tgtadm", "", "", base, paths))
        for n in sizes:
            print(f"# {n} LUNs...", file=sys.stderr, flush=True)
            results.append(measure(n, sides, tgtd, reps=args.reps, rounds=args.rounds, errlog=f"{d}/agent.err"))
            if tgtd.luns() != 0:
                raise RuntimeError("LUNs left after the measurement")
        if args.profile:
            prof = profile(max(sizes), sides, tgtd, args.profile, f"{d}/agent.err")
    finally:
        kill_running()
        tgtd.stop()
        subprocess.run(["rm", "-rf", "--one-file-system", d], check=False)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print(tables(results, "ocfkit", "ClusterLabs"))
    if args.profile:
        print("\n" + prof)


if __name__ == "__main__":
    main()
