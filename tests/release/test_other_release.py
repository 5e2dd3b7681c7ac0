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
