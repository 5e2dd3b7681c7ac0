"""The seed guide's own cluster in qemu guests: two Debian 13 nodes run the real heartbeat 3.0.6 daemon.

`HeartbeatLab` is `san.SanLab` (nodes a and b, client c, ocfkit installed from its wheel at every boot)
configured from what `ocfkit generate examples/seed-guests.toml` writes for heartbeat: ha.cf, authkeys
(0600) and haresources in /etc/ha.d, drbd-heartbeat.conf as /etc/drbd.conf (fencing resource-only,
fence-peer `drbd-peer-outdater -t 5`: dopd), and the generated README's steps: `ocfkit install --force`
(ocfkit's resource.d wrappers in place of heartbeat's own, the originals kept) and the dpkg-statoverride
lines that let dopd (user hacluster) run DRBD's tools. What a booted Debian does and the guests (no
systemd) do not is done by hand, in the same order: systemd-tmpfiles for /run/heartbeat, the DRBD
resources brought up (`drbdadm adjust all`, drbd's init script's job), then `/etc/init.d/heartbeat start`.

The target is LIO (the iSCSITarget and iSCSILogicalUnit wrappers build it in configfs): the seed's IET
has no kernel module on any supported distribution, and LIO is the kernel's own target, as IET was a
kernel target (blockio, no page cache on the target side), with no daemon and no file to keep in sync.

The scenario (`run`): the service starts on a; the client c logs in through the VIP and writes the
checksummed acknowledged stream (san.py's writer) while
1. `/etc/init.d/heartbeat stop` runs on the active node (the guide's method); it comes back afterwards
   (`/etc/init.d/heartbeat start`) and, auto_failback off, the service stays on the peer;
2. the active node's qemu is killed with SIGKILL (the power pull): the survivor declares it dead after
   deadtime, takes over, and DRBD's fence-peer handler (dopd) marks the peer's disk Outdated;
3. the killed node boots again (a fresh guest from the image), rejoins, DRBD resyncs it, and the
   service stays where it is.
At the end every acknowledged write is read back, both disks are UpToDate and Connected on both nodes,
and no split brain was logged.

Records: the guests run no syslog daemon; a small sink on /dev/log writes every message with the guest's
clock in milliseconds in front (heartbeat logs to syslog with `logfacility local0`, and ResourceManager,
mach_down, dopd and drbd-peer-outdater through it), and the sink's file (/var/log/ha-log), /proc/drbd
and dmesg are copied to the host every 2 s, so a node that is killed leaves them behind.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time

from ocfkit.lab.guests import pcmk, san, scenario, vm
from ocfkit.lab.timeline import Progress

DESCRIPTION = os.path.join(vm.REPO, "examples", "seed-guests.toml")
HA_LOG = "/var/log/ha-log"
INIT = "/etc/init.d/heartbeat"

# The syslog sink (each message stamped with the guest's clock, ms) and the copies to the host.
LOGS = r"""
rm -f /dev/log
setsid -f python3 -c '
import socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open("/var/log/ha-log", "ab", buffering=0) as f:
    while True:
        m = s.recv(65536).replace(b"\0", b"").rstrip(b"\n")
        f.write(b"%.3f " % time.time() + m + b"\n")
' </dev/null >/dev/null 2>&1
mkdir -p /ctl/log
setsid -f bash -c 'while :; do
  cp /var/log/ha-log /ctl/log/ha-log 2>/dev/null
  cat /proc/drbd > /ctl/log/proc-drbd.tmp 2>/dev/null && mv /ctl/log/proc-drbd.tmp /ctl/log/proc-drbd
  dmesg > /ctl/log/dmesg.tmp 2>/dev/null && mv /ctl/log/dmesg.tmp /ctl/log/dmesg
  sleep 2; done' </dev/null >/dev/null 2>&1
for i in $(seq 50); do [ -S /dev/log ] && exit 0; sleep 0.1; done
echo "the syslog sink did not start"; exit 1
"""


def statoverrides(readme: str) -> list[str]:
    """The generated README's dpkg-statoverride lines (dopd's access to DRBD's tools)."""
    lines = [ln.strip() for ln in readme.splitlines() if ln.strip().startswith("dpkg-statoverride ")]
    if not lines:
        raise vm.GuestError("the generated README has no dpkg-statoverride step for dopd")
    return lines


def haresources_group(text: str) -> tuple[str, list[str]]:
    """(preferred node, resources) of the group that holds the IP address (the service the client uses)."""
    for line in text.splitlines():
        w = line.split("#", 1)[0].split()
        if len(w) > 1 and any(r.startswith(("IPaddr2::", "IPaddr::")) for r in w[1:]):
            return w[0], w[1:]
    raise vm.GuestError("the generated haresources has no group with an IP address")


def interval(ha_cf: str, key: str = "deadtime") -> float:
    """deadtime or keepalive of ha.cf, in seconds."""
    m = re.search(rf"^{key}\s+(\d+)(ms)?\s*$", ha_cf, re.M)
    if not m:
        raise vm.GuestError(f"the generated ha.cf has no {key}")
    return int(m.group(1)) / (1000 if m.group(2) else 1)


def deadtime(ha_cf: str) -> float:
    return interval(ha_cf, "deadtime")


def resumption(log: list[tuple[int, float, float]], t0: float, t1: float) -> float | None:
    """The client's clock when its writes resumed: the acknowledgement that ended the longest gap between
    t0 and t1 (the stall san.stall measures)."""
    times = [t for _s, _i, t in log if t0 - 5 <= t <= t1]
    if len(times) < 2:
        return None
    gaps = [(b - a, b) for a, b in zip(times, times[1:])]
    return max(gaps)[1]


# -- reading the records (pure) -------------------------------------------------------------------

def entries(text: str) -> list[tuple[float, str]]:
    """(guest clock, message) of each line of the sink's log."""
    out = []
    for line in text.replace("\0", "").splitlines():
        m = re.match(r"(\d+\.\d+) (.*)", line)
        if m:
            out.append((float(m.group(1)), m.group(2)))
    return out


def first(log: list[tuple[float, str]], pattern: str, t0: float) -> float | None:
    """Time of the first message at or after t0 (less 0.5 s of clock noise) matching pattern."""
    for t, msg in log:
        if t >= t0 - 0.5 and re.search(pattern, msg):
            return t
    return None


RUNNING = re.compile(r"Running /etc/ha\.d/resource\.d/(\S+)(.*) (start|stop)\s*$")


def runs(log: list[tuple[float, str]], t0: float, action: str) -> list[tuple[float, str]]:
    """ResourceManager's `Running /etc/ha.d/resource.d/NAME ARGS ACTION` lines after t0: (time, 'NAME ARGS')."""
    out = []
    for t, msg in log:
        m = RUNNING.search(msg)
        if m and t >= t0 - 0.5 and m.group(3) == action:
            out.append((t, (m.group(1) + m.group(2)).strip()))
    return out


DONE = r"takeover complete|acquisition complete"
RELEASED = r"All HA resources relinquished"


def _span(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(b - a, 2)


def _steps(calls: list[tuple[float, str]], end: float | None, t0: float) -> list[dict]:
    """Each wrapper call: seconds after t0 when ResourceManager ran it and until the next call (the last one
    until end): heartbeat logs no end of a call, so each span also holds ResourceManager's own work."""
    out = []
    for i, (t, what) in enumerate(calls):
        nxt = calls[i + 1][0] if i + 1 < len(calls) else end
        out.append({"call": what, "at_s": round(t - t0, 2), "seconds": _span(t, nxt)})
    return out


def stop_breakdown(src_log: list[tuple[float, str]], dst_log: list[tuple[float, str]], t0_src: float,
                   t0_dst: float, resumed: float | None = None) -> dict:
    """`heartbeat stop` on the active node: t0_* is the command's moment on each node's clock. The source
    gives up its resources (its stops, in reverse order, until 'All HA resources relinquished'), the
    destination hears the shutdown notice and takes over (its starts until 'takeover complete')."""
    stops = runs(src_log, t0_src, "stop")
    released = first(src_log, RELEASED, t0_src)
    notice = first(dst_log, r"Received shutdown notice|Resources being acquired from", t0_dst)
    starts = runs(dst_log, t0_dst, "start")
    done = first(dst_log, DONE, starts[0][0]) if starts else None
    end_from = "heartbeat's log" if done is not None else "the client's writes resumed"
    if done is None:
        done = resumed
    release_s = _span(stops[0][0], released) if stops else None
    acquire_s = _span(starts[0][0], done) if starts else None
    return {
        "release_began_s": _span(t0_src, stops[0][0] if stops else None),
        "released_s": _span(t0_src, released),
        "release_s": release_s,
        "notice_s": _span(t0_dst, notice),
        "acquire_began_s": _span(t0_dst, starts[0][0] if starts else None),
        "acquired_s": _span(t0_dst, done),
        "acquire_s": acquire_s,
        "acquired_from": end_from,
        "wrappers_s": round(release_s + acquire_s, 2) if release_s is not None and acquire_s is not None else None,
        "stops": _steps(stops, released, t0_src),
        "starts": _steps(starts, done, t0_dst),
    }


def crash_breakdown(log: list[tuple[float, str]], t_kill: float, dead_time: float,
                    resumed: float | None = None) -> dict:
    """The power pull from the survivor's log (t_kill on its clock): the peer declared dead (deadtime),
    heartbeat's takeover scripts until the first wrapper call, the wrappers' starts until 'takeover
    complete', and what dopd and drbd-peer-outdater said."""
    dead = first(log, r"node \S+: is dead|Dead node \S+", t_kill)
    starts = runs(log, t_kill, "start")
    # mach_down's 'takeover complete' ends the takeover of the peer's own groups; the survivor's own groups
    # (it is their preferred node) come back through ResourceManager, which logs no end: then the end is
    # when the client's writes resumed (the survivor's clock), an upper bound.
    done = first(log, DONE, starts[0][0]) if starts else None
    end_from = "heartbeat's log" if done is not None else "the client's writes resumed"
    if done is None:
        done = resumed
    outdater = [{"at_s": round(t - t_kill, 2), "said": msg[-300:]} for t, msg in log
                if t >= t_kill - 0.5 and re.search(r"drbd-peer-outdater|dopd", msg)]
    crashes = [o for o in outdater if re.search(r"dopd process \d+ killed by signal", o["said"])]
    return {
        "deadtime_s": dead_time,
        "declared_dead_s": _span(t_kill, dead),
        "detection_beyond_deadtime_s": round(dead - t_kill - dead_time, 2) if dead is not None else None,
        "takeover_began_s": _span(t_kill, starts[0][0] if starts else None),
        "heartbeat_before_wrappers_s": _span(dead, starts[0][0] if starts else None),
        "takeover_done_s": _span(t_kill, done),
        "takeover_done_from": end_from,
        "wrappers_s": _span(starts[0][0], done) if starts else None,
        "starts": _steps(starts, done, t_kill),
        "dopd": outdater[:20],
        "dopd_crashes": len(crashes),
    }


def proc_drbd(text: str) -> dict[str, dict[str, str]]:
    """minor -> {cs, ro, ds} of /proc/drbd (DRBD 8.4)."""
    out = {}
    for m in re.finditer(r"^\s*(\d+): cs:(\S+) ro:(\S+) ds:(\S+)", text, re.M):
        out[m.group(1)] = {"cs": m.group(2), "ro": m.group(3), "ds": m.group(4)}
    return out


# -- the lab --------------------------------------------------------------------------------------

class HeartbeatLab(san.SanLab):
    """The SanLab's guests running heartbeat 3.0.6 with the files `ocfkit generate` wrote for it."""

    def __init__(self, image: str, rundir: str, wheel: str, *, description: str = DESCRIPTION) -> None:
        super().__init__(image, rundir, wheel, description=description)
        self.preferred, self.group_resources = haresources_group(self.files["haresources"][0])
        self.deadtime = deadtime(self.files["ha.cf"][0])
        self.keepalive = interval(self.files["ha.cf"][0], "keepalive")
        fs = next(r for r in self.group_resources + self._all_resources() if r.startswith("Filesystem::"))
        self.mountpoint = fs.split("::")[2]
        self.lun = self.resources[-1]
        block = next((r for r in self._all_resources() if r.startswith("portblock::")), "portblock::tcp::3260")
        self.port = block.split("::")[2]

    def _all_resources(self) -> list[str]:
        return [r for line in self.files["haresources"][0].splitlines()
                for r in line.split("#", 1)[0].split()[1:]]

    def config_files(self) -> dict[str, tuple[str, int]]:
        return {"ha.cf": self.files["ha.cf"], "authkeys": self.files["authkeys"],
                "haresources": self.files["haresources"], "drbd.conf": self.files["drbd-heartbeat.conf"]}

    def configure_script(self) -> str:
        overrides = "\n".join(statoverrides(self.files["README"][0]))
        return f"""
set -e
rm -f /ctl/authkey
install -m 0644 /ctl/ha.cf /etc/ha.d/ha.cf
install -m 0600 /ctl/authkeys /etc/ha.d/authkeys && rm -f /ctl/authkeys
install -m 0644 /ctl/haresources /etc/ha.d/haresources
install -m 0640 -g haclient /ctl/drbd.conf /etc/drbd.conf && rm -f /ctl/drbd.conf
{pcmk.VENV}/bin/ocfkit install --force >/dev/null 2>/tmp/ocfkit-install.err
grep -q ocfkit /etc/ha.d/resource.d/drbddisk
{overrides}
cat > /etc/lvm/lvmlocal.conf <<'EOF'
{san.FILTER}EOF
modprobe -a {san.MODULES}
systemd-tmpfiles --create heartbeat.conf drbd.conf resource-agents.conf 2>/dev/null || true
mkdir -p /var/lock/subsys
{LOGS}"""

    def boot(self) -> None:
        """The three guests booted, ocfkit installed and the generated files in place (no stack yet)."""
        self._parallel(self._stage, ("a", "b", "c"))

    def drbd_up(self, name: str) -> None:
        """What drbd's init script does at boot: the resources up as configured (Secondary)."""
        self.guests[name].sh("drbdadm adjust all", timeout=120)

    def wait_connected(self, on: str, timeout: float = 120) -> None:
        res = " ".join(self.resources)
        self.guests[on].sh(f"for r in {res}; do for i in $(seq {int(timeout * 5)}); do "
                           "[ \"$(drbdadm cstate $r)\" = Connected ] && break; sleep 0.2; done; "
                           "[ \"$(drbdadm cstate $r)\" = Connected ] || { cat /proc/drbd; exit 1; }; done",
                           timeout=timeout * len(self.resources) + 30)

    def start_heartbeat(self, name: str) -> str:
        return self.guests[name].sh(f"{INIT} start 2>&1", timeout=180)

    def drbd_state(self, on: str) -> dict[str, str]:
        """resource -> 'role/peer cstate disk/peerdisk' (drbdadm's warnings, if any, are kept apart by
        drbdadm_warnings)."""
        out = self.guests[on].sh("for r in " + " ".join(self.resources) + "; do echo $r $(drbdadm role $r 2>/dev/null) "
                                 "$(drbdadm cstate $r 2>/dev/null) $(drbdadm dstate $r 2>/dev/null); done", timeout=60)
        return {w[0]: " ".join(w[1:]) for w in (line.split() for line in out.splitlines()) if w}

    def drbdadm_warnings(self, on: str) -> str:
        """What drbdadm says about the configuration (it warns when dopd could not read it)."""
        return self.guests[on].run("drbdadm sh-nop 2>&1", timeout=60, check=False).out.strip()

    def stop_heartbeat(self, name: str) -> str:
        return self.guests[name].sh(f"{INIT} stop 2>&1", timeout=300)

    def state(self, name: str) -> dict:
        """What the node holds of the service (by its effects), heartbeat's view, /proc/drbd."""
        peer = "b" if name == "a" else "a"
        g = self.guests[name]
        if not g.alive():
            return {"alive": False, "held": [], "hb": "off", "peer": "?", "rsc": "?", "drbd": {}}
        script = f"""
r=""
ip -o -4 addr show dev eth2 | grep -q " {self.vip}/" && r="$r vip"
[ "$(drbdadm role {self.lun} 2>/dev/null | cut -d/ -f1)" = Primary ] && r="$r drbd"
grep -q " {self.mountpoint} " /proc/mounts && r="$r fs"
if cat /sys/kernel/config/target/iscsi/{self.iqn}/tpgt_*/enable 2>/dev/null | grep -qx 1; then
  r="$r target"
  ls -d /sys/kernel/config/target/iscsi/{self.iqn}/tpgt_*/lun/lun_* >/dev/null 2>&1 && r="$r lun"
  (nft list ruleset 2>/dev/null; iptables-save 2>/dev/null) | grep -w {self.port} | grep -qi drop || r="$r open"
fi
echo "held:$r"
cl_status hbstatus >/dev/null 2>&1 && echo hb:running || echo hb:stopped
echo "peer:$(cl_status nodestatus {peer} 2>/dev/null | head -1)"
echo "rsc:$(cl_status rscstatus 2>/dev/null | head -1)"
cat /proc/drbd 2>/dev/null
true"""
        r = g.run(script, timeout=60, check=False)
        kv = dict(line.split(":", 1) for line in r.out.splitlines() if re.match(r"(held|hb|peer|rsc):", line))
        return {"alive": True, "held": kv.get("held", "").split(), "hb": kv.get("hb", "?"),
                "peer": kv.get("peer", "") or "?", "rsc": kv.get("rsc", "") or "?", "drbd": proc_drbd(r.out)}

    # The VIP, the LUN's DRBD Primary, the config filesystem, the target enabled with its LUN, and the
    # port open again (portblock's unblock, the group's last member).
    FULL = ("vip", "drbd", "fs", "target", "lun", "open")

    def holder(self, states: dict[str, dict]) -> str:
        """The node holding the whole service while the other holds none of it ('' otherwise), by the
        service's effects: heartbeat's own rscstatus may stay 'transition' after a takeover (seen once:
        heartbeat lost mach_down's completion message, 'msg2string: Message with zero fields')."""
        for n, other in (("a", "b"), ("b", "a")):
            if set(states[n]["held"]) == set(self.FULL) and not states[other]["held"]:
                return n
        return ""

    def log(self, name: str) -> list[tuple[float, str]]:
        """The node's sink log: from the node while it runs, else its last copy on the host."""
        g = self.guests[name]
        if g.alive():
            r = g.run(f"cat {HA_LOG}", timeout=120, check=False)
            if r.rc == 0:
                return entries(r.out)
        try:
            with open(os.path.join(g.dir, "ctl", "log", "ha-log"), encoding="utf-8", errors="replace") as f:
                return entries(f.read())
        except OSError:
            return []

    def stop_all(self) -> None:
        for g in self.guests.values():
            g.kill()


def _line(states: dict[str, dict], lab: HeartbeatLab) -> str:
    parts = []
    for n in pcmk.NODES:
        s = states[n]
        if not s["alive"]:
            parts.append(f"{n}: OFF")
            continue
        lun = s["drbd"][max(s["drbd"])] if s["drbd"] else {}
        parts.append(f"{n}: hb {s['hb']}, rsc {s['rsc']}, holds {','.join(s['held']) or '-'}, "
                     f"{lab.lun} {lun.get('ro', '-')} {lun.get('ds', '-')} {lun.get('cs', '-')}")
    return " | ".join(parts)


class Run(scenario.Run):
    """One run of the seed's failover test on the heartbeat lab (the Pacemaker scenario's client,
    progress and final checks)."""

    lab: HeartbeatLab

    def states(self) -> dict[str, dict]:
        return {n: self.lab.state(n) for n in pcmk.NODES}

    def wait_for(self, predicate, timeout: float, what: str, phase: str) -> dict[str, dict]:
        end = time.monotonic() + timeout
        while True:
            st = self.states()
            self.tick(f"{phase:<20} | {_line(st, self.lab)}{self.client_line()}")
            if predicate(st):
                return st
            if time.monotonic() > end:
                raise vm.GuestError(f"no {what} after {timeout:.0f} s: {_line(st, self.lab)}")
            time.sleep(1)

    def start(self) -> None:
        lab = self.lab
        self.say("DRBD metadata on both nodes, the config filesystem, VG and LV (once, before heartbeat)")
        t0 = time.monotonic()
        lab.prepare_storage()
        lab.timings["DRBD metadata, filesystem, VG and LV"] = time.monotonic() - t0
        lab._parallel(lab.drbd_up, pcmk.NODES)
        lab.wait_connected("a")
        self.say(f"{pcmk.NODES[0]} and {pcmk.NODES[1]}: {INIT} start (ha.cf, authkeys, haresources from ocfkit "
                 f"generate; the group prefers {lab.preferred})")
        t0 = time.monotonic()
        lab._parallel(lab.start_heartbeat, pcmk.NODES)
        self.wait_for(lambda st: lab.holder(st) == lab.preferred, 400, f"service on {lab.preferred}",
                      "starting")
        lab.timings["heartbeat start -> service on a"] = time.monotonic() - t0
        procs = lab[lab.preferred].sh("ps -eo user,args | grep -E '[i]pfail|[d]opd' || true")
        self.summary["respawned"] = sorted({w for line in procs.splitlines() for w in line.split()
                                            if w.endswith(("/ipfail", "/dopd"))})
        respawned = ", ".join(self.summary["respawned"]) or "NONE"
        self.say(f"service on {lab.preferred}; respawned by heartbeat: {respawned}")

    def planned_stop(self, steady: float) -> str:
        lab = self.lab
        src = lab.holder(self.states())
        dst = "b" if src == "a" else "a"
        off = {n: lab.clock(n) - time.time() for n in (src, dst, "c")}
        self.say(f"event 1: {INIT} stop on {src} (the guide's method)")
        t0 = time.time()
        lab.stop_heartbeat(src)
        stopped = time.time()
        self.wait_for(lambda st: lab.holder(st) == dst, 300, f"service on {dst}", f"{src} stopped")
        took = time.time() - t0
        self.resumed(f"resuming on {dst}", lab.clock("c"))
        log = san.acks(lab["c"])
        now_c = lab.clock("c")
        stall = san.stall(log, t0 + off["c"], now_c)
        resumed = resumption(log, t0 + off["c"], now_c)
        bd = stop_breakdown(lab.log(src), lab.log(dst), t0 + off[src], t0 + off[dst],
                            None if resumed is None else resumed - off["c"] + off[dst])
        ev = {"kind": "heartbeat stop", "from": src, "to": dst, "command": f"{INIT} stop",
              "client_stall_s": stall, "service_moved_s": round(took, 1),
              "stop_command_s": round(stopped - t0, 1), **bd}
        self.summary["events"].append(ev)
        self.say(f"event 1 done: client stalled {stall:.1f} s; {src} released in {_fmt(bd['release_s'])}, "
                 f"{dst} acquired in {_fmt(bd['acquire_s'])} (notice at {_fmt(bd['notice_s'])}); "
                 f"ocfkit's wrappers {_fmt(bd['wrappers_s'])}")
        # The admin's maintenance is over: heartbeat starts again; auto_failback off, the service stays.
        t1 = time.monotonic()
        lab.start_heartbeat(src)
        self.wait_for(lambda st: st[dst]["peer"] == "active" and st[src]["hb"] == "running", 300,
                      f"{src} back in the cluster", f"{src} restarting")
        self.steady(f"steady on {dst}", steady)
        st = self.states()
        ev["back"] = {"node": src, "rejoined_s": round(time.monotonic() - t1 - steady, 1),
                      "service_on": lab.holder(st)}
        self.say(f"{src} back in the cluster; the service stays on {ev['back']['service_on'] or '(nowhere!)'}")
        if ev["back"]["service_on"] != dst:
            raise vm.GuestError(f"after {src} came back the service is not on {dst}: {_line(st, lab)}")
        return dst

    def power_pull(self, steady: float) -> str:
        lab = self.lab
        victim = lab.holder(self.states())
        survivor = "b" if victim == "a" else "a"
        off_s = lab.clock(survivor) - time.time()
        off_c = lab.clock("c") - time.time()
        self.say(f"event 2: {victim}'s qemu killed with SIGKILL (the power pull; it holds the service)")
        t_kill = time.time()
        lab[victim].kill()
        self.wait_for(lambda st: lab.holder(st) == survivor, 300, f"service on {survivor}", f"{victim} pulled")
        took = time.time() - t_kill
        self.keep_logs(victim, "pulled")
        self.resumed(f"resuming on {survivor}", lab.clock("c"))
        log = san.acks(lab["c"])
        now_c = lab.clock("c")
        stall = san.stall(log, t_kill + off_c, now_c)
        resumed = resumption(log, t_kill + off_c, now_c)
        bd = crash_breakdown(lab.log(survivor), t_kill + off_s, lab.deadtime,
                             None if resumed is None else resumed - off_c + off_s)
        drbd = lab[survivor].sh("cat /proc/drbd")
        pdsk = {m: v["ds"] for m, v in proc_drbd(drbd).items()}
        helper = lab[survivor].sh("dmesg | grep -E 'fence-peer|peer-outdater|pdsk\\(' | tail -12; true")
        ev = {"kind": "power pull", "from": victim, "to": survivor, "client_stall_s": stall,
              "service_moved_s": round(took, 1), **bd, "proc_drbd": drbd.strip(), "disk_states": pdsk,
              "peer_outdated": bool(pdsk) and all(v.endswith("/Outdated") for v in pdsk.values()),
              "kernel_fence_peer": helper.strip().splitlines()}
        self.summary["events"].append(ev)
        self.say(f"event 2 done: client stalled {stall:.1f} s: declared dead at {_fmt(bd['declared_dead_s'])} "
                 f"(deadtime {lab.deadtime:.0f} s), wrappers' takeover {_fmt(bd['wrappers_s'])}, done at "
                 f"{_fmt(bd['takeover_done_s'])}; DRBD on {survivor}: "
                 + ", ".join(f"{m} ds:{v}" for m, v in sorted(pdsk.items())))
        self.steady(f"steady on {survivor}", steady)
        return victim

    def comes_back(self, node: str) -> None:
        lab = self.lab
        survivor = "b" if node == "a" else "a"
        self.say(f"event 3: {node} boots again (a fresh guest from the image: ocfkit, the generated files), "
                 f"DRBD up, {INIT} start")
        t0 = time.monotonic()
        lab._stage(node)
        t_booted = time.monotonic()
        lab.drbd_up(node)
        lab.start_heartbeat(node)
        self.wait_for(lambda st: st[survivor]["peer"] == "active", 400, f"{node} active", f"{node} rejoining")
        t_joined = time.monotonic()

        def synced(st: dict) -> bool:
            return all(len(st[n]["drbd"]) == len(lab.resources)
                       and all(v["cs"] == "Connected" and v["ds"] == "UpToDate/UpToDate"
                               for v in st[n]["drbd"].values())
                       for n in pcmk.NODES)

        st = self.wait_for(synced, 600, "DRBD resynced", "resyncing")
        t_synced = time.monotonic()
        ev = {"kind": "comes back", "node": node, "boot_and_install_s": round(t_booted - t0, 1),
              "heartbeat_to_active_s": round(t_joined - t_booted, 1), "resync_s": round(t_synced - t_joined, 1),
              "service_on": lab.holder(st)}
        self.summary["events"].append(ev)
        self.say(f"{node} active {t_joined - t0:.1f} s after its boot began, DRBD in sync {t_synced - t_joined:.1f} s "
                 f"later; the service stays on {ev['service_on'] or '(nowhere!)'}")
        if ev["service_on"] != survivor:
            raise vm.GuestError(f"after {node} came back the service is not on {survivor} (auto_failback off)")

    def keep_all(self, tag: str) -> None:
        for n in pcmk.NODES:
            if self.lab[n].alive():
                self.lab[n].run(f"cp {HA_LOG} /ctl/log/ha-log; cat /proc/drbd > /ctl/log/proc-drbd; "
                                "dmesg > /ctl/log/dmesg; true", timeout=60, check=False)
            self.keep_logs(n, tag)


def _fmt(v) -> str:
    return "?" if v is None else f"{v:.1f}s"


def run(lab: HeartbeatLab, *, say=print, tick=None, steady: float = 10.0, logdir: str = "",
        summary: dict | None = None) -> dict:
    """Boot the lab, run the three events and the checks; the summary (also filled when a step fails)."""
    r = Run(lab, say, logdir, tick)
    if summary is not None:
        summary.update(r.summary)
        r.summary = summary
    r.summary["accelerator"] = vm.accelerator_name()
    r.summary["deadtime_s"] = lab.deadtime
    r.summary["keepalive_s"] = lab.keepalive
    r.summary.setdefault("generated", lab.generated)
    try:
        say("booting a, b (Debian 13: heartbeat 3.0.6, DRBD 8.4, LIO) and the client c; ocfkit installed from "
            "its wheel in each node (pip + ocfkit install --force for the resource.d wrappers)")
        t0 = time.monotonic()
        lab.boot()
        lab.timings["boot + install"] = time.monotonic() - t0
        r.start()
        r.client(steady)
        r.planned_stop(steady)
        victim = r.power_pull(steady)
        r.comes_back(victim)
        r.steady("steady", steady)
        r.finish()
        r.summary["drbdadm_warnings"] = {n: lab.drbdadm_warnings(n) for n in pcmk.NODES}
    finally:
        r.summary["lab_s"] = {k: round(v, 1) for k, v in lab.timings.items()}
        try:
            r.keep_all("end")
        except vm.GuestError:
            pass
    return r.summary


def ok(summary: dict) -> bool:
    """Every acknowledged write read back, disks UpToDate and Connected, no split brain, the three events."""
    pull = next((e for e in summary.get("events", []) if e["kind"] == "power pull"), {})
    return (bool(summary.get("verified")) and summary.get("lost_acknowledged_writes") == 0
            and bool(summary.get("disks_uptodate_connected"))
            and not any(summary.get("split_brain_messages", {}).values())
            and bool(pull.get("peer_outdated")) and not any(summary.get("drbdadm_warnings", {}).values())
            and [e["kind"] for e in summary.get("events", [])] == ["heartbeat stop", "power pull", "comes back"])


# -- `ocfkit demo --guests --manager heartbeat` ----------------------------------------------------

def description() -> str:
    for path in (DESCRIPTION, os.path.join(sys.prefix, "share", "ocfkit", "examples", "seed-guests.toml"),
                 "/usr/share/doc/ocfkit/examples/seed-guests.toml"):
        if os.path.isfile(path):
            return path
    raise scenario.DemoError("examples/seed-guests.toml not found (the seed's cluster in guests)")


def demo(*, steady: float = 10.0, as_json: bool = False) -> dict:
    """Build (or find) the Debian 13 image, run the seed's failover test with live progress, stop every guest
    and remove the run directory; the summary (the nodes' logs kept in a directory)."""
    import signal
    import tempfile

    from ocfkit.lab.guests import image

    why = scenario.refusal()
    if why:
        raise scenario.DemoError(why)
    say = Progress(sys.stderr if as_json else sys.stdout)
    workdir = tempfile.mkdtemp(prefix="ocfkit-hb-guest-demo-")
    os.chmod(workdir, 0o755)
    logdir = os.path.join(workdir, "logs")
    os.makedirs(logdir)
    rundir = os.path.join(vm.CACHE_RUNS, f"run-{os.getpid()}-hb-demo")
    lab = None
    summary: dict = {"demo": "guests", "manager": "heartbeat", "logs": logdir}
    old_term = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        src = scenario.source_tree()
        desc = description()
        say(f"image: Debian 13 (trixie) guest image, built once and cached in {image.CACHE} "
            f"({vm.accelerator_name().upper()})")
        t0 = time.monotonic()
        img = image.build("trixie")
        say(f"image ready in {time.monotonic() - t0:.0f} s: {img}")
        shutil.rmtree(rundir, ignore_errors=True)
        say(f"ocfkit's wheel from {src}; ocfkit generate {desc}")
        wheel = pcmk.build_wheel(src, os.path.join(rundir, "dist"))
        lab = HeartbeatLab(img, rundir, wheel, description=desc)
        shutil.copytree(lab.generated, os.path.join(workdir, "generated"))
        summary["generated"] = os.path.join(workdir, "generated")
        run(lab, say=say, tick=say.live, steady=steady, logdir=logdir, summary=summary)
    except (vm.GuestError, AssertionError, OSError, ValueError, KeyError, IndexError, AttributeError,
            StopIteration) as e:
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
    print("\n== summary (the seed's cluster: heartbeat 3.0.6 in Debian 13 guests, "
          + s.get("accelerator", "?").upper() + f"; deadtime {s.get('deadtime_s', '?')} s)")
    for e in s.get("events", []):
        if e["kind"] == "heartbeat stop":
            print(f"  {e['command']} on {e['from']}: client stalled {e['client_stall_s']:.1f}s; {e['from']} released "
                  f"in {_fmt(e['release_s'])}, {e['to']} heard the notice at {_fmt(e['notice_s'])} and acquired in "
                  f"{_fmt(e['acquire_s'])}; ocfkit's wrappers {_fmt(e['wrappers_s'])}; "
                  f"{e['from']} back: the service stayed on {e.get('back', {}).get('service_on', '?')}")
        elif e["kind"] == "power pull":
            print(f"  power pull of {e['from']} (qemu SIGKILL): client stalled {e['client_stall_s']:.1f}s; "
                  f"declared dead "
                  f"at {_fmt(e['declared_dead_s'])} (deadtime {e['deadtime_s']:.0f}s), wrappers' takeover "
                  f"{_fmt(e['wrappers_s'])} (began {_fmt(e['takeover_began_s'])}, done {_fmt(e['takeover_done_s'])}); "
                  f"DRBD on {e['to']}: " + ", ".join(f"{m} ds:{v}" for m, v in sorted(e["disk_states"].items())))
        elif e["kind"] == "comes back":
            print(f"  {e['node']} comes back: boot + install {e['boot_and_install_s']:.1f}s, heartbeat to active "
                  f"{e['heartbeat_to_active_s']:.1f}s, DRBD resync {e['resync_s']:.1f}s; the service stays on "
                  f"{e['service_on']}")
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
