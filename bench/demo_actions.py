"""Where ocfkit's share of the demo's stall goes: every agent action of the demo's groups, timed inside a lab node.

Run as root: python3 -m bench.demo_actions [--rounds N] [--provider P]. Generates the demo's files
(`ocfkit generate` for examples/demo.toml, as `ocfkit demo` does), boots one namespace node of the lab
without a cluster stack, starts tgtd there as the clone does, and then, N times, runs what Pacemaker
runs on a switchover's target and source: for each member of the groups in start order its meta-data,
start and first monitor, then each stop in reverse order. Every action runs twice: as the installed
agent process (fork and exec, what the executor sees: interpreter start, imports, the action) and in
a Python process of its own that has already imported the agent (the action alone, with each command
it ran timed at the command seam). The heartbeat-only actions (`iscsitarget` with the targets.conf,
tgtd's start and stop) are timed the same way. Then what heartbeat's ResourceManager runs for the
generated haresources: each member's resource.d wrapper (as `ocfkit demo` installs them: the agent's
start-up bundle, heartbeat_legacy.resource_d) for `status` and `start` in order, then `stop` in reverse
order, as processes ("[wrapper]"; spawns in the background, such as tgtd's shutdown request, are not
listed as commands). Prints medians (and minima) in ms; nothing is left behind (the node, its
namespaces, the loop device, the files).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----- inside the node ----------------------------------------------------------------------------

def _agent_class(wrapper: str):
    """The agent class an installed stub runs (its `from MODULE import CLASS` line)."""
    with open(wrapper, encoding="utf-8") as f:
        for line in f:
            if line.startswith("from agents"):
                words = line.split()
                mod = __import__(words[1], fromlist=[words[3]])
                return getattr(mod, words[3])
    raise RuntimeError(f"{wrapper}: no agent import")


def _env(rsc: dict, action: str, rsctmp: str) -> dict[str, str]:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "OCF_ROOT": "/usr/lib/ocf",
           "OCF_RESOURCE_INSTANCE": rsc["id"], "OCF_RESOURCE_TYPE": rsc["type"], "HA_RSCTMP": rsctmp,
           "OCF_RESKEY_CRM_meta_timeout": "20000", "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1"}
    if action == "monitor":
        env["OCF_RESKEY_CRM_meta_interval"] = "10000"
    env.update({f"OCF_RESKEY_{k}": v for k, v in rsc["params"].items()})
    return env


def _process(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return (time.perf_counter() - t0) * 1000, r.returncode


def _in_process(cls, action: str, env: dict[str, str]) -> tuple[float, int, list[tuple[str, float]]]:
    from ocf.exec import run

    cmds: list[tuple[str, float]] = []

    def timed(argv, **kw):
        t0 = time.perf_counter()
        try:
            return run(argv, **kw)
        finally:
            cmds.append((" ".join(argv[:6]), (time.perf_counter() - t0) * 1000))

    t0 = time.perf_counter()
    rc = cls.main(["agent", action], env, timed)
    return (time.perf_counter() - t0) * 1000, rc, cmds


def inside(spec: dict) -> dict:
    """The timings (run inside the node)."""
    sys.path.insert(0, HERE)
    rsctmp = spec["rsctmp"]
    os.makedirs(rsctmp, exist_ok=True)
    res: dict[str, list] = {}

    def one(rsc: dict, action: str, expect: tuple[int, ...] = (0,)) -> None:
        wrapper = f"/usr/lib/ocf/resource.d/{spec['provider']}/{rsc['type']}"
        env = _env(rsc, action, rsctmp)
        key = f"{rsc['id']} {action}"
        ms, rc = _process([wrapper, action], env)
        if rc not in expect:
            raise RuntimeError(f"{key}: rc {rc}")
        res.setdefault(key + " [process]", []).append(ms)
        if action == "meta-data":
            return
        # The same action again in this process, its commands timed: undo first what the process did.
        undo = {"start": "stop", "stop": "start"}.get(action)
        if undo:
            _process([wrapper, undo], _env(rsc, undo, rsctmp))
        ms2, rc2, cmds = _in_process(_agent_class(wrapper), action, env)
        if rc2 not in expect:
            raise RuntimeError(f"{key} in process: rc {rc2}")
        res.setdefault(key + " [action]", []).append(ms2)
        for i, (argv, cms) in enumerate(cmds):
            res.setdefault(f"{key}   {i + 1}. {argv}", []).append(cms)

    def wrapper(name: str, args: list[str], action: str, env: dict[str, str], expect: tuple[int, ...]) -> None:
        ms, rc = _process([os.path.join(spec["wrapper_dir"], name), *args, action], env)
        key = f"{' '.join([name, *args])} {action}"
        if rc not in expect:
            raise RuntimeError(f"{key} (wrapper): rc {rc}")
        res.setdefault(key + " [wrapper]", []).append(ms)

    members = spec["members"]
    daemon = spec["daemon"]
    for _ in range(spec["rounds"]):
        one(daemon, "start")
        for rsc in members:
            one(rsc, "meta-data")
            one(rsc, "start")
            one(rsc, "monitor")
        for rsc in reversed(members):
            one(rsc, "stop")
        one(daemon, "stop")
        # heartbeat's bare iscsitarget: tgtd with targets.conf, loaded by tgt-admin -e.
        one(spec["hb_daemon"], "start")
        one(spec["hb_daemon"], "monitor")
        one(spec["hb_daemon"], "stop")
        # heartbeat's ResourceManager: status before each start, in order; the stops in reverse order.
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP": rsctmp}
        for name, args in spec["wrappers"]:
            for action, expect in (("status", (7,)), ("start", (0,))):
                wrapper(name, args, action, env, expect)
        for name, args in reversed(spec["wrappers"]):
            wrapper(name, args, "stop", env, (0,))
    return res


# ----- on the host ----------------------------------------------------------------------------------

def _primitives(cib: str) -> tuple[list[dict], dict]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(cib)

    def rsc(p) -> dict:
        return {"id": p.get("id"), "type": p.get("type"),
                "params": {nv.get("name"): nv.get("value") for ia in p.findall("instance_attributes")
                           for nv in ia.findall("nvpair")}}

    members = [rsc(p) for g in root.iter("group") for p in g.findall("primitive")]
    daemon = next(rsc(p) for c in root.iter("clone") for p in c.findall("primitive") if p.get("type") == "iscsitarget")
    return members, daemon


def _haresources(path: str, targets_conf: str) -> list[tuple[str, list[str]]]:
    """(wrapper, arguments) of every member of the generated haresources, in order; the bare
    iscsitarget (which reads /etc/tgt/targets.conf) is given the generated targets.conf instead."""
    with open(path, encoding="utf-8") as f:
        tokens = [t for line in f if line.strip() and not line.startswith("#") for t in line.split()[1:]]
    out = []
    for token in tokens:
        name, *args = token.split("::")
        out.append((name, args or ([targets_conf] if name == "iscsitarget" else [])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--provider", default=os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit"))
    args = ap.parse_args()
    from ocfkit import demo
    from ocfkit.lab import Lab

    work = tempfile.mkdtemp(prefix="ocfkit-demo-bench-")
    os.chmod(work, 0o755)
    loop = ""
    lab = None
    try:
        gen = os.path.join(work, "generated")
        demo.generate(demo.describe(work, args.provider), gen)
        with open(os.path.join(gen, "cib.xml"), encoding="utf-8") as f:
            members, daemon = _primitives(f.read())
        with open(os.path.join(work, "lun.img"), "wb") as f:
            f.truncate(64 << 20)
        cfg = os.path.join(work, "config.img")
        with open(cfg, "wb") as f:
            f.truncate(16 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", cfg], check=True)
        loop = subprocess.run(["losetup", "--find", "--show", cfg], check=True, capture_output=True,
                              text=True).stdout.strip()
        os.symlink(loop, os.path.join(work, "config.disk"))
        os.makedirs(os.path.join(work, "config"))
        lab = Lab(os.path.join(work, "lab"), prefix=f"ocfkb{os.getpid() % 100000}")
        lab.start_cluster_on_boot = False
        lab.open()
        lab.power_on("node1")
        node = lab.node("node1")
        hb_daemon = {"id": "iscsitarget", "type": "iscsitarget",
                     "params": {"config": os.path.join(gen, "targets.conf")}}
        wrapper_dir = os.path.join(work, "resource.d")
        os.makedirs(wrapper_dir)
        from ocfkit.install import wrapper_files

        for rel, text in wrapper_files(provider=args.provider, python=sys.executable, pkgdir=HERE).items():
            with open(os.path.join(wrapper_dir, os.path.basename(rel)), "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(os.path.join(wrapper_dir, os.path.basename(rel)), 0o755)
        spec = {"rounds": args.rounds, "provider": args.provider, "members": members, "daemon": daemon,
                "hb_daemon": hb_daemon, "rsctmp": "/run/resource-agents", "wrapper_dir": wrapper_dir,
                "wrappers": _haresources(os.path.join(gen, "haresources"), os.path.join(gen, "targets.conf"))}
        r = node.run([sys.executable, "-I", os.path.abspath(__file__), "--inside", json.dumps(spec)],
                     timeout=60 + 60 * args.rounds)
        res = json.loads(r.stdout)
    finally:
        if lab is not None:
            lab.close()
        if loop:
            subprocess.run(["losetup", "-d", loop], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", work], check=False)
    print(f"ms, median (min) of {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}")
    for key, values in res.items():
        print(f"{statistics.median(values):8.1f} ({min(values):6.1f})  {key.replace(work, '$WORK')}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        print(json.dumps(inside(json.loads(sys.argv[2]))))
    else:
        sys.path.insert(0, HERE)
        main()
