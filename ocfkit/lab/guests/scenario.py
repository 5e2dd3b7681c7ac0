"""The guest SAN's events, run on `san.SanLab`: what `ocfkit demo --guests`, the guest test and the
benchmark all run (one code path).

The cluster forms, the storage is made once, the generated CIB is loaded and Pacemaker starts both DRBD
resources, promotes them on a and starts the config filesystem and the service group there. The client
c logs in with open-iscsi through the VIP and writes acknowledged, checksummed blocks while:

1. planned move: `crm_resource --move` of the service group to b, then `--clear`;
2. crash: the qemu of the node running the service group is killed with SIGKILL; the survivor's
   corosync loses it, Pacemaker fences it through SBD, promotes DRBD and starts the group;
3. rejoin: the crashed node boots again (a fresh guest from the image: ocfkit installed, the generated
   files, its stack started), rejoins, and DRBD resyncs it.

At the end every acknowledged write is read back, both disks of both resources are UpToDate and
Connected (neither StandAlone), and no split brain was logged. Each event's figures come from the
cluster's own records: corosync's hires log, Pacemaker's log (each operation's initiation and result)
and the fencing history; the client's stall from its acknowledgement log.
"""

from __future__ import annotations

import calendar
import os
import re
import shutil
import sys
import time
import xml.etree.ElementTree as ET

from ocfkit.lab.guests import pcmk, san, vm
from ocfkit.lab.timeline import Progress


def _nodes_line(root: ET.Element | None, lab: san.SanLab) -> str:
    if root is None:
        return "cluster: no answer"
    online = ",".join(sorted(pcmk.online_nodes(root))) or "-"
    unclean = sorted(n.get("name", "") for n in root.iter("node") if n.get("unclean") == "true")
    lun = pcmk.promoted_nodes(root, "p_drbd_" + lab.resources[-1])
    group = lab.group_nodes(root)
    started = sum(1 for g in root.iter("group") if g.get("id") == lab.group
                  for r in g.iter("resource") if r.get("role") == "Started" and r.get("failed") != "true")
    total = sum(1 for g in root.iter("group") if g.get("id") == lab.group for _ in g.iter("resource"))
    return (f"online {online} | DC {san.dc(root) or '-'}" + (f" | UNCLEAN {','.join(unclean)}" if unclean else "")
            + f" | {lab.resources[-1]} Promoted on {','.join(lun) or '-'} | group "
            + (group[0] if group else f"{started}/{total} started"))


class Run:
    """One run of the scenario: the lab, the progress printer and the figures collected so far."""

    def __init__(self, lab: san.SanLab, say=print, logdir: str = "", tick=None) -> None:
        self.lab = lab
        self.say = say
        self.tick = tick or say  # the live lines while waiting (a terminal overwrites them)
        self.logdir = logdir
        self.dev = ""
        self.summary: dict = {"events": [], "lab_s": {}}

    # -- progress -------------------------------------------------------------------------------

    def client_line(self) -> str:
        if not self.dev:
            return ""
        r = self.lab["c"].run("wc -l < /tmp/acks; tail -1 /tmp/acks; date +%s.%N", timeout=30, check=False)
        w = r.out.split()
        if r.rc != 0 or len(w) < 6:
            return " | client ?"
        gap = float(w[-1]) - float(w[4])
        return f" | client {w[0]} writes" + (f", STALLED {gap:5.1f}s" if gap > 1.5 else "")

    def wait(self, on: str, predicate, timeout: float, what: str, phase: str) -> ET.Element:
        """lab.wait with a progress line (cluster view and client) every poll."""
        def check(root: ET.Element) -> bool:
            self.tick(f"{phase:<20} | {_nodes_line(root, self.lab)}{self.client_line()}")
            return predicate(root)

        return self.lab.wait(on, check, timeout, what, interval=2)

    # -- records --------------------------------------------------------------------------------

    def logs(self, node: str) -> tuple[str, str, str]:
        """(pacemaker.log, corosync.log, syslog) of a running node."""
        g = self.lab[node]
        out = []
        for f in ("/var/log/pacemaker/pacemaker.log", "/var/log/corosync/corosync.log", "/var/log/syslog"):
            out.append(g.run(f"cat {f} 2>/dev/null", timeout=120, check=False).out)
        return out[0], out[1], out[2]

    def keep_logs(self, node: str, tag: str) -> None:
        """The node's records as the lab's log export last copied them (also after a crash)."""
        if not self.logdir:
            return
        src = os.path.join(self.lab[node].dir, "ctl", "log")
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(self.logdir, f"{node}-{tag}"), dirs_exist_ok=True)

    def operations(self, dc_name: str, t0_dc: float, nodes=pcmk.NODES) -> list[dict]:
        """Resource operations after t0 (the DC's clock) from the DC's log and the other node's own results."""
        texts = [self.lab[n].run("cat /var/log/pacemaker/pacemaker.log", timeout=120, check=False).out
                 for n in (dc_name, *sorted(set(nodes) - {dc_name})) if self.lab[n].alive()]
        return san.operations("\n".join(texts), t0_dc)

    # -- the steps ------------------------------------------------------------------------------

    def form(self) -> None:
        lab = self.lab
        t0 = time.monotonic()
        self.wait("a", lambda r: pcmk.online_nodes(r) == {"a", "b"}, 300, "cluster of a and b", "cluster forming")
        lab.timings["cluster formed"] = time.monotonic() - t0
        create = lab.sbd_create()
        wd, msgwait = re.search(r"-1 (\d+) -4 (\d+)", create).groups()
        dump = lab["b"].sh(f"sbd -d {pcmk.SBD_DEVICE} dump")
        if not (re.search(rf"Timeout \(watchdog\) *: {wd}\n", dump)
                and re.search(rf"Timeout \(msgwait\) *: {msgwait}\n", dump)):
            raise vm.GuestError(f"the SBD header does not hold the README's timeouts ({create}):\n{dump}")
        self.summary["sbd"] = {"watchdog_s": int(wd), "msgwait_s": int(msgwait)}
        self.say(f"cluster formed; SBD header: watchdog {wd} s, msgwait {msgwait} s")

    def start(self) -> None:
        lab = self.lab
        self.say("DRBD metadata on both nodes, the config filesystem, VG and LV (once, before Pacemaker)")
        t0 = time.monotonic()
        lab.prepare_storage()
        lab.timings["DRBD metadata, filesystem, VG and LV"] = time.monotonic() - t0
        t_load = lab.clock("a")
        t0 = time.monotonic()
        self.say("loading the generated CIB (cibadmin --replace --scope configuration)")
        lab.load_cib()
        root = self.wait("a", lambda r: lab.group_nodes(r) == ["a"], 900, "service group on a", "starting on a")
        lab.timings["CIB loaded -> group started on a"] = time.monotonic() - t0
        lun = "p_drbd_" + lab.resources[-1]
        if pcmk.promoted_nodes(root, lun) != ["a"]:
            raise vm.GuestError(f"{lun} is not Promoted on a: {_nodes_line(root, lab)}")
        dc_name = san.dc(root) or "a"
        ops = self.operations(dc_name, t_load - (lab.clock("a") - lab.clock(dc_name)))
        self.summary["start_up"] = {"operations": ops,
                                    "seconds": round(lab.timings["CIB loaded -> group started on a"], 1)}

    def client(self, steady: float) -> None:
        lab, c = self.lab, self.lab["c"]
        self.say(f"client c: open-iscsi login through the VIP {lab.vip}, then the writer (O_DIRECT|O_DSYNC + fsync)")
        self.dev = c.sh(san.CLIENT_LOGIN.format(vip=lab.vip, iqn=lab.iqn), timeout=180).strip()
        if not self.dev.startswith("/dev/sd"):
            raise vm.GuestError(f"the client found no disk: {self.dev}")
        san.start_writer(c, self.dev)
        self.steady("steady on a", steady)

    def steady(self, phase: str, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.tick(f"{phase:<20} |{self.client_line()}")
            time.sleep(min(3.0, max(0.0, end - time.monotonic())))

    def resumed(self, phase: str, after_c: float, timeout: float = 120) -> None:
        """Wait until the client has an acknowledgement after after_c (its clock)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            log = san.acks(self.lab["c"])
            if log and log[-1][2] > after_c:
                return
            self.tick(f"{phase:<20} |{self.client_line()}")
            time.sleep(2)
        raise vm.GuestError(f"the client's writes did not resume within {timeout:.0f} s")

    def move(self, dst: str, steady: float) -> None:
        lab = self.lab
        root = pcmk.crm_mon(lab[dst])
        dc_name = san.dc(root) or dst
        src = lab.group_nodes(root)[0]
        t_dc, t_c = lab.clock(dc_name), lab.clock("c")
        cmds = [f"crm_resource --move --resource {lab.group} --node {dst}",
                f"crm_resource --clear --resource {lab.group}"]
        self.say(f"planned move {src} -> {dst}: {cmds[0]}")
        t0 = time.monotonic()
        lab[src].sh(cmds[0], timeout=120)
        root = self.wait(src, lambda r: lab.group_nodes(r) == [dst], 900, f"service group on {dst}", f"moving to {dst}")
        took = time.monotonic() - t0
        lun = "p_drbd_" + lab.resources[-1]
        if pcmk.promoted_nodes(root, lun) != [dst]:
            raise vm.GuestError(f"{lun} is not Promoted on {dst}")
        self.say(f"group on {dst} after {took:.1f} s; {cmds[1]}")
        lab[dst].sh(cmds[1], timeout=120)
        if "cli-prefer" in lab[dst].sh("cibadmin -Q --scope constraints", timeout=120):
            raise vm.GuestError("crm_resource --clear left the cli-prefer constraint")
        self.resumed(f"resuming on {dst}", lab.clock("c"))
        ops = self.operations(dc_name, t_dc)
        stall = san.stall(san.acks(lab["c"]), t_c, lab.clock("c"))
        ev = {"kind": "planned move", "from": src, "to": dst, "commands": cmds, "client_stall_s": stall,
              "group_moved_s": round(took, 1), "operations": ops,
              **move_breakdown(ops, members=_group_members(lab), lun=lun, src=src, dst=dst)}
        self.summary["events"].append(ev)
        self.say(f"move done: client stalled {stall:.1f} s; group stop on {src} {_fmt(ev['group_stop_s'])}, "
                 f"{lab.resources[-1]} promote on {dst} {_fmt(ev['promote_s'])}, "
                 f"group start {_fmt(ev['group_start_s'])}; "
                 f"ocfkit's agents on {dst} {_fmt(ev['ocfkit_s'])}")
        self.steady(f"steady on {dst}", steady)

    def crash(self, steady: float) -> str:
        lab = self.lab
        root = pcmk.crm_mon(lab["a"])
        victim = lab.group_nodes(root)[0]
        survivor = "a" if victim == "b" else "b"
        off_s = lab.clock(survivor) - time.time()  # the survivor's log clock minus the host's
        off_c = lab.clock("c") - time.time()
        self.say(f"crash: {victim}'s qemu killed with SIGKILL (no warning; it runs the service group)")
        t_kill = time.time()
        lab[victim].kill()
        t0 = time.monotonic()
        root = self.wait(survivor, lambda r: lab.group_nodes(r) == [survivor], 600,
                         f"service group on {survivor} after the crash", f"{victim} crashed")
        took = time.monotonic() - t0
        self.keep_logs(victim, "crashed")
        lun = "p_drbd_" + lab.resources[-1]
        if pcmk.promoted_nodes(root, lun) != [survivor]:
            raise vm.GuestError(f"{lun} is not Promoted on {survivor}")
        self.resumed(f"resuming on {survivor}", lab.clock("c"))
        history = lab.fence_history(survivor, victim)
        logs = self.logs(survivor)
        t_kill_s = t_kill + off_s
        stall = san.stall(san.acks(lab["c"]), t_kill + off_c, lab.clock("c"))
        ev = {"kind": "crash", "from": victim, "to": survivor, "client_stall_s": stall,
              "group_on_survivor_s": round(took, 1),
              **crash_breakdown(logs, history, t_kill_s, members=_group_members(lab),
                                lun="p_drbd_" + lab.resources[-1], victim=victim, survivor=survivor)}
        self.summary["events"].append(ev)
        fe = ev["fence_event"]
        self.say(f"takeover done: client stalled {stall:.1f} s: detection {_fmt(ev['detection_s'])}, fencing "
                 f"{_fmt(ev['fencing_s'])} ({fe.get('action')} of {victim} by {fe.get('delegate')}: "
                 f"{fe.get('status')}), "
                 f"{lab.resources[-1]} promote {_fmt(ev['promote_s'])} (of which DRBD's fence-peer handler "
                 f"{_fmt(ev['promote_in_fence_peer_handler_s'])}), group start {_fmt(ev['group_start_s'])}; "
                 f"ocfkit's share {_fmt(ev['ocfkit_s'])}")
        if fe.get("status") != "success" or fe.get("target") != victim:
            raise vm.GuestError(f"no successful fencing of {victim} in Pacemaker's history: {history}")
        self.steady(f"steady on {survivor}", steady)
        return victim

    def rejoin(self, node: str) -> None:
        lab = self.lab
        survivor = "a" if node == "b" else "b"
        slots = lab.sbd_slots(survivor)
        self.say(f"{node} boots again (a fresh guest from the image); its SBD slot says {slots.get(node)!r}")
        t0 = time.monotonic()
        lab._stage(node)
        t_booted = time.monotonic()
        lab.start_stack(node)
        self.wait(survivor, lambda r: pcmk.online_nodes(r) == {"a", "b"}, 400, f"{node} rejoined", f"{node} rejoining")
        t_joined = time.monotonic()

        def synced(_root: ET.Element) -> bool:
            return all("Connected UpToDate/UpToDate" in s for n in pcmk.NODES
                       for s in lab.drbd_state(n).values())

        root = self.wait(survivor, synced, 600, "DRBD resynced on both nodes", "resyncing")
        t_synced = time.monotonic()
        # crm-unfence-peer.9.sh (after-resync-target, on the node that was behind) removes the constraint
        # crm-fence-peer.9.sh placed.
        end = time.monotonic() + 120
        while "drbd-fence-by-handler" in (cons := lab[survivor].sh("cibadmin -Q --scope constraints", timeout=120)):
            if time.monotonic() > end:
                raise vm.GuestError(f"the fence-peer constraints stayed after the resync:\n{cons}")
            time.sleep(2)
        group = lab.group_nodes(root)
        ev = {"kind": "rejoin", "node": node, "boot_and_install_s": round(t_booted - t0, 1),
              "stack_to_online_s": round(t_joined - t_booted, 1), "resync_s": round(t_synced - t_joined, 1),
              "group_on": group[0] if group else "", "sbd_slot_before": slots.get(node, "")}
        self.summary["events"].append(ev)
        self.say(f"{node} rejoined {t_joined - t0:.1f} s after its boot began, "
                 f"DRBD in sync {t_synced - t_joined:.1f} s "
                 f"later; the group stays on {ev['group_on'] or '(nowhere!)'}")

    def finish(self) -> None:
        lab, c = self.lab, self.lab["c"]
        self.say("stopping the client; reading back every acknowledged write")
        log = san.acks(c)
        san.stop_writer(c)
        result = c.run(f"python3 /tmp/verify.py {self.dev} /tmp/acks", timeout=300, check=False)
        m = re.search(r"acknowledged (\d+) slots (\d+) bad (\d+)", result.out)
        state = {n: lab.drbd_state(n) for n in pcmk.NODES}
        split = {}
        for n in pcmk.NODES:
            split[n] = int(lab[n].sh("dmesg | grep -ci 'split-brain' || true").strip() or 0)
        self.summary.update(
            writes_acknowledged=int(m.group(1)) if m else len(log), slots_verified=int(m.group(2)) if m else 0,
            lost_acknowledged_writes=int(m.group(3)) if m else None, verify_output=result.out.strip(),
            verified=bool(m) and result.rc == 0 and m.group(3) == "0", drbd=state, split_brain_messages=split)
        ok_disks = all("Connected UpToDate/UpToDate" in s and "StandAlone" not in s
                       for st in state.values() for s in st.values())
        self.summary["disks_uptodate_connected"] = ok_disks
        self.say(f"verified: {result.out.strip()}; DRBD: "
                 + "; ".join(f"{n}: " + ", ".join(f"{r} {s}" for r, s in st.items()) for n, st in state.items()))


def _fmt(v) -> str:
    return "?" if v is None else f"{v:.1f}s"


def _span(ops: list[dict]) -> float | None:
    """First initiated -> last done of a set of operations."""
    if not ops:
        return None
    return round(max(o["done_s"] for o in ops) - min(o["initiated_s"] for o in ops), 2)


def _group_members(lab: san.SanLab) -> list[str]:
    root = ET.fromstring(lab.files["cib.xml"][0])
    return [p.get("id", "") for g in root.iter("group") if g.get("id") == lab.group for p in g.findall("primitive")]


def move_breakdown(ops: list[dict], *, members: list[str], lun: str, src: str, dst: str) -> dict:
    """The move from the DC's records: the group's stops on src, the demote and promote of the LUN's DRBD
    (primitive lun), the group's starts on dst; ocfkit's agents' own time on dst (promote plus starts)."""
    stops = [o for o in ops if o["action"] == "stop" and o["resource"] in members and o["node"] == src]
    starts = [o for o in ops if o["action"] == "start" and o["resource"] in members and o["node"] == dst]
    demote = [o for o in ops if o["action"] == "demote" and o["resource"] == lun and o["node"] == src]
    promote = [o for o in ops if o["action"] == "promote" and o["resource"] == lun and o["node"] == dst]
    return {"group_stop_s": _span(stops), "demote_s": demote[0]["seconds"] if demote else None,
            "promote_s": promote[0]["seconds"] if promote else None, "group_start_s": _span(starts),
            "agents_start_s": {o["resource"]: o["seconds"] for o in starts},
            "ocfkit_s": round(sum(o["seconds"] for o in starts + promote[:1]), 2) if starts else None}


def _first(text: str, pattern: str, t0: float) -> float | None:
    year = time.gmtime(t0).tm_year
    for line in text.splitlines():
        if re.search(pattern, line):
            t = pcmk.stamp(line, year)
            if t is not None and t >= t0 - 1:
                return round(t - t0, 2)
    return None


def fence_peer_handlers(syslog: str, t0: float) -> list[dict]:
    """DRBD's fence-peer handler runs after t0 from a node's syslog (whole seconds): resource, seconds after t0
    when it began (its first line names DRBD_RESOURCE) and how long it ran (to its last line), its verdict."""
    year = time.gmtime(t0).tm_year
    runs: dict[str, dict] = {}
    for line in syslog.splitlines():
        m = re.match(r"(?:<\d+>)?(.*?) crm-fence-peer\.9\.sh\[(\d+)\]: (.*)", line)
        t = pcmk.stamp(m.group(1), year) if m else None
        if t is None or t < t0 - 1:
            continue
        pid, text = m.group(2), m.group(3)
        r = re.search(r"\bDRBD_RESOURCE=(\S+)", text)
        if r and pid not in runs:
            runs[pid] = {"resource": r.group(1), "began_s": round(t - t0, 1), "seconds": 0.0, "said": ""}
        elif pid in runs:
            runs[pid]["seconds"] = round(t - t0 - runs[pid]["began_s"], 1)
            if text.strip() not in ("", "/"):
                runs[pid]["said"] = text.strip()[:200]
    return sorted(runs.values(), key=lambda r: r["began_s"])


def crash_breakdown(logs: tuple[str, str, str], history: list[dict], t_kill: float, *, members: list[str], lun: str,
                    victim: str, survivor: str) -> dict:
    """Seconds after the kill (the survivor's clock) of each step, from the survivor's records: logs is its
    (pacemaker.log, corosync.log, syslog), history its fencing history of the victim."""
    pacemaker_log, corosync_log, syslog = logs
    ops = san.operations(pacemaker_log, t_kill)
    token = _first(corosync_log, r"A processor failed", t_kill)
    membership = _first(corosync_log, r"Members\[1\]", t_kill)
    lost = _first(pacemaker_log, rf"Node {victim} state is now lost|{victim}.* state is now lost", t_kill)
    requested = _first(pacemaker_log, rf"Requesting fencing .*{victim}", t_kill)
    delayed = None
    for line in pacemaker_log.splitlines():
        m = re.search(rf"Delaying '\w+' action targeting {victim} .*? for ([\d.]+)s", line)
        t = pcmk.stamp(line, time.gmtime(t_kill).tm_year) if m else None
        if t is not None and t >= t_kill:
            delayed = float(m.group(1))
    done = [e for e in history if e.get("status") == "success"]
    fence = done[-1] if done else (history[-1] if history else {})
    completed = None
    m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(\.\d+)?", fence.get("completed", ""))
    if m:
        completed = round(calendar.timegm(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + float(m.group(2) or 0)
                          - t_kill, 2)
    if completed is None:
        completed = _first(pacemaker_log, rf"Operation '?\w+'? targeting {victim} .*: OK", t_kill)
    promote = [o for o in ops if o["action"] == "promote" and o["resource"] == lun and o["node"] == survivor]
    starts = [o for o in ops if o["action"] == "start" and o["resource"] in members and o["node"] == survivor]
    others = [o for o in ops if o not in promote and o not in starts]
    handlers = fence_peer_handlers(syslog, t_kill)
    lun_res = lun.removeprefix("p_drbd_")
    # The promote waits in the kernel while DRBD runs its fence-peer handler (the peer's disk is unknown).
    in_promote = [h for h in handlers if h["resource"] == lun_res and promote
                  and promote[0]["initiated_s"] - 1 <= h["began_s"] <= promote[0]["done_s"]]
    last = max((o["done_s"] for o in starts), default=None)
    out = {
        "detection_s": membership, "token_lost_s": token, "node_lost_s": lost,
        "fencing_requested_s": requested, "fencing_delay_s": delayed, "fencing_completed_s": completed,
        "fencing_s": round(completed - requested, 2) if completed is not None and requested is not None else None,
        "promote_initiated_s": promote[0]["initiated_s"] if promote else None,
        "promote_s": promote[0]["seconds"] if promote else None,
        "group_start_initiated_s": min((o["initiated_s"] for o in starts), default=None),
        "group_started_s": last, "group_start_s": _span(starts),
        "agents_start_s": {o["resource"]: o["seconds"] for o in starts},
        "ocfkit_s": round(sum(o["seconds"] for o in starts + promote[:1]), 2) if starts and promote else None,
        "other_operations": [f"{o['action']} {o['resource']} on {o['node']} {o['initiated_s']}-{o['done_s']} "
                             f"{o['result']}" for o in others],
        "fence_event": {k: fence.get(k, "") for k in ("action", "target", "delegate", "status", "completed")},
        "fence_peer_handlers": handlers,
        "promote_in_fence_peer_handler_s": in_promote[0]["seconds"] if in_promote else None,
        "operations": ops,
    }
    if out["ocfkit_s"] is not None and out["promote_in_fence_peer_handler_s"] is not None:
        out["ocfkit_without_handler_s"] = round(out["ocfkit_s"] - out["promote_in_fence_peer_handler_s"], 2)
    if last is not None and promote:
        out["scheduling_s"] = round(last - (completed or 0) - out["ocfkit_s"], 2)
    return out


def timeouts(lab: san.SanLab) -> dict:
    """The configured timeouts that bound the crash stall, from the generated files."""
    coro = lab.files["corosync.conf"][0]
    token = int(re.search(r"token: (\d+)", coro).group(1))
    cib = ET.fromstring(lab.files["cib.xml"][0])
    props = {nv.get("name"): nv.get("value") for nv in cib.iter("nvpair")}
    create = lab.sbd_create()
    wd, msgwait = (int(x) for x in re.search(r"-1 (\d+) -4 (\d+)", create).groups())
    return {"corosync_token_ms": token, "corosync_consensus_ms": int(1.2 * token), "sbd_watchdog_s": wd,
            "sbd_msgwait_s": msgwait, "pcmk_delay_max": props.get("pcmk_delay_max", "0s"),
            "stonith_timeout": props.get("stonith-timeout")}


def run(lab: san.SanLab, *, say=print, tick=None, steady: float = 10.0, logdir: str = "",
        summary: dict | None = None) -> dict:
    """Boot the lab, run the three events and the checks; the summary. When a step fails the exception
    propagates, and the summary passed in holds what was measured until then."""
    r = Run(lab, say, logdir, tick)
    if summary is not None:
        summary.update(r.summary)
        r.summary = summary
    r.summary["accelerator"] = vm.accelerator_name()
    r.summary["timeouts"] = timeouts(lab)
    r.summary.setdefault("generated", lab.generated)
    try:
        say("booting a, b (Debian 13: Pacemaker 3.0, corosync, sbd, DRBD 8.4, LIO) and the client c; ocfkit "
            "installed from its wheel in each node (pip + ocfkit install)")
        t0 = time.monotonic()
        lab.boot()
        lab.timings["boot + install + stack start"] = time.monotonic() - t0
        r.form()
        r.start()
        r.client(steady)
        r.move("b", steady)
        victim = r.crash(steady)
        r.rejoin(victim)
        r.steady("steady", steady)
        r.finish()
    finally:
        r.summary["lab_s"] = {k: round(v, 1) for k, v in lab.timings.items()}
        for n in pcmk.NODES:
            r.keep_logs(n, "end")
    return r.summary


def ok(summary: dict) -> bool:
    """The run's verdict: every acknowledged write read back, disks UpToDate and Connected, no split brain,
    the crashed node fenced."""
    crash = next((e for e in summary.get("events", []) if e["kind"] == "crash"), {})
    return (bool(summary.get("verified")) and summary.get("lost_acknowledged_writes") == 0
            and bool(summary.get("disks_uptodate_connected"))
            and not any(summary.get("split_brain_messages", {}).values())
            and crash.get("fence_event", {}).get("status") == "success"
            and [e["kind"] for e in summary.get("events", [])] == ["planned move", "crash", "rejoin"])


# -- `ocfkit demo --guests` ------------------------------------------------------------------------

class DemoError(Exception):
    """The guest demo cannot run or continue; the message says why."""


def source_tree() -> str:
    """The ocfkit source tree the guests' wheel is built from: this checkout, or the one pip installed
    this ocfkit from (its direct_url.json)."""
    if os.path.isfile(os.path.join(vm.REPO, "pyproject.toml")) and os.path.exists(os.path.join(vm.REPO, ".git")):
        return vm.REPO
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    try:
        url = json.loads(metadata.distribution("ocfkit").read_text("direct_url.json") or "{}").get("url", "")
    except (metadata.PackageNotFoundError, ValueError):
        url = ""
    path = unquote(urlparse(url).path) if url.startswith("file://") else ""
    if path and os.path.isfile(os.path.join(path, "pyproject.toml")) and os.path.exists(os.path.join(path, ".git")):
        return path
    raise DemoError("the guests install ocfkit from a wheel of its source tree: run this from a git checkout "
                    "of ocfkit (or an ocfkit pip-installed from one)")


def description() -> str:
    """examples/guest-san.toml: in the source tree, the venv's share/ocfkit (scripts/setup.sh) or the docs."""
    for path in (os.path.join(vm.REPO, "examples", "guest-san.toml"),
                 os.path.join(sys.prefix, "share", "ocfkit", "examples", "guest-san.toml"),
                 "/usr/share/doc/ocfkit/examples/guest-san.toml"):
        if os.path.isfile(path):
            return path
    raise DemoError("examples/guest-san.toml not found (the guest SAN's description)")


def refusal() -> str:
    """Why this host cannot run the guest demo ('' when it can)."""
    if os.geteuid() != 0:
        return "the guest demo needs root (qemu guests, image build with debootstrap)"
    for tool in ("qemu-system-x86_64", "debootstrap", "mkfs.ext4", "cpio", "depmod", "zstd"):
        if not shutil.which(tool):
            return f"{tool} is not installed (scripts/setup.sh installs what the guest lab needs)"
    return ""


def demo(*, steady: float = 10.0, as_json: bool = False) -> dict:
    """`ocfkit demo --guests`: build (or find) the Debian 13 image, boot the lab, run the events with live
    progress, stop every guest and remove the run directory; the summary (logs kept in a directory)."""
    import signal
    import tempfile

    from ocfkit.lab.guests import image

    why = refusal()
    if why:
        raise DemoError(why)
    say = Progress(sys.stderr if as_json else sys.stdout)

    workdir = tempfile.mkdtemp(prefix="ocfkit-guest-demo-")
    os.chmod(workdir, 0o755)
    logdir = os.path.join(workdir, "logs")
    os.makedirs(logdir)
    rundir = os.path.join(vm.CACHE_RUNS, f"run-{os.getpid()}-demo")
    lab = None
    summary: dict = {"demo": "guests", "logs": logdir}
    old_term = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        src = source_tree()
        desc = description()
        say(f"image: Debian 13 (trixie) guest image, built once and cached in {image.CACHE} "
            f"({vm.accelerator_name().upper()})")
        t0 = time.monotonic()
        img = image.build("trixie")
        say(f"image ready in {time.monotonic() - t0:.0f} s: {img}")
        shutil.rmtree(rundir, ignore_errors=True)
        say(f"ocfkit's wheel from {src}; ocfkit generate {desc}")
        wheel = pcmk.build_wheel(src, os.path.join(rundir, "dist"))
        lab = san.SanLab(img, rundir, wheel, description=desc)
        shutil.copytree(lab.generated, os.path.join(workdir, "generated"))
        summary["generated"] = os.path.join(workdir, "generated")
        run(lab, say=say, tick=say.live, steady=steady, logdir=logdir, summary=summary)
    except (vm.GuestError, AssertionError, OSError, ValueError, KeyError, IndexError, AttributeError) as e:
        # Reported in the summary (with the logs kept) rather than as a traceback.
        summary["error"] = f"{type(e).__name__}: {str(e)[-4000:]}"
        say(f"FAILED: {summary['error'][-2000:]}")
    except KeyboardInterrupt:
        summary["error"] = "interrupted"
        summary["interrupted"] = True
    finally:
        signal.signal(signal.SIGTERM, old_term)
        if lab is not None:
            lab.stop_all()
        shutil.rmtree(rundir, ignore_errors=True)
    summary["ok"] = ok(summary) and "error" not in summary
    summary["seconds"] = round(say.elapsed(), 1)
    return summary


def print_summary(s: dict) -> None:
    print("\n== summary (guest SAN: Pacemaker 3.0 in Debian 13 guests, " + s.get("accelerator", "?").upper() + ")")
    for e in s.get("events", []):
        if e["kind"] == "planned move":
            print(f"  planned move {e['from']} -> {e['to']}: client stalled {e['client_stall_s']:.1f}s; group stop "
                  f"{_fmt(e['group_stop_s'])}, demote {_fmt(e['demote_s'])}, promote {_fmt(e['promote_s'])}, group "
                  f"start {_fmt(e['group_start_s'])}; ocfkit's agents on {e['to']} {_fmt(e['ocfkit_s'])}")
        elif e["kind"] == "crash":
            fe = e["fence_event"]
            print(f"  crash of {e['from']} (qemu SIGKILL): client stalled {e['client_stall_s']:.1f}s")
            print(f"      detection {_fmt(e['detection_s'])} (token lost {_fmt(e['token_lost_s'])}), fencing requested "
                  f"{_fmt(e['fencing_requested_s'])}, completed {_fmt(e['fencing_completed_s'])} "
                  f"({fe.get('action')} of "
                  f"{fe.get('target')} by {fe.get('delegate')}: {fe.get('status')}), promote initiated "
                  f"{_fmt(e['promote_initiated_s'])} and took {_fmt(e['promote_s'])} (DRBD's fence-peer handler "
                  f"{_fmt(e.get('promote_in_fence_peer_handler_s'))}), group started "
                  f"{_fmt(e['group_started_s'])} (its starts {_fmt(e['group_start_s'])}); ocfkit's share "
                  f"{_fmt(e['ocfkit_s'])}, {_fmt(e.get('ocfkit_without_handler_s'))} without the handler")
        elif e["kind"] == "rejoin":
            print(f"  rejoin of {e['node']}: boot + install {e['boot_and_install_s']:.1f}s, stack to online "
                  f"{e['stack_to_online_s']:.1f}s, DRBD resync {e['resync_s']:.1f}s; "
                  f"the group stays on {e['group_on']}")
    t = s.get("timeouts", {})
    if t:
        print("  timeouts: " + ", ".join(f"{k} {v}" for k, v in t.items()))
    if "writes_acknowledged" in s:
        print(f"  writes acknowledged: {s['writes_acknowledged']}; read back: {s.get('verify_output')}")
        print(f"  DRBD UpToDate and Connected on both nodes: {'yes' if s.get('disks_uptodate_connected') else 'NO'}; "
              f"split-brain messages: {s.get('split_brain_messages')}")
    if s.get("error"):
        print(f"  FAILED: {s['error'][-1500:]}")
    print(f"  generated files: {s.get('generated')}; logs: {s['logs']}")
    print(f"  {'OK' if s.get('ok') else 'NOT OK'} in {s.get('seconds')} s")


def main(args) -> int:
    import json

    s = demo(steady=args.steady if args.steady is not None else 10.0, as_json=args.json)
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        print_summary(s)
    if s.get("interrupted"):
        print("\ninterrupted: the guests were stopped and their run directory removed (what was measured is "
              "above)", file=sys.stderr)
        return 130
    return 0 if s.get("ok") else 1
