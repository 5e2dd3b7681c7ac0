"""Concurrency and cycles: many instances of an installed agent at once, and one instance many times.

The heavier ones live with their agents and stay there (they need namespaces, loop devices or
firewalls): tests/system/test_portblock.py::test_16_parallel_instances_end_with_exactly_their_rules
and ::test_200_cycles_leave_no_rule, tests/system/test_filesystem.py::test_200_cycles_leave_no_mount.
This one needs nothing but the installed Dummy: 32 instances in one HA_RSCTMP, started, monitored
and stopped at the same time, then one instance cycled; each must end exactly where it should.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.system.support import PROVIDER, agent_path, ocf_env

pytestmark = pytest.mark.system


@pytest.fixture(autouse=True)
def _installed():
    if not os.path.exists(agent_path("Dummy", PROVIDER)):
        pytest.skip(f"agents not installed for provider {PROVIDER}")


def _action(tmp: str, n: int, action: str, interval_ms: int | None = None) -> subprocess.CompletedProcess:
    env = ocf_env(f"campaign-dummy-{n}", {"passwd": f"S3cr3tMark{n}"}, rsctmp=tmp, interval_ms=interval_ms)
    return subprocess.run([agent_path("Dummy", PROVIDER), action], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def _states(tmp: str) -> set[str]:
    return {n for n in os.listdir(tmp) if n.startswith("Dummy-")}


def test_32_instances_at_once_each_end_in_their_own_state(tmp_path):
    tmp, n = str(tmp_path), 32
    with ThreadPoolExecutor(max_workers=n) as pool:
        started = list(pool.map(lambda i: _action(tmp, i, "start"), range(n)))
        assert [r.returncode for r in started] == [0] * n, [r.stderr for r in started if r.returncode]
        assert _states(tmp) == {f"Dummy-campaign-dummy-{i}.state" for i in range(n)}
        monitored = list(pool.map(lambda i: _action(tmp, i, "monitor", 10000), range(n)))
        assert [r.returncode for r in monitored] == [0] * n
        # Half stop while the other half is monitored: no instance sees another's state.
        mixed = list(pool.map(lambda i: _action(tmp, i, "stop" if i % 2 else "monitor", None if i % 2 else 10000),
                              range(n)))
        assert [r.returncode for r in mixed] == [0] * n
        assert _states(tmp) == {f"Dummy-campaign-dummy-{i}.state" for i in range(0, n, 2)}
        stopped = list(pool.map(lambda i: _action(tmp, i, "stop"), range(n)))
        assert [r.returncode for r in stopped] == [0] * n
    assert _states(tmp) == set()
    assert not any("S3cr3tMark" in r.stderr for r in started + monitored + mixed + stopped)


def test_50_cycles_of_one_instance_leave_nothing_behind(tmp_path):
    tmp = str(tmp_path)
    for _ in range(50):
        assert _action(tmp, 0, "start").returncode == 0
        assert _action(tmp, 0, "monitor", 10000).returncode == 0
        assert _action(tmp, 0, "stop").returncode == 0
        assert _action(tmp, 0, "monitor", 0).returncode == 7
    assert os.listdir(tmp) == [] or _states(tmp) == set()
