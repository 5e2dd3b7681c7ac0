"""`ocfkit demo --guests --json`: the SAN of examples/guest-san.toml on a real two-node Pacemaker 3.0 cluster
in Debian 13 guests (ocfkit.lab.guests.scenario, docs/guests.md).

The nodes take corosync.conf, the sbd settings and header, drbd.conf and the CIB from `ocfkit generate` and
nothing else; ocfkit is pip-installed in them from the tree's wheel. Pacemaker promotes both DRBD resources
(ocf:ocfkit:drbd) on a and starts the config filesystem and the service group (VIP, LVM, portblock, LIO
target and LUN, portblock unblock). The client c logs in with open-iscsi through the VIP and writes
acknowledged, checksummed O_DIRECT blocks while the group is moved to b (`crm_resource --move`, then
`--clear`), b's qemu is killed (corosync loses it, SBD fences it, a promotes DRBD and starts the group)
and b boots again, rejoins and DRBD resyncs. Every acknowledged write is read back; both resources end
Connected and UpToDate on both nodes, with no split brain.
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


def test_demo_guests_moves_survives_a_crash_with_fencing_and_resyncs_with_every_acknowledged_write_intact(request):
    from ocfkit.lab.guests import scenario

    why = scenario.refusal()
    if why:
        pytest.skip(why)
    p = subprocess.run([OCFKIT, "demo", "--guests", "--json"], capture_output=True, text=True, timeout=2400)
    assert p.stdout.strip(), p.stderr[-6000:]
    s = json.loads(p.stdout)
    # The logs the demo keeps for a user are removed after a test run, passed or failed.
    request.addfinalizer(lambda: shutil.rmtree(os.path.dirname(s["logs"]), ignore_errors=True))
    print(p.stderr[-3000:])
    print(json.dumps({k: v for k, v in s.items() if k != "drbd"}, indent=1))
    assert p.returncode == 0, (s.get("error"), p.stderr[-6000:])
    assert s["ok"] is True
    assert [e["kind"] for e in s["events"]] == ["planned move", "crash", "rejoin"]
    move, crash, rejoin = s["events"]
    assert move["from"] == "a" and move["to"] == "b"
    assert move["commands"][0].startswith("crm_resource --move")
    assert move["commands"][1].startswith("crm_resource --clear")
    # The crash: b ran the group; corosync lost it, SBD fenced it (Pacemaker's history), a took over.
    assert crash["from"] == "b" and crash["to"] == "a"
    fe = crash["fence_event"]
    assert fe["target"] == "b" and fe["status"] == "success" and fe["delegate"] == "a", fe
    assert 0 < crash["token_lost_s"] <= crash["detection_s"] < crash["fencing_completed_s"], crash
    # SBD's fence is complete only after msgwait: the history cannot say done before.
    assert crash["fencing_s"] >= s["timeouts"]["sbd_msgwait_s"], crash
    assert crash["fencing_completed_s"] < crash["promote_initiated_s"] < crash["group_started_s"], crash
    assert crash["ocfkit_s"] > 0 and crash["client_stall_s"] >= crash["fencing_completed_s"] - 5, crash
    # The rejoin: b back, resynced, the group stays on a (stickiness).
    assert rejoin["node"] == "b" and rejoin["group_on"] == "a", rejoin
    # Every acknowledged write read back; disks UpToDate, Connected, no split brain.
    assert s["verified"] is True and s["lost_acknowledged_writes"] == 0 and s["writes_acknowledged"] > 100, s
    assert s["disks_uptodate_connected"] is True, s["drbd"]
    assert s["split_brain_messages"] == {"a": 0, "b": 0}
    # Nothing left behind: the run directory is removed; the logs and generated files stay.
    assert os.path.isdir(s["logs"]) and os.path.isfile(os.path.join(s["generated"], "cib.xml"))
