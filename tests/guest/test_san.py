"""The reference SAN end to end, in guests: two DRBD resources, the ext4 config filesystem, LVM on
the second DRBD device, the VIP, portblock block, LIO target + LUN, portblock unblock, all started
by ocfkit's agents on one node and stopped in reverse. The client (guest c, the LAN's bridge) writes
a checksummed stream to the LUN through the VIP with libiscsi (ocfkit/demo_client.py) while the
service (1) switches over to the other node, and (2) moves after `kill -9` of the active node's qemu.
No acknowledged write may be lost; the longest gap between acknowledgements is the I/O stall."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.guest import drbdsetup
from tests.guest.common import FILTER, VIP, agent, lvm_local

pytestmark = pytest.mark.guest

IQN = "iqn.2015-12.cl.caschile:lun.filer"
RESULTS = os.environ.get("OCFKIT_GUEST_RESULTS", "")

# (agent, instance, parameters), in start order.
GROUP = [
    ("drbddisk", "drbd-config", {"drbd_resource": "config"}),
    ("drbddisk", "drbd-lun", {"drbd_resource": "lun"}),
    ("Filesystem", "fs-config", {"device": "/dev/drbd0", "directory": "/srv/iscsi-config", "fstype": "ext4"}),
    ("LVM", "vg0drbd", {"volgrpname": "vg0drbd"}),
    ("IPaddr2", "vip", {"ip": VIP, "cidr_netmask": "24", "nic": "eth2"}),
    ("portblock", "block", {"protocol": "tcp", "portno": "3260", "action": "block", "ip": VIP}),
    ("iSCSITarget", "target", {"implementation": "lio", "iqn": IQN, "portals": f"{VIP}:3260"}),
    ("iSCSILogicalUnit", "lun-filer", {"implementation": "lio", "target_iqn": IQN, "lun": "0",
                                       "path": "/dev/vg0drbd/filer"}),
    ("portblock", "unblock", {"protocol": "tcp", "portno": "3260", "action": "unblock", "ip": VIP,
                              "tickle_dir": "/srv/iscsi-config/tickle"}),
]


STEPS: list[tuple[str, float]] = []  # (what, host monotonic time) of the last group operation


def start_group(g) -> float:
    t0 = time.monotonic()
    for name, inst, params in GROUP:
        r = agent(g, name, "start", instance=inst, timeout=90, **params)
        assert r.rc == 0, (g.name, name, r)
        STEPS.append((f"{g.name}:{inst}", time.monotonic()))
    for name, inst, params in GROUP:
        r = agent(g, name, "monitor", instance=inst, **params)
        assert r.rc == 0, (g.name, name, "monitor", r)
    return time.monotonic() - t0


def stop_group(g) -> float:
    t0 = time.monotonic()
    for name, inst, params in reversed(GROUP):
        r = agent(g, name, "stop", instance=inst, timeout=90, **params)
        assert r.rc == 0, (g.name, name, "stop", r)
        STEPS.append((f"{g.name}:{inst}:stop", time.monotonic()))
    return time.monotonic() - t0


def prepare(nodes) -> None:
    a, b = nodes["a"], nodes["b"]
    drbdsetup.create(nodes, "config", "/dev/vdb", 0, 7789)
    drbdsetup.create(nodes, "lun", "/dev/vdc", 1, 7790)
    for g in (a, b):
        lvm_local(g, FILTER)
        g.sh("mkdir -p /srv/iscsi-config")
    a.sh("drbdadm primary config && drbdadm primary lun && mkfs.ext4 -q /dev/drbd0 && "
         "pvcreate -q /dev/drbd1 && vgcreate -q vg0drbd /dev/drbd1 && lvcreate -q -an -L 40M -n filer vg0drbd && "
         "drbdadm secondary config && drbdadm secondary lun")


class Client:
    """demo_client in guest c: ACK lines with times, ERR on failures, VERIFY at the end."""

    def __init__(self, c) -> None:
        self.c = c

    def start(self) -> None:
        self.c.sh("rm -f /tmp/cl.in /tmp/client.log; mkfifo /tmp/cl.in; "
                  "(setsid sleep 100000 > /tmp/cl.in &) ; "
                  f"(setsid python3 -S /src/ocfkit/demo_client.py {VIP}:3260 {IQN} 0 600 "
                  "< /tmp/cl.in > /tmp/client.log 2>&1 &)")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.acks() >= 20:
                return
            time.sleep(0.5)
        raise AssertionError("the client did not get going:\n" + self.log())

    def log(self) -> str:
        return self.c.sh("cat /tmp/client.log")

    def acks(self) -> int:
        return int(self.c.sh("grep -c '^ACK' /tmp/client.log || true").strip() or 0)

    def finish(self) -> dict:
        self.c.sh("echo stop > /tmp/cl.in")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            out = self.log()
            if "VERIFY" in out:
                break
            time.sleep(0.5)
        self.c.run("pkill -x sleep; pkill -f demo_client; true", check=False)
        times = [float(line.split()[3]) for line in out.splitlines() if line.startswith("ACK ")]
        gaps = sorted(((b - a, a) for a, b in zip(times, times[1:])), reverse=True)
        verify = [line for line in out.splitlines() if line.startswith("VERIFY")]
        if RESULTS:
            with open(RESULTS + ".client.log", "a", encoding="utf-8") as f:
                f.write(out + "\n----\n")
        return {"acks": len(times), "stall_s": round(gaps[0][0], 2) if gaps else None,
                "stall_at_s": round(gaps[0][1], 2) if gaps else None, "client_s": times[-1] if times else None,
                "errors": sum(1 for line in out.splitlines() if line.startswith("ERR")),
                "verify": verify[-1] if verify else "(none)", "log_tail": out.splitlines()[-5:]}


def record(name: str, data: dict) -> None:
    print(f"{name}: {json.dumps(data)}")
    if RESULTS:
        with open(RESULTS, "a", encoding="utf-8") as f:
            f.write(json.dumps({"scenario": name, **data}) + "\n")


def test_reference_san_switchover_and_crash_lose_no_acknowledged_write(lan):
    a, b, c = lan["a"], lan["b"], lan["c"]
    prepare(lan)
    start_group(a)
    client = Client(c)

    # (1) planned switchover a -> b while the client writes.
    client.start()
    t_client = time.monotonic()
    STEPS.clear()
    t_stop = stop_group(a)
    t_start = start_group(b)
    moved = time.monotonic() - t_client
    time.sleep(5)
    res = client.finish()
    record("switchover", {"stop_a_s": round(t_stop, 1), "start_b_s": round(t_start, 1),
                          "moved_at_s": round(moved, 1), "steps": {k: round(t - t_client, 1) for k, t in STEPS},
                          **res})
    assert res["verify"].startswith("VERIFY ok"), res
    assert res["acks"] > 40

    # Back to a, then (2): kill -9 of a's qemu and takeover on b.
    stop_group(b)
    start_group(a)
    client.start()
    t_client = time.monotonic()
    time.sleep(3)
    a.kill()
    killed = time.monotonic() - t_client
    STEPS.clear()
    t_start = start_group(b)  # drbddisk retries until DRBD sees the peer gone
    moved = time.monotonic() - t_client
    time.sleep(5)
    res = client.finish()
    record("crash", {"killed_at_s": round(killed, 1), "start_b_s": round(t_start, 1), "moved_at_s": round(moved, 1),
                     "steps": {k: round(t - t_client, 1) for k, t in STEPS}, **res})
    assert res["verify"].startswith("VERIFY ok"), res
    stop_group(b)
