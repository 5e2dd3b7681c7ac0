"""The SAN of examples/guest-san.toml on the Pacemaker lab: every cluster file from `ocfkit generate`.

`SanLab` is `pcmk.PacemakerLab` (nodes a and b, client c, SBD on a shared disk, ocfkit installed from
its wheel at every boot) configured only from what `ocfkit generate DESCRIPTION --out DIR` writes:
corosync.conf, the sbd settings (/etc/default/sbd), the SBD header's create line (the README's step),
drbd.conf (/etc/drbd.conf) and the CIB's configuration section (`cib.xml`, pushed as pcs's
`cib-push --config` would). What the lab adds is what an administrator does once per node and the
generated README asks for or assumes: a corosync authkey, softdog, the kernel modules of DRBD and
LIO loaded, LVM's filter for LVM on DRBD, and the volumes made once (DRBD metadata, the config
filesystem, the volume group and the LUN's volume) before Pacemaker takes over.

The client c logs in with open-iscsi through the VIP and runs `WRITER`: a stream of checksummed 4 KiB
blocks written with O_DIRECT|O_DSYNC and fsync'd, each logged once acknowledged, so that a check at
the end (`VERIFY`) finds every acknowledged write on the LUN.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

from ocfkit.lab.guests import pcmk, vm
from ocfkit.lab.guests.topology import FILTER

DESCRIPTION = os.path.join(vm.REPO, "examples", "guest-san.toml")
DISKS_MB = (32, 96)       # disk0: the config volume's DRBD, disk1: the LUN's DRBD
LV_MB = 64                # the LUN's logical volume
MODULES = "drbd dm_mod target_core_mod target_core_iblock iscsi_target_mod softdog"


def generate(description: str, outdir: str) -> dict[str, tuple[str, int]]:
    """`ocfkit generate DESCRIPTION --out OUTDIR` (this ocfkit, as a user runs it); name -> (text, mode)."""
    r = subprocess.run([sys.executable, "-m", "ocfkit", "generate", description, "--out", outdir],
                       capture_output=True, text=True, timeout=120, check=False,
                       env={**os.environ, "PYTHONPATH": vm.REPO, "LC_ALL": "C"})
    if r.returncode != 0:
        raise vm.GuestError(f"ocfkit generate {description} failed: {r.stderr.strip()}")
    files = {}
    for name in os.listdir(outdir):
        path = os.path.join(outdir, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                files[name] = (f.read(), os.stat(path).st_mode & 0o777)
    return files


def sbd_create_line(readme: str) -> str:
    """The README's `sbd -d DEV -1 N -4 M create` step."""
    m = re.search(r"^\s*- once, from one node.*?: (sbd (?:-d \S+ )+-1 \d+ -4 \d+ create)\s*$", readme, re.M)
    if not m:
        raise vm.GuestError("the generated README has no `sbd ... create` step")
    return m.group(1)


def configuration_section(cib_xml: str) -> str:
    """The <configuration> element of the generated cib.xml (what `pcs cluster cib-push --config` pushes)."""
    conf = ET.fromstring(cib_xml).find("configuration")
    if conf is None:
        raise vm.GuestError("the generated cib.xml has no configuration section")
    return ET.tostring(conf, encoding="unicode")


def service_group(cib_xml: str) -> str:
    """The id of the group that holds the iSCSI target (the service the client uses)."""
    for g in ET.fromstring(cib_xml).iter("group"):
        if any(p.get("type") == "iSCSITarget" for p in g.iter("primitive")):
            return g.get("id", "")
    raise vm.GuestError("the generated cib.xml has no group with an iSCSITarget")


def drbd_resources(drbd_conf: str) -> list[str]:
    return re.findall(r"^resource (\S+) \{", drbd_conf, re.M)


# The guests have no syslog daemon: a small sink on /dev/log keeps what the DRBD handlers (they log
# only through logger) and sbd say, and the logs are copied to the host's side of the ctl share every
# few seconds, so that a node that is killed or reset leaves its records behind (its root disk is a
# snapshot: they would be gone with it).
LOGS = r"""
setsid -f python3 -c '
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open("/var/log/syslog", "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\n") + b"\n")
' </dev/null >/dev/null 2>&1
mkdir -p /ctl/log
setsid -f bash -c 'while :; do
  for f in /var/log/pacemaker/pacemaker.log /var/log/corosync/corosync.log /var/log/syslog; do
    [ -f $f ] && cp $f /ctl/log/
  done; sleep 3; done' </dev/null >/dev/null 2>&1
"""


class SanLab(pcmk.PacemakerLab):
    """The Pacemaker lab configured from `ocfkit generate` on a SAN description."""

    def __init__(self, image: str, rundir: str, wheel: str, *, description: str = DESCRIPTION) -> None:
        super().__init__(image, rundir, wheel, disks_mb=DISKS_MB)
        self.generated = os.path.join(rundir, "generated")
        self.files = generate(description, self.generated)
        cib = self.files["cib.xml"][0]
        self.group = service_group(cib)
        self.resources = drbd_resources(self.files["drbd.conf"][0])
        conf = ET.fromstring(cib).find("configuration")
        self.vip = next(nv.get("value", "") for p in conf.iter("primitive") if p.get("type") == "IPaddr2"
                        for nv in p.iter("nvpair") if nv.get("name") == "ip")
        self.iqn = next(nv.get("value", "") for p in conf.iter("primitive") if p.get("type") == "iSCSITarget"
                        for nv in p.iter("nvpair") if nv.get("name") == "iqn")
        self.drbd_clones = [c.get("id", "") for c in conf.iter("clone")
                            if any(p.get("type") == "drbd" for p in c.iter("primitive"))]

    def config_files(self) -> dict[str, tuple[str, int]]:
        return {"corosync.conf": self.files["corosync.conf"], "sbd": self.files["sbd"],
                "drbd.conf": self.files["drbd.conf"]}

    def configure_script(self) -> str:
        return f"""
set -e
cp /ctl/corosync.conf /etc/corosync/corosync.conf
install -m 0400 /ctl/authkey /etc/corosync/authkey && rm -f /ctl/authkey
cp /ctl/sbd /etc/default/sbd
install -m 0600 /ctl/drbd.conf /etc/drbd.conf && rm -f /ctl/drbd.conf
cat > /etc/lvm/lvmlocal.conf <<'EOF'
{FILTER}EOF
modprobe -a {MODULES}
mkdir -p /var/log/corosync /var/log/pacemaker /run/crm
chown hacluster:haclient /var/log/pacemaker
{LOGS}"""

    def sbd_create(self) -> str:
        return sbd_create_line(self.files["README"][0])

    def prepare_storage(self) -> None:
        """DRBD metadata on both nodes, both resources UpToDate without a full sync (new, zeroed disks),
        then once on a: the config filesystem, the volume group and the LUN's volume; everything down
        again for Pacemaker."""
        res = " ".join(self.resources)
        for n in pcmk.NODES:
            self.guests[n].sh(f"for r in {res}; do drbdadm -- --force create-md $r; done\n"
                              f"for r in {res}; do drbdadm up $r; done", timeout=180)
        a = self.guests["a"]
        cib = ET.fromstring(self.files["cib.xml"][0])
        fs = {nv.get("name"): nv.get("value") for p in cib.iter("primitive") if p.get("type") == "Filesystem"
              for nv in p.iter("nvpair")}
        vg = next(nv.get("value") for p in cib.iter("primitive") if p.get("type") == "LVM"
                  for nv in p.iter("nvpair") if nv.get("name") == "volgrpname")
        lun = next(nv.get("value") for p in cib.iter("primitive") if p.get("type") == "iSCSILogicalUnit"
                   for nv in p.iter("nvpair") if nv.get("name") == "path")
        lun_drbd = re.search(rf"resource {self.resources[-1]} \{{.*?device (\S+);", self.files["drbd.conf"][0],
                             re.S).group(1)
        a.sh(f"""set -e
for r in {res}; do
  for i in $(seq 600); do [ "$(drbdadm cstate $r)" = Connected ] && break; sleep 0.2; done
  drbdadm -- --clear-bitmap new-current-uuid $r
  for i in $(seq 600); do [ "$(drbdadm dstate $r)" = UpToDate/UpToDate ] && break; sleep 0.2; done
  drbdadm dstate $r | grep -qx UpToDate/UpToDate
  drbdadm primary $r
done
mkfs.ext4 -q -F {fs['device']}
pvcreate -q {lun_drbd}
vgcreate -q {vg} {lun_drbd}
lvcreate -q -y -n {os.path.basename(lun)} -L {LV_MB}M {vg}
vgchange -q -an {vg}
for r in {res}; do drbdadm secondary $r; done""", timeout=300)
        for n in pcmk.NODES:
            self.guests[n].sh(f"for r in {res}; do drbdadm down $r; done", timeout=120)

    def load_cib(self, on: str = "a") -> None:
        """Push the generated configuration section (cib.xml is 0600: it may hold secrets)."""
        g = self.guests[on]
        path = os.path.join(g.dir, "ctl", "configuration.xml")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(configuration_section(self.files["cib.xml"][0]))
        try:
            g.sh("cibadmin --replace --scope configuration --xml-file /ctl/configuration.xml", timeout=120)
        finally:
            os.unlink(path)

    # -- state ----------------------------------------------------------------------------------

    def group_nodes(self, root: ET.Element) -> list[str]:
        """Nodes where every member of the service group is started."""
        for g in root.iter("group"):
            if g.get("id") == self.group:
                members = list(g.iter("resource"))
                nodes = {n.get("name", "") for r in members for n in r.iter("node")}
                if members and all(r.get("role") == "Started" and r.get("failed") != "true" for r in members) \
                        and len(nodes) == 1:
                    return sorted(nodes)
        return []

    def clock(self, on: str) -> float:
        """The node's clock now, in epoch seconds (an emulated guest's clock drifts from the
        host's under load: events are timed against the clock of the node whose log is read)."""
        t0 = time.time()
        out = self.guests[on].sh("date +%s.%N", timeout=60)
        t1 = time.time()
        return time.time() + float(out.strip()) - (t0 + t1) / 2

    def drbd_state(self, on: str) -> dict[str, str]:
        """resource -> 'role/peer cstate disk/peerdisk' on a node."""
        out = self.guests[on].sh("for r in " + " ".join(self.resources) + "; do echo $r $(drbdadm role $r 2>&1) "
                                 "$(drbdadm cstate $r 2>&1) $(drbdadm dstate $r 2>&1); done", timeout=60)
        return {w[0]: " ".join(w[1:]) for w in (line.split() for line in out.splitlines()) if w}


# -- the client -----------------------------------------------------------------------------------

# open-iscsi's replacement_timeout (default 120 s) is how long the initiator queues I/O for a lost
# session before failing it upward; a crash takeover under emulation is longer than that, so the
# client waits 600 s (a multipath host would queue with no_path_retry the same way).
CLIENT_LOGIN = """
set -e
sed -i 's/^node.session.timeo.replacement_timeout = .*/node.session.timeo.replacement_timeout = 600/' \
    /etc/iscsi/iscsid.conf
modprobe -a iscsi_tcp sd_mod
pgrep -x iscsid >/dev/null || iscsid
iscsiadm -m discovery -t st -p {vip} >/dev/null
iscsiadm -m node -T {iqn} -p {vip} --login >/dev/null
for i in $(seq 300); do
  d=$(iscsiadm -m session -P3 2>/dev/null | awk '/Attached scsi disk/ {{print $4; exit}}')
  [ -n "$d" ] && [ -b /dev/$d ] && {{ echo /dev/$d; exit 0; }}
  sleep 0.2
done
echo "no disk after login"; exit 1
"""

# Writes 4 KiB blocks round the device: each holds a magic, its sequence number, the time and random
# bytes, and ends with the SHA-256 of the rest. O_DIRECT|O_DSYNC plus fsync: a write is logged as
# acknowledged only once the target has reported it stable (DRBD protocol C: on both nodes).
WRITER = r'''
import hashlib, mmap, os, struct, sys, time
dev, log, stop = sys.argv[1:4]
BS = 4096
MAGIC = 0x6f63666b69747361
fd = os.open(dev, os.O_RDWR | os.O_DIRECT | os.O_DSYNC)
n = os.lseek(fd, 0, os.SEEK_END) // BS
buf = mmap.mmap(-1, BS)
out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
seq = 0
while not os.path.exists(stop):
    seq += 1
    slot = seq % n
    t = time.time()
    body = struct.pack("<QQd", MAGIC, seq, t) + os.urandom(BS - 32 - 24)
    buf.seek(0)
    buf.write(body + hashlib.sha256(body).digest())
    os.pwrite(fd, buf, slot * BS)
    os.fsync(fd)
    os.write(out, b"%d %d %.3f %.3f\n" % (seq, slot, t, time.time()))
    time.sleep(0.05)
'''

# Reads back every slot the log says was written: the block holds the last acknowledged sequence
# number of its slot, with a good checksum.
VERIFY = r'''
import hashlib, mmap, os, struct, sys
dev, log = sys.argv[1:3]
BS = 4096
MAGIC = 0x6f63666b69747361
last = {}
for line in open(log):
    w = line.split()
    if len(w) == 4:
        last[int(w[1])] = int(w[0])
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
buf = mmap.mmap(-1, BS)
bad = []
for slot, seq in sorted(last.items()):
    os.preadv(fd, [buf], slot * BS)
    b = bytes(buf)
    magic, got, _t = struct.unpack("<QQd", b[:24])
    if magic != MAGIC or hashlib.sha256(b[:-32]).digest() != b[-32:] or got != seq:
        bad.append((slot, seq, got, magic == MAGIC))
print("acknowledged", max(last.values()) if last else 0, "slots", len(last), "bad", len(bad))
for x in bad[:20]:
    print("BAD slot %d expected seq %d found %d magic %s" % x)
sys.exit(1 if bad else 0)
'''


def start_writer(c: vm.Guest, dev: str) -> None:
    c.sh(f"cat > /tmp/writer.py <<'EOF'\n{WRITER}EOF\ncat > /tmp/verify.py <<'EOF'\n{VERIFY}EOF\n"
         f"rm -f /tmp/acks /tmp/stop\nsetsid -f python3 /tmp/writer.py {dev} /tmp/acks /tmp/stop "
         "</dev/null >/tmp/writer.out 2>&1\n"
         "for i in $(seq 100); do [ -s /tmp/acks ] && exit 0; sleep 0.2; done; cat /tmp/writer.out; exit 1")


def acks(c: vm.Guest) -> list[tuple[int, float, float]]:
    """(seq, t_issued, t_acknowledged) of every acknowledged write so far."""
    out = c.sh("cat /tmp/acks", timeout=120)
    return [(int(w[0]), float(w[2]), float(w[3])) for w in (line.split() for line in out.splitlines()) if len(w) == 4]


def stall(log: list[tuple[int, float, float]], t0: float, t1: float) -> float:
    """The longest time without an acknowledgement between t0 and t1 (host clock = guest clocks)."""
    times = [t for _s, _i, t in log if t0 - 5 <= t <= t1]
    if len(times) < 2:
        return t1 - t0
    return round(max(b - a for a, b in zip(times, times[1:])), 2)


def stop_writer(c: vm.Guest) -> None:
    c.sh("touch /tmp/stop; for i in $(seq 300); do pgrep -f /tmp/writer.py >/dev/null || exit 0; sleep 0.2; done; "
         "exit 1", timeout=120)


def verify(c: vm.Guest, dev: str) -> str:
    return c.sh(f"python3 /tmp/verify.py {dev} /tmp/acks", timeout=300)


def operations(text: str, t0: float, actions: tuple[str, ...] = ("stop", "demote", "promote", "start")
               ) -> list[dict]:
    """The DC's resource operations after t0, from its Pacemaker log: action, resource, node, seconds
    after t0 when initiated and when its result came, and the result."""
    year = time.gmtime(t0).tm_year
    pending: dict[tuple[str, str, str], float] = {}
    out: list[dict] = []
    acts = "|".join(actions)
    for line in text.splitlines():
        t = pcmk.stamp(line, year)
        if t is None or t < t0 - 1:
            continue
        m = re.search(rf"Initiating ({acts}) operation (\S+?)(?::\d+)?_({acts})_0 (?:locally )?on (\S+)", line)
        if m:
            pending[(m.group(1), m.group(2), m.group(4))] = t
            continue
        m = re.search(rf"Result of ({acts}) operation for (\S+?)(?::\d+)? on (\S+): (.*?)(?: \||$)", line)
        if m and (m.group(1), m.group(2), m.group(3)) in pending:
            start = pending.pop((m.group(1), m.group(2), m.group(3)))
            out.append({"action": m.group(1), "resource": m.group(2), "node": m.group(3),
                        "initiated_s": round(start - t0, 2), "done_s": round(t - t0, 2),
                        "seconds": round(t - start, 2), "result": m.group(4).strip()})
    return out


def dc(root: ET.Element) -> str:
    """The current DC's name in a crm_mon document."""
    for e in root.iter("current_dc"):
        return e.get("name", "")
    return ""
