"""Secret scanning: every log, trace file (OCF_TRACE_RA), exit reason and generated file.

Secrets are drawn with a marker (SECRET_MARK) so that a leak is found even when the text around it
was quoted or escaped (a quote or a newline in a password changes how argv and repr() print it, and a
mask that looks for the raw value no longer matches). Every agent action of the campaign (fuzz,
sweep, faults) already scans stderr, log and trace through harness.verdict; this file adds the
paths that need a full life cycle or a file: trace files and their mode, `ocfkit generate` output.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.campaign.harness import SECRET_MARK, World, agent_classes, run_action, secret_leaks
from tests.campaign.profile import PROFILE, examples
from tests.campaign.test_generate_inputs import DIALECT
from tests.campaign.worlds import WORLDS

CLASSES = agent_classes()
ODD = ["plain", "with'quote", 'with"dq', "with space", "with\nnewline", "with\\backslash", "-dash", "uni\u00e9"]


def _secret_agents():
    return [name for name, cls in CLASSES.items() if any(p.secret for p in cls._params.values())]


def test_the_campaign_knows_every_agent_with_a_secret():
    """A new secret parameter joins the scan below by itself; this only keeps the list honest."""
    assert set(_secret_agents()) >= {"iSCSITarget", "Dummy"}


def _life_cycle(agent: str, secret: str, tmp: str):
    cls = CLASSES[agent]
    if agent == "iSCSITarget":
        model = WORLDS["iSCSITarget"](tmp, running=False)
        params = dict(model.params, incoming_username="filer", incoming_password=secret)

        def answer(world, argv, input):  # noqa: A002
            return model.answer(argv, input)
    else:
        params = {"passwd": secret, "state": f"{tmp}/state"}
        answer = None
    for action in ("validate-all", "start", "monitor:recurring", "monitor:probe", "stop"):
        for trace in (True, False):
            yield run_action(cls, action, params, World(answer=answer), tmp, trace=trace, log_to_file=trace)


def _odd_cases():
    for agent in _secret_agents():
        for odd in ODD:
            yield pytest.param(agent, odd, id=f"{agent}-{odd!r}")


@pytest.mark.parametrize(("agent", "odd"), list(_odd_cases()))
def test_no_secret_in_logs_traces_or_reasons_over_a_life_cycle(agent, odd, tmp_path):
    secret = f"{SECRET_MARK}-{odd}-tail"
    problems = []
    for o in _life_cycle(agent, secret, str(tmp_path)):
        problems += [f"{o.action}: {p}" for p in secret_leaks(o, [secret])]
        assert o.trace or not o.env.get("OCF_TRACE_RA"), f"{o.action}: tracing was asked for and wrote nothing"
    assert not problems, problems


@pytest.mark.parametrize("agent", ["iSCSITarget"])
def test_trace_files_are_readable_by_their_owner_only(agent, tmp_path):
    old = os.umask(0o022)
    try:
        modes = {o.action: o.trace_mode for o in _life_cycle(agent, SECRET_MARK + "x", str(tmp_path))
                 if o.trace_mode is not None}
    finally:
        os.umask(old)
    assert modes and all(m == 0o600 for m in modes.values()), {a: oct(m) for a, m in modes.items()}


# ----- generated files ---------------------------------------------------------------------------

def _description(tmp, auth_key: str, shared_secret: str) -> str:
    from tests.campaign.test_generate_inputs import seed_with

    return seed_with(tmp, {"heartbeat": {"auth_key": auth_key}}, drbd_secret=shared_secret)


# the files that must hold each secret (drbd-heartbeat.conf: the same DRBD configuration with dopd fencing)
HOLDERS = {"authkeys": "auth_key", "drbd.conf": "shared_secret", "drbd-heartbeat.conf": "shared_secret"}


def test_generated_files_holding_a_secret_are_0600_and_no_other_file_holds_one(tmp_path):
    from ocfkit.cli import main

    keys = {"auth_key": SECRET_MARK + "Auth", "shared_secret": SECRET_MARK + "Drbd"}
    path = _description(tmp_path, keys["auth_key"], keys["shared_secret"])
    out = tmp_path / "out"
    assert main(["generate", path, "--out", str(out), *DIALECT]) == 0
    problems = []
    for name in sorted(os.listdir(out)):
        with open(out / name, encoding="utf-8") as f:
            text = f.read()
        mode = os.stat(out / name).st_mode & 0o777
        for what, value in keys.items():
            if value in text and HOLDERS.get(name) != what:
                problems.append(f"{name} holds the {what}")
        if any(v in text for v in keys.values()) and mode != 0o600:
            problems.append(f"{name} holds a secret with mode {mode:04o}")
        if SECRET_MARK in text and not any(v in text for v in keys.values()):
            problems.append(f"{name} holds part of a secret")
    assert not problems, problems


@settings(PROFILE, max_examples=examples(40))
@given(key=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30))
def test_a_generated_authkeys_holds_exactly_the_key_of_the_description_or_generate_refuses(key, tmp_path_factory):
    """A newline or '#' in auth_key must not turn authkeys into another file (crc, another key)."""
    from heartbeat_legacy import authkeys
    from ocfkit.cli import main

    tmp = tmp_path_factory.mktemp("gen")
    secret = SECRET_MARK + key
    path = _description(tmp, secret, SECRET_MARK + "Drbd")
    rc = main(["generate", path, "--out", str(tmp / "out"), *DIALECT])
    if rc != 0:
        return  # refused, with one line (checked by the CLI tests)
    with open(tmp / "out" / "authkeys", encoding="utf-8") as f:
        ak = authkeys.parse(f.read())
    assert ak.keys.get(ak.active) == ("md5", secret), ak.keys
