"""Kernel state read through a scripted ocf.testing.FakeKernel: IPaddr2's default monitor path
(rtnetlink and sysfs, no command at all, its ARP refresh a background spawn), the /proc readers,
and the fake's own strictness."""

from __future__ import annotations

import socket

import pytest

from agents.ipaddr2 import IPaddr2
from agents.tools import ip
from ocf import proc
from ocf.errors import Rc
from ocf.testing import FakeKernel, FakeRunner

RTM_GETADDR = 22
V4_DUMP = bytes([socket.AF_INET, 0, 0, 0, 0, 0, 0, 0])  # ifaddrmsg: AF_INET, every interface
SYS = "/sys/class/net/veth0"


def nl_addr(fam: int, prefix: int, index: int, addr: bytes, *, label: bytes = b"") -> bytes:
    """One RTM_NEWADDR message as the kernel sends it."""
    def attr(t, v):
        ln = 4 + len(v)
        return ln.to_bytes(2, "little") + t.to_bytes(2, "little") + v + b"\0" * ((4 - ln % 4) % 4)

    body = bytes([fam, prefix, 0, 0]) + index.to_bytes(4, "little") + attr(2, addr)
    if label:
        body += attr(3, label + b"\0")
    return (16 + len(body)).to_bytes(4, "little") + (20).to_bytes(2, "little") + b"\0" * 10 + body


DONE = (20).to_bytes(4, "little") + (3).to_bytes(2, "little") + b"\0" * 14  # NLMSG_DONE
HOST = nl_addr(socket.AF_INET, 24, 6, bytes([10, 99, 0, 1]), label=b"veth0")
VIP = nl_addr(socket.AF_INET, 24, 6, bytes([10, 99, 0, 150]), label=b"veth0")


def env(**kw) -> dict[str, str]:
    e = {"OCF_RESOURCE_INSTANCE": "vip", "OCF_RESKEY_ip": "10.99.0.150", "OCF_RESKEY_nic": "veth0",
         "OCF_RESKEY_cidr_netmask": "24", "OCF_RESKEY_CRM_meta_interval": "10000"}
    e.update({"OCF_RESKEY_" + k: v for k, v in kw.items()})
    return e


def test_ipaddr2_monitor_reads_the_address_over_rtnetlink_and_the_link_from_sysfs():
    k = (FakeKernel().expect("netlink", 0, RTM_GETADDR, V4_DUMP, answer=HOST + VIP + DONE)
         .expect("interface_name", 6, answer="veth0").expect("interface_name", 6, answer="veth0")
         .expect("read_text", f"{SYS}/flags", answer="0x1003\n").expect("read_text", f"{SYS}/operstate", answer="up\n"))
    r = FakeRunner()  # the default monitor path runs no command
    assert IPaddr2.main(["IPaddr2", "monitor"], env(), r, k) == Rc.SUCCESS
    k.assert_done()
    r.assert_done()


def test_ipaddr2_monitor_without_the_address_is_not_running_after_checking_the_interface():
    k = (FakeKernel().expect("netlink", 0, RTM_GETADDR, V4_DUMP, answer=HOST + DONE)
         .expect("interface_name", 6, answer="veth0").expect("exists", SYS, answer=True))
    assert IPaddr2.main(["IPaddr2", "monitor"], env(), FakeRunner(), k) == Rc.NOT_RUNNING
    k.assert_done()


def test_ipaddr2_monitor_of_a_vanished_interface_fails_but_a_probe_says_stopped(capsys):
    k = (FakeKernel().expect("netlink", 0, RTM_GETADDR, V4_DUMP, answer=DONE).expect("exists", SYS, answer=False))
    assert IPaddr2.main(["IPaddr2", "monitor"], env(), FakeRunner(), k) == Rc.ERR_GENERIC
    assert "ocf-exit-reason:interface veth0 vanished" in capsys.readouterr().err
    k.assert_done()
    probe = FakeKernel().expect("netlink", 0, RTM_GETADDR, V4_DUMP, answer=DONE)
    assert IPaddr2.main(["IPaddr2", "monitor"], env(CRM_meta_interval="0"), FakeRunner(), probe) == Rc.NOT_RUNNING
    probe.assert_done()


@pytest.mark.parametrize(("flags", "oper", "reason"), [
    ("0x1002", "down", "interface veth0 is administratively down"),
    ("0x1003", "lowerlayerdown", "interface veth0 has no carrier (operstate lowerlayerdown)"),
])
def test_ipaddr2_monitor_fails_on_a_link_that_sysfs_shows_down(flags, oper, reason, capsys):
    k = (FakeKernel().expect("netlink", 0, RTM_GETADDR, V4_DUMP, answer=VIP + DONE)
         .expect("interface_name", 6, answer="veth0")
         .expect("read_text", f"{SYS}/flags", answer=flags + "\n").expect("read_text", f"{SYS}/operstate", answer=oper))
    assert IPaddr2.main(["IPaddr2", "monitor"], env(), FakeRunner(), k) == Rc.ERR_GENERIC
    assert f"ocf-exit-reason:{reason}" in capsys.readouterr().err
    k.assert_done()


def test_ipaddr2_monitor_asks_ip_when_rtnetlink_is_unavailable():
    k = FakeKernel().expect("netlink", 0, RTM_GETADDR, V4_DUMP, error=PermissionError(1, "Operation not permitted"))
    r = FakeRunner().expect(["ip", "-o", "-4", "addr", "show"],
                            stdout="6: veth0    inet 10.99.0.150/24 scope global veth0\\       valid_lft forever\n")
    k.expect("read_text", f"{SYS}/flags", answer="0x1003").expect("read_text", f"{SYS}/operstate", answer="up")
    assert IPaddr2.main(["IPaddr2", "monitor"], env(), r, k) == Rc.SUCCESS
    k.assert_done()
    r.assert_done()


def test_the_proc_readers_read_through_the_kernel():
    k = (FakeKernel().expect("listdir", "/proc", answer=["1", "self", "4242", "sys"])
         .expect("read_text", "/proc/4242/comm", answer="tgtd\n")
         .expect("read_text", "/proc/4242/stat", answer="4242 (tgt d) Z 1 4242 4242 0 -1\n")
         .expect("read_text", "/proc/4242/stat", answer="4242 (tgt d) S 1 4242 4242 0 -1\n")
         .expect("read", "/proc/4242/cmdline", answer=b"tgtd\0-f\0")
         .expect("read_text", "/proc/77/stat", error=FileNotFoundError(2, "No such file or directory")))
    assert proc.pids(kernel=k) == [1, 4242]
    assert proc.comm(4242, kernel=k) == "tgtd"
    assert proc.is_alive(4242, kernel=k) is False  # a zombie
    assert proc.parent(4242, kernel=k) == 1
    assert proc.cmdline(4242, kernel=k) == b"tgtd\0-f\0"
    assert proc.is_alive(77, kernel=k) is False  # gone: absent, never an exception
    k.assert_done()


def test_rtnetlink_addresses_come_from_the_kernel_given():
    k = (FakeKernel().expect("netlink", 0, RTM_GETADDR, bytes([0] * 8), answer=VIP + DONE)
         .expect("interface_name", 6, answer="veth0"))
    assert [(a.nic, a.ip, a.prefix) for a in ip.netlink_addresses(kernel=k)] == [("veth0", "10.99.0.150", 24)]
    k.assert_done()


def test_the_fake_kernel_refuses_an_unexpected_or_missing_call():
    k = FakeKernel().expect("read_text", "/sys/a", answer="1")
    with pytest.raises(AssertionError, match="expected read_text\\('/sys/a',\\) but was read_text\\('/sys/b',\\)"):
        k.read_text("/sys/b")
    with pytest.raises(AssertionError, match="was not expected"):
        FakeKernel().exists("/x")
    left = FakeKernel().expect("spawn", ["garp"], answer=7)
    with pytest.raises(AssertionError, match="never came"):
        left.assert_done()


def test_ipaddr2_monitor_refreshes_arp_through_a_background_spawn_of_the_kernel(tmp_path):
    import os
    import sys

    import agents.ipaddr2

    garp = os.path.join(os.path.dirname(os.path.abspath(agents.ipaddr2.__file__)), "tools", "garp.py")
    k = (FakeKernel().expect("netlink", 0, RTM_GETADDR, V4_DUMP, answer=VIP + DONE)
         .expect("interface_name", 6, answer="veth0")
         .expect("read_text", f"{SYS}/flags", answer="0x1003").expect("read_text", f"{SYS}/operstate", answer="up")
         .expect("spawn", [sys.executable, "-I", "-S", garp, "veth0", "10.99.0.150", "3", "200"], answer=4242))
    e = dict(env(arp_count_refresh="3"), HA_RSCTMP=str(tmp_path))
    assert IPaddr2.main(["IPaddr2", "monitor"], e, FakeRunner(), k) == Rc.SUCCESS
    k.assert_done()
    assert (tmp_path / "IPaddr2-garp-10.99.0.150.pid").read_text().strip() == "4242"


@pytest.mark.parametrize(("flags", "set_up"), [("0x1003\n", False), ("0x1002\n", True)])
def test_ipaddr2_start_sets_the_link_up_only_when_sysfs_says_it_is_down(tmp_path, flags, set_up):
    import os
    import sys

    import agents.ipaddr2

    garp = os.path.join(os.path.dirname(os.path.abspath(agents.ipaddr2.__file__)), "tools", "garp.py")
    k = (FakeKernel().expect("exists", SYS, answer=True).expect("exists", SYS, answer=True)
         .expect("netlink", 0, RTM_GETADDR, V4_DUMP, answer=HOST + DONE).expect("interface_name", 6, answer="veth0")
         .expect("read_text", f"{SYS}/flags", answer=flags)
         .expect("spawn", [sys.executable, "-I", "-S", garp, "veth0", "10.99.0.150", "5", "200"], answer=4242))
    r = FakeRunner().expect(["ip", "-4", "addr", "add", "10.99.0.150/24", "dev", "veth0", "brd", "+"])
    if set_up:
        r.expect(["ip", "link", "set", "dev", "veth0", "up"])
    e = dict(env(), HA_RSCTMP=str(tmp_path))
    del e["OCF_RESKEY_CRM_meta_interval"]
    assert IPaddr2.main(["IPaddr2", "start"], e, r, k) == Rc.SUCCESS
    k.assert_done()
    r.assert_done()


def _nft_rules(*comments: str) -> bytes:
    """An nfnetlink NFT_MSG_GETRULE dump answer: one rule per comment, then NLMSG_DONE."""
    from agents.tools import netlink

    out = b""
    for c in comments:
        udata = bytes([0, len(c) + 1]) + c.encode() + b"\0"
        body = bytes([1, 0, 0, 0]) + netlink.attribute(1, b"ocfkit_portblock\0") + netlink.attribute(7, udata)
        out += (16 + len(body)).to_bytes(4, "little") + ((10 << 8) | 6).to_bytes(2, "little") + b"\0" * 10 + body
    return out + (16).to_bytes(4, "little") + (3).to_bytes(2, "little") + b"\0" * 10


@pytest.mark.parametrize(("rules", "rc"), [(("ocfkit:tcp:3260:10.99.0.1:in",), Rc.SUCCESS),
                                           (("ocfkit:tcp:3261:10.99.0.1:in",), Rc.NOT_RUNNING), ((), Rc.NOT_RUNNING)])
def test_portblock_monitor_reads_its_rule_over_nfnetlink_through_the_kernel(tmp_path, rules, rc):
    from agents.portblock import portblock
    from agents.tools import netlink

    body = bytes([1, 0, 0, 0]) + netlink.attribute(1, b"ocfkit_portblock\0") + netlink.attribute(2, b"input\0")
    k = FakeKernel().expect("netlink", 12, (10 << 8) | 7, body, answer=_nft_rules(*rules))
    e = {"OCF_RESKEY_protocol": "tcp", "OCF_RESKEY_portno": "3260", "OCF_RESKEY_action": "block",
         "OCF_RESKEY_ip": "10.99.0.1", "OCF_RESKEY_firewall": "nft", "HA_RSCTMP": str(tmp_path)}
    r = FakeRunner()  # no nft process on the monitor path
    assert portblock.main(["portblock", "monitor"], e, r, k) == rc
    r.assert_done()
    k.assert_done()
