"""Fault injection at the command seam: each command of an action hangs, is missing, prints garbage,
exits with an odd status or is killed, one at a time, at every position.

Two layers: every agent of the registry with valid parameters against a permissive world (the OCF
verdict must hold whatever fails), and stateful worlds (Filesystem, iSCSITarget with tgt, IPaddr2)
where the rule that protects data is checked too: a stop that returns 0 left the resource absent,
and a probe does not say "not running" about a resource that is there because a tool misbehaved.
"""

from __future__ import annotations

import pytest

from tests.campaign.harness import Behaviour, World, actions_of, agent_classes, run_action, verdict
from tests.campaign.strategies import valid_params
from tests.campaign.worlds import IQN, WORLDS

CLASSES = agent_classes()

FAULTS = {
    "missing": Behaviour("missing"),
    "hang": Behaviour("hang"),
    "garbage": Behaviour("garbage", "\x00}{ Target x: y\nLUN: z\nnot running running OK [1,", 0),
    "status": Behaviour("status", "error: something odd", 3),
    "killed": Behaviour("killed", "", 9),
}
MAX_POSITIONS = 8  # inject at the first N commands of an action (all of them for every action here)


class Injector:
    """A world answer that fails the k-th command with a fault and lets a model answer the others."""

    def __init__(self, k: int, fault: Behaviour, model=None) -> None:
        self.k, self.fault, self.model = k, fault, model

    def __call__(self, world: World, argv: list[str], input: str | None):  # noqa: A002
        if len(world.calls) - 1 == self.k:
            world.behaviours = [self.fault]
            if self.fault.kind == "garbage" and self.model is not None:
                # The command did its work and then printed nonsense: the state changes, the output lies.
                r = self.model.answer(argv, input)
                r.stdout, r.stderr = self.fault.text, self.fault.text[::-1]
                return r
            return None  # the fault behaviour answers
        world.behaviours = [Behaviour("ok")]
        return self.model.answer(argv, input) if self.model is not None else None


def generic_cases():
    for agent, cls in CLASSES.items():
        for action in actions_of(cls):
            if action == "validate-all":
                continue
            yield pytest.param(agent, action, id=f"{agent}-{action}")


@pytest.mark.parametrize(("agent", "action"), list(generic_cases()))
def test_every_command_failing_in_every_way_keeps_the_ocf_verdict(agent, action, tmp_path):
    cls = CLASSES[agent]
    tmp = str(tmp_path)
    params = valid_params(cls, tmp)
    clean = run_action(cls, action, params, World([Behaviour("ok")]), tmp)
    n = min(len(clean.world.calls), MAX_POSITIONS)
    problems = []
    for k in range(n):
        for kind, fault in FAULTS.items():
            o = run_action(cls, action, params, World(answer=Injector(k, fault)), tmp)
            secrets = [v for k, v in params.items() if cls._params[k].secret]
            for p in verdict(o, user_values=list(params.values()), secrets=secrets):
                problems.append(f"{kind} at command {k + 1} ({o.world.calls[k][:4] if len(o.world.calls) > k else '?'})"
                                f": {p}: rc {o.rc} {o.reasons[:1]}")
    assert not problems, "\n".join(problems[:20])


# ----- stateful worlds: stop 0 means gone --------------------------------------------------------

def world_cases():
    for agent in WORLDS:
        for action in ("stop", "monitor:probe", "monitor:recurring", "start"):
            if agent == "Filesystem" and action.startswith("monitor"):
                continue  # reads the mount table itself: no command to fail
            yield pytest.param(agent, action, id=f"{agent}-{action}")


@pytest.mark.parametrize("agent", list(WORLDS))
def test_the_fake_worlds_model_a_clean_stop_and_start(agent, tmp_path):
    """The worlds themselves: without faults, stop removes the resource and start brings it back."""
    cls, tmp = CLASSES[agent], str(tmp_path)
    model = WORLDS[agent](tmp)
    world = World(answer=lambda w, argv, i: model.answer(argv, i))
    world.mountinfo = getattr(model, "mountinfo", "")
    assert run_action(cls, "monitor:probe", model.params, _synced(world, model), tmp).rc == 0
    o = run_action(cls, "stop", model.params, _synced(world, model), tmp)
    assert (o.rc, model.present()) == (0, False), o
    assert run_action(cls, "monitor:probe", model.params, _synced(world, model), tmp).rc == 7
    o = run_action(cls, "start", model.params, _synced(world, model), tmp)
    assert (o.rc, model.present()) == (0, True), o


class _Synced(World):
    """A World whose mount table follows the model's after every command."""

    def __init__(self, answer, model) -> None:
        super().__init__(answer=answer)
        self.model = model
        self.mountinfo = getattr(model, "mountinfo", "")

    def __call__(self, argv, **kw):
        try:
            return super().__call__(argv, **kw)
        finally:
            self.mountinfo = getattr(self.model, "mountinfo", "")


def _synced(world: World, model) -> World:
    return _Synced(world.answer, model)


@pytest.mark.parametrize(("agent", "action"), list(world_cases()))
def test_a_fault_never_makes_a_present_resource_look_stopped(agent, action, tmp_path):
    cls, tmp = CLASSES[agent], str(tmp_path)
    start = action == "start"
    clean_model = WORLDS[agent](tmp, **({"mounted": False} if start and agent == "Filesystem" else
                                        {"running": False} if start and agent == "iSCSITarget" else
                                        {"present": False} if start else {}))
    clean = run_action(cls, action, clean_model.params,
                       _Synced(lambda w, argv, i: clean_model.answer(argv, i), clean_model), tmp)
    n = min(len(clean.world.calls), MAX_POSITIONS)
    assert n, f"{agent} {action} ran no command in the clean world: {clean}"
    problems = []
    for k in range(n):
        for kind, fault in FAULTS.items():
            model = WORLDS[agent](tmp, **({"mounted": False} if start and agent == "Filesystem" else
                                          {"running": False} if start and agent == "iSCSITarget" else
                                          {"present": False} if start else {}))
            o = run_action(cls, action, model.params, _Synced(Injector(k, fault, model), model), tmp)
            where = f"{kind} at command {k + 1} {o.world.calls[k][:5] if len(o.world.calls) > k else ''}"
            for p in verdict(o, user_values=list(model.params.values())):
                problems.append(f"{where}: {p}: rc {o.rc} {o.reasons[:1]}")
            if action == "stop" and o.rc == 0 and model.present():
                problems.append(f"{where}: stop returned 0 but the resource is still there {o.reasons[:1]}")
            if action == "monitor:probe" and o.rc == 7 and model.present() and kind != "missing":
                problems.append(f"{where}: probe said not running about a running resource")
            if action == "start" and o.rc == 0 and not model.present():
                problems.append(f"{where}: start returned 0 but the resource is not there")
    assert not problems, "\n".join(problems[:20])


def test_filesystem_stop_leaves_other_bind_mounts_of_its_filesystem_alone(tmp_path):
    """Issue 20 #1: a bind mount elsewhere of the same filesystem is not this resource's to unmount."""
    cls, tmp = CLASSES["Filesystem"], str(tmp_path)
    model = WORLDS["Filesystem"](tmp, other_bind=True)
    o = run_action(cls, "stop", model.params, _Synced(lambda w, argv, i: model.answer(argv, i), model), tmp)
    assert o.rc == 0 and not model.present(), o
    assert model.mounted(model.other), f"stop unmounted {model.other}: {o.world.calls}"


def test_iscsitarget_stop_succeeds_when_tgtd_is_not_running(tmp_path):
    """Issue 20 #5: with tgtd down no target can exist; the probe says 7, the stop must say 0."""
    cls, tmp = CLASSES["iSCSITarget"], str(tmp_path)
    model = WORLDS["iSCSITarget"](tmp, running=False, daemon=False)
    world = _Synced(lambda w, argv, i: model.answer(argv, i), model)
    assert run_action(cls, "monitor:probe", model.params, world, tmp).rc == 7
    o = run_action(cls, "stop", model.params, _Synced(lambda w, argv, i: model.answer(argv, i), model), tmp)
    assert o.rc == 0, o


def test_a_second_target_with_the_same_chap_user_leaves_the_first_ones_chap_alone(tmp_path):
    cls, tmp = CLASSES["iSCSITarget"], str(tmp_path)
    model = WORLDS["iSCSITarget"](tmp, running=False)
    chap = {"incoming_username": "filer", "incoming_password": "S3cr3tMarkChap1"}
    first = dict(model.params, **chap)
    second = dict(first, iqn=IQN + "2", tid="2")

    def world():
        return _Synced(lambda w, argv, i: model.answer(argv, i), model)

    assert run_action(cls, "start", first, world(), tmp, extra_env={"OCF_RESOURCE_INSTANCE": "t1"}).rc == 0
    assert model.bound.get(1) == {"filer"}
    o = run_action(cls, "start", second, world(), tmp, extra_env={"OCF_RESOURCE_INSTANCE": "t2"})
    assert o.rc == 0, o
    assert model.bound.get(2) == {"filer"}
    assert model.bound.get(1) == {"filer"}, "the first target no longer requires CHAP"
