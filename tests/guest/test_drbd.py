"""DRBD for real: two guests replicating with protocol C, driven by ocfkit's drbd and drbddisk agents."""

from __future__ import annotations

import time

import pytest

from tests.guest import drbdsetup
from tests.guest.common import agent

pytestmark = pytest.mark.guest

WRITE = "dd if=/dev/urandom of=/tmp/data bs=1M count=8 status=none && " \
        "dd if=/tmp/data of=/dev/drbd0 bs=1M oflag=direct status=none && md5sum < /tmp/data"
READ = "dd if=/dev/drbd0 bs=1M count=8 iflag=direct status=none | md5sum"


def test_promotable_agent_roles_and_data_move(nodes):
    a, b = nodes["a"], nodes["b"]
    drbdsetup.create(nodes)
    for g in (a, b):
        r = agent(g, "drbd", "monitor", drbd_resource="r0")
        assert r.rc == 0, r  # unpromoted
    assert agent(a, "drbd", "promote", drbd_resource="r0").rc == 0
    assert agent(a, "drbd", "monitor", drbd_resource="r0").rc == 8
    assert agent(a, "drbd", "promote", drbd_resource="r0").rc == 0  # idempotent
    # The peer cannot be promoted while a is Primary (DRBD 8.4 refuses a second Primary).
    r = agent(b, "drbd", "promote", drbd_resource="r0", timeout=5)
    assert r.rc != 0 and "ocf-exit-reason:" in r.out, r
    digest = a.sh(WRITE).split()[0]
    assert agent(a, "drbd", "demote", drbd_resource="r0").rc == 0
    assert agent(a, "drbd", "monitor", drbd_resource="r0").rc == 0
    assert agent(b, "drbd", "promote", drbd_resource="r0").rc == 0
    assert agent(b, "drbd", "monitor", drbd_resource="r0").rc == 8
    assert b.sh(READ).split()[0] == digest
    # Stop of the promoted instance demotes and takes it down; stop again is fine; then 7.
    for g in (b, a):
        assert agent(g, "drbd", "stop", drbd_resource="r0").rc == 0
        assert agent(g, "drbd", "stop", drbd_resource="r0").rc == 0
        assert agent(g, "drbd", "monitor", drbd_resource="r0").rc == 7
        assert "r0" not in g.sh("drbdsetup status all 2>&1 || true")


def test_outdated_disk_is_never_promoted(nodes):
    a, b = nodes["a"], nodes["b"]
    drbdsetup.create(nodes)
    assert agent(a, "drbd", "promote", drbd_resource="r0").rc == 0
    b.sh("drbdadm disconnect r0 && drbdadm outdate r0")
    assert "Outdated" in drbdsetup.state(b)
    r = agent(b, "drbd", "promote", drbd_resource="r0")
    assert r.rc == 1 and "ocf-exit-reason:" in r.out and "Outdated" in r.out, r
    r = agent(b, "drbddisk", "start", drbd_resource="r0")
    assert r.rc == 1 and "Outdated" in r.out, r
    assert b.sh("drbdadm role r0").startswith("Secondary")
    # Reconnected, b resyncs from a and is UpToDate again; now it may be promoted after a demotes.
    b.sh("drbdadm connect r0")
    drbdsetup.wait(b, "drbdadm dstate r0 | grep -qx UpToDate/UpToDate", 60, "resync")
    assert agent(a, "drbd", "demote", drbd_resource="r0").rc == 0
    assert agent(b, "drbd", "promote", drbd_resource="r0").rc == 0


def test_drbddisk_stop_names_the_opener(nodes):
    a = nodes["a"]
    drbdsetup.create(nodes)
    assert agent(a, "drbddisk", "start", drbd_resource="r0").rc == 0
    assert agent(a, "drbddisk", "monitor", drbd_resource="r0").rc == 0
    a.sh("setsid sleep 300 < /dev/drbd0 > /dev/null 2>&1 &")
    t0 = time.monotonic()
    r = agent(a, "drbddisk", "stop", drbd_resource="r0", timeout=6)
    assert r.rc == 1 and "sleep[" in r.out, r
    assert time.monotonic() - t0 < 6 + 10  # bounded by its deadline (plus the job round trip)
    a.sh("pkill -x sleep; sleep 0.2")
    assert agent(a, "drbddisk", "stop", drbd_resource="r0").rc == 0
    assert agent(a, "drbddisk", "monitor", drbd_resource="r0").rc == 7


def test_crash_of_primary_then_takeover_rejoin_and_resync(nodes):
    a, b = nodes["a"], nodes["b"]
    drbdsetup.create(nodes)
    assert agent(a, "drbddisk", "start", drbd_resource="r0").rc == 0
    digest = a.sh(WRITE).split()[0]
    a.kill()
    t0 = time.monotonic()
    # heartbeat would run drbddisk start on the survivor at once: it retries until DRBD lets it.
    r = agent(b, "drbddisk", "start", drbd_resource="r0", timeout=60)
    takeover = time.monotonic() - t0
    assert r.rc == 0, r
    assert b.sh(READ).split()[0] == digest
    newer = b.sh("dd if=/dev/urandom of=/tmp/d2 bs=1M count=4 status=none && "
                 "dd if=/tmp/d2 of=/dev/drbd0 bs=1M seek=8 oflag=direct status=none && md5sum < /tmp/d2").split()[0]
    # The crashed node comes back with its disk, rejoins as Secondary and resyncs what it missed.
    nodes.restart("a")
    drbdsetup.configure(a)
    assert agent(a, "drbd", "start", drbd_resource="r0").rc == 0
    drbdsetup.wait(a, "drbdadm dstate r0 | grep -qx UpToDate/UpToDate", 120, "resync after rejoin")
    assert agent(b, "drbddisk", "stop", drbd_resource="r0").rc == 0
    assert agent(a, "drbddisk", "start", drbd_resource="r0").rc == 0
    assert a.sh(READ).split()[0] == digest
    assert a.sh("dd if=/dev/drbd0 bs=1M skip=8 count=4 iflag=direct status=none | md5sum").split()[0] == newer
    print(f"takeover after kill -9 of the primary: {takeover:.1f} s")


def test_promotable_survivor_promoted_after_kill_of_the_primary(nodes):
    a, b = nodes["a"], nodes["b"]
    drbdsetup.create(nodes)
    assert agent(a, "drbd", "promote", drbd_resource="r0").rc == 0
    digest = a.sh(WRITE).split()[0]
    a.kill()
    # What Pacemaker does after fencing a: the survivor's monitor, then its promotion.
    assert agent(b, "drbd", "monitor", drbd_resource="r0").rc == 0
    t0 = time.monotonic()
    r = agent(b, "drbd", "promote", drbd_resource="r0", timeout=60)
    assert r.rc == 0, r
    print(f"promotion of the survivor: {time.monotonic() - t0:.1f} s")
    assert agent(b, "drbd", "monitor", drbd_resource="r0").rc == 8
    assert b.sh(READ).split()[0] == digest
    nodes.restart("a")
    drbdsetup.configure(a)
    assert agent(a, "drbd", "start", drbd_resource="r0").rc == 0
    drbdsetup.wait(a, "drbdadm dstate r0 | grep -qx UpToDate/UpToDate", 120, "resync after rejoin")
    assert agent(a, "drbd", "monitor", drbd_resource="r0").rc == 0
    assert "Secondary" in drbdsetup.state(a)
