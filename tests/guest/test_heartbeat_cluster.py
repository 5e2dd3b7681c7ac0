"""The seed's own cluster for real (issue 18): two Debian 13 guests running heartbeat 3.0.6 with the ha.cf,
authkeys, haresources and drbd.conf that `ocfkit generate examples/seed-guests.toml` writes, ocfkit's
resource.d wrappers installed with `ocfkit install --force`, DRBD with dopd, and the client guest writing a
checksummed stream of acknowledged writes through the VIP with open-iscsi while 1) heartbeat is stopped on
the active node, 2) the active node's qemu is killed, 3) that node returns and the service stays where it is
(auto_failback off). Every acknowledged write is read back (ocfkit.lab.guests.heartbeat, docs/heartbeat.md).
"""

from __future__ import annotations

import json
import os

import pytest

from ocfkit.lab.guests import heartbeat
from tests.guest.common import trixie_lab

pytestmark = pytest.mark.guest


@pytest.fixture(scope="module")
def lab():
    for lab in trixie_lab(heartbeat.HeartbeatLab, "heartbeat"):
        try:
            yield lab
        finally:
            if os.environ.get("OCFKIT_KEEP_LOGS"):
                lab.save_logs(os.environ["OCFKIT_KEEP_LOGS"])


def test_heartbeat_fails_the_seeds_san_over_with_no_acknowledged_write_lost(lab):
    s = heartbeat.run(lab, say=lambda m: print(m, flush=True))
    print(json.dumps(s, indent=1))
    stop, crash, back = s["events"]
    for ev in (stop, crash):
        assert ev["client_stall_s"] > 0, ev
        assert ev["taker"]["starts"], ev  # ResourceManager ran the wrappers' start on the taker
    # 1. heartbeat stopped on a: a released, b took over; heartbeat back on a leaves the service on b.
    assert s["after heartbeat returned on a"] == {"b serves": True, "a serves": False}
    # 2. b's power pulled: a declared b dead no sooner than the seed's deadtime, then took over; dopd's
    # answer (peer unreachable) left DRBD's state saying the peer's disk is Outdated.
    dead = crash["taker"]["peer_dead_s"]
    assert dead is not None and dead >= s["deadtime_s"] - 1, crash["taker"]
    lun = crash["drbd_after"]["a"]["iscsi.lun"]
    assert lun.startswith("Primary/Unknown") and lun.endswith("UpToDate/Outdated"), crash["drbd_after"]
    assert any("drbd-peer-outdater" in line or "fence-peer" in line for line in crash["dopd"]), crash["dopd"]
    # 3. b back: resynced from a, the service stays on a.
    assert back["a serves"] and not back["b serves"], back
    for node, res in back["drbd_after"].items():
        for r, st in res.items():
            assert "Connected UpToDate/UpToDate" in st, (node, r, st)
    assert s["verified"] and s["lost_acknowledged_writes"] == 0, s["verify"]
