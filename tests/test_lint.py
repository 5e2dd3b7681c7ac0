"""Static checks the style guide asks for: ruff on the whole tree, mypy on ocf/ and crm/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.system  # runs tools: not a unit test


def _tool(name: str) -> str:
    path = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(path, os.X_OK):
        return path
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed (pip install ocfkit[test])")
    return found


def test_ruff_finds_nothing():
    r = subprocess.run([_tool("ruff"), "check", "--output-format", "concise", "."], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_on_the_framework_and_crm():
    targets = [d for d in ("ocf", "crm") if os.path.isdir(os.path.join(ROOT, d))]
    r = subprocess.run([_tool("mypy"), "--ignore-missing-imports", "--no-error-summary", *targets], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
