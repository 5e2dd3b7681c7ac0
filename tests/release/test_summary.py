"""The release summary line names the release from the system's files and counts like pytest."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.release import summary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_release_names_version_and_codename(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/debian_version").write_text("13.2\n")
    (tmp_path / "etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_CODENAME=trixie\n')
    assert summary.release(f"{tmp_path}/") == "Debian 13.2 (trixie)"


def test_release_without_files_says_unknown(tmp_path):
    assert summary.release(f"{tmp_path}/") == "Debian ? (?)"


def test_counts_in_pytest_order_only_outcomes_that_occurred():
    rep = SimpleNamespace(when="call")
    stats = {"skipped": [rep], "passed": [rep, rep], "failed": [rep], "": [rep]}
    assert summary.counts(stats) == "2 passed, 1 failed, 1 skipped"
    assert summary.counts({"error": [rep, rep]}) == "2 errors"
    assert summary.counts({}) == "no tests ran"


def test_the_guest_tier_gets_a_line_of_its_own(tmp_path):
    """The guest tier runs in qemu guests, not on this release: its outcomes are not counted as this release's."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/debian_version").write_text("12.11\n")
    (tmp_path / "etc/os-release").write_text("VERSION_CODENAME=bookworm\n")
    unit = SimpleNamespace(when="call", nodeid="tests/unit/test_x.py::test_a")
    guest = SimpleNamespace(when="call", nodeid="tests/guest/test_drbd.py::test_b")
    stats = {"passed": [unit, unit, guest], "failed": [guest]}
    assert summary.lines(stats, 1, f"{tmp_path}/") == [
        "== guest tier, in Debian 12 and 13 qemu guests (their own kernels) started from Debian 12.11 (bookworm): "
        "1 passed, 1 failed",
        "== Debian 12.11 (bookworm): 2 passed (exit 1)"]
    assert summary.lines({"passed": [unit]}, 0, f"{tmp_path}/") == ["== Debian 12.11 (bookworm): 1 passed (exit 0)"]


@pytest.mark.system
def test_plugin_line_comes_before_pytests_closing_line(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    out = tmp_path / "summary.txt"
    env = {**os.environ, "PYTHONPATH": ROOT, "PYTEST_ADDOPTS": "", "OCFKIT_RELEASE_SUMMARY": str(out)}
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tests.release.summary",
                        str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    lines = [x for x in r.stdout.splitlines() if x.strip()]
    assert r.returncode == 0, r.stdout
    assert lines[-2].startswith("== Debian ") and lines[-2].endswith(": 1 passed (exit 0)")
    assert "1 passed" in lines[-1] and lines[-1].startswith("=")
    assert out.read_text() == lines[-2] + "\n"  # what scripts/test.sh collects
