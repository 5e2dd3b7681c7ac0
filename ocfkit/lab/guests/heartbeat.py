"""The seed's own cluster in Debian 13 guests: two real heartbeat 3.0.6 daemons, DRBD with dopd.

The guests and the storage are the SAN lab's (san.SanLab on pcmk.PacemakerLab: nodes a and b on the
replication link and the LAN, the client c bridging the LAN); only the cluster manager differs. Every
configuration file comes from `ocfkit generate examples/seed-guests.toml`: ha.cf (mcast on the LAN,
bcast on the DRBD link, the client as ping node, ipfail and dopd respawned), authkeys, haresources,
and drbd-heartbeat.conf (the seed's net, syncer and handler settings, fence-peer drbd-peer-outdater)
as /etc/drbd.conf. At every boot a node also takes the steps an administrator takes once (what the
generated README says): `ocfkit install --force` (ocfkit's resource.d wrappers in place of
heartbeat's), drbdsetup-84 and drbdmeta for group haclient (dopd outdates as hacluster), LVM's filter.

No init system runs in the guests: heartbeat is started and stopped with its own init script,
/etc/init.d/heartbeat, which is the guide's method for the first failover test.

The guests have no syslog daemon: a small sink on /dev/log writes each message with the guest's time
of arrival in milliseconds (heartbeat, ResourceManager, dopd, drbd-peer-outdater and the wrappers
all log through syslog), and the node's logs are copied to the host side of its ctl share every
2 s, so a killed node leaves its records behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time

from ocfkit.lab.guests import pcmk, san, vm

DESCRIPTION = os.path.join(vm.REPO, "examples", "seed-guests.toml")

# syslog with the arrival time (guest clock, ms): heartbeat's own stamps have whole seconds only.
LOGS = r"""
setsid -f python3 -c '
import socket, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open("/var/log/syslog", "ab", buffering=0) as f:
    while True:
        m = s.recv(65536).rstrip(b"\n")
        f.write(b"%.3f " % time.time() + m.replace(b"\n", b" ") + b"\n")
' </dev/null >/dev/null 2>&1
for i in $(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done
mkdir -p /ctl/log
setsid -f bash -c 'while :; do cp /var/log/syslog /ctl/log/ 2>/dev/null; dmesg > /ctl/log/dmesg; sleep 2; done' \
    </dev/null >/dev/null 2>&1
"""

START = """
/etc/init.d/heartbeat start
for i in $(seq 150); do cl_status hbstatus >/dev/null 2>&1 && exit 0; sleep 0.2; done
echo "heartbeat did not start"; tail -30 /var/log/syslog; exit 1
"""

# One line of a node's view: heartbeat's resource status, the VIP, the LUN in configfs, a DROP rule on 3260
# (portblock uses nft where it is installed, else iptables),
# and each DRBD resource's role, connection and disk states.
STATE = r"""
echo "rsc $(cl_status rscstatus 2>/dev/null || echo down)"
ip -4 -o addr show dev eth2 | grep -q " {vip}/" && echo vip
[ -d /sys/kernel/config/target/iscsi/{iqn}/tpgt_1/lun/lun_0 ] && echo lun
{{ iptables -S INPUT; nft list ruleset; }} 2>/dev/null | grep -Eq -- "--dport 3260 .*DROP|dport 3260 .*drop" \
    && echo blocked
for r in {res}; do
  echo "drbd $r $(drbdadm role $r 2>/dev/null) $(drbdadm cstate $r 2>/dev/null) $(drbdadm dstate $r 2>/dev/null)"
done
true
"""


class HeartbeatLab(san.SanLab):
    """The SAN lab's guests running heartbeat 3.0.6 with the files generated from seed-guests.toml."""

    def __init__(self, image: str, rundir: str, wheel: str, *, description: str = DESCRIPTION) -> None:
        super().__init__(image, rundir, wheel, description=description)
        self.hacf = self.files["ha.cf"][0]
        self.deadtime_s = float(re.search(r"^deadtime\s+(\S+)", self.hacf, re.M).group(1))

    def config_files(self) -> dict[str, tuple[str, int]]:
        return {"ha.cf": self.files["ha.cf"], "authkeys": self.files["authkeys"],
                "haresources": self.files["haresources"], "drbd.conf": self.files["drbd-heartbeat.conf"]}

    def configure_script(self) -> str:
        return f"""
set -e
rm -f /ctl/authkey  # corosync's: not used here
{pcmk.VENV}/bin/ocfkit install --force >/dev/null
# What systemd-tmpfiles makes at boot from the packages' tmpfiles.d (no init system here): dopd's
# socket lives in /run/heartbeat/dopd.
systemd-tmpfiles --create heartbeat.conf drbd.conf resource-agents.conf
test -d /run/heartbeat/dopd
install -m 0644 /ctl/ha.cf /etc/ha.d/ha.cf
install -m 0644 /ctl/haresources /etc/ha.d/haresources
install -m 0600 /ctl/authkeys /etc/ha.d/authkeys && rm -f /ctl/authkeys
install -m 0600 /ctl/drbd.conf /etc/drbd.conf && rm -f /ctl/drbd.conf
for f in /usr/lib/drbd/drbdsetup-84 /usr/sbin/drbdmeta; do
  dpkg-statoverride --list $f >/dev/null || dpkg-statoverride --add --update root haclient 4750 $f
done
cat > /etc/lvm/lvmlocal.conf <<'EOF'
{san.FILTER}EOF
modprobe -a {san.MODULES}
{LOGS}"""

    def boot(self) -> None:
        """a, b and c booted and configured; no cluster started yet (start() after the storage)."""
        self._parallel(self._stage, ("a", "b", "c"))
        # unknown multicast is flooded by the bridge only while no snooping state says otherwise
        self.guests["c"].sh("echo 0 > /sys/class/net/br0/bridge/multicast_snooping")

    def drbd_up(self, name: str) -> None:
        res = " ".join(self.resources)
        self.guests[name].sh(f"for r in {res}; do drbdadm up $r; done", timeout=120)

    def start(self, name: str) -> None:
        self.guests[name].sh(START, timeout=180)

    def stop_heartbeat(self, name: str) -> str:
        """The guide's method: /etc/init.d/heartbeat stop (it returns once heartbeat has released and exited)."""
        return self.guests[name].sh("/etc/init.d/heartbeat stop\n"
                                    "for i in $(seq 1500); do cl_status hbstatus >/dev/null 2>&1 || exit 0\n"
                                    "  sleep 0.2; done\n"
                                    "echo 'heartbeat still runs'; exit 1", timeout=600)

    def state(self, name: str) -> dict:
        out = self.guests[name].run(STATE.format(vip=self.vip, iqn=self.iqn, res=" ".join(self.resources)),
                                    timeout=60, check=False).out
        words = [line.split() for line in out.splitlines() if line.strip()]
        return {"rsc": next((w[1] for w in words if w[0] == "rsc" and len(w) > 1), "?"),
                "vip": ["vip"] in words, "lun": ["lun"] in words, "blocked": ["blocked"] in words,
                "drbd": {w[1]: " ".join(w[2:]) for w in words if w[0] == "drbd" and len(w) > 1}}

    def serving(self, st: dict) -> bool:
        """The node holds the whole service: VIP, LUN exported, port open, the LUN's DRBD Primary."""
        lun = st["drbd"].get(self.resources[-1], "")
        return st["vip"] and st["lun"] and not st["blocked"] and lun.startswith("Primary")

    def wait_serving(self, name: str, timeout: float, what: str) -> dict:
        end = time.monotonic() + timeout
        st: dict = {}
        while time.monotonic() < end:
            if not self.guests[name].alive():
                raise vm.GuestError(f"{name} died while waiting for {what}")
            st = self.state(name)
            if self.serving(st) and st["rsc"] not in ("transition", "?"):
                return st
            time.sleep(1)
        tail = self.guests[name].run("tail -40 /var/log/syslog", check=False).out
        raise AssertionError(f"{name}: no {what} after {timeout:.0f} s: {st}\n{tail}")

    def syslog(self, name: str) -> str:
        """A node's syslog as copied to the host (what a killed node left behind too)."""
        try:
            with open(os.path.join(self.guests[name].dir, "ctl", "log", "syslog"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def save_logs(self, dest: str) -> None:
        for n in ("a", "b"):
            src = os.path.join(self.guests[n].dir, "ctl", "log")
            if os.path.isdir(src):
                shutil.copytree(src, os.path.join(dest, n), dirs_exist_ok=True)


# -- figures from the logs ------------------------------------------------------------------------

def lines_after(text: str, t0: float) -> list[tuple[float, str]]:
    """(guest time, message) of every syslog line at or after t0 (the sink's arrival stamps)."""
    out = []
    for line in text.splitlines():
        stamp, _, msg = line.partition(" ")
        try:
            t = float(stamp)
        except ValueError:
            continue
        if t >= t0:
            out.append((t, msg))
    return out


def first(lines: list[tuple[float, str]], pattern: str) -> float | None:
    return next((t for t, m in lines if re.search(pattern, m)), None)


def last(lines: list[tuple[float, str]], pattern: str) -> float | None:
    found = [t for t, m in lines if re.search(pattern, m)]
    return found[-1] if found else None


def takeover(lines: list[tuple[float, str]], t0: float) -> dict:
    """The taker's view from t0 (seconds after t0, its own clock): when heartbeat was told the peer left
    (a stop) or declared it dead (a crash), when it began acquiring the peer's groups (`Resources being
    acquired from`, then mach_down's `Taking over resource group`), and when mach_down reported the
    takeover complete. Between those two, ResourceManager runs each member's status and start, left to
    right, one at a time: that span is the wrappers' share (with ResourceManager's own shell steps)."""
    def rel(t):
        return None if t is None else round(t - t0, 2)

    told = first(lines, r"Received shutdown notice from")
    dead = first(lines, r"node \S+: is dead|Dead node \S+ gave up resources")
    acquiring = first(lines, r"Resources being acquired from|Taking over resource group|Acquiring resource group")
    begin = first(lines, r"Taking over resource group|Acquiring resource group")
    done = first([(t, m) for t, m in lines if begin is not None and t >= begin], r"takeover complete")
    runs = [(t, re.search(r"resource.d/+(\S+.*) (start)$", m)) for t, m in lines
            if begin is not None and t >= begin and (done is None or t <= done)]
    runs = [(t, m.group(1)) for t, m in runs if m]
    ends = [t for t, _x in runs[1:]] + ([done] if done is not None else [None])
    out = {"peer_left_s": rel(told), "peer_dead_s": rel(dead), "acquiring_s": rel(acquiring),
           "scripts_begin_s": rel(begin), "takeover_complete_s": rel(done),
           "starts": [{"at_s": rel(t), "script": name, "until_next_s": None if e is None else round(e - t, 2)}
                      for (t, name), e in zip(runs, ends)]}
    if begin is not None and done is not None:
        out["wrappers_share_s"] = round(done - begin, 2)
    return out


def dopd_evidence(lines: list[tuple[float, str]], dmesg: str) -> list[str]:
    """What dopd, drbd-peer-outdater and the DRBD kernel log said about fencing the peer."""
    said = [m for _t, m in lines if re.search(r"dopd|drbd-peer-outdater|outdate", m, re.I)]
    kernel = [ln for ln in dmesg.splitlines() if re.search(r"fence-peer|pdsk\(|Outdated|outdate", ln)]
    return (said + kernel)[-12:]


def wait_for(what: str, predicate, timeout: float, interval: float = 1.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = predicate()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"no {what} after {timeout:.0f} s")


def _drbd_synced(lab: HeartbeatLab, name: str) -> bool:
    st = lab.state(name)["drbd"]
    return all("Connected UpToDate/UpToDate" in st.get(r, "") for r in lab.resources)


def _member(g: vm.Guest, peer: str) -> bool:
    """heartbeat on g sees peer as an active member (cl_status exits non-zero for a dead one)."""
    return g.run(f"cl_status nodestatus {peer} 2>&1", timeout=60, check=False).out.strip() == "active"


def _acks_after(c: vm.Guest, t_c: float) -> int:
    return sum(1 for _s, _i, t in san.acks(c) if t > t_c)


def run(lab: HeartbeatLab, *, say=print, steady: float = 8.0) -> dict:
    """The seed's failover test on a booted lab: storage made, DRBD up, heartbeat started on both nodes,
    the client writing through the VIP while 1) heartbeat is stopped on the active node (then started
    again: the service stays), 2) the active node's qemu is killed, 3) that node returns (the service
    stays: auto_failback off). Every acknowledged write is read back at the end. Returns the figures."""
    a, b, c = lab["a"], lab["b"], lab["c"]
    summary: dict = {"deadtime_s": lab.deadtime_s, "events": [], "lab_s": {}}
    t0 = time.monotonic()
    say("storage: DRBD metadata, the config filesystem, the volume group and the LUN's volume")
    lab.prepare_storage()
    lab._parallel(lab.drbd_up, pcmk.NODES)
    wait_for("DRBD connected and UpToDate", lambda: _drbd_synced(lab, "a"), 180)
    summary["lab_s"]["storage"] = round(time.monotonic() - t0, 1)
    say("heartbeat started on a and b (/etc/init.d/heartbeat start)")
    t0 = time.monotonic()
    lab._parallel(lab.start, pcmk.NODES)
    lab.wait_serving("a", 600, "service on a (initial acquisition)")
    summary["lab_s"]["heartbeat start -> service on a"] = round(time.monotonic() - t0, 1)

    say("client c: open-iscsi login through the VIP, then the writer")
    dev = c.sh(san.CLIENT_LOGIN.format(vip=lab.vip, iqn=lab.iqn), timeout=300).strip()
    if not dev.startswith("/dev/sd"):
        raise AssertionError(f"client login: {dev}")
    san.start_writer(c, dev)
    time.sleep(steady)

    def event(name: str, active: str, taker: str, act, *, killed: bool) -> dict:
        t_c = lab.clock("c")
        t_taker = lab.clock(taker)
        t_active = None if killed else lab.clock(active)
        t_host = time.monotonic()
        say(f"event {name}")
        act()
        lab.wait_serving(taker, 600, f"service on {taker} after {name}")
        took = round(time.monotonic() - t_host, 2)
        t_back = lab.clock("c")
        wait_for("the client's writes to resume", lambda: _acks_after(c, t_back) > 0, 300)
        time.sleep(steady)
        log = san.acks(c)
        taker_lines = lines_after(lab.guests[taker].sh("cat /var/log/syslog", timeout=60), t_taker)
        ev = {"event": name, "from": active, "to": taker, "host_s": took,
              "client_stall_s": san.stall(log, t_c, lab.clock("c")),
              "taker": takeover(taker_lines, t_taker),
              "drbd_after": {n: lab.state(n)["drbd"] for n in pcmk.NODES if lab.guests[n].alive()},
              "dopd": dopd_evidence(taker_lines, lab.guests[taker].sh("dmesg", timeout=60))}
        if t_active is not None:
            lines = lines_after(lab.guests[active].sh("cat /var/log/syslog", timeout=60), t_active)
            give = first(lines, r"Giving up all HA resources|Releasing resource group")
            end = last(lines, r"shutdown complete|All HA resources relinquished")
            ev["releaser"] = {"release_begin_s": None if give is None else round(give - t_active, 2),
                              "release_end_s": None if end is None else round(end - t_active, 2)}
        return ev

    # 1. The guide's method: heartbeat stopped on the active node.
    summary["events"].append(event("1: /etc/init.d/heartbeat stop on a", "a", "b",
                                   lambda: lab.stop_heartbeat("a"), killed=False))
    say("heartbeat started again on a: the service stays on b (auto_failback off)")
    lab.start("a")
    wait_for("a and b both members", lambda: _member(a, "b") and _member(b, "a"), 300)
    time.sleep(lab.deadtime_s)
    summary["after heartbeat returned on a"] = {"b serves": lab.serving(lab.state("b")),
                                                "a serves": lab.serving(lab.state("a"))}

    # 2. Power pulled on the active node (b now): its qemu is killed.
    summary["events"].append(event("2: b's qemu killed", "b", "a", b.kill, killed=True))

    # 3. b returns: booted, configured, DRBD up (resync from a), heartbeat started; the service stays on a.
    say("event 3: b boots again and rejoins")
    t_c = lab.clock("c")
    t_host = time.monotonic()
    lab._stage("b")
    lab.drbd_up("b")
    wait_for("the resync of b", lambda: _drbd_synced(lab, "a"), 600, interval=2)
    resynced = round(time.monotonic() - t_host, 1)
    lab.start("b")
    wait_for("b a member again", lambda: _member(a, "b"), 300)
    time.sleep(lab.deadtime_s + steady)
    log = san.acks(c)
    summary["events"].append({
        "event": "3: b returns", "boot_install_resync_s": resynced,
        "client_stall_s": san.stall(log, t_c, lab.clock("c")),
        "a serves": lab.serving(lab.state("a")), "b serves": lab.serving(lab.state("b")),
        "drbd_after": {n: lab.state(n)["drbd"] for n in pcmk.NODES}})

    san.stop_writer(c)
    result = san.verify(c, dev).strip()
    m = re.search(r"acknowledged (\d+) slots (\d+) bad (\d+)", result)
    summary["writes_acknowledged"] = len(san.acks(c))
    summary["verify"] = result
    summary["lost_acknowledged_writes"] = int(m.group(3)) if m else None
    summary["verified"] = bool(m) and m.group(3) == "0"
    summary["lab_s"].update({k: round(v, 1) for k, v in lab.timings.items()})
    return summary


def run_standalone(*, say=print, keep_logs: str = "") -> dict:
    """Build (or find) the trixie image, boot the lab, run(), stop every guest and remove the run directory."""
    from ocfkit.lab.guests import image as build

    img = build.build("trixie")
    rundir = os.path.join(vm.CACHE_RUNS, f"run-{os.getpid()}-heartbeat")
    shutil.rmtree(rundir, ignore_errors=True)
    lab = None
    try:
        wheel = pcmk.build_wheel(vm.REPO, os.path.join(rundir, "dist"))
        lab = HeartbeatLab(img, rundir, wheel)
        t0 = time.monotonic()
        say("booting a, b and c; ocfkit installed from its wheel; the generated files in place")
        lab.boot()
        lab.timings["boot + install + configure"] = time.monotonic() - t0
        return run(lab, say=say)
    finally:
        if lab is not None:
            if keep_logs:
                lab.save_logs(keep_logs)
            lab.stop_all()
        shutil.rmtree(rundir, ignore_errors=True)


def main(args) -> int:
    """`ocfkit demo --guests --manager heartbeat`: build the image, boot the lab, run the three events of
    tests/guest/test_heartbeat_cluster.py and print their figures (JSON with --json)."""
    summary = run_standalone(say=(lambda m: None) if getattr(args, "json", False)
                                      else (lambda m: print(m, file=sys.stderr)))
    print(json.dumps(summary, indent=1))
    return 0 if summary.get("verified") else 1
