"""A real two-node Pacemaker 3.0 cluster in Debian 13 guests with SBD fencing (ocfkit.lab.guests.pcmk).

The cluster forms over corosync knet (both links), fence_sbd is the fencing device, and
ocf:ocfkit:Dummy (installed from ocfkit's wheel with `ocfkit install`) runs on node a. Node a's
qemu is killed with SIGKILL: node b's corosync loses it, Pacemaker fences it through SBD (the fence
shows in Pacemaker's history) and starts Dummy on b. The timings of each step come from the
cluster's own records. Node a then boots again, its SBD slot is cleared and it rejoins.
"""

from __future__ import annotations

import re
import time

import pytest

from ocfkit.lab.guests import pcmk
from tests.guest.common import trixie_lab

pytestmark = pytest.mark.guest


@pytest.fixture(scope="module")
def lab():
    yield from trixie_lab(pcmk.PacemakerLab, "pcmk")


def both_online(root) -> bool:
    return pcmk.online_nodes(root) == {"a", "b"}


def test_sbd_fences_a_crashed_node_and_pacemaker_moves_the_resource(lab):
    t0 = time.monotonic()
    lab.wait("a", both_online, 240, "cluster of a and b")
    lab.timings["cluster formed"] = time.monotonic() - t0
    # Both slots allocated on the shared disk, with the timeouts written by `sbd create`.
    assert lab.sbd_slots("b") == {"a": "clear", "b": "clear"}
    dump = lab["b"].sh(f"sbd -d {pcmk.SBD_DEVICE} dump")
    assert re.search(rf"Timeout \(watchdog\) *: {pcmk.SBD_WATCHDOG_S}\n", dump), dump
    assert re.search(rf"Timeout \(msgwait\) *: {pcmk.SBD_MSGWAIT_S}\n", dump), dump

    lab.configure("a")
    t0 = time.monotonic()
    lab.wait("b", lambda r: pcmk.resource_nodes(r, "dummy") == ["a"]
             and pcmk.resource_nodes(r, "fence-sbd") != [], 120, "Dummy on a and fence-sbd started")
    lab.timings["Dummy and fence-sbd started"] = time.monotonic() - t0
    assert lab.fence_history("b", "a") == []

    t_kill = time.time()
    t0 = time.monotonic()
    lab["a"].kill()
    root = lab.wait("b", lambda r: pcmk.resource_nodes(r, "dummy") == ["b"], 180, "Dummy on b", interval=0.5)
    lab.timings["kill -9 of a -> Dummy on b (host)"] = time.monotonic() - t0
    assert pcmk.online_nodes(root) == {"b"}

    history = lab.fence_history("b", "a")
    assert any(e.get("status") == "success" and e.get("target") == "a" and e.get("action") in ("reboot", "off")
               for e in history), history
    records = lab.records("b")
    steps = pcmk.timeline(records, history, t_kill)
    print(f"\nb's records of the failover:\n{records}")
    print("\nfailover, seconds after kill -9 of a's qemu (from the cluster's records):")
    for k, v in steps.items():
        print(f"  {k:45s} {v:7.2f}")
    for step in ("token lost (corosync)", "fencing requested (pacemaker)", "fencing completed (history)",
                 "resource started (pacemaker)"):
        assert step in steps, (step, records, history)
    # The fence takes at least msgwait after it was requested: SBD waited for the victim.
    assert steps["fencing completed (history)"] - steps["fencing requested (pacemaker)"] >= pcmk.SBD_MSGWAIT_S
    assert steps["resource started (pacemaker)"] > steps["fencing completed (history)"]

    # Node a boots again. fence_sbd left a "reset" message in a's slot. With SBD_STARTMODE=always
    # (Debian's default, the lab's) sbd accepts it at start and clears the slot, and the node
    # rejoins; with "clean" it would refuse to start until `sbd -d DEV message a clear`.
    t0 = time.monotonic()
    assert lab.sbd_slots("b") == {"a": "reset", "b": "clear"}
    lab._stage("a")
    lab.start_stack("a")
    assert lab.sbd_slots("a") == {"a": "clear", "b": "clear"}
    assert lab["a"].alive()
    root = lab.wait("b", both_online, 240, "a rejoined")
    lab.timings["a boots and rejoins"] = time.monotonic() - t0
    assert pcmk.resource_nodes(root, "dummy") == ["b"]  # stickiness keeps it on b
    print("lab timings (s):", pcmk.dump({k: round(v, 1) for k, v in lab.timings.items()}))
