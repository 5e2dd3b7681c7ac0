"""scripts/other-release.sh: the cache key follows the package list, and a failed build leaves no root."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tree(tmp_path):
    """A copy of what the script reads: scripts/, setup.cfg, pyproject.toml."""
    t = tmp_path / "tree"
    shutil.copytree(os.path.join(ROOT, "scripts"), t / "scripts")
    for f in ("setup.cfg", "pyproject.toml"):
        shutil.copy(os.path.join(ROOT, f), t / f)
    return t


def script(t, *args, env=None, timeout=60):
    e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCFKIT_OTHER_RELEASE": "trixie", **(env or {})}
    return subprocess.run(["sh", str(t / "scripts/other-release.sh"), *args], env=e, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.system
def test_the_root_is_keyed_by_release_and_package_list(tmp_path):
    t = tree(tmp_path)
    env = {"OCFKIT_ROOT_CACHE": str(tmp_path / "cache")}
    first = script(t, "--print-root", env=env).stdout.strip()
    assert first.startswith(f"{tmp_path}/cache/trixie-")
    assert script(t, "--print-root", env=env).stdout.strip() == first
    assert script(t, "--print-root", env={**env, "OCFKIT_OTHER_RELEASE": "bookworm"}).stdout.strip() != first
    with open(t / "scripts/packages.txt", "a", encoding="utf-8") as f:
        f.write("socat\n")
    assert script(t, "--print-root", env=env).stdout.strip() not in ("", first)


@pytest.mark.system
def test_a_release_line_of_the_package_list_counts_for_that_release_only(tmp_path):
    """Debian 13 split fence-agents: "trixie: fence-agents-sbd ..." must not reach bookworm's apt-get."""
    t = tree(tmp_path)
    env = {"OCFKIT_ROOT_CACHE": str(tmp_path / "cache"), "OCFKIT_OTHER_RELEASE": "trixie"}
    first = script(t, "--print-root", env=env).stdout.strip()
    with open(t / "scripts/packages.txt", "a", encoding="utf-8") as f:
        f.write("bookworm: socat\n")
    assert script(t, "--print-root", env=env).stdout.strip() == first
    with open(t / "scripts/packages.txt", "a", encoding="utf-8") as f:
        f.write("trixie: socat\n")
    assert script(t, "--print-root", env=env).stdout.strip() not in ("", first)


@pytest.mark.system
def test_a_failed_build_leaves_neither_a_root_nor_a_build_directory(tmp_path):
    t = tree(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / ".build-trixie-stale-1").mkdir()  # left by a killed run
    env = {"OCFKIT_ROOT_CACHE": str(cache), "OCFKIT_MIRROR": "http://127.0.0.1:9/debian"}  # nothing listens
    root = script(t, "--print-root", env=env).stdout.strip()
    os.makedirs(os.path.join(root, "etc"))  # a root without the completion marker is never entered
    r = script(t, "-q", env=env, timeout=300)
    assert r.returncode != 0
    assert "building the Debian trixie root" in r.stderr
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(("trixie-", ".build-"))) == []
    assert str(cache) not in subprocess.run(["findmnt", "-rn"], capture_output=True, text=True).stdout


def _host_state(token: str) -> dict:
    """What a run in the root must not change on this machine (only names carrying token, and this
    machine's own identity: other engineers' tests change the rest of it at the same time)."""
    run = lambda *argv: subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout  # noqa: E731
    return {
        "files": [p for p in ("/etc/ha.d", "/var/lib/pacemaker/cib", "/usr/lib/ocf/resource.d", "/tmp")
                  if os.path.isdir(p) and [n for n in os.listdir(p) if token in n]],
        "netns": [n for n in run("ip", "netns", "list").split() if token in n],
        "links": [n for n in run("ip", "-o", "link", "show").split() if token[:8] in n],
        "hostname": run("hostname").strip(),
        "mounts": sorted(line for line in run("findmnt", "-rn", "-o", "TARGET,SOURCE").splitlines()
                         if "ocfkit-root" in line or "ocfkit-run" in line),
    }


@pytest.mark.system
def test_a_run_in_the_root_leaves_this_machine_and_the_cached_root_alone(tmp_path):
    """The other release's suite runs on this machine's kernel beside whatever this machine runs (its own
    cluster stack, other tests): files it writes in /etc, /var/lib/pacemaker and the agents' directory, its
    network namespaces and links, its hostname and its mounts stay in the run; it cannot see or signal this
    machine's processes; and the cached root it ran on is unchanged afterwards."""
    if os.environ.get("OCFKIT_OTHER_RELEASE_RUN"):
        pytest.skip("runs on the host only: the root does not hold a root of its own")
    root = subprocess.run(["sh", os.path.join(ROOT, "scripts/other-release.sh"), "--print-root"], capture_output=True,
                          text=True, timeout=30, check=True).stdout.strip()
    if not os.path.exists(os.path.join(root, ".ocfkit-root-complete")):
        if os.environ.get("OCFKIT_STRICT"):
            pytest.fail(f"no cached root at {root}: scripts/test.sh runs scripts/other-release.sh first")
        pytest.skip(f"no cached root at {root} (sh scripts/other-release.sh builds it)")
    token = f"ocfkiso{os.getpid() % 100000}"
    link = token[:8] + "x"
    before = _host_state(token)
    # A process of this machine, found by a name only it has.
    witness = subprocess.Popen([f"{token}-witness", "600"], executable=shutil.which("sleep"))
    try:
        inside = (
            "set -u; t=$1; link=$2\n"
            "mkdir -p /var/lib/pacemaker/cib /etc/ha.d /usr/lib/ocf/resource.d/$t\n"
            "echo x >/var/lib/pacemaker/cib/$t.xml; echo x >/etc/ha.d/$t; touch /tmp/$t\n"
            "ip netns add $t; ip link add $link type dummy; echo $t-host >/proc/sys/kernel/hostname\n"
            "pgrep -f $t-witness && echo SEEN-WITNESS\n"
            "pkill -f $t-witness; echo pkill=$?\n"
            "echo pid1=$(head -c 40 /proc/1/cmdline | tr '\\0' ' ')\n"
            "test -e /.oldroot && echo HOST-TREE-VISIBLE\n"
            "echo inside-done\n")
        r = subprocess.run(["sh", os.path.join(ROOT, "scripts/other-release.sh"), "--exec", "sh", "-c", inside,
                            "inside", token, link], capture_output=True, text=True, timeout=300)
        out = r.stdout + r.stderr
        assert r.returncode == 0 and "inside-done" in out, out[-3000:]
        assert "SEEN-WITNESS" not in out and "pkill=1" in out and "HOST-TREE-VISIBLE" not in out, out[-3000:]
        assert "pid1=/usr/bin/python3 -c import os" in out, out[-3000:]  # the run's own PID namespace
        assert witness.poll() is None, "the run in the root killed a process of this machine"
        assert _host_state(token) == before
        for rel in (f"var/lib/pacemaker/cib/{token}.xml", f"etc/ha.d/{token}", f"usr/lib/ocf/resource.d/{token}",
                    "usr/lib/ocf/resource.d/ocfkit"):
            assert not os.path.exists(os.path.join(root, rel)), f"{rel} reached the cached root"
    finally:
        witness.kill()
        witness.wait(timeout=10)
