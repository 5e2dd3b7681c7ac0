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
