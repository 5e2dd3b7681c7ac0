"""The newcomer's example agent in docs/ stays short and works as its docstring says."""

from __future__ import annotations

import importlib.util
import os
import pathlib

import pytest

from ocf.errors import Rc

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "example_agent.py"


def _symlink_class():
    spec = importlib.util.spec_from_file_location("example_agent", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Symlink


Symlink = _symlink_class()


@pytest.fixture
def paths(tmp_path):
    (tmp_path / "data").mkdir()
    return str(tmp_path / "current"), str(tmp_path / "data")


def act(action: str, link: str, target: str, *, interval: str = "10000", **params) -> int:
    env = {"OCF_RESOURCE_INSTANCE": "current", "OCF_RESKEY_link": link, "OCF_RESKEY_target": target,
           "OCF_RESKEY_CRM_meta_interval": interval, **{f"OCF_RESKEY_{k}": v for k, v in params.items()}}
    return Symlink.main(["Symlink", action], env)


def test_the_example_stays_under_sixty_lines():
    assert len(EXAMPLE.read_text(encoding="utf-8").splitlines()) < 60


def test_start_makes_the_link_monitor_sees_it_and_stop_removes_it(paths):
    link, target = paths
    assert act("monitor", link, target, interval="0") == Rc.NOT_RUNNING
    assert act("start", link, target) == Rc.SUCCESS
    assert os.readlink(link) == target
    assert act("monitor", link, target) == Rc.SUCCESS
    assert act("stop", link, target) == Rc.SUCCESS
    assert not os.path.lexists(link)
    assert act("stop", link, target) == Rc.SUCCESS


def test_a_link_that_is_not_ours_is_a_failure_and_is_kept_by_stop(paths, capsys):
    link, target = paths
    os.symlink("/elsewhere", link)
    assert act("monitor", link, target) == Rc.ERR_GENERIC
    assert "points at /elsewhere" in capsys.readouterr().err
    assert act("monitor", link, target, interval="0") == Rc.NOT_RUNNING  # a probe: not ours, not running
    assert act("stop", link, target) == Rc.SUCCESS
    assert os.readlink(link) == "/elsewhere"
    assert act("start", link, target) == Rc.ERR_GENERIC  # not replaced unless asked
    assert act("start", link, target, replace="true") == Rc.SUCCESS
    assert os.readlink(link) == target


def test_a_configuration_error_is_reported_as_such(paths):
    link, _ = paths
    assert act("start", link, link) == Rc.ERR_CONFIGURED
    assert act("stop", link, link) == Rc.SUCCESS  # it cannot have been started


def test_meta_data_and_validate_all_come_for_free(paths, capsys):
    link, target = paths
    assert act("meta-data", link, target) == Rc.SUCCESS
    assert '<parameter name="replace"' in capsys.readouterr().out
    assert act("validate-all", link, target) == Rc.SUCCESS
