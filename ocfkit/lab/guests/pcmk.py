"""A real two-node Pacemaker cluster in Debian 13 guests, fenced by SBD on a shared disk.

Topology (topology.py's): storage nodes a and b with a replication link (192.168.77.0/24) and the
service LAN (192.168.78.0/24) through guest c, which bridges it and is the client. corosync runs
knet over both networks (link 0 the LAN, link 1 the replication link), `two_node`. Both storage
nodes see one shared raw disk (`share-rw=on`) that holds the SBD slots, and arm softdog.

ocfkit is installed the way a user installs it from a wheel: `pip install` into a venv (the image
holds an empty one at /opt/ocfkit) and `ocfkit install`, at every boot (the root disk is a
snapshot: a guest starts from the image each time).

No systemd runs in the guests: sbd, corosync and pacemakerd are started by `START`, in the order
systemd would (corosync, sbd, pacemaker), with the same environment files.

The configuration (corosync.conf, /etc/default/sbd, the CIB) is written by the small functions
below; `ocfkit generate` is meant to replace them.

Timeouts, chosen for software-emulated guests on a loaded host (see docs/guests.md):
- corosync token 5000 ms (consensus 1.2 x token = 6000 ms): a starved guest must not lose the
  token while the other runs; detection of a crash takes token + consensus, about 11 s.
- SBD watchdog 15 s, msgwait 30 s: sbd pets softdog every loop (1 s); a guest stalled a few
  seconds by the emulator must not reset itself (softdog's reset ends qemu, which runs with
  -no-reboot: a false fence). msgwait is twice the watchdog, as sbd requires: the victim has read
  its poison pill or been reset by its watchdog when msgwait has passed, so the fence is then
  complete.
- stonith-timeout 90 s: more than msgwait plus fence_sbd's own start-up under emulation.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

from ocfkit.lab.guests import vm
from ocfkit.lab.guests.topology import LAN, REPL, SWITCH

NODES = ("a", "b")
NODE_IDS = {"a": 1, "b": 2}
TOKEN_MS = 5000
SBD_WATCHDOG_S = 15
SBD_MSGWAIT_S = 30
STONITH_TIMEOUT_S = 90
DATA_DISK = "/dev/disk/by-id/virtio-disk0"     # each node's own disk (DRBD later)
SBD_DEVICE = "/dev/disk/by-id/virtio-shared0"  # the disk both nodes share
VENV = "/opt/ocfkit"


# -- configuration (to be replaced by `ocfkit generate`) --------------------------------------------

def corosync_conf(cluster_name: str = "ocfkit-lab") -> str:
    """corosync 3 with knet over both networks, two_node, crypto with a shared authkey."""
    nodes = "".join(
        f"    node {{\n        name: {n}\n        nodeid: {NODE_IDS[n]}\n"
        f"        ring0_addr: {LAN[n]}\n        ring1_addr: {REPL[n]}\n    }}\n" for n in NODES)
    return (f"totem {{\n    version: 2\n    cluster_name: {cluster_name}\n    transport: knet\n"
            f"    token: {TOKEN_MS}\n    crypto_cipher: aes256\n    crypto_hash: sha256\n"
            "    interface {\n        linknumber: 0\n        knet_link_priority: 2\n    }\n"
            "    interface {\n        linknumber: 1\n        knet_link_priority: 1\n    }\n}\n"
            f"nodelist {{\n{nodes}}}\n"
            "quorum {\n    provider: corosync_votequorum\n    two_node: 1\n}\n"
            "logging {\n    to_logfile: yes\n    logfile: /var/log/corosync/corosync.log\n"
            "    to_syslog: no\n    to_stderr: no\n    timestamp: hires\n}\n")


def sbd_defaults(device: str = SBD_DEVICE) -> str:
    """/etc/default/sbd: the disk, softdog, Pacemaker integration; start whatever the slot says
    (the slot of a fenced node is cleared explicitly before it starts again, see rejoin())."""
    return (f"SBD_DEVICE={device}\nSBD_WATCHDOG_DEV=/dev/watchdog\nSBD_PACEMAKER=yes\n"
            "SBD_STARTMODE=always\nSBD_DELAY_START=no\n")


def drbd_conf(name: str = "r0", port: int = 7789) -> str:
    """A DRBD 8.4 resource on each node's own disk over the replication link, fenced through the
    cluster: resource-and-stonith (I/O frozen until the peer is fenced or outdated), the peer's
    promotion banned by crm-fence-peer, the ban lifted after a resync by crm-unfence-peer."""
    hosts = "".join(f"    on {n} {{ device /dev/drbd0; disk {DATA_DISK}; address {REPL[n]}:{port}; "
                    "meta-disk internal; }\n" for n in NODES)
    return (f"resource {name} {{\n    net {{ protocol C; }}\n"
            "    disk { fencing resource-and-stonith; c-plan-ahead 0; resync-rate 200M; }\n"
            '    handlers { fence-peer "/usr/lib/drbd/crm-fence-peer.9.sh"; '
            'after-resync-target "/usr/lib/drbd/crm-unfence-peer.9.sh"; }\n'
            f"{hosts}}}\n")


def drbd_resources() -> str:
    """ocf:ocfkit:drbd as a promotable clone (one Promoted, notifications on)."""
    ops = "".join(f'<op id="drbd-r0-{n}" name="{n}" interval="0s" timeout="90s"/>'
                  for n in ("start", "stop", "promote", "demote", "notify"))
    return ('<clone id="drbd-r0-clone"><meta_attributes id="drbd-r0-clone-meta">'
            '<nvpair id="drbd-r0-clone-promotable" name="promotable" value="true"/>'
            '<nvpair id="drbd-r0-clone-promoted-max" name="promoted-max" value="1"/>'
            '<nvpair id="drbd-r0-clone-clone-max" name="clone-max" value="2"/>'
            '<nvpair id="drbd-r0-clone-notify" name="notify" value="true"/>'
            '</meta_attributes>'
            '<primitive id="drbd-r0" class="ocf" provider="ocfkit" type="drbd">'
            '<instance_attributes id="drbd-r0-ia"><nvpair id="drbd-r0-res" name="drbd_resource" value="r0"/>'
            '</instance_attributes><operations>' + ops +
            '<op id="drbd-r0-mon-p" name="monitor" interval="9s" timeout="60s" role="Promoted"/>'
            '<op id="drbd-r0-mon-u" name="monitor" interval="11s" timeout="60s" role="Unpromoted"/>'
            '</operations></primitive></clone>')


def cib_configuration(device: str = SBD_DEVICE, *, drbd: bool = False) -> dict[str, str]:
    """CIB sections (scope -> XML): fencing by fence_sbd, a Dummy preferring node a, stickiness;
    with drbd, Dummy runs with the Promoted DRBD clone, after the promote."""
    constraints = '<rsc_location id="dummy-prefers-a" rsc="dummy" node="a" score="100"/>'
    if drbd:
        constraints += ('<rsc_colocation id="dummy-with-drbd" rsc="dummy" with-rsc="drbd-r0-clone" '
                        'with-rsc-role="Promoted" score="INFINITY"/>'
                        '<rsc_order id="drbd-before-dummy" first="drbd-r0-clone" first-action="promote" '
                        'then="dummy" then-action="start" kind="Mandatory"/>')
    return {
        "crm_config": (
            '<cluster_property_set id="lab-options">'
            '<nvpair id="lab-stonith-enabled" name="stonith-enabled" value="true"/>'
            f'<nvpair id="lab-stonith-timeout" name="stonith-timeout" value="{STONITH_TIMEOUT_S}s"/>'
            '</cluster_property_set>'),
        "rsc_defaults": (
            '<meta_attributes id="lab-rsc-defaults">'
            '<nvpair id="lab-stickiness" name="resource-stickiness" value="200"/>'
            '</meta_attributes>'),
        "resources": (
            '<primitive id="fence-sbd" class="stonith" type="fence_sbd">'
            '<instance_attributes id="fence-sbd-ia">'
            f'<nvpair id="fence-sbd-devices" name="devices" value="{device}"/>'
            f'<nvpair id="fence-sbd-hosts" name="pcmk_host_list" value="{" ".join(NODES)}"/>'
            '<nvpair id="fence-sbd-check" name="pcmk_host_check" value="static-list"/>'
            '</instance_attributes>'
            # fence_sbd under emulation: 4 s a monitor when idle, 20 s and more on a loaded host.
            '<operations><op id="fence-sbd-start" name="start" interval="0s" timeout="60s"/>'
            '<op id="fence-sbd-monitor" name="monitor" interval="60s" timeout="60s"/></operations>'
            '</primitive>'
            '<primitive id="dummy" class="ocf" provider="ocfkit" type="Dummy">'
            '<operations>'
            '<op id="dummy-start" name="start" interval="0s" timeout="30s"/>'
            '<op id="dummy-stop" name="stop" interval="0s" timeout="30s"/>'
            '<op id="dummy-monitor" name="monitor" interval="10s" timeout="30s"/>'
            '</operations></primitive>' + (drbd_resources() if drbd else "")),
        "constraints": constraints,
    }


# -- guest scripts ----------------------------------------------------------------------------------

# ocfkit the way a user installs it: the wheel into a venv, then the agents into resource.d.
INSTALL = f"""
{VENV}/bin/pip install -q --disable-pip-version-check --no-compile --no-index --no-deps /ctl/ocfkit-*.whl
{VENV}/bin/ocfkit install >/dev/null
test -x /usr/lib/ocf/resource.d/ocfkit/Dummy
"""

CONFIGURE = f"""
cp /ctl/corosync.conf /etc/corosync/corosync.conf
install -m 0400 /ctl/authkey /etc/corosync/authkey && rm -f /ctl/authkey
cp /ctl/sbd /etc/default/sbd
test -b {SBD_DEVICE}
mkdir -p /var/log/corosync /var/log/pacemaker /run/crm
chown hacluster:haclient /var/log/pacemaker
"""

SBD_CREATE = f"sbd -d {SBD_DEVICE} -1 {SBD_WATCHDOG_S} -4 {SBD_MSGWAIT_S} create"

START_COROSYNC = """
corosync </dev/null >/dev/null 2>&1
for i in $(seq 150); do corosync-cfgtool -s >/dev/null 2>&1 && exit 0; sleep 0.2; done
echo "corosync did not come up"; tail -20 /var/log/corosync/corosync.log; exit 1
"""

START_SBD = """
modprobe softdog
set -a; . /etc/default/sbd; set +a
sbd -p /run/sbd.pid watch </dev/null >/dev/null 2>&1
for i in $(seq 100); do [ -s /run/sbd.pid ] && kill -0 "$(cat /run/sbd.pid)" 2>/dev/null && exit 0; sleep 0.2; done
echo "sbd did not start"; exit 1
"""

START_PACEMAKER = """
set -a; . /etc/default/sbd; set +a
setsid -f pacemakerd </dev/null >/var/log/pacemaker/pacemakerd.out 2>&1
"""


def crm_mon(g: vm.Guest, timeout: float = 60) -> ET.Element:
    out = g.sh("crm_mon --output-as=xml --inactive 2>/dev/null", timeout=timeout)
    return ET.fromstring(out[out.index("<"):])


def online_nodes(root: ET.Element) -> set[str]:
    """Members that are online and have joined (not pending, not unclean)."""
    return {n.get("name", "") for n in root.iter("node")
            if n.get("online") == "true" and n.get("pending") != "true" and n.get("unclean") != "true"
            and n.get("type", "member") == "member"}


def resource_nodes(root: ET.Element, rsc: str) -> list[str]:
    """Nodes where crm_mon shows the resource Started (active, not failed)."""
    out: list[str] = []
    for r in root.iter("resource"):
        if r.get("id") == rsc and r.get("active") == "true" and r.get("failed") != "true" \
                and r.get("role") == "Started":
            out += [n.get("name", "") for n in r.iter("node")]
    return out


def resource_nodes_any(root: ET.Element, rsc: str) -> list[str]:
    """Nodes where any instance of the primitive is active (Started, Promoted or Unpromoted)."""
    return [n.get("name", "") for r in root.iter("resource")
            if r.get("id", "").split(":")[0] == rsc and r.get("active") == "true" and r.get("failed") != "true"
            for n in r.iter("node")]


def promoted_nodes(root: ET.Element, rsc: str) -> list[str]:
    """Nodes where crm_mon shows an instance of the (promotable clone's) primitive Promoted."""
    return [n.get("name", "") for r in root.iter("resource")
            if r.get("id", "").split(":")[0] == rsc and r.get("role") == "Promoted" and r.get("failed") != "true"
            for n in r.iter("node")]


def build_wheel(src: str, outdir: str) -> str:
    """The wheel of the source tree (as a user would get from the index), built from a copy of its
    tracked files so the tree stays clean."""
    os.makedirs(outdir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ocfkit-wheel-") as tmp:
        copy = os.path.join(tmp, "src")
        files = subprocess.run(["git", "-C", src, "ls-files", "-z"], capture_output=True, timeout=60,
                               check=True).stdout.decode().split("\0")
        for rel in filter(None, files):
            if os.path.isfile(os.path.join(src, rel)):
                os.makedirs(os.path.dirname(os.path.join(copy, rel)), exist_ok=True)
                shutil.copy2(os.path.join(src, rel), os.path.join(copy, rel))
        r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", outdir, copy],
                           capture_output=True, text=True, timeout=600, check=False)
        if r.returncode != 0:
            raise vm.GuestError(f"building the ocfkit wheel failed: {r.stderr[-2000:]}")
    return next(os.path.join(outdir, f) for f in sorted(os.listdir(outdir)) if f.endswith(".whl"))


class PacemakerLab:
    """Nodes a and b (Debian 13, Pacemaker 3.0 + corosync + sbd) and client c, on topology.py's
    networks, with the SBD disk shared by a and b."""

    def __init__(self, image: str, rundir: str, wheel: str, *, node_memory_mb: int = 768,
                 disks_mb: tuple[int, ...] = (64,)) -> None:
        self.rundir = rundir
        self.wheel = wheel
        os.makedirs(rundir, exist_ok=True)
        self.sbd_disk = os.path.join(rundir, "sbd.img")
        with open(self.sbd_disk, "ab") as f:  # kept when it exists: a lab driven step by step
            f.truncate(16 * 1024 * 1024)
        self.authkey = os.urandom(256)
        base = vm.free_udp_base(6)
        ab_a, ab_b = vm.link_pair(base, 0x77)
        ac_a, ac_c = vm.link_pair(base + 2, 0x78)
        bc_b, bc_c = vm.link_pair(base + 4, 0x79)
        self.guests = {
            "a": vm.Guest(image, rundir, "a", links=[ab_a, ac_a], ips=[REPL["a"] + "/24", LAN["a"] + "/24"],
                          disks_mb=list(disks_mb), shared=[self.sbd_disk], memory_mb=node_memory_mb, src=None),
            "b": vm.Guest(image, rundir, "b", links=[ab_b, bc_b], ips=[REPL["b"] + "/24", LAN["b"] + "/24"],
                          disks_mb=list(disks_mb), shared=[self.sbd_disk], memory_mb=node_memory_mb, src=None),
            "c": vm.Guest(image, rundir, "c", links=[ac_c, bc_c], ips=[], memory_mb=384, src=None),
        }
        self.timings: dict[str, float] = {}

    def __getitem__(self, name: str) -> vm.Guest:
        return self.guests[name]

    def _parallel(self, fn, names) -> None:
        errors: list[BaseException] = []

        def one(n: str) -> None:
            try:
                fn(n)
            except BaseException as e:  # noqa: BLE001 - re-raised below
                errors.append(e)

        threads = [threading.Thread(target=one, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def _stage(self, name: str) -> None:
        """Boot a guest and, for a storage node, install ocfkit and write the configuration."""
        g = self.guests[name]
        g.boot()
        self.timings[f"boot {name}"] = g.boot_seconds
        if name == "c":
            g.sh(SWITCH)
            return
        ctl = os.path.join(g.dir, "ctl")
        for f in os.listdir(ctl):
            if f.endswith(".whl"):
                os.unlink(os.path.join(ctl, f))
        shutil.copy2(self.wheel, ctl)
        for fname, (text, mode) in self.config_files().items():
            with open(os.path.join(ctl, fname), "w", encoding="ascii") as f:
                f.write(text)
            os.chmod(os.path.join(ctl, fname), mode)
        fd = os.open(os.path.join(ctl, "authkey"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.authkey)
        t0 = time.monotonic()
        g.sh(INSTALL, timeout=300)
        self.timings[f"ocfkit install {name}"] = time.monotonic() - t0
        g.sh(self.configure_script())

    def config_files(self) -> dict[str, tuple[str, int]]:
        """Files put in a storage node's ctl share at every boot (name -> text, mode)."""
        return {"corosync.conf": (corosync_conf(), 0o644), "sbd": (sbd_defaults(), 0o644)}

    def sbd_create(self) -> str:
        """The command that writes the SBD header, run once on a."""
        return SBD_CREATE

    def configure_script(self) -> str:
        """What a storage node runs after the install, at every boot, to take its configuration."""
        return CONFIGURE

    def boot(self) -> None:
        """All three guests booted; the SBD disk initialised; the stack started on a and b."""
        self._parallel(self._stage, ("a", "b", "c"))
        self.guests["a"].sh(self.sbd_create(), timeout=60)
        self._parallel(self.start_stack, NODES)

    def start_stack(self, name: str) -> None:
        g = self.guests[name]
        g.sh(START_COROSYNC, timeout=60)
        g.sh(START_SBD, timeout=60)
        g.sh(START_PACEMAKER, timeout=60)

    def wait(self, on: str, predicate, timeout: float, what: str, interval: float = 1.0) -> ET.Element:
        """Poll crm_mon on a node until predicate(root) holds; the last crm_mon document."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            r = self.guests[on].run("crm_mon --output-as=xml --inactive 2>/dev/null",
                                    timeout=60, check=False)
            if r.rc == 0 and "<" in r.out:
                last = ET.fromstring(r.out[r.out.index("<"):])
                if predicate(last):
                    return last
            time.sleep(interval)
        state = self.guests[on].run("crm_mon -1 -rf 2>&1; tail -30 /var/log/pacemaker/pacemaker.log", check=False)
        raise AssertionError(f"{on}: no {what} after {timeout:.0f} s\n{state.out}")

    def prepare_drbd(self) -> None:
        """r0 on both nodes, connected and UpToDate on both sides without a full sync, then down
        again: the cluster's ocf:ocfkit:drbd brings it up."""
        for n in NODES:
            g = self.guests[n]
            g.sh(f"modprobe drbd && cat > /etc/drbd.d/r0.res <<'EOF'\n{drbd_conf()}EOF\n"
                 "sed -i 's/usage-count yes/usage-count no/' /etc/drbd.d/global_common.conf\n"
                 "yes yes | drbdadm create-md --force r0 >/dev/null 2>&1 || drbdadm create-md --force r0\n"
                 "drbdadm up r0")
        a = self.guests["a"]
        a.sh("for i in $(seq 600); do [ \"$(drbdadm cstate r0)\" = Connected ] && break; sleep 0.1; done\n"
             "drbdadm -- --clear-bitmap new-current-uuid r0\n"
             "for i in $(seq 600); do [ \"$(drbdadm dstate r0)\" = UpToDate/UpToDate ] && exit 0; sleep 0.1; done\n"
             "drbdadm dstate r0; exit 1", timeout=120)
        for n in NODES:
            self.guests[n].sh("drbdadm down r0")

    def restore_drbd(self, name: str) -> None:
        """A rebooted node's DRBD configuration (the root disk is a snapshot; the metadata is on
        the node's own disk and survives)."""
        self.guests[name].sh(f"modprobe drbd && cat > /etc/drbd.d/r0.res <<'EOF'\n{drbd_conf()}EOF\n"
                             "sed -i 's/usage-count yes/usage-count no/' /etc/drbd.d/global_common.conf")

    def configure(self, on: str = "a", *, drbd: bool = False) -> None:
        """Load the lab's CIB sections (properties and rsc_defaults added, the rest replaced)."""
        parts = cib_configuration(drbd=drbd)
        script = "set -e\n"
        script += f"cibadmin --create --scope crm_config --xml-text '{parts['crm_config']}'\n"
        # An empty CIB has no rsc_defaults section to create into.
        defaults = f"<rsc_defaults>{parts['rsc_defaults']}</rsc_defaults>"
        script += f"cibadmin --create --scope configuration --xml-text '{defaults}'\n"
        for scope in ("resources", "constraints"):
            script += f"cibadmin --replace --scope {scope} --xml-text '<{scope}>{parts[scope]}</{scope}>'\n"
        self.guests[on].sh(script, timeout=120)

    def stop_all(self) -> None:
        for g in self.guests.values():
            g.kill()

    # -- records --------------------------------------------------------------------------------

    def fence_history(self, on: str, target: str) -> list[dict[str, str]]:
        out = self.guests[on].sh(f"stonith_admin --history {target} --output-as=xml 2>/dev/null", timeout=60)
        root = ET.fromstring(out[out.index("<"):])
        return [dict(e.attrib) for e in root.iter("fence_event")]

    def sbd_slots(self, on: str) -> dict[str, str]:
        """node -> the message in its SBD slot (clear, reset, off...)."""
        out = self.guests[on].sh(f"sbd -d {SBD_DEVICE} list", timeout=60)
        return {w[1]: w[2] for w in (line.split() for line in out.splitlines()) if len(w) >= 3}

    def records(self, on: str) -> str:
        """The survivor's own records of a failover: corosync's and Pacemaker's log lines and the
        resource history, as text for timeline()."""
        return self.guests[on].sh(
            "grep -hE 'A processor failed|Members\\[|link: host: [0-9]+ link: [0-9]+ is down' "
            "/var/log/corosync/corosync.log | tail -20; echo ---pcmk; "
            "grep -hE 'Requesting fencing|state is now lost|Operation .?reboot.? .*targeting|was terminated|"
            "Initiating (start|stop|promote)|Result of (start|stop|promote) operation|High CPU load' "
            "/var/log/pacemaker/pacemaker.log | tail -30; true", timeout=60)


def stamp(line: str, year: int) -> float | None:
    """Epoch seconds of a corosync (hires) or Pacemaker log line's leading timestamp."""
    m = re.match(r"\s*([A-Z][a-z]{2}) +(\d+) (\d\d):(\d\d):(\d\d)(\.\d+)?", line)
    if not m:
        return None
    t = time.strptime(f"{year} {m.group(1)} {m.group(2)} {m.group(3)}:{m.group(4)}:{m.group(5)}",
                      "%Y %b %d %H:%M:%S")
    return calendar.timegm(t) + float(m.group(6) or 0)


def timeline(text: str, fence: list[dict[str, str]], t_kill: float) -> dict[str, float]:
    """Seconds after the kill (host clock; the guest clocks follow it through the emulated RTC) of
    each step, from the survivor's records: corosync's log (hires), Pacemaker's log (ms) and the
    fencing history."""
    year = time.gmtime(t_kill).tm_year
    out: dict[str, float] = {}

    def first(key: str, pattern: str) -> None:
        for line in text.splitlines():
            if re.search(pattern, line):
                t = stamp(line, year)
                if t is not None and t >= t_kill - 1:
                    out.setdefault(key, round(t - t_kill, 2))
                    return

    first("knet link down (corosync)", r"link: host: \d+ link: \d+ is down")
    first("token lost (corosync)", r"A processor failed")
    first("membership without the node (corosync)", r"Members\[1\]")
    first("node lost (pacemaker)", r"state is now lost")
    first("fencing requested (pacemaker)", r"Requesting fencing")
    first("fencing done (fenced log)", r"Operation .?reboot.? targeting .*: OK")
    for e in fence:
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(\.\d+)?", e.get("completed", ""))
        if e.get("status") == "success" and m:
            t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + float(m.group(2) or 0)
            out["fencing completed (history)"] = round(t - t_kill, 2)  # UTC in the guests
    first("DRBD promoted (pacemaker)", r"Result of promote operation for drbd-r0\S* on \S+: OK")
    first("resource start initiated (pacemaker)", r"Initiating start operation dummy_start")
    first("resource started (pacemaker)", r"Result of start operation for dummy on .*: OK")
    return out


def dump(timings: dict[str, float]) -> str:
    return json.dumps(timings, indent=1, sort_keys=False)
