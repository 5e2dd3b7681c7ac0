"""LVM activation and Filesystem for real, on DRBD between two guests (device-mapper is real here)."""

from __future__ import annotations

import pytest

from tests.guest import drbdsetup
from tests.guest.common import FILTER, agent, lvm_local

pytestmark = pytest.mark.guest

SYSTEM_ID = 'global { system_id_source = "uname" }\n'


def make_vg(nodes, *, system_id: bool = False) -> None:
    """DRBD r0 on vdb, Primary on a, with vg0drbd (LVs filer and cfg) on /dev/drbd0."""
    drbdsetup.create(nodes)
    for n in ("a", "b"):
        lvm_local(nodes[n], FILTER + (SYSTEM_ID if system_id else ""))
    a = nodes["a"]
    assert agent(a, "drbd", "promote", drbd_resource="r0").rc == 0
    a.sh("pvcreate -q /dev/drbd0 && vgcreate -q vg0drbd /dev/drbd0 && lvcreate -q -an -L 16M -n filer vg0drbd "
         "&& lvcreate -q -an -L 8M -n cfg vg0drbd")


def switch_drbd(nodes, src: str, dst: str) -> None:
    assert agent(nodes[src], "drbd", "demote", drbd_resource="r0").rc == 0
    assert agent(nodes[dst], "drbd", "promote", drbd_resource="r0").rc == 0


def test_lvm_activate_open_lv_blocks_stop_and_the_vg_moves(nodes):
    a, b = nodes["a"], nodes["b"]
    make_vg(nodes)
    assert agent(a, "LVM", "monitor", volgrpname="vg0drbd").rc == 7
    assert agent(a, "LVM", "start", volgrpname="vg0drbd").rc == 0
    assert agent(a, "LVM", "monitor", volgrpname="vg0drbd").rc == 0
    assert a.sh("lvs --noheadings -o lv_active vg0drbd").split() == ["active", "active"]
    digest = a.sh("dd if=/dev/urandom of=/tmp/x bs=1M count=4 status=none && "
                  "dd if=/tmp/x of=/dev/vg0drbd/filer oflag=direct bs=1M status=none && md5sum < /tmp/x").split()[0]
    # An open LV keeps the VG active: stop fails within its deadline and names the LV.
    a.sh("setsid sleep 300 < /dev/vg0drbd/filer > /dev/null 2>&1 &")
    r = agent(a, "LVM", "stop", volgrpname="vg0drbd", timeout=20)
    assert r.rc == 1 and "filer" in r.out and "ocf-exit-reason:" in r.out, r
    assert agent(a, "LVM", "monitor", volgrpname="vg0drbd").rc == 0
    a.sh("pkill -x sleep; sleep 0.3")
    assert agent(a, "LVM", "stop", volgrpname="vg0drbd").rc == 0
    assert agent(a, "LVM", "stop", volgrpname="vg0drbd").rc == 0
    assert agent(a, "LVM", "monitor", volgrpname="vg0drbd").rc == 7
    assert not a.sh("ls /dev/mapper").count("vg0drbd")
    # DRBD moves; the VG follows and the data with it.
    switch_drbd(nodes, "a", "b")
    assert agent(b, "LVM", "start", volgrpname="vg0drbd").rc == 0
    assert b.sh("dd if=/dev/vg0drbd/filer bs=1M count=4 iflag=direct status=none | md5sum").split()[0] == digest
    assert agent(b, "LVM", "stop", volgrpname="vg0drbd").rc == 0


def test_the_filter_hides_the_backing_disk(nodes):
    a, b = nodes["a"], nodes["b"]
    make_vg(nodes)
    # With the filter the Secondary sees no VG at all (DRBD refuses to open a Secondary's device)...
    assert b.run("vgs vg0drbd", check=False).rc != 0
    assert agent(b, "LVM", "monitor", volgrpname="vg0drbd").rc == 7
    r = agent(b, "LVM", "start", volgrpname="vg0drbd")
    assert r.rc != 0 and "ocf-exit-reason:" in r.out, r
    # ...without it, LVM finds the same PV on the backing disk: what the filter is there to prevent.
    pvs = b.sh("pvs --config 'devices { global_filter = [ \"a|.*|\" ] }' --noheadings -o pv_name,vg_name")
    assert "/dev/vdb" in pvs and "vg0drbd" in pvs
    assert agent(a, "LVM", "start", volgrpname="vg0drbd").rc == 0
    assert agent(a, "LVM", "stop", volgrpname="vg0drbd").rc == 0


def test_lvm_activate_system_id_ownership(nodes):
    a, b = nodes["a"], nodes["b"]
    make_vg(nodes, system_id=True)
    assert a.sh("vgs --noheadings -o vg_systemid vg0drbd").strip() == "a"
    params = {"vgname": "vg0drbd", "lvname": "filer", "vg_access_mode": "system_id"}
    assert agent(a, "LVM-activate", "start", **params).rc == 0
    assert agent(a, "LVM-activate", "monitor", **params).rc == 0
    assert a.sh("lvs --noheadings -o lv_name,lv_active vg0drbd").split() == ["cfg", "filer", "active"]
    assert agent(a, "LVM-activate", "stop", **params).rc == 0
    assert agent(a, "LVM-activate", "monitor", **params).rc == 7
    # After a failover b takes the VG over from a's system ID (the cluster fenced a).
    switch_drbd(nodes, "a", "b")
    assert b.run("lvchange -ay vg0drbd/filer", check=False).rc != 0  # foreign to b: plain LVM refuses
    assert agent(b, "LVM-activate", "start", **params).rc == 0
    assert b.sh("vgs --noheadings -o vg_systemid vg0drbd").strip() == "b"
    assert agent(b, "LVM-activate", "stop", **params).rc == 0
    # tagging mode without a volume_list is refused with a reason: nothing would stop other nodes.
    r = agent(b, "LVM-activate", "start", vgname="vg0drbd", vg_access_mode="tagging")
    assert r.rc != 0 and "volume_list" in r.out, r


def test_filesystem_on_drbd_follows_the_primary(nodes):
    a, b = nodes["a"], nodes["b"]
    drbdsetup.create(nodes, "cfg", "/dev/vdc", 1, 7790)
    assert agent(a, "drbd", "promote", drbd_resource="cfg").rc == 0
    a.sh("mkfs.ext4 -q /dev/drbd1")
    params = {"device": "/dev/drbd1", "directory": "/mnt/config", "fstype": "ext4"}
    for g in (a, b):
        g.sh("mkdir -p /mnt/config")
    assert agent(a, "Filesystem", "monitor", **params).rc == 7
    assert agent(a, "Filesystem", "start", **params).rc == 0
    for level in ("0", "10", "20"):
        r = agent(a, "Filesystem", "monitor", env={"OCF_CHECK_LEVEL": level}, **params)
        assert r.rc == 0, (level, r)
    a.sh("echo 'Target iqn.2015-12.cl.caschile:lun.filer' > /mnt/config/ietd.conf")
    a.sh("cd /mnt/config && setsid sleep 300 > /dev/null 2>&1 < /dev/null &")  # a holder: killed by stop
    assert agent(a, "Filesystem", "stop", **params).rc == 0
    assert "/mnt/config" not in a.sh("cat /proc/mounts")
    assert a.run("pgrep -x sleep", check=False).rc == 1
    assert agent(a, "drbd", "demote", drbd_resource="cfg").rc == 0
    assert agent(b, "drbd", "promote", drbd_resource="cfg").rc == 0
    assert agent(b, "Filesystem", "start", **params).rc == 0
    assert "lun.filer" in b.sh("cat /mnt/config/ietd.conf")
    assert agent(b, "Filesystem", "stop", **params).rc == 0
