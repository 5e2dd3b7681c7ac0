"""DRBD resources for guest tests: configuration on both nodes, metadata, the initial sync."""

from __future__ import annotations

import time

from tests.guest.common import REPL, agent
from tests.guest.vm import Guest

CONF = """resource {name} {{
    net {{ protocol C; }}
    disk {{ c-plan-ahead 0; resync-rate 200M; }}
    on a {{ device /dev/drbd{minor}; disk {disk}; address {a}:{port}; meta-disk internal; }}
    on b {{ device /dev/drbd{minor}; disk {disk}; address {b}:{port}; meta-disk internal; }}
}}
"""


def configure(g: Guest, name: str = "r0", disk: str = "/dev/vdb", minor: int = 0, port: int = 7789) -> None:
    """Write the resource file (the guest's root is a snapshot: a restarted guest needs it again)."""
    text = CONF.format(name=name, minor=minor, disk=disk, a=REPL["a"], b=REPL["b"], port=port)
    g.sh(f"modprobe drbd && cat > /etc/drbd.d/{name}.res <<'EOF'\n{text}EOF\n"
         "sed -i 's/usage-count yes/usage-count no/' /etc/drbd.d/global_common.conf")


def create(nodes, name: str = "r0", disk: str = "/dev/vdb", minor: int = 0, port: int = 7789,
           *, initial_sync: bool = False) -> None:
    """A fresh resource on both nodes, up and connected, both disks UpToDate, both Secondary.

    initial_sync: do the full sync (else the bitmap is cleared: both sides are zeroed disks anyway)."""
    for n in ("a", "b"):
        configure(nodes[n], name, disk, minor, port)
        nodes[n].sh(f"yes yes | drbdadm create-md --force {name} >/dev/null 2>&1 || drbdadm create-md --force {name}")
    for n in ("a", "b"):
        r = agent(nodes[n], "drbd", "start", drbd_resource=name)
        assert r.rc == 0, r
    wait(nodes["a"], f"drbdadm cstate {name} | grep -qx Connected", 60, "connection")
    if initial_sync:
        nodes["a"].sh(f"drbdadm primary --force {name}")
    else:
        nodes["a"].sh(f"drbdadm -- --clear-bitmap new-current-uuid {name}")
    wait(nodes["a"], f"drbdadm dstate {name} | grep -qx UpToDate/UpToDate", 120, "UpToDate on both sides")
    if initial_sync:
        nodes["a"].sh(f"drbdadm secondary {name}")


def wait(g: Guest, condition: str, timeout: float, what: str) -> float:
    """Poll a shell condition inside the guest (one job, polling inside); seconds it took."""
    t0 = time.monotonic()
    r = g.run(f"for i in $(seq {int(timeout * 10)}); do {condition} && exit 0; sleep 0.1; done; exit 1",
              timeout=timeout + 30, check=False)
    if r.rc != 0:
        state = g.run("drbdsetup status --verbose 2>&1; cat /proc/drbd 2>&1", check=False).out
        raise AssertionError(f"{g.name}: no {what} after {timeout} s\n{state}")
    return time.monotonic() - t0


def state(g: Guest, name: str = "r0") -> str:
    """role disk/peer-disk cstate, for messages and assertions."""
    return g.sh(f"echo $(drbdadm role {name}) $(drbdadm dstate {name}) $(drbdadm cstate {name})").strip()
