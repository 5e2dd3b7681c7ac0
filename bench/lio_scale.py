"""Many LUNs on LIO, in a qemu guest: group takeover time and monitor CPU, ocfkit against ClusterLabs.

Run as root on the host: python3 -m bench.lio_scale [--luns 1,4,16,64] [--reps N] [--reps-at 64=1]
[--rounds N] [--rounds-at 64=1] [--profile RUNS] [--json FILE] [--timeout SECONDS].

This host's kernel has no LIO, so one Debian 13 guest (the `trixie` image of ocfkit.lab.guests,
which carries ClusterLabs' resource-agents and targetcli-fb) runs everything; the host only boots it,
hands it this tree and reads the figures back. Inside, ocfkit's agents are installed from a copy of
the tree on the guest's own disk (stubs for /usr/bin/python3 -IS with start-up bundles, as
`ocfkit install` writes them), next to ClusterLabs' in /usr/lib/ocf/resource.d/heartbeat. Both
sides serve the same target (one IQN, portal 10.0.2.15:3260, no ACLs: demo mode) and the same LUNs:
loop devices over sparse files, one per LUN, with an explicit serial (scsi_sn) so that both sides
give each LUN the same identity. ocfkit runs with implementation=lio (configfs directly),
ClusterLabs with implementation=lio-t (targetcli for every change; liot_bstype=block).

Every action runs as pacemaker-execd runs it: a new process with the OCF environment
(ocf.calling.action_env; interval 0 for start/stop, 10000 for monitor), spawned directly and reaped
with wait4, whose rusage covers the agent and every child it reaped (targetcli, cat, grep...). The
kernel's configfs work is done in the agent's own context, so it is in that CPU time too.

- takeover: start of the target and the n LUNs in order, then stop of the LUNs in reverse and the
  target; which side goes first alternates; after each, configfs must hold no target and no storage
  object. One warm-up takeover of each side with one LUN before the first size.
- monitor: one round = one monitor of each of the n+1 resources of a group started by ocfkit (both
  sides recognise it); rounds alternate; CPU seconds per hour = median round CPU * 360 (every 10 s).
- profile: where one ClusterLabs LUN action goes (one targetcli call that changes nothing, against
  the interpreter floors), with the largest group running.

The guest writes its figures to its control share after every measurement, so a run cut short by
--timeout still reports what it finished. The guest is powered off at the end, also on failure or
SIGTERM. Under software emulation (TCG) every figure is many times slower than on hardware (a
targetcli call takes seconds): read the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

IQN = "iqn.2024-01.bench.ocfkit:lioscale"
PORTAL = "10.0.2.15:3260"  # eth0 of every lab guest
CONFIGFS = "/sys/kernel/config/target"
THEIRS = "/usr/lib/ocf/resource.d/heartbeat"
OURS = "/usr/lib/ocf/resource.d/ocfkit"
SRC = "/opt/ocfkit-src"  # the tree's copy on the guest's own disk
LUN_DIR = "/var/tmp/lio-scale"
ROUNDS_PER_HOUR = 360  # one monitor every 10 s
BASE = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HA_RSCTMP": "/run/resource-agents"}


def serial(i: int) -> str:
    """The unit serial of LUN i, the same on both sides."""
    return f"5c{i:06x}"


def lun_params(impl: str, i: int, path: str) -> dict[str, str]:
    """The parameters of LUN resource i (LUN number i - 1)."""
    return {"implementation": impl, "target_iqn": IQN, "lun": str(i - 1), "path": path, "scsi_sn": serial(i)}


class Side:
    """One implementation: its agents' directory and the OCF environments of a group's resources."""

    def __init__(self, name: str, directory: str, provider: str, impl: str, paths: list[str]) -> None:
        self.name, self.dir, self.provider, self.impl, self.paths = name, directory, provider, impl, paths

    def action(self, i: int, action: str) -> tuple[list[str], dict[str, str]]:
        """argv and environment of one action of resource i (0: the target, 1..n: LUN i)."""
        from ocf.calling import action_env

        if i == 0:
            kind, inst, params = "iSCSITarget", "target", {"implementation": self.impl, "iqn": IQN, "portals": PORTAL}
        else:
            kind, inst, params = "iSCSILogicalUnit", f"lun{i}", lun_params(self.impl, i, self.paths[i - 1])
        env = action_env(BASE, kind, inst, params, provider=self.provider, timeout_ms=600000,
                         interval_ms=10000 if action == "monitor" else 0)
        return [f"{self.dir}/{kind}", action], env


def leftovers() -> list[str]:
    """LIO objects in the guest's configfs: targets and storage objects (HBA directories aside)."""
    found = [f"iscsi/{t}" for t in _ls(f"{CONFIGFS}/iscsi") if t.startswith("iqn.")]
    for hba in _ls(f"{CONFIGFS}/core"):
        if "_" in hba:
            found += [f"core/{hba}/{so}" for so in _ls(f"{CONFIGFS}/core/{hba}")
                      if os.path.isdir(f"{CONFIGFS}/core/{hba}/{so}")]
    return found


def _ls(d: str) -> list[str]:
    try:
        return sorted(os.listdir(d))
    except FileNotFoundError:
        return []


def takeover(side: Side, n: int, errlog: str) -> dict[str, float]:
    """Start target + n LUNs in order, stop them in reverse: wall and CPU seconds of each half."""
    from bench.lun_scale import run_action

    t0 = time.perf_counter()
    cpu_start = sum(run_action(*side.action(i, "start"), errlog) for i in range(n + 1))
    t1 = time.perf_counter()
    cpu_stop = sum(run_action(*side.action(i, "stop"), errlog) for i in reversed(range(n + 1)))
    t2 = time.perf_counter()
    left = leftovers()
    if left:
        raise RuntimeError(f"{side.name}: left after the group's stop: {' '.join(left)}")
    return {"start": t1 - t0, "stop": t2 - t1, "start_cpu": cpu_start, "stop_cpu": cpu_stop}


def monitor_round(side: Side, n: int, errlog: str) -> dict[str, float]:
    """One monitor of each of the n+1 resources: wall and CPU seconds."""
    from bench.lun_scale import run_action

    t0 = time.perf_counter()
    cpu = sum(run_action(*side.action(i, "monitor"), errlog) for i in range(n + 1))
    return {"wall": time.perf_counter() - t0, "cpu": cpu}


def _counts(spec: str) -> dict[int, int]:
    """A "64=1,16=2" override list as {size: count}; ValueError when malformed."""
    out = {}
    for item in filter(None, spec.split(",")):
        size, eq, count = item.partition("=")
        if not eq or int(count) < 0:
            raise ValueError(item)
        out[int(size)] = int(count)
    return out


def _at(spec: str, n: int, default: int) -> int:
    """The count for size n from a "64=1,16=2" override list, else default."""
    return _counts(spec).get(n, default)


def inside(args: argparse.Namespace) -> None:
    """The measurement, in the guest; figures to args.out after every step."""
    from bench.lun_scale import kill_running

    sizes = [int(x) for x in args.luns.split(",")]
    with open(f"{LUN_DIR}/paths") as f:
        paths = f.read().split()
    sides = (Side("ocfkit", OURS, "ocfkit", "lio", paths), Side("ClusterLabs", THEIRS, "heartbeat", "lio-t", paths))
    errlog = f"{LUN_DIR}/agent.err"
    deadline = time.monotonic() + args.budget
    res: dict = {"sizes": [], "profile": [], "warmup": {}}

    def save() -> None:
        with open(args.out + ".tmp", "w") as f:
            json.dump(res, f, indent=1)
        os.replace(args.out + ".tmp", args.out)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    try:
        for s in sides if args.warmup else ():
            res["warmup"][s.name] = takeover(s, 1, errlog)
            log(f"warm-up {s.name}: {res['warmup'][s.name]}")
        save()
        for n in sizes:
            r: dict = {"luns": n, "takeover": {s.name: [] for s in sides}, "monitor": {s.name: [] for s in sides}}
            res["sizes"].append(r)
            split = bool(args.segment) and n == max(sizes)  # ClusterLabs' takeover in segments at the largest
            theirs_reps = 0 if split else _at(args.theirs_reps_at, n, _at(args.reps_at, n, args.reps))
            for k in range(_at(args.reps_at, n, args.reps)):
                for s in sides[k % 2:] + sides[:k % 2]:
                    if s is sides[1] and k >= theirs_reps:
                        continue
                    r["takeover"][s.name].append(takeover(s, n, errlog))
                    log(f"{n} LUNs, takeover {k + 1} {s.name}: {r['takeover'][s.name][-1]}")
                    save()
            rounds = _at(args.rounds_at, n, args.rounds)
            later = split and args.segment.partition(":")[0] != "0"
            if rounds and not later:
                monitor_rounds(sides, n, rounds, r["monitor"], errlog, save=save, log=log)
            if split:  # it may end with the group half up, or early when the time is up
                r["segment"] = []
                segment(sides[1], n, args.segment, r["segment"], errlog, save=save, log=log, deadline=deadline)
            if rounds and later and not leftovers():
                # A later segment starts from the state the previous one left: the rounds come after
                # it, once it has taken the whole group down.
                monitor_rounds(sides, n, rounds, r["monitor"], errlog, save=save, log=log)
        if args.profile:
            res["profile"] = profile(max(sizes), sides, args.profile, errlog)
            save()
    finally:
        kill_running()


def monitor_rounds(sides: tuple[Side, ...], n: int, rounds: int, out: dict, errlog: str, *, save, log) -> None:
    """Monitor rounds of both sides, alternating, on a group of n LUNs that ocfkit starts and stops."""
    from bench.lun_scale import run_action

    for i in range(n + 1):
        run_action(*sides[0].action(i, "start"), errlog)
    try:
        for k in range(rounds):
            for s in sides[k % 2:] + sides[:k % 2]:
                out[s.name].append(monitor_round(s, n, errlog))
                log(f"{n} LUNs, monitor round {k + 1} {s.name}: {out[s.name][-1]}")
                save()
    finally:
        for i in reversed(range(n + 1)):
            run_action(*sides[0].action(i, "stop"), errlog)


STATE = "/ctl/state.json"  # the configfs state between the segments of one takeover (rtslib's format)


def sequence(n: int) -> list[tuple[int, str]]:
    """The actions of one takeover of n LUNs: (resource, action), starts in order, stops in reverse."""
    return [(i, "start") for i in range(n + 1)] + [(i, "stop") for i in reversed(range(n + 1))]


def segment(side: Side, n: int, spec: str, out: list, errlog: str, *, save, log, deadline: float) -> None:
    """Actions FROM..TO-1 of one takeover of n LUNs by side: the state the earlier actions left is
    restored first (rtslib's `targetctl restore` of what the previous segment saved with `targetctl
    save`), and the state these leave is saved for the next. For a takeover longer than one turn of
    the shared guest lock. Ends early, before an action that would likely end after deadline (an
    action takes about as long as the one before it)."""
    import subprocess

    from bench.lun_scale import run_action

    first, _, last = spec.partition(":")
    seq = sequence(n)
    lo, hi = int(first), min(int(last), len(seq))
    if lo:
        subprocess.run(["targetctl", "restore", STATE], check=True, capture_output=True, timeout=900)
        up = [i for i, a in seq[:lo] if a == "start" and (i, "stop") not in seq[:lo]]
        luns = len(_ls(f"{CONFIGFS}/iscsi/{IQN}/tpgt_1/lun"))
        if luns != len(up) - (0 in up) or (0 in up) != os.path.isdir(f"{CONFIGFS}/iscsi/{IQN}"):
            raise RuntimeError(f"restored {luns} LUNs, expected the state after {lo} actions")
    for k in range(lo, hi):
        if out and time.monotonic() + 1.5 * out[-1]["wall"] > deadline:
            hi = k
            log(f"{n} LUNs, {side.name}: out of time before action {k}")
            break
        i, action = seq[k]
        t0 = time.perf_counter()
        cpu = run_action(*side.action(i, action), errlog)
        out.append({"k": k, "action": action, "wall": time.perf_counter() - t0, "cpu": cpu})
        save()
    log(f"{n} LUNs, {side.name} actions {lo}..{hi - 1}: {sum(x['wall'] for x in out):.1f} s")
    if hi < len(seq):
        subprocess.run(["targetctl", "save", STATE], check=True, capture_output=True, timeout=900)
    elif leftovers():
        raise RuntimeError(f"{side.name}: left after the group's stop: {' '.join(leftovers())}")


def merge(results: list[dict]) -> dict:
    """Several runs' figures as one: takeovers and monitor rounds of a size are pooled, and the
    segments of one ClusterLabs takeover (from several runs) are joined when they cover it whole."""
    sizes: dict[int, dict] = {}
    for res in results:
        for r in res.get("sizes", []):
            m = sizes.setdefault(r["luns"], {"luns": r["luns"], "takeover": {}, "monitor": {}, "segment": []})
            for what in ("takeover", "monitor"):
                for side, xs in r[what].items():
                    m[what].setdefault(side, []).extend(xs)
            m["segment"] += r.get("segment", [])
    for m in sizes.values():
        acts = {x["k"]: x for x in m.pop("segment")}
        n = m["luns"]
        if acts and sorted(acts) == list(range(2 * n + 2)):
            half = {a: [x for x in acts.values() if x["action"] == a] for a in ("start", "stop")}
            m["takeover"].setdefault("ClusterLabs", []).append(
                {"start": sum(x["wall"] for x in half["start"]), "stop": sum(x["wall"] for x in half["stop"]),
                 "start_cpu": sum(x["cpu"] for x in half["start"]), "stop_cpu": sum(x["cpu"] for x in half["stop"]),
                 "segments": True})
    return {"sizes": [sizes[n] for n in sorted(sizes)],
            "profile": [row for res in results for row in res.get("profile", [])]}


def profile(n: int, sides: tuple[Side, ...], runs: int, errlog: str) -> list[list]:
    """Wall and CPU seconds (medians of runs) of the pieces of one LUN action, n LUNs running."""
    import statistics

    from bench.lun_scale import run_action

    ours, theirs = sides
    for i in range(n + 1):
        run_action(*ours.action(i, "start"), errlog)
    env = theirs.action(n, "monitor")[1]
    floors = [
        ("/usr/bin/python3 -I -S -c pass (ocfkit's interpreter floor)",
         [(["/usr/bin/python3", "-I", "-S", "-c", "pass"], BASE)]),
        ("bash sourcing ocf-shellfuncs (ClusterLabs' floor)",
         [(["/bin/bash", "-c", ". /usr/lib/ocf/lib/heartbeat/ocf-shellfuncs"], env)]),
        (f"targetcli /iscsi/{IQN}/tpg1/portals ls (one call that changes nothing)",
         [(["/usr/bin/targetcli", f"/iscsi/{IQN}/tpg1/portals", "ls"], BASE)]),
        ("ocfkit iSCSILogicalUnit monitor", [ours.action(n, "monitor")]),
        ("ocfkit iSCSILogicalUnit stop + start", [ours.action(n, "stop"), ours.action(n, "start")])]
    # rtslib keeps one HBA per storage object and removes it with the object: ClusterLabs' stop only
    # works on a LUN its own start made, so LUN n is handed over first.
    theirs_pieces = [
        ("ClusterLabs iSCSILogicalUnit monitor", [theirs.action(n, "monitor")]),
        ("ClusterLabs iSCSILogicalUnit stop + start", [theirs.action(n, "stop"), theirs.action(n, "start")])]
    rows = []
    last = ours

    def measure(pieces) -> None:
        for name, steps in pieces:
            walls, cpus = [], []
            for _ in range(runs):
                t0 = time.perf_counter()
                cpus.append(sum(run_action(*s, errlog) for s in steps))
                walls.append(time.perf_counter() - t0)
            rows.append([name, statistics.median(walls), statistics.median(cpus), runs])

    try:
        measure(floors)
        run_action(*ours.action(n, "stop"), errlog)
        run_action(*theirs.action(n, "start"), errlog)
        last = theirs
        measure(theirs_pieces)
    finally:
        run_action(*last.action(n, "stop"), errlog)
        for i in reversed(range(n)):
            run_action(*ours.action(i, "stop"), errlog)
    return rows


# -- the host side ------------------------------------------------------------------------------

# In the guest: the tree copied to its own disk (not the 9p share: a real node has its agents on a
# local disk), ocfkit's agents installed from it, LIO loaded, and one loop device per LUN.
SETUP = f"""
set -e
rm -rf {SRC} && mkdir -p {SRC}
cp -r /src/ocf /src/agents /src/ocfkit /src/crm /src/heartbeat_legacy /src/bench {SRC}/
find {SRC} -name __pycache__ -prune -exec rm -rf {{}} +
cd {SRC} && python3 -c 'import sys; sys.path.insert(0, "{SRC}"); from ocfkit.install import install
install(python="/usr/bin/python3")' >/dev/null
test -x {OURS}/iSCSILogicalUnit && test -x {THEIRS}/iSCSILogicalUnit && command -v targetcli >/dev/null
modprobe target_core_mod && modprobe target_core_iblock && modprobe iscsi_target_mod
mkdir -p {LUN_DIR} /run/resource-agents
: > {LUN_DIR}/paths
for i in $(seq 1 "$1"); do
    truncate -s 4M {LUN_DIR}/lun$i.img
    losetup --find --show {LUN_DIR}/lun$i.img >> {LUN_DIR}/paths
done
dpkg-query -W -f '${{Package}} ${{Version}}\\n' resource-agents targetcli-fb python3-rtslib-fb python3 bash || true
command -v targetctl
uname -r
"""


def _terminate(signum, frame):  # noqa: ARG001
    raise SystemExit(128 + signum)


def host(args: argparse.Namespace) -> None:
    """Boot the guest, run the measurement inside, print the tables, power the guest off."""
    import shutil
    import tempfile

    from ocfkit.lab.guests import image, vm

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    deadline = time.monotonic() + args.timeout
    img = image.build("trixie")
    os.makedirs(vm.CACHE_RUNS, exist_ok=True)
    rundir = tempfile.mkdtemp(prefix="bench-lio-", dir=vm.CACHE_RUNS)
    g = vm.Guest(img, rundir, "lio", memory_mb=768)
    out = os.path.join(g.dir, "ctl", "figures.json")
    res = None
    try:
        t0 = time.monotonic()
        g.boot()
        versions = g.sh(f"bash -s {max(int(x) for x in args.luns.split(','))} <<'EOF'\n{SETUP}\nEOF", timeout=600)
        # (install's notes on heartbeat's own resource.d scripts, which it keeps, are not versions)
        versions = "\n".join(ln for ln in versions.splitlines() if not ln.startswith("ocfkit: keeping"))
        print(f"# guest ready after {time.monotonic() - t0:.0f} s, accelerator {vm.accelerator_name()}\n"
              f"{versions.strip()}", file=sys.stderr, flush=True)
        opts = (f"--luns {args.luns} --reps {args.reps} --reps-at '{args.reps_at}' --rounds {args.rounds} "
                f"--rounds-at '{args.rounds_at}' --theirs-reps-at '{args.theirs_reps_at}' --profile {args.profile}"
                + ("" if args.warmup else " --no-warmup"))
        state = os.path.join(args.state or "", "state.json")
        if args.segment:
            opts += f" --segment {args.segment}"
            if not args.segment.startswith("0:"):
                shutil.copy(state, os.path.join(g.dir, "ctl", "state.json"))
        left = deadline - time.monotonic() - 30
        opts += f" --budget {left - 60:.0f}"
        r = g.run(f"cd {SRC} && python3 -m bench.lio_scale --inside --out /ctl/figures.json {opts}",
                  timeout=max(left, 1), check=False)
        print(r.out[-4000:], file=sys.stderr)
        if r.rc:
            print(f"# the run in the guest ended with rc {r.rc}: partial figures below", file=sys.stderr)
        if os.path.exists(out):
            with open(out) as f:
                res = json.load(f)
        if args.segment and os.path.exists(os.path.join(g.dir, "ctl", "state.json")):
            os.makedirs(args.state, exist_ok=True)
            shutil.copy(os.path.join(g.dir, "ctl", "state.json"), state)
        res = res or {}
        res["conditions"] = {"versions": versions.strip(), "accelerator": vm.accelerator_name(),
                             "guest": "1 vCPU, 768 MiB", "rc": r.rc}
    finally:
        g.stop()
        shutil.rmtree(rundir, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    print(tables(res))


def _pair_ratio(a: list[float], b: list[float]) -> float:
    """The median of the per-pair ratios a/b when both sides ran as often (interleaved pairs), else
    the ratio of the medians (ClusterLabs ran fewer times at the largest sizes)."""
    from bench.lun_scale import _med, _ratio

    return _ratio(a, b) if len(a) == len(b) else _med(a) / _med(b)


def tables(res: dict) -> str:
    """The markdown tables: takeover wall and CPU, growth per resource, monitor CPU, profile."""
    from bench.lun_scale import _med

    ours, theirs = "ocfkit", "ClusterLabs"
    sizes = [r for r in res.get("sizes", []) if r["takeover"][ours] and r["takeover"][theirs]]
    out = ["Takeover, wall seconds of the whole group (median; ratio: median of the per-pair ratios):", "",
           "| LUNs | ocfkit start | ClusterLabs start | ratio | ocfkit stop | ClusterLabs stop | ratio "
           "| ocfkit start+stop | ClusterLabs start+stop | ratio | runs (ocfkit / ClusterLabs) |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sizes:
        a, b = r["takeover"][ours], r["takeover"][theirs]
        row = [str(r["luns"])]
        for key in ("start", "stop", None):
            xa = [x["start"] + x["stop"] if key is None else x[key] for x in a]
            xb = [x["start"] + x["stop"] if key is None else x[key] for x in b]
            row += [f"{_med(xa):.2f}", f"{_med(xb):.2f}", f"{_pair_ratio(xa, xb):.3f}"]
        out.append("| " + " | ".join([*row, f"{len(a)} / {len(b)}"]) + " |")
    out += ["", "Takeover, CPU seconds (start+stop) of the agents with their children, and growth per resource "
            "(n + 1 resources; flat = linear):", "",
            "| LUNs | ocfkit CPU | ClusterLabs CPU | ratio | ocfkit wall / resource | ClusterLabs wall / resource "
            "| ocfkit CPU / resource | ClusterLabs CPU / resource |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sizes:
        a, b = r["takeover"][ours], r["takeover"][theirs]
        ca = [x["start_cpu"] + x["stop_cpu"] for x in a]
        cb = [x["start_cpu"] + x["stop_cpu"] for x in b]
        wa, wb = [x["start"] + x["stop"] for x in a], [x["start"] + x["stop"] for x in b]
        m = r["luns"] + 1
        out.append(f"| {r['luns']} | {_med(ca):.2f} | {_med(cb):.2f} | {_pair_ratio(ca, cb):.3f} | {_med(wa) / m:.2f} "
                   f"| {_med(wb) / m:.2f} | {_med(ca) / m:.2f} | {_med(cb) / m:.2f} |")
    alone = [r for r in res.get("sizes", []) if r["takeover"][ours] and not r["takeover"][theirs]]
    if alone:
        out += ["", "ocfkit's takeovers where ClusterLabs' did not run whole (seconds; per resource):", "",
                "| LUNs | start | stop | start+stop | CPU | wall / resource | CPU / resource | runs |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in alone:
            a = r["takeover"][ours]
            w, c, m = [x["start"] + x["stop"] for x in a], [x["start_cpu"] + x["stop_cpu"] for x in a], r["luns"] + 1
            out.append(f"| {r['luns']} | {_med(x['start'] for x in a):.2f} | {_med(x['stop'] for x in a):.2f} "
                       f"| {_med(w):.2f} | {_med(c):.2f} | {_med(w) / m:.2f} | {_med(c) / m:.2f} | {len(a)} |")
    for r in res.get("sizes", []):
        seg = r.get("segment")
        if not seg:
            continue
        starts = [x for x in seg if x["action"] == "start"]
        stops = [x for x in seg if x["action"] == "stop"]
        out += ["", f"ClusterLabs' takeover of {r['luns']} LUNs, actions {seg[0]['k']}..{seg[-1]['k']} of "
                f"{2 * r['luns'] + 2} in this run: {len(starts)} starts, {sum(x['wall'] for x in starts):.1f} s wall, "
                f"{sum(x['cpu'] for x in starts):.1f} s CPU; {len(stops)} stops, "
                f"{sum(x['wall'] for x in stops):.1f} s wall, {sum(x['cpu'] for x in stops):.1f} s CPU.", "",
                "| action | resource | wall s | CPU s |", "|---:|---|---:|---:|"]
        seq = sequence(r["luns"])
        pick = {0, 1, 2, 4, 8, 16, 32, 48, 64, len(seg) - 1}
        for j, x in enumerate(seg):
            if j in pick or x["k"] in (r["luns"], r["luns"] + 1):
                i = seq[x["k"]][0]
                out.append(f"| {x['k']} | {x['action']} {'target' if i == 0 else f'LUN {i}'} "
                           f"| {x['wall']:.2f} | {x['cpu']:.2f} |")
    mon = [r for r in res.get("sizes", []) if r["monitor"][ours] and r["monitor"][theirs]]
    if mon:
        out += ["", "Monitor CPU seconds per hour (n LUN resources + 1 target, every 10 s; median round x 360):", "",
                "| LUNs | ocfkit | ClusterLabs | ratio | ocfkit round s | ClusterLabs round s "
                "| ocfkit CPU ms / monitor | ClusterLabs CPU ms / monitor | rounds |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in mon:
            a, b = r["monitor"][ours], r["monitor"][theirs]
            k = min(len(a), len(b))
            ca, cb = [x["cpu"] for x in a], [x["cpu"] for x in b]
            m = r["luns"] + 1
            out.append(f"| {r['luns']} | {_med(ca) * ROUNDS_PER_HOUR:.0f} | {_med(cb) * ROUNDS_PER_HOUR:.0f} "
                       f"| {_pair_ratio(ca, cb):.2f} | {_med(x['wall'] for x in a):.1f} "
                       f"| {_med(x['wall'] for x in b):.1f} "
                       f"| {_med(ca) / m * 1000:.0f} | {_med(cb) / m * 1000:.0f} | {k} |")
    if res.get("profile"):
        out += ["", "Pieces of one LUN action (medians):", "", "| what | wall s | CPU s | runs |",
                "|---|---:|---:|---:|"]
        out += [f"| {name} | {wall:.2f} | {cpu:.2f} | {runs} |" for name, wall, cpu, runs in res["profile"]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--luns", default="1,4,16,64", help="group sizes, comma-separated (default 1,4,16,64)")
    ap.add_argument("--reps", type=int, default=3, help="takeovers per side and size (default 3)")
    ap.add_argument("--reps-at", default="", metavar="N=K,...", help="other takeover counts for some sizes")
    ap.add_argument("--theirs-reps-at", default="", metavar="N=K,...",
                    help="fewer ClusterLabs takeovers for some sizes (ratios of medians there)")
    ap.add_argument("--segment", default="", metavar="FROM:TO",
                    help="one size only: run ClusterLabs' takeover actions FROM..TO-1, restoring the state the "
                         "previous segment saved in --state (a takeover longer than a turn of the guest lock)")
    ap.add_argument("--budget", type=float, default=1e9, help=argparse.SUPPRESS)  # inside: seconds left
    ap.add_argument("--state", help="host: directory keeping the configfs state between segments")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the 1-LUN warm-up takeovers")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="only print the tables of several runs' --json files")
    ap.add_argument("--rounds", type=int, default=0, help="monitor rounds per side and size (default 0: none)")
    ap.add_argument("--rounds-at", default="", metavar="N=K,...", help="other round counts for some sizes")
    ap.add_argument("--profile", type=int, default=0, metavar="RUNS", help="break one LUN's actions down")
    ap.add_argument("--timeout", type=float, default=1140, help="host: seconds for the whole run (default 1140)")
    ap.add_argument("--json", help="host: also write the raw figures to this file")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.merge:
        results = []
        for name in args.merge:
            with open(name) as f:
                results.append(json.load(f))
        print(tables(merge(results)))
        return
    try:
        sizes = [int(x) for x in args.luns.split(",")]
        for spec in (args.reps_at, args.rounds_at, args.theirs_reps_at):
            _counts(spec)
        if args.segment:
            lo, hi = (int(x) for x in args.segment.split(":"))
    except ValueError:
        ap.error("--luns takes comma-separated sizes, --reps-at and --rounds-at N=K pairs")
    if not sizes or min(sizes) < 1 or args.reps < 0 or args.rounds < 0:
        ap.error("--luns takes sizes of at least 1")
    if args.segment and (not 0 <= lo < hi or args.profile or not (args.inside or args.state)):
        ap.error("--segment takes FROM:TO with FROM < TO, --state and no --profile")
    if os.geteuid() != 0:
        ap.error("run as root (qemu on the host, LIO in the guest)")
    if args.inside:
        inside(args)
    else:
        host(args)


if __name__ == "__main__":
    main()
