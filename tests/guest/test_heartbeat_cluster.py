"""`ocfkit demo --guests --manager heartbeat --json`: the seed guide's own cluster (examples/seed-guests.toml)
with the real heartbeat 3.0.6 daemon in two Debian 13 guests (ocfkit.lab.guests.heartbeat, docs/heartbeat.md).

The nodes take ha.cf, authkeys, haresources and drbd-heartbeat.conf from `ocfkit generate`, ocfkit's
resource.d wrappers from `ocfkit install --force`, and the README's dpkg-statoverride steps for dopd. The
client c logs in with open-iscsi through the VIP and writes acknowledged, checksummed O_DIRECT blocks while
1. `/etc/init.d/heartbeat stop` runs on a: a releases, b takes over; a comes back, the service stays on b;
2. b's qemu is killed: a declares it dead after deadtime (10 s), takes over, and dopd's fence-peer handler
   leaves b's disks Outdated in a's /proc/drbd;
3. b boots again, rejoins, DRBD resyncs, the service stays on a (auto_failback off).
Every acknowledged write is read back; both resources end Connected and UpToDate, with no split brain.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.guest

OCFKIT = os.path.join(os.path.dirname(sys.executable), "ocfkit")
BUDGET_S = 900  # 312-424 s measured under TCG on the 2-core host (docs/benchmarks.md)


def test_seed_heartbeat_cluster_survives_a_stop_and_a_power_pull_with_every_acknowledged_write_intact(request):
    from ocfkit.lab.guests import scenario

    why = scenario.refusal()
    if why:
        pytest.skip(why)
    p = subprocess.run([OCFKIT, "demo", "--guests", "--manager", "heartbeat", "--json"], capture_output=True,
                       text=True, timeout=BUDGET_S + 300)
    assert p.stdout.strip(), p.stderr[-6000:]
    s = json.loads(p.stdout)
    request.addfinalizer(lambda: shutil.rmtree(os.path.dirname(s["logs"]), ignore_errors=True))
    print(p.stderr[-3000:])
    print(json.dumps({k: v for k, v in s.items() if k != "drbd"}, indent=1))
    assert p.returncode == 0, (s.get("error"), p.stderr[-6000:])
    assert s["ok"] is True and s["manager"] == "heartbeat"
    assert s["seconds"] < BUDGET_S, s["seconds"]
    assert s["respawned"] == ["/usr/libexec/heartbeat/dopd", "/usr/libexec/heartbeat/ipfail"], s["respawned"]
    assert [e["kind"] for e in s["events"]] == ["heartbeat stop", "power pull", "comes back"]
    stop, pull, back = s["events"]
    # 1. The guide's method: a releases everything, b hears the shutdown notice and takes over.
    assert stop["from"] == "a" and stop["to"] == "b" and stop["command"] == "/etc/init.d/heartbeat stop"
    assert stop["stops"] and stop["starts"], stop
    assert 0 <= stop["release_began_s"] < stop["released_s"] and stop["acquire_began_s"] < stop["acquired_s"], stop
    assert stop["back"]["service_on"] == "b"
    # 2. The power pull: declared dead deadtime after the last heartbeat heard (which came at most keepalive
    # before the kill), then the wrappers' takeover; dopd's handler leaves the peer's disks Outdated.
    assert pull["from"] == "b" and pull["to"] == "a"
    assert s["deadtime_s"] - s["keepalive_s"] <= pull["declared_dead_s"] < pull["takeover_began_s"], pull
    assert pull["takeover_began_s"] < pull["takeover_done_s"], pull
    assert pull["client_stall_s"] >= s["deadtime_s"] - s["keepalive_s"], pull
    assert pull["peer_outdated"] is True, pull["proc_drbd"]
    assert all(v == "UpToDate/Outdated" for v in pull["disk_states"].values()), pull["disk_states"]
    # 3. b back: resynced, the service stays on a.
    assert back["node"] == "b" and back["service_on"] == "a", back
    # Every acknowledged write read back; disks UpToDate, Connected, no split brain.
    assert s["verified"] is True and s["lost_acknowledged_writes"] == 0 and s["writes_acknowledged"] > 100
    assert s["disks_uptodate_connected"] is True, s["drbd"]
    assert not any(s["split_brain_messages"].values()), s["split_brain_messages"]
