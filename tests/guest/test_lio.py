"""LIO for real: ocfkit's iSCSITarget and iSCSILogicalUnit build the kernel target through configfs;
the host reaches it only through the 127.0.0.1 hostfwd with direct iscsi:// URLs (never discovery,
which would return the guest's internal portal)."""

from __future__ import annotations

import subprocess

import pytest

from tests.guest.common import agent

pytestmark = pytest.mark.guest

IQN = "iqn.2015-12.cl.caschile:lun.filer"
HOST_INITIATOR = "iqn.2024-01.test.host:client"
CFG = "/sys/kernel/config/target"


def host(*argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """A host-side libiscsi tool, bounded (libiscsi reconnects forever)."""
    return subprocess.run(["timeout", str(timeout), *argv], capture_output=True, text=True, timeout=timeout + 5)


def url(nodes, node: str = "a", auth: str = "") -> str:
    return f"iscsi://{auth}127.0.0.1:{nodes.ports[node]}/{IQN}/0"


def qemu_io(nodes, cmd: str, lun: int, *, user: str = "", password: str = "",
            initiator: str = HOST_INITIATOR, readonly: bool = False) -> subprocess.CompletedProcess:
    """qemu-io with an explicit initiator name (an iscsi:// URL cannot carry one)."""
    opts = (f"driver=iscsi,transport=tcp,portal=127.0.0.1:{nodes.ports['a']},target={IQN},lun={lun},"
            f"initiator-name={initiator}")
    if user:
        opts += f",user={user},password={password}"
    return host("qemu-io", *(["-r"] if readonly else []), "--image-opts", "-c", cmd, opts)


def make_lv(g) -> str:
    g.sh("pvcreate -q /dev/vdc && vgcreate -q vgt /dev/vdc && lvcreate -q -L 32M -n lun0 vgt")
    return "/dev/vgt/lun0"


def ta(**kw) -> dict:
    return {"implementation": "lio", "iqn": IQN, **kw}


def lu(path: str, **kw) -> dict:
    return {"implementation": "lio", "target_iqn": IQN, "lun": "0", "path": path, "vendor_id": "OCFKIT",
            "product_id": "SAN-LUN", **kw}


def test_target_and_lun_on_an_lv_serve_a_host_client(nodes):
    a = nodes["a"]
    path = make_lv(a)
    assert agent(a, "iSCSITarget", "monitor", **ta()).rc == 7
    r = agent(a, "iSCSITarget", "start", **ta())
    assert r.rc == 0, r
    r = agent(a, "iSCSILogicalUnit", "start", instance="lun-filer", **lu(path))
    assert r.rc == 0, r
    assert agent(a, "iSCSITarget", "monitor", **ta()).rc == 0
    assert agent(a, "iSCSILogicalUnit", "monitor", instance="lun-filer", **lu(path)).rc == 0
    for again in ("iSCSITarget", "iSCSILogicalUnit"):  # idempotent start
        params = ta() if again == "iSCSITarget" else lu(path)
        assert agent(a, again, "start", instance="lun-filer" if again != "iSCSITarget" else "", **params).rc == 0
    w = host("qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", url(nodes))
    assert w.returncode == 0, w.stdout + w.stderr
    assert host("qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 1M", url(nodes)).returncode == 0
    # The bytes are on the LV.
    assert a.sh(f"dd if={path} bs=1M count=1 status=none | tr -d Z | wc -c").strip() == "0"  # 0x5a is 'Z'
    inq = host("iscsi-inq", "-i", HOST_INITIATOR, url(nodes))
    assert "OCFKIT" in inq.stdout and "SAN-LUN" in inq.stdout, inq.stdout + inq.stderr
    serial = host("iscsi-inq", "-i", HOST_INITIATOR, "-e", "1", "-c", "128", url(nodes))
    sn = a.sh(f"cat {CFG}/core/iblock_0/lun-filer/wwn/vpd_unit_serial").split()[-1]
    assert sn in serial.stdout, serial.stdout
    # Stop removes exactly what start made: no target, no storage object, the HBA may stay.
    assert agent(a, "iSCSILogicalUnit", "stop", instance="lun-filer", **lu(path)).rc == 0
    assert agent(a, "iSCSITarget", "stop", **ta()).rc == 0
    assert a.sh(f"ls {CFG}/iscsi | grep -c iqn || true").strip() == "0"
    assert a.sh(f"ls {CFG}/core/iblock_0 2>/dev/null | grep -c lun-filer || true").strip() == "0"
    assert agent(a, "iSCSITarget", "monitor", **ta()).rc == 7
    assert agent(a, "iSCSILogicalUnit", "monitor", instance="lun-filer", **lu(path)).rc == 7
    assert host("iscsi-inq", "-i", HOST_INITIATOR, url(nodes), timeout=10).returncode != 0
    # The LV is free again: the volume group deactivates.
    a.sh("vgchange -an vgt")


def test_acl_and_chap(nodes):
    a = nodes["a"]
    path = make_lv(a)
    params = ta(allowed_initiators=HOST_INITIATOR, incoming_username="hostuser", incoming_password="secret-12345")
    r = agent(a, "iSCSITarget", "start", **params)
    assert r.rc == 0, r
    assert "secret-12345" not in r.out
    assert agent(a, "iSCSILogicalUnit", "start", instance="lun-acl", **lu(path)).rc == 0
    good = host("iscsi-inq", "-i", HOST_INITIATOR, url(nodes, auth="hostuser%secret-12345@"))
    assert good.returncode == 0, good.stdout + good.stderr
    wrong_secret = host("iscsi-inq", "-i", HOST_INITIATOR, url(nodes, auth="hostuser%wrong-secret9@"), timeout=10)
    assert wrong_secret.returncode != 0
    other = host("iscsi-inq", "-i", "iqn.2024-01.test.host:intruder", url(nodes, auth="hostuser%secret-12345@"),
                 timeout=10)
    assert other.returncode != 0
    # A LUN started after the ACL exists is mapped into it; read-only LUNs refuse writes.
    a.sh("lvcreate -q -L 8M -n lun1 vgt")
    ro = lu("/dev/vgt/lun1", lun="1", readonly="true")
    assert agent(a, "iSCSILogicalUnit", "start", instance="lun-ro", **ro).rc == 0
    chap = {"user": "hostuser", "password": "secret-12345"}
    assert qemu_io(nodes, "write -P 0x11 0 64k", 0, **chap).returncode == 0
    r = qemu_io(nodes, "read 0 4k", 1, readonly=True, **chap)
    assert r.returncode == 0 and "read 4096/4096" in r.stdout, r.stdout + r.stderr
    w = qemu_io(nodes, "write 0 4k", 1, **chap)
    assert w.returncode != 0 and "write protected" in w.stderr, w.stdout + w.stderr
    for inst, p in (("lun-ro", ro), ("lun-acl", lu(path))):
        assert agent(a, "iSCSILogicalUnit", "stop", instance=inst, **p).rc == 0
    assert agent(a, "iSCSITarget", "stop", **params).rc == 0
    assert a.sh(f"ls {CFG}/iscsi | grep -c iqn || true").strip() == "0"
    # An address in allowed_initiators is refused for LIO (it allows by initiator name only).
    r = agent(a, "iSCSITarget", "start", **ta(allowed_initiators="192.168.78.3"))
    assert r.rc == 6 and "addresses are not supported" in r.out, r


def test_failed_start_leaves_nothing_half_built(nodes):
    a = nodes["a"]
    make_lv(a)
    # A value the kernel rejects, met after the target, its TPG and portal exist, fails the start...
    r = agent(a, "iSCSITarget", "start", **ta(additional_parameters="MaxRecvDataSegmentLength=1"))
    assert r.rc == 1 and "ocf-exit-reason:" in r.out, r
    assert a.sh(f"ls {CFG}/iscsi | grep -c iqn || true").strip() == "0"
    # ...and the next start succeeds from a clean slate, with the parameter applied.
    good = ta(additional_parameters="MaxRecvDataSegmentLength=65536 InitialR2T=No")
    assert agent(a, "iSCSITarget", "start", **good).rc == 0
    assert a.sh(f"cat {CFG}/iscsi/{IQN}/tpgt_1/param/MaxRecvDataSegmentLength").strip() == "65536"
    assert agent(a, "iSCSITarget", "stop", **good).rc == 0
    # LIO binds portals with IP_FREEBIND: a portal on an address the node does not (yet) have works.
    assert agent(a, "iSCSITarget", "start", **ta(portals="192.0.2.99:3260")).rc == 0
    assert agent(a, "iSCSITarget", "stop", **ta(portals="192.0.2.99:3260")).rc == 0
