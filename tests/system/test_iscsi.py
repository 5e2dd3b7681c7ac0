"""iSCSITarget and iSCSILogicalUnit on tgt, for real: tgtd in a namespace, a libiscsi client in another."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests.system.support import Netns, agent_path, ocf_env, run_agent, sh, unique, veth

pytestmark = pytest.mark.system

IQN = "iqn.2024-01.test.ocfkit:san"
CLIENT = "iqn.2024-01.test.ocfkit:client"


class Tgtd:
    """tgtd in a namespace with a private management socket; stopped by PID."""

    def __init__(self, ns: Netns, workdir, portal: str) -> None:
        self.ns, self.portal = ns, portal
        self.socket = str(workdir / "tgtsock" / "socket")
        os.makedirs(os.path.dirname(self.socket), exist_ok=True)
        self.log = open(workdir / f"tgtd-{ns.name}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns.name, "tgtd", "-f", "--iscsi", f"portal={portal}"],
                                     env={"TGT_IPC_SOCKET": self.socket, "PATH": os.environ["PATH"]},
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket + ".0") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.path.exists(self.socket + ".0"), "tgtd did not start"

    def tgtadm(self, *args: str, check: bool = False):
        return subprocess.run(["tgtadm", "--lld", "iscsi", *args], env={"TGT_IPC_SOCKET": self.socket,
                                                                      "PATH": os.environ["PATH"]},
                              capture_output=True, text=True, timeout=20, check=check)

    def show(self) -> str:
        return self.tgtadm("--op", "show", "--mode", "target").stdout

    def stop(self) -> None:
        for line in self.show().splitlines():
            if line.startswith("Target "):
                self.tgtadm("--op", "delete", "--force", "--mode", "target", "--tid", line.split()[1].rstrip(":"))
        self.tgtadm("--op", "delete", "--mode", "system")
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def san(tmp_path):
    """node (10.99.0.1, tgtd) and client (10.99.0.2) namespaces, and a 32 MiB backing file."""
    with Netns(unique("ocfk-tn")) as node, Netns(unique("ocfk-tc")) as client:
        veth(node, "veth0", client, "veth0")
        node.run("ip", "addr", "add", "10.99.0.1/24", "dev", "veth0")
        client.run("ip", "addr", "add", "10.99.0.2/24", "dev", "veth0")
        backing = tmp_path / "lun.img"
        with open(backing, "wb") as f:
            f.truncate(32 * 1024 * 1024)
        tgtd = Tgtd(node, tmp_path, "10.99.0.1:3260")
        try:
            yield node, client, tgtd, backing
        finally:
            tgtd.stop()


def envs(tmp_path, tgtd, backing, **target_params):
    extra = {"TGT_IPC_SOCKET": tgtd.socket}
    tp = {"iqn": IQN, "tid": "1", "implementation": "tgt"}
    tp.update(target_params)
    ta = ocf_env("san-target", tp, rsctmp=str(tmp_path), interval_ms=10000, extra=extra)
    lu = ocf_env("san-lun0", {"target_iqn": IQN, "lun": "1", "path": str(backing), "vendor_id": "OCFKIT"},
                 rsctmp=str(tmp_path), interval_ms=10000, extra=extra)
    return ta, lu


def qemu_io(client: Netns, cmd: str, url: str, *extra: str, timeout: float = 20):
    """qemu-io against an iscsi:// URL, bounded by timeout (libiscsi reconnects forever)."""
    return subprocess.run(["timeout", str(timeout), "ip", "netns", "exec", client.name, "qemu-io", *extra, "-f", "raw",
                           "-c", cmd, url], capture_output=True, text=True, timeout=timeout + 5)


def inquiry(client: Netns, url: str, timeout: float = 10):
    return subprocess.run(["timeout", str(timeout), "ip", "netns", "exec", client.name, "iscsi-inq", "-i", CLIENT,
                           url], capture_output=True, text=True, timeout=timeout + 5)


def test_client_writes_and_reads_a_pattern_through_the_agents(san, tmp_path):
    node, client, tgtd, backing = san
    ta, lu = envs(tmp_path, tgtd, backing)
    assert run_agent("iSCSITarget", "monitor", dict(ta, OCF_RESKEY_CRM_meta_interval="0")).returncode == 7
    r = run_agent("iSCSITarget", "start", ta)
    assert r.returncode == 0, r.stderr
    r = run_agent("iSCSILogicalUnit", "start", lu)
    assert r.returncode == 0, r.stderr
    assert run_agent("iSCSITarget", "monitor", ta).returncode == 0
    assert run_agent("iSCSILogicalUnit", "monitor", lu).returncode == 0
    url = f"iscsi://10.99.0.1/{IQN}/1"
    w = qemu_io(client, "write -P 0xa5 0 1M", url)
    assert w.returncode == 0, w.stdout + w.stderr
    assert qemu_io(client, "read -P 0xa5 0 1M", url).returncode == 0
    with open(backing, "rb") as f:
        assert f.read(1024 * 1024) == b"\xa5" * 1024 * 1024  # the bytes really reached the backing store
    inq = inquiry(client, url)
    assert "Vendor:OCFKIT" in inq.stdout
    assert run_agent("iSCSILogicalUnit", "stop", lu).returncode == 0
    assert run_agent("iSCSITarget", "stop", ta).returncode == 0
    assert "Target 1:" not in tgtd.show()
    assert run_agent("iSCSITarget", "stop", ta).returncode == 0
    assert run_agent("iSCSILogicalUnit", "stop", lu).returncode == 0


def test_lun_identity_is_derived_from_the_resource_and_stable(san, tmp_path):
    _node, _client, tgtd, backing = san
    ta, lu = envs(tmp_path, tgtd, backing)
    run_agent("iSCSITarget", "start", ta)
    run_agent("iSCSILogicalUnit", "start", lu)
    first = [ln.strip() for ln in tgtd.show().splitlines() if "SCSI ID" in ln or "SCSI SN" in ln]
    run_agent("iSCSILogicalUnit", "stop", lu)
    run_agent("iSCSILogicalUnit", "start", lu)
    again = [ln.strip() for ln in tgtd.show().splitlines() if "SCSI ID" in ln or "SCSI SN" in ln]
    assert first == again and "SCSI ID: san-lun0" in again
    run_agent("iSCSILogicalUnit", "stop", lu)
    run_agent("iSCSITarget", "stop", ta)


def test_disallowed_initiator_and_wrong_chap_secret_are_refused(san, tmp_path):
    _node, client, tgtd, backing = san
    ta, lu = envs(tmp_path, tgtd, backing, allowed_initiators=CLIENT, incoming_username="okuser",
                  incoming_password="oksecret1234")
    r = run_agent("iSCSITarget", "start", ta)
    assert r.returncode == 0, r.stderr
    assert "oksecret1234" not in r.stderr
    assert run_agent("iSCSILogicalUnit", "start", lu).returncode == 0
    good = f"iscsi://okuser%oksecret1234@10.99.0.1/{IQN}/1"
    assert inquiry(client, good).returncode == 0
    assert inquiry(client, f"iscsi://okuser%wrongsecret9@10.99.0.1/{IQN}/1").returncode != 0
    other = subprocess.run(["timeout", "10", "ip", "netns", "exec", client.name, "iscsi-inq", "-i",
                            "iqn.2024-01.test.ocfkit:intruder", good], capture_output=True, text=True, timeout=15)
    assert other.returncode != 0
    run_agent("iSCSILogicalUnit", "stop", lu)
    assert run_agent("iSCSITarget", "stop", ta).returncode == 0
    accounts = tgtd.tgtadm("--op", "show", "--mode", "account").stdout
    assert "okuser" not in accounts


IQN2 = "iqn.2024-01.test.ocfkit:san2"


def test_two_targets_sharing_a_chap_user_both_keep_requiring_it(san, tmp_path):
    _node, client, tgtd, backing = san
    chap = {"incoming_username": "shared", "incoming_password": "sharedsecret12"}
    ta, _lu = envs(tmp_path, tgtd, backing, **chap)
    tb, _lu = envs(tmp_path, tgtd, backing, iqn=IQN2, tid="2", **chap)
    tb["OCF_RESOURCE_INSTANCE"] = "san-target2"
    assert run_agent("iSCSITarget", "start", ta).returncode == 0
    r = run_agent("iSCSITarget", "start", tb)
    assert r.returncode == 0, r.stderr
    assert "sharedsecret12" not in r.stderr
    show = tgtd.show()
    assert show.count("        shared\n") == 2, show  # bound to both targets
    for env in (ta, tb):
        assert run_agent("iSCSITarget", "monitor", env).returncode == 0
    # The first target still asks for CHAP: a wrong secret is refused, the right one logs in (LUN 0).
    assert inquiry(client, f"iscsi://shared%wrongsecret99@10.99.0.1/{IQN}/0").returncode != 0
    assert inquiry(client, f"iscsi://shared%sharedsecret12@10.99.0.1/{IQN}/0").returncode == 0
    assert run_agent("iSCSITarget", "stop", tb).returncode == 0
    assert "Target 2:" not in tgtd.show()
    assert "shared" in tgtd.tgtadm("--op", "show", "--mode", "account").stdout  # the first one uses it
    assert run_agent("iSCSITarget", "monitor", ta).returncode == 0
    assert inquiry(client, f"iscsi://shared%wrongsecret99@10.99.0.1/{IQN}/0").returncode != 0
    # Stripped behind the agent's back, the account is noticed by the monitor.
    tgtd.tgtadm("--op", "unbind", "--mode", "account", "--tid", "1", "--user", "shared", check=True)
    r = run_agent("iSCSITarget", "monitor", ta)
    assert r.returncode == 1 and "lost its CHAP account shared" in r.stderr
    assert run_agent("iSCSITarget", "stop", ta).returncode == 0
    assert "shared" not in tgtd.tgtadm("--op", "show", "--mode", "account").stdout


def test_stop_after_tgtd_died_succeeds_and_a_probe_says_not_running(san, tmp_path):
    _node, _client, tgtd, backing = san
    ta, _lu = envs(tmp_path, tgtd, backing, incoming_username="okuser", incoming_password="oksecret1234")
    assert run_agent("iSCSITarget", "start", ta).returncode == 0
    tgtd.proc.kill()  # by its PID: tgtd dies with its targets
    tgtd.proc.wait(10)
    r = run_agent("iSCSITarget", "stop", ta)
    assert r.returncode == 0, r.stderr
    assert run_agent("iSCSITarget", "monitor", dict(ta, OCF_RESKEY_CRM_meta_interval="0")).returncode == 7


def test_stop_without_tgtadm_fails_while_tgtd_still_exports_the_target(san, tmp_path):
    from tests.system.support import MountNs

    _node, _client, tgtd, backing = san
    ta, _lu = envs(tmp_path, tgtd, backing)
    # Without implementation, and without tgtadm, nothing is detected (no LIO, no IET here).
    auto = {k: v for k, v in ta.items() if k != "OCF_RESKEY_implementation"}
    auto.update(OCFKIT_CONFIGFS_ROOT=str(tmp_path / "nocfs"), OCFKIT_SYSFS_ROOT=str(tmp_path / "nosys"))
    assert run_agent("iSCSITarget", "start", ta).returncode == 0

    def hidden(mns, action, env):
        return subprocess.run([*mns.prefix, agent_path("iSCSITarget"), action], env=env, capture_output=True,
                              text=True, timeout=60)

    with MountNs() as mns:
        # tgtadm disappears in a private mount namespace only (an empty /usr/sbin there).
        mns.run("mount", "-t", "tmpfs", "none", "/usr/sbin")
        for env in (ta, auto):
            r = hidden(mns, "stop", env)
            assert r.returncode == 1, r.stderr
            assert "but tgtd (pid" in r.stderr
            assert hidden(mns, "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0")).returncode == 1  # no guess
        assert "Target 1:" in tgtd.show()  # still exported: success would have been a lie
        tgtd.stop()  # tgtd gone: without tgtadm, nothing can be exported any more
        for env in (ta, auto):
            r = hidden(mns, "stop", env)
            assert r.returncode == 0, r.stderr
            assert hidden(mns, "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0")).returncode == 7


def test_stop_with_a_connected_reconnecting_client_finishes_in_time(san, tmp_path):
    _node, client, tgtd, backing = san
    ta, lu = envs(tmp_path, tgtd, backing)
    ta["OCF_RESKEY_CRM_meta_timeout"] = lu["OCF_RESKEY_CRM_meta_timeout"] = "10000"
    assert run_agent("iSCSITarget", "start", ta).returncode == 0
    assert run_agent("iSCSILogicalUnit", "start", lu).returncode == 0
    url = f"iscsi://10.99.0.1/{IQN}/1"
    # A client that keeps reading (and reconnects when cut off).
    reader = subprocess.Popen(["timeout", "60", "ip", "netns", "exec", client.name, "qemu-io", "-f", "raw",
                               "-c", "read 0 1M", "-c", "sleep 30000", "-c", "read 0 1M", url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while "I_T nexus: " not in tgtd.show() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "I_T nexus: " in tgtd.show()
        t = time.monotonic()
        assert run_agent("iSCSILogicalUnit", "stop", lu).returncode == 0
        r = run_agent("iSCSITarget", "stop", ta)
        took = time.monotonic() - t
        assert r.returncode == 0, r.stderr
        assert took < 10
        time.sleep(1)
        assert "Target 1:" not in tgtd.show()  # the reconnecting client did not bring it back
    finally:
        os.killpg(reader.pid, 9)  # timeout and the qemu-io it started
        reader.wait()


def test_switchover_between_nodes_keeps_data_and_identity(tmp_path):
    """Two nodes share the backing file (standing in for DRBD); the client sees the same disk."""
    from tests.system.support import bridge_lan

    br, hosts = bridge_lan(unique("oi"), ["n1", "n2", "cl"])
    daemons = []
    try:
        for i, h in enumerate(("n1", "n2", "cl"), start=1):
            hosts[h].run("ip", "addr", "add", f"10.99.0.{i}/24", "dev", "eth0")
        backing = tmp_path / "shared.img"
        with open(backing, "wb") as f:
            f.truncate(16 * 1024 * 1024)
        for h in ("n1", "n2"):
            hosts[h].run("sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1")
            (tmp_path / h).mkdir()
            daemons.append(Tgtd(hosts[h], tmp_path / h, "10.99.0.100:3260"))
        url = f"iscsi://10.99.0.100/{IQN}/1"
        seen = []
        for step, (h, tgtd) in enumerate(zip(("n1", "n2"), daemons)):
            ta, lu = envs(tmp_path / h, tgtd, backing)
            vip = ocf_env("vip", {"ip": "10.99.0.100", "cidr_netmask": "24", "nic": "eth0"}, rsctmp=str(tmp_path / h))
            assert run_agent("IPaddr2", "start", vip, netns=hosts[h].name).returncode == 0
            assert run_agent("iSCSITarget", "start", ta).returncode == 0
            assert run_agent("iSCSILogicalUnit", "start", lu).returncode == 0
            if step == 0:
                assert qemu_io(hosts["cl"], "write -P 0x3c 0 2M", url).returncode == 0
            else:
                assert qemu_io(hosts["cl"], "read -P 0x3c 0 2M", url).returncode == 0
            inq = subprocess.run(["timeout", "10", "ip", "netns", "exec", hosts["cl"].name, "iscsi-inq", "-e", "1",
                                  "-c", "128", url], capture_output=True, text=True, timeout=15)
            seen.append(inq.stdout)
            assert run_agent("iSCSILogicalUnit", "stop", lu).returncode == 0
            assert run_agent("iSCSITarget", "stop", ta).returncode == 0
            assert run_agent("IPaddr2", "stop", vip, netns=hosts[h].name).returncode == 0
        assert seen[0] == seen[1] and seen[0]  # the unit serial number the client sees is the same
    finally:
        for d in daemons:
            d.stop()
        for ns in hosts.values():
            ns.__exit__(None, None, None)
        br.__exit__(None, None, None)


def test_ocf_tester_passes_on_both_agents(san, tmp_path):
    _node, _client, tgtd, backing = san
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HA_RSCTMP": str(tmp_path), "TGT_IPC_SOCKET": tgtd.socket}
    r = subprocess.run(["ocf-tester", "-n", "tt", "-o", "implementation=tgt", "-o", f"iqn={IQN}", "-o", "tid=1",
                        agent_path("iSCSITarget")], capture_output=True, text=True, timeout=120, env=base)
    assert r.returncode == 0, r.stdout + r.stderr
    sh("true")
    tgtadm_env = dict(base)
    subprocess.run(["tgtadm", "--lld", "iscsi", "--op", "new", "--mode", "target", "--tid", "1", "-T", IQN],
                   env=tgtadm_env, check=True, timeout=10)
    r = subprocess.run(["ocf-tester", "-n", "tl", "-o", "implementation=tgt", "-o", f"target_iqn={IQN}", "-o",
                        "lun=1", "-o", f"path={backing}", agent_path("iSCSILogicalUnit")], capture_output=True,
                       text=True, timeout=120, env=base)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "LUN: 1" not in tgtd.show()


def test_daemon_agent_stop_without_tgtadm_ends_tgtd_by_its_pid(tmp_path):
    """iscsitarget (tgt) whose tgtadm vanished: stop kills the tgtd it started (tgtd ignores SIGTERM)
    instead of calling it stopped."""
    from tests.system.support import MountNs

    sock = tmp_path / "dsock" / "socket"
    sock.parent.mkdir()
    env = ocf_env("iscsid", {"implementation": "tgt", "config": str(tmp_path / "none.conf"),
                             "portal": "127.0.0.1:3260"},
                  rsctmp=str(tmp_path), interval_ms=10000, extra={"TGT_IPC_SOCKET": str(sock)})
    pidfile = tmp_path / "iscsitarget-iscsid.pid"
    with Netns(unique("ocfk-td")) as ns:
        r = run_agent("iscsitarget", "start", env, netns=ns.name)
        pid = int(pidfile.read_text()) if pidfile.exists() else None
        try:
            assert r.returncode == 0, r.stderr
            assert run_agent("iscsitarget", "monitor", env, netns=ns.name).returncode == 0
            with MountNs() as mns:
                mns.run("mount", "-t", "tmpfs", "none", "/usr/sbin")
                r = subprocess.run(["ip", "netns", "exec", ns.name, *mns.prefix, agent_path("iscsitarget"), "stop"],
                                   env=env, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            assert "with SIGKILL" in r.stderr
            assert not running(pid), "tgtd still runs"
            assert run_agent("iscsitarget", "monitor", dict(env, OCF_RESKEY_CRM_meta_interval="0"),
                             netns=ns.name).returncode == 7
        finally:
            if pid and running(pid):
                os.kill(pid, 9)


def running(pid: int) -> bool:
    """Whether pid is a live tgtd (a zombie waits for its parent's wait, outside the agent's reach)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return "(tgtd)" in stat and stat.rsplit(")", 1)[1].split()[0] != "Z"
