"""ocfkit's agents under a real single-node corosync + Pacemaker, from a configuration crm/ generated.

Pacemaker keeps its CIB in /var/lib/pacemaker/cib (host-global): the test runs only when that is
empty, writes its generated CIB there, and removes everything it created; daemons are stopped by PID.
"""

from __future__ import annotations

import glob
import os
import subprocess
import time

import pytest

from crm.model import Cluster, Group, Op, Primitive
from crm.render import cib_xml
from tests.system.support import PROVIDER, Netns, unique, veth

pytestmark = pytest.mark.system

CIB_DIR = "/var/lib/pacemaker/cib"


ENTER: list[str] = []  # nsenter into the cluster's namespaces (libqb IPC sockets are per network namespace)


def crm_mon(*args: str) -> str:
    return subprocess.run([*ENTER, "crm_mon", "-1", "-r", *args], capture_output=True, text=True, timeout=30).stdout


def wait(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n{crm_mon()}")


@pytest.fixture
def cluster_files():
    if os.listdir(CIB_DIR):
        pytest.skip(f"{CIB_DIR} is not empty: a real cluster configuration is on this machine")
    before = {p for d in ("/var/lib/pacemaker/pengine", "/var/log/pacemaker", "/var/lib/corosync")
              for p in glob.glob(f"{d}/*")}
    yield
    for p in glob.glob(f"{CIB_DIR}/*"):
        os.unlink(p)
    for d in ("/var/lib/pacemaker/pengine", "/var/log/pacemaker", "/var/lib/corosync"):
        for p in glob.glob(f"{d}/*"):
            if p not in before and os.path.isfile(p):
                os.unlink(p)


def ran_since(log, mark: int) -> list[str]:
    """The actions Dummy recorded in its envfile after byte offset mark ("# ACTION DATE TIME" lines)."""
    with open(log, encoding="utf-8") as f:
        f.seek(mark)
        return [ln.split()[1] for ln in f.read().splitlines() if ln.startswith("# ")]


def executed_since(log, mark: int, rsc: str) -> list[str]:
    """The operations Pacemaker's executor ran on rsc after byte offset mark of its log."""
    import re

    with open(log, encoding="utf-8", errors="replace") as f:
        f.seek(mark)
        text = f.read()
    return re.findall(rf"executing - rsc:{rsc} action:(\S+) call_id:", text)


def check_reload_agent(in_cluster, *, actions, pcmk_log, state, tmp_path, peer) -> None:
    """OCF 1.1: Pacemaker reloads a change of reloadable parameters (reload-agent, no stop, no start) and
    restarts for any other change."""

    def settle():
        r = subprocess.run([*ENTER, "crm_resource", "--wait", "--timeout", "90s"], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr

    def set_param(rsc, name, value):
        r = in_cluster("crm_resource", "--resource", rsc, "--set-parameter", name, "--parameter-value", value)
        assert r.returncode == 0, r.stderr

    settle()
    # Dummy: fake is reloadable; its reload-agent writes the new value into the state file.
    mark, pmark = actions.stat().st_size, pcmk_log.stat().st_size
    set_param("p_dummy", "fake", "reloaded")
    wait("reload-agent of p_dummy", lambda: "reload-agent" in ran_since(actions, mark), 60)
    settle()
    ran = ran_since(actions, mark)
    assert "stop" not in ran and "start" not in ran, ran
    assert state.read_text() == "reloaded"
    done = executed_since(pcmk_log, pmark, "p_dummy")
    assert "reload-agent" in done and "stop" not in done and "start" not in done, done
    # state is not reloadable: a restart, which leaves the state file in its new place.
    moved = tmp_path / "dummy-moved.state"
    mark, pmark = actions.stat().st_size, pcmk_log.stat().st_size
    set_param("p_dummy", "state", str(moved))
    wait("restart of p_dummy", lambda: "start" in ran_since(actions, mark), 60)
    settle()
    ran = ran_since(actions, mark)
    assert "reload-agent" not in ran and ran.index("stop") < ran.index("start"), ran
    assert moved.exists()
    done = executed_since(pcmk_log, pmark, "p_dummy")
    assert "reload-agent" not in done and done.index("stop") < done.index("start"), done
    set_param("p_dummy", "state", str(state))  # back where the rest of the test looks for it
    wait("p_dummy back on its first state file", state.exists, 60)
    settle()
    # IPaddr2: arp_count is reloadable; the address stays up, reachable, and is not restarted.
    pmark = pcmk_log.stat().st_size
    set_param("p_vip", "arp_count", "9")
    wait("reload-agent of p_vip", lambda: "reload-agent" in executed_since(pcmk_log, pmark, "p_vip"), 60)
    settle()
    done = executed_since(pcmk_log, pmark, "p_vip")
    assert "stop" not in done and "start" not in done, done
    assert peer.run("ping", "-c1", "-W2", "10.99.0.150", check=False).returncode == 0
    # iSCSITarget on tgt: a session parameter is set in the running tgtd (tgtadm --op update); the target
    # and the LUN after it in the group keep running.
    pmark = pcmk_log.stat().st_size
    set_param("p_target", "additional_parameters", "MaxRecvDataSegmentLength=65536")
    wait("reload-agent of p_target", lambda: "reload-agent" in executed_since(pcmk_log, pmark, "p_target"), 60)
    settle()
    for rsc in ("p_target", "p_lun", "p_tgtd"):
        done = executed_since(pcmk_log, pmark, rsc)
        assert "stop" not in done and "start" not in done, (rsc, done)
    # What the compatible (1.0) meta-data form must avoid: for an agent whose meta-data says 1.0 and
    # advertises reload, Pacemaker calls reload for a change of any unique="0" parameter.
    pmark = pcmk_log.stat().st_size
    set_param("p_legacy", "fake", "changed")
    wait("legacy reload of p_legacy", lambda: "reload" in executed_since(pcmk_log, pmark, "p_legacy"), 60)
    settle()
    done = executed_since(pcmk_log, pmark, "p_legacy")
    assert "stop" not in done and "start" not in done and "reload-agent" not in done, done
    assert "Failed Resource Actions" not in crm_mon()


def test_pacemaker_runs_recovers_and_stops_ocfkit_agents(cluster_files, tmp_path):
    """corosync and Pacemaker run inside a test network namespace and a private mount namespace, so
    every agent they run (portblock's rules, Filesystem's mount) stays there; IPaddr2 manages an address
    in a second namespace through network_namespace."""
    from tests.system.support import LoopDevice

    host = os.uname().nodename
    state = tmp_path / "dummy.state"
    actions = tmp_path / "dummy.actions"  # Dummy's envfile: its own record of every action it ran
    pcmk_log = tmp_path / "pacemaker.log"
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    iqn = "iqn.2024-01.test.ocfkit:live"
    lun = tmp_path / "lun.img"
    with open(lun, "wb") as f:
        f.truncate(16 << 20)
    targets = tmp_path / "targets.conf"
    targets.write_text(f"<target iqn.2024-01.test.ocfkit:fromconf>\n    backing-store {lun}\n</target>\n")
    made_run_tgtd = not os.path.exists("/run/tgtd")
    with Netns(unique("ocfk-pc")) as cl, Netns(unique("ocfk-pn")) as node, Netns(unique("ocfk-pp")) as peer, \
            LoopDevice(32, str(tmp_path)) as loop:
        subprocess.run(["mkfs.ext4", "-q", "-F", loop.device], check=True)
        veth(node, "veth0", peer, "veth0")
        node.run("ip", "addr", "add", "10.99.0.1/24", "dev", "veth0")
        peer.run("ip", "addr", "add", "10.99.0.2/24", "dev", "veth0")
        mon = (Op("monitor", 2, 20),)
        cluster = Cluster(
            name="ocfkit-test", nodes=(host,),
            resources=(
                Primitive("p_dummy", f"ocf:{PROVIDER}:Dummy", (("state", str(state)), ("envfile", str(actions))),
                          ops=mon),
                # resource-agents' shell Dummy: OCF 1.0 meta-data advertising reload (the legacy rule).
                Primitive("p_legacy", "ocf:heartbeat:Dummy", (("state", str(tmp_path / "legacy.state")),), ops=mon),
                Primitive("p_fs", f"ocf:{PROVIDER}:Filesystem", (("device", loop.device), ("directory", str(mnt)),
                                                                  ("fstype", "ext4")), ops=mon),
                Primitive("p_vip", f"ocf:{PROVIDER}:IPaddr2", (("ip", "10.99.0.150"), ("cidr_netmask", "24"),
                                                               ("nic", "veth0"), ("network_namespace", node.name)),
                          ops=mon),
                Primitive("p_block", f"ocf:{PROVIDER}:portblock", (("protocol", "tcp"), ("portno", "3260"),
                                                                   ("action", "block")), ops=mon),
                Group("g_iscsi", (
                    # The daemon is watched more often than what lives in it, so that its failure (which
                    # restarts the rest of the group in order) is seen before theirs.
                    Primitive("p_tgtd", f"ocf:{PROVIDER}:iscsitarget", (("config", str(targets)),),
                              ops=(Op("monitor", 1, 20),)),
                    Primitive("p_target", f"ocf:{PROVIDER}:iSCSITarget", (("implementation", "tgt"), ("iqn", iqn),
                                                                          ("tid", "2")), ops=(Op("monitor", 10, 20),)),
                    Primitive("p_lun", f"ocf:{PROVIDER}:iSCSILogicalUnit", (("implementation", "tgt"),
                                                                             ("target_iqn", iqn), ("lun", "1"),
                                                                             ("path", str(lun))),
                              ops=(Op("monitor", 10, 20),)),
                )),
            ),
            properties=(("stonith-enabled", "false"), ("no-quorum-policy", "ignore"), ("dc-deadtime", "2s")))
        cib = os.path.join(CIB_DIR, "cib.xml")
        with open(cib, "w") as f:
            f.write(cib_xml(cluster))
        subprocess.run(["chown", "hacluster:haclient", cib], check=True)
        os.chmod(cib, 0o600)
        conf = tmp_path / "corosync.conf"
        conf.write_text(f"""totem {{
    version: 2
    cluster_name: ocfkit-test
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}}
logging {{
    to_stderr: no
    to_logfile: yes
    logfile: {tmp_path}/corosync.log
    to_syslog: no
}}
quorum {{
    provider: corosync_votequorum
}}
nodelist {{
    node {{
        name: {host}
        nodeid: 1
        ring0_addr: 127.0.0.1
    }}
}}
""")
        # tgtd's default management socket lives in /run/tgtd: a tmpfs there keeps it private to the cluster.
        os.makedirs("/run/tgtd", exist_ok=True)
        holder = subprocess.Popen(["ip", "netns", "exec", cl.name, "unshare", "-m", "--propagation", "private",
                                   "sh", "-c", "mount -t tmpfs ocfkit-tgtd /run/tgtd && exec sleep 3600"])
        time.sleep(0.5)
        ENTER[:] = ["nsenter", "-t", str(holder.pid), "-m", "-n"]
        logs = open(tmp_path / "daemons.log", "w")  # noqa: SIM115
        corosync = subprocess.Popen([*ENTER, "corosync", "-f", "-c", str(conf)], stdout=logs,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        pacemakerd = None

        def in_cluster(*argv):
            return subprocess.run([*ENTER, *argv], capture_output=True, text=True, timeout=30)

        def live_tgtds() -> list[str]:
            """Running tgtd processes (killed ones linger as zombies: their parent is gone)."""
            out = subprocess.run(["ps", "-eo", "pid=,stat=,comm="], capture_output=True, text=True).stdout
            ours = os.readlink(f"/proc/{holder.pid}/ns/net")

            def in_our_netns(pid: str) -> bool:
                try:
                    return os.readlink(f"/proc/{pid}/ns/net") == ours
                except OSError:
                    return False

            return [w[0] for w in (ln.split() for ln in out.splitlines())
                    if len(w) == 3 and w[2] == "tgtd" and not w[1].startswith("Z") and in_our_netns(w[0])]

        try:
            wait("corosync", lambda: in_cluster("corosync-cfgtool", "-s").returncode == 0, 20)
            pacemakerd = subprocess.Popen([*ENTER, "/usr/sbin/pacemakerd", "-f"], stdout=logs,
                                          stderr=subprocess.STDOUT, start_new_session=True,
                                          env=dict(os.environ, PCMK_logfile=str(pcmk_log)))
            wait("every resource started", lambda: crm_mon().count("Started") >= 8, 90)
            assert state.exists()
            assert loop.device in in_cluster("findmnt", "-n", str(mnt)).stdout
            assert subprocess.run(["findmnt", "-n", str(mnt)], capture_output=True).returncode != 0  # not on host
            assert peer.run("ping", "-c1", "-W2", "10.99.0.150", check=False).returncode == 0
            rules = in_cluster("nft", "list", "ruleset").stdout + in_cluster("iptables", "-S").stdout
            assert "ocfkit:tcp:3260" in rules
            show = in_cluster("tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "target").stdout
            assert f"Target 2: {iqn}" in show and "fromconf" in show and str(lun) in show
            check_reload_agent(in_cluster, actions=actions, pcmk_log=pcmk_log, state=state, tmp_path=tmp_path,
                               peer=peer)
            # Failures the monitors notice: Pacemaker recovers the resources.
            state.unlink()
            wait("recovery of p_dummy", state.exists, 60)
            assert "p_dummy" in crm_mon("--include=failcounts")
            pid = live_tgtds()
            assert len(pid) >= 1
            in_cluster("kill", "-9", *pid)

            def tgt_back() -> bool:
                r = in_cluster("tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "target")
                return r.returncode == 0 and f"Target 2: {iqn}" in r.stdout and str(lun) in r.stdout

            wait("recovery of the killed tgtd with its target and LUN", tgt_back, 90)
            assert "p_tgtd" in crm_mon("--include=failcounts")
            # A clean shutdown stops everything.
            pacemakerd.terminate()
            pacemakerd.wait(60)
            assert not state.exists()
            assert "10.99.0.150" not in node.run("ip", "-o", "addr").stdout
            assert in_cluster("findmnt", "-n", str(mnt)).returncode != 0
            rules = in_cluster("nft", "list", "ruleset").stdout + in_cluster("iptables", "-S").stdout
            assert "ocfkit:tcp:3260" not in rules
            assert not live_tgtds()
        finally:
            for p in (pacemakerd, corosync):
                if p is not None and p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(30)
                    except subprocess.TimeoutExpired:
                        os.killpg(p.pid, 9)
                        p.wait()
            logs.close()
            # Leftover daemons of this cluster only: other tests on this machine run Pacemaker clusters in
            # their own namespaces, so a process is ours only when it lives in the cluster's network namespace.
            ours = os.readlink(f"/proc/{holder.pid}/ns/net") if holder.poll() is None else None
            for pid in subprocess.run(["pgrep", "-f", "pacemaker-"], capture_output=True, text=True).stdout.split():
                try:
                    if ours is not None and os.readlink(f"/proc/{pid}/ns/net") == ours:
                        os.kill(int(pid), 9)
                except (ProcessLookupError, FileNotFoundError):
                    pass
            # Only a tgtd of this test can serve the cluster's private /run/tgtd socket.
            if holder.poll() is None and \
                    in_cluster("tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "system").returncode == 0:
                in_cluster("tgtadm", "--lld", "iscsi", "--op", "delete", "--mode", "system")
            holder.kill()
            holder.wait()
            ENTER[:] = []
            if made_run_tgtd:
                os.rmdir("/run/tgtd")
