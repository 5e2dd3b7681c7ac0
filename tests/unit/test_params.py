import pytest

from ocf.params import (
    Param,
    boolean,
    canonical_ip,
    choice,
    duration,
    integer,
    ip_address,
    is_true,
    parse_duration,
    path,
)


@pytest.mark.parametrize("text", ["yes", "YES", "True", "true", "1", "on", "ON", "ja"])
def test_boolean_accepts_every_word_ocf_is_true_accepts(text):
    assert boolean.parse(text) is True
    assert is_true(text)


@pytest.mark.parametrize("text", ["no", "False", "0", "off", "nein"])
def test_boolean_false_words(text):
    assert boolean.parse(text) is False
    assert not is_true(text)


def test_boolean_rejects_garbage_with_a_message():
    with pytest.raises(ValueError, match="boolean"):
        boolean.parse("maybe")


def test_integer_range_is_inclusive_and_named_in_errors():
    p = integer(0, 128)
    assert p.parse("0") == 0 and p.parse("128") == 128
    with pytest.raises(ValueError, match="at most 128"):
        p.parse("129")
    with pytest.raises(ValueError, match="integer"):
        p.parse("12a")


@pytest.mark.parametrize(("text", "seconds"), [("10", 10), ("10s", 10), ("500ms", 0.5), ("5m", 300), ("1h", 3600),
                                               ("2min", 120), (" 3 s ", 3)])
def test_durations_take_pacemaker_suffixes(text, seconds):
    assert duration.parse(text) == seconds
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "10x", "-1", "1.2.3s"])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_choice_is_case_insensitive_and_returns_the_declared_spelling():
    p = choice("tcp", "udp")
    assert p.parse("TCP") == "tcp"
    with pytest.raises(ValueError, match="one of tcp, udp"):
        p.parse("sctp")


@pytest.mark.parametrize(("text", "canonical"), [("10.0.0.1", "10.0.0.1"), ("FD00:0:0::1", "fd00::1"),
                                                 ("2001:db8::0:1", "2001:db8::1")])
def test_ip_addresses_are_canonicalised(text, canonical):
    assert ip_address.parse(text) == canonical
    assert canonical_ip(text) == canonical


@pytest.mark.parametrize("text", ["10.0.0", "10.0.0.256", "fd00:::1", "host", "10.0.0.1/24"])
def test_bad_ip_addresses_are_rejected(text):
    with pytest.raises(ValueError):
        ip_address.parse(text)


def test_path_must_be_absolute():
    assert path().parse("/srv/x") == "/srv/x"
    with pytest.raises(ValueError, match="absolute"):
        path().parse("srv/x")


# ----- parameter names and the framework's own names (issue 20) ---------------------------------

def _framework_names() -> list[str]:
    """Every name an Agent instance answers to that a subclass did not declare: the class's members
    and what __init__ sets on the instance, and name (the class setting that names the OCF type)."""
    from ocf.agent import Agent

    members = {n for n in dir(Agent) if not (n.startswith("__") and n.endswith("__"))}
    return sorted(members | set(vars(Agent())) | {"name"})


def test_the_framework_names_are_known_to_the_check():
    from ocf.agent import _FRAMEWORK, _SETTINGS

    names = _framework_names()
    assert {"run", "name", "env", "action", "param", "log", "deadline", "main", "_ctx", "_paramset"} <= set(names)
    assert set(names) <= _FRAMEWORK | set(_SETTINGS)


@pytest.mark.parametrize("attr", _framework_names())
def test_a_parameter_that_shadows_a_framework_name_is_refused_at_class_creation(attr):
    from ocf.agent import Agent

    with pytest.raises(TypeError, match=f"{attr}.*may not shadow the framework's {attr!r}"):
        type("Bad", (Agent,), {attr: Param(shortdesc="x")})


@pytest.mark.parametrize("attr", [n for n in _framework_names()
                                  if n not in ("name", "version", "shortdesc", "check_config", "environment_problems")])
def test_a_method_or_attribute_that_shadows_the_framework_is_refused(attr):
    from ocf.agent import Agent

    with pytest.raises(TypeError, match=f"shadows the framework's Agent.{attr}"):
        type("Bad", (Agent,), {attr: lambda self: None})


def test_settings_and_hooks_may_be_overridden_with_the_right_kind_of_value():
    from ocf.agent import Agent

    ok = type("Ok", (Agent,), {"name": "Ok-type", "version": "2.0", "shortdesc": "s",
                               "check_config": lambda self: None, "environment_problems": lambda self: []})
    assert ok.type_name() == "Ok-type"
    with pytest.raises(TypeError, match="must be a str"):
        type("Bad", (Agent,), {"name": 3})
    with pytest.raises(TypeError, match="must be a method"):
        type("Bad", (Agent,), {"check_config": "no"})


def test_an_ocf_parameter_called_name_or_run_is_declared_under_another_attribute(capsys):
    from ocf.agent import Agent, action
    from ocf.errors import Rc

    class Named(Agent):
        """Has parameters whose OCF names are framework names."""

        name_ = Param(required=True, name="name", shortdesc="The name")
        run_ = Param(name="run", default="once", shortdesc="How to run")

        @action(timeout=10)
        def start(self):
            self.log.info(f"start {self.name_} {self.run_}")
            return Rc.SUCCESS

    assert Named.main(["x", "meta-data"], {}) == Rc.SUCCESS
    out = capsys.readouterr().out
    assert '<resource-agent name="Named"' in out and '<parameter name="name"' in out
    assert Named.main(["x", "start"], {"OCF_RESKEY_name": "n1"}) == Rc.SUCCESS
    assert "start n1 once" in capsys.readouterr().err


def test_parameter_names_are_unique_and_a_subclass_replaces_an_inherited_one():
    from ocf.agent import Agent

    with pytest.raises(TypeError, match="declared twice"):
        type("Bad", (Agent,), {"a": Param(name="x"), "x": Param()})
    base = type("Base", (Agent,), {"a": Param(), "b": Param()})
    sub = type("Sub", (base,), {"a": Param(name="a2")})
    assert sorted(sub._params) == ["a2", "b"]


@pytest.mark.parametrize("name", ["a b", "a-b", "x\n", "é"])
def test_a_parameter_name_outside_letters_digits_and_underscore_is_refused(name):
    from ocf.agent import Agent

    with pytest.raises(TypeError, match="not letters, digits and _"):
        type("Bad", (Agent,), {"p": Param(name=name)})
