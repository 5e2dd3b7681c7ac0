"""heartbeat resource.d wrappers and group takeover/release, for real."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.system.support import PROVIDER, Netns, unique, veth

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def wrappers(tmp_path_factory):
    """ocfkit's wrappers installed into a private destdir (heartbeat's own stay where they are)."""
    dest = tmp_path_factory.mktemp("destdir")
    ocfkit = os.path.join(os.path.dirname(sys.executable), "ocfkit")
    subprocess.run([ocfkit, "install", "--destdir", str(dest), "--provider", PROVIDER], check=True,
                   capture_output=True)
    return dest / "etc/ha.d/resource.d"


def wrapper(wrappers, name, *args, netns=None, env=None):
    argv = [str(wrappers / name), *args]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    e.update(env or {})
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=e)


def test_ipaddr2_wrapper_prints_the_words_resourcemanager_reads(wrappers, tmp_path):
    with Netns(unique("ocfk-h")) as node, Netns(unique("ocfk-hp")) as peer:
        veth(node, "veth0", peer, "veth0")
        node.run("ip", "addr", "add", "10.99.0.1/24", "dev", "veth0")
        peer.run("ip", "addr", "add", "10.99.0.2/24", "dev", "veth0")
        env = {"HA_RSCTMP": str(tmp_path)}
        r = wrapper(wrappers, "IPaddr2", "10.99.0.160/24/veth0", "status", netns=node.name, env=env)
        assert "not running" in r.stdout and r.returncode == 7
        r = wrapper(wrappers, "IPaddr2", "10.99.0.160/24/veth0", "start", netns=node.name, env=env)
        assert r.returncode == 0 and "Success" in r.stdout
        assert peer.run("ping", "-c1", "-W2", "10.99.0.160", check=False).returncode == 0
        r = wrapper(wrappers, "IPaddr2", "10.99.0.160/24/veth0", "status", netns=node.name, env=env)
        assert "running" in r.stdout and "not running" not in r.stdout and r.returncode == 0
        assert wrapper(wrappers, "IPaddr2", "10.99.0.160/24/veth0", "stop", netns=node.name, env=env).returncode == 0
        assert "10.99.0.160" not in node.run("ip", "-o", "addr").stdout
        r = wrapper(wrappers, "IPaddr2", "status", netns=node.name, env=env)
        assert r.returncode == 1 and "usage" in r.stderr


def test_portblock_four_argument_call_blocks_for_real(wrappers, tmp_path):
    """The historic wrapper refused heartbeat's `portblock tcp 3260 block start` ($# != 3)."""
    with Netns(unique("ocfk-hb")) as node:
        env = {"HA_RSCTMP": str(tmp_path)}
        r = wrapper(wrappers, "portblock", "tcp", "3260", "block", "start", netns=node.name, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        rules = node.run("nft", "list", "ruleset").stdout + node.run("iptables", "-S").stdout
        assert "ocfkit:tcp:3260" in rules
        r = wrapper(wrappers, "portblock", "tcp", "3260", "block", "status", netns=node.name, env=env)
        assert "running" in r.stdout and "not running" not in r.stdout
        assert wrapper(wrappers, "portblock", "tcp", "3260", "block", "stop", netns=node.name, env=env).returncode == 0
        rules = node.run("nft", "list", "ruleset").stdout + node.run("iptables", "-S").stdout
        assert "ocfkit" not in rules


def test_takeover_and_release_by_ocfkit_heartbeat_with_a_failing_member(tmp_path):
    ocfkit = os.path.join(os.path.dirname(sys.executable), "ocfkit")
    hr = tmp_path / "haresources"
    a, b, c = tmp_path / "a.state", tmp_path / "b.state", tmp_path / "c.state"
    hr.write_text(f"testnode Dummy::{a} Dummy::{b}\n"
                  f"testnode Dummy::{tmp_path}/g2.state Filesystem::/dev/ocfkit-missing::{tmp_path}/m::ext4 "
                  f"Dummy::{c}\n")
    env = dict(os.environ, HA_RSCTMP=str(tmp_path))

    def hb(*args):
        return subprocess.run([ocfkit, "heartbeat", *args, "--haresources", str(hr), "--node", "testnode",
                               "--provider", PROVIDER], capture_output=True, text=True, timeout=120, env=env)

    r = hb("takeover")
    assert r.returncode == 1
    assert a.exists() and b.exists()                       # the good group is up
    assert not (tmp_path / "g2.state").exists()            # the failing group was released again
    assert not c.exists()                                  # and nothing after the failure started
    assert "start of Filesystem_/dev/ocfkit-missing failed" in r.stderr
    s = hb("status", "--group", f"Dummy::{a}")
    assert f"group Dummy::{a} (testnode): ALL" in s.stdout
    assert hb("release", "--group", f"Dummy::{a}").returncode == 0
    assert not a.exists() and not b.exists()
    assert "NONE" in hb("status", "--group", f"Dummy::{a}").stdout


def test_check_reports_the_seed_configuration_problems(tmp_path):
    seed = os.path.join(os.path.dirname(__file__), "..", "unit", "fixtures", "heartbeat")
    for name, target in (("seed-ha.cf", "ha.cf"), ("seed-authkeys", "authkeys"), ("seed-haresources", "haresources")):
        with open(os.path.join(seed, name)) as f:
            (tmp_path / target).write_text(f.read())
    os.chmod(tmp_path / "authkeys", 0o644)
    ocfkit = os.path.join(os.path.dirname(sys.executable), "ocfkit")
    r = subprocess.run([ocfkit, "heartbeat", "check", "--dir", str(tmp_path), "--node", "castor"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "ipfail is not executable (Debian 12 has it as /usr/libexec/heartbeat/ipfail)" in r.stdout
    assert "permissions 0644" in r.stdout
    assert "resource script iscsitarget not found" in r.stdout
    assert "password" not in r.stdout


def test_the_real_heartbeat_daemon_takes_over_and_releases_a_group_of_ocfkit_wrappers(wrappers, tmp_path):
    """heartbeat 3.0.6 with a phantom peer: after initdead it acquires the group left to right through
    ocfkit's resource.d wrappers; SIGTERM releases it right to left. Effects are checked for real."""
    import shutil
    import time

    from tests.system.support import LoopDevice

    host = os.uname().nodename
    created = [p for p in ("/var/lib/heartbeat/fifo", "/var/lib/heartbeat/hb_generation",
                           "/var/lib/heartbeat/hb_uuid", "/run/heartbeat/register", "/run/heartbeat/rsctmp")
               if not os.path.exists(p)]
    etc = tmp_path / "etc"
    shutil.copytree("/etc/ha.d", etc, symlinks=True)
    for w in wrappers.iterdir():
        shutil.copy(w, etc / "resource.d" / w.name)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with Netns(unique("ocfk-hbd")) as node, Netns(unique("ocfk-hbp")) as peer, \
            LoopDevice(32, str(tmp_path)) as loop:
        subprocess.run(["mkfs.ext4", "-q", "-F", loop.device], check=True)
        veth(node, "veth0", peer, "veth0")
        node.run("ip", "addr", "add", "10.99.0.1/24", "dev", "veth0")
        peer.run("ip", "addr", "add", "10.99.0.2/24", "dev", "veth0")
        state = tmp_path / "dummy.state"
        (etc / "ha.cf").write_text(
            f"logfile {tmp_path}/ha.log\ndebugfile {tmp_path}/ha-debug.log\nlogfacility none\nkeepalive 1\n"
            f"deadtime 3\nwarntime 2\ninitdead 4\nudpport {6900 + os.getpid() % 90}\nucast lo 127.0.0.1\n"
            f"auto_failback off\nnode {host} ocfk-phantom-peer\n")
        (etc / "authkeys").write_text("auth 3\n3 sha1 ocfkit-test-secret\n")
        os.chmod(etc / "authkeys", 0o600)
        (etc / "haresources").write_text(
            f"{host} Filesystem::{loop.device}::{mnt}::ext4 IPaddr2::10.99.0.150/24/veth0 "
            f"portblock::tcp::3260::block Dummy::{state}\n")
        hb = subprocess.Popen(["ip", "netns", "exec", node.name, "unshare", "-m", "--propagation", "private", "sh",
                               "-c", f"mount --bind {etc} /etc/ha.d && exec /usr/libexec/heartbeat/heartbeat -f"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not state.exists() and time.monotonic() < deadline and hb.poll() is None:
                time.sleep(0.2)
            log = (tmp_path / "ha.log").read_text() if (tmp_path / "ha.log").exists() else ""
            assert state.exists(), log[-3000:]
            assert "Acquiring resource group" in log
            # Every member is really there: the mount (in heartbeat's mount namespace), the VIP, the rule.
            mounts = subprocess.run(["nsenter", "-t", str(hb.pid), "-m", "findmnt", "-n", str(mnt)],
                                    capture_output=True, text=True).stdout
            assert loop.device in mounts
            assert peer.run("ping", "-c1", "-W2", "10.99.0.150", check=False).returncode == 0
            rules = node.run("nft", "list", "ruleset").stdout + node.run("iptables", "-S").stdout
            assert "ocfkit:tcp:3260" in rules
            hb.terminate()
            hb.wait(60)
            log = (tmp_path / "ha.log").read_text()
            assert "Releasing resource group" in log and "Heartbeat shutdown complete" in log
            assert not state.exists()
            assert "10.99.0.150" not in node.run("ip", "-o", "addr").stdout
            rules = node.run("nft", "list", "ruleset").stdout + node.run("iptables", "-S").stdout
            assert "ocfkit:tcp:3260" not in rules
            # Released right to left: Dummy stopped before portblock, IPaddr2, then Filesystem.
            stops = [ln for ln in log.splitlines() if "ResourceManager" in ln and ln.rstrip().endswith(" stop")]
            names = [ln.split("resource.d/")[1].split()[0] for ln in stops if "resource.d/" in ln]
            assert names == ["Dummy", "portblock", "IPaddr2", "Filesystem"], stops
        finally:
            if hb.poll() is None:
                hb.kill()
                hb.wait()
            for p in created:
                if os.path.isdir(p):
                    shutil.rmtree(p, ignore_errors=True)
                elif os.path.lexists(p):
                    os.unlink(p)


def _imports(argv: list[str]) -> tuple[int, str, list[str]]:
    """Run argv under -X importtime: (exit code, stdout, the modules of ours imported through the import system)."""
    r = subprocess.run([sys.executable, "-IS", "-X", "importtime", *argv], capture_output=True, text=True,
                       timeout=60, check=False)
    names = [line.rpartition("|")[2].strip() for line in r.stderr.splitlines() if line.startswith("import time:")]
    return r.returncode, r.stdout, [n for n in names if n.split(".")[0] in ("ocf", "agents")]


def test_a_wrapper_runs_from_its_agents_bundle_and_without_it(tmp_path):
    """A heartbeat wrapper loads its agent's start-up bundle as the agent's stub does (the agent's modules
    are not imported one by one) and still runs the action, from the sources, when the bundle is gone."""
    from ocfkit.install import install

    install(destdir=str(tmp_path), provider="x", python=sys.executable)
    bundle = tmp_path / "usr/lib/ocf/lib/x/dummy.bundle"
    wrapper = tmp_path / "Dummy"
    wrapper.write_text((tmp_path / "etc/ha.d/resource.d/Dummy").read_text()
                       .replace("/usr/lib/ocf/lib/x/dummy.bundle", str(bundle)))
    state = tmp_path / "state"
    rc, out, ours = _imports([str(wrapper), str(state), "start"])
    assert (rc, out.split(": ", 1)[1]) == (0, "start: Success\n") and state.exists()
    assert "agents.dummy" not in ours and "ocf.agent" not in ours  # served by the bundle
    rc, out, _ = _imports([str(wrapper), str(state), "status"])
    assert rc == 0 and out.endswith(": running (OK)\n")
    bundle.unlink()
    rc, out, ours = _imports([str(wrapper), str(state), "stop"])
    assert (rc, out.split(": ", 1)[1]) == (0, "stop: Success\n") and not state.exists()
    assert "agents.dummy" in ours  # no bundle: plain imports
    rc, out, _ = _imports([str(wrapper), str(state), "status"])
    assert rc == 7 and out.endswith(": not running\n")


def test_the_agents_stub_answers_meta_data_from_the_bundle_and_the_wrapper_the_same_from_the_agent(tmp_path):
    from ocfkit.install import install

    install(destdir=str(tmp_path), provider="x", python=sys.executable)
    bundle = str(tmp_path / "usr/lib/ocf/lib/x/ipaddr2.bundle")
    for rel in ("usr/lib/ocf/resource.d/x/IPaddr2", "etc/ha.d/resource.d/IPaddr2"):
        (tmp_path / os.path.basename(os.path.dirname(rel))).mkdir(exist_ok=True)
        path = tmp_path / os.path.basename(os.path.dirname(rel)) / "IPaddr2"
        path.write_text((tmp_path / rel).read_text().replace("/usr/lib/ocf/lib/x/ipaddr2.bundle", bundle))
    rc, stub_out, stub_ours = _imports([str(tmp_path / "x/IPaddr2"), "meta-data"])
    assert rc == 0 and stub_out.startswith("<?xml") and "ocf.agent" not in stub_ours  # from the bundle's documents
    rc, wrapper_out, wrapper_ours = _imports([str(tmp_path / "resource.d/IPaddr2"), "meta-data"])
    assert rc == 0 and wrapper_out == stub_out
    assert "ocf.metadata" in wrapper_ours  # rendered by the agent (OCF 1.0 whatever the environment says)
