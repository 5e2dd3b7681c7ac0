"""Property-based fuzzing of every agent's parameters on every action, with the OCF verdict per context.

For each agent of the registry and each of its actions (monitor as probe and as recurring), hypothesis
draws a value for every declared parameter (unset, valid-looking, twisted or hostile) and how each
command answers (plausible, garbage, a status, missing, hung, killed). The action runs in-process
against that fake world (tests/campaign/harness.py) and must keep the rules: an OCF rc, no traceback,
a reason on every failure, probe never 2-6, a misconfigured resource's stop 0 and probe 7, recurring
monitor never 6, no user value reaching a tool as an option, no secret in stderr, log or trace, no
write outside its directories.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.campaign.harness import SECRET_MARK, Behaviour, World, actions_of, agent_classes, run_action, verdict
from tests.campaign.profile import PROFILE, examples
from tests.campaign.strategies import behaviour, params_for, valid_params

CLASSES = agent_classes()

def cases():
    for agent, cls in CLASSES.items():
        for action in actions_of(cls):
            yield pytest.param(agent, action, id=f"{agent}-{action}")



@pytest.mark.parametrize(("agent", "action"), list(cases()))
def test_fuzzed_parameters_keep_the_ocf_verdict(agent, action, tmp_path):
    cls = CLASSES[agent]
    tmp = str(tmp_path)

    @settings(PROFILE, max_examples=examples(10))
    @given(data=st.data())
    def one(data):
        params = data.draw(params_for(agent, cls, tmp), label="params")
        behaviours = data.draw(st.lists(behaviour(), min_size=1, max_size=5), label="commands")
        log_to_file = data.draw(st.booleans(), label="log_to_file")
        trace = data.draw(st.booleans(), label="trace")
        check0 = run_action(cls, "validate-all", params, World(answer=_no_commands), tmp,
                            extra_env={"OCF_CHECK_LEVEL": "0"})
        misconfigured = check0.rc == 6
        outcome = run_action(cls, action, params, World(behaviours), tmp, log_to_file=log_to_file, trace=trace)
        secrets = [v for k, v in params.items() if v and cls._params[k].secret]
        problems = verdict(outcome, misconfigured=misconfigured, user_values=[v for v in params.values() if v],
                           secrets=secrets)
        assert not problems, (problems, outcome)

    one()


def _no_commands(world, argv, input):  # noqa: A002
    raise AssertionError(f"validate-all at OCF_CHECK_LEVEL 0 ran a command: {argv}")


# ----- the sweep: every parameter, one hostile value at a time, on every action -------------------

SWEEP = ["-v", "--all", " -ay", "\n", "..", "x\n-v", "'\"$(id)`;|&{}*?", "a\x00b", "A" * 70000,
         "\u202e\u00e9\U0001f600"]
_MISCONFIGURED: dict[tuple[str, str, str], bool] = {}


def sweep_cases():
    for agent, cls in CLASSES.items():
        for action in actions_of(cls):
            yield pytest.param(agent, action, id=f"{agent}-{action}")


@pytest.mark.parametrize(("agent", "action"), list(sweep_cases()))
def test_each_parameter_with_each_hostile_value_keeps_the_ocf_verdict(agent, action, tmp_path):
    """Deterministic and complete where the fuzzer samples: a valid configuration with one parameter
    replaced by each hostile value (an option, a newline, shell metacharacters, a NUL, 70 kB, unicode)."""
    cls, tmp = CLASSES[agent], str(tmp_path)
    base = valid_params(cls, tmp)
    problems = []
    for name, p in cls._params.items():
        for value in SWEEP:
            params = dict(base, **{name: (SECRET_MARK + value) if p.secret else value})
            key = (agent, name, value)
            if key not in _MISCONFIGURED:
                o = run_action(cls, "validate-all", params, World(answer=_no_commands), tmp,
                               extra_env={"OCF_CHECK_LEVEL": "0"})
                _MISCONFIGURED[key] = o.rc == 6
            o = run_action(cls, action, params, World([Behaviour("ok")]), tmp)
            secrets = [v for k, v in params.items() if cls._params[k].secret]
            for problem in verdict(o, misconfigured=_MISCONFIGURED[key], user_values=[params[name]],
                                   secrets=secrets):
                problems.append(f"{name}={value[:20]!r}: {problem[:300]}")
    assert not problems, "\n".join(problems[:15])


# ----- findings of long runs, replayed on every run ------------------------------------------------

def _found_cases():
    """(agent, action, params with {tmp}, command answers, owner: defect) that a long run found."""
    yield ("Dummy", "start", {"envfile": "{tmp}/missing/envfile"}, [Behaviour("ok")],
           "core: Dummy start with an envfile in a missing directory dies with an internal error "
           "(FileNotFoundError) and a traceback on stderr")
    yield ("Dummy", "stop", {"state": "{tmp}"}, [Behaviour("ok")],
           "core: Dummy with a directory as its state file dies with an internal error (IsADirectoryError) and a "
           "traceback on stderr")
    yield ("LVM-activate", "start", {"vgname": "vg0drbd", "vg_access_mode": "system_id"}, [Behaviour("ok", "null")],
           "storage: LVM-activate start on `null` from lvm's JSON report dies with an internal error "
           "(AttributeError) and a traceback on stderr")


@pytest.mark.parametrize(("agent", "action", "params", "answers"), [
    pytest.param(a, act, p, b, id=f"{a}-{act}-{i}")
    for i, (a, act, p, b, why) in enumerate(_found_cases())])
def test_findings_of_long_runs_stay_found(agent, action, params, answers, tmp_path):
    cls, tmp = CLASSES[agent], str(tmp_path)
    params = {k: v.replace("{tmp}", tmp) for k, v in params.items()}
    o = run_action(cls, action, params, World(answers), tmp, log_to_file=False)
    problems = verdict(o, user_values=list(params.values()))
    assert not problems, (problems, o)
