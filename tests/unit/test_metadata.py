import xml.etree.ElementTree as ET

from ocf.metadata import render
from tests.unit.framework_agents import Sample


def parse(env):
    text = render(Sample, env)
    return text, ET.fromstring(text.split("\n", 2)[2] if "DOCTYPE" in text else text.split("\n", 1)[1])


def test_compatible_form_has_the_dtd_and_only_what_the_dtd_declares():
    text, root = parse({})
    assert '<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">' in text
    assert root.find("version").text == "1.0"
    mode = root.find("parameters/parameter[@name='mode']")
    assert "reloadable" not in mode.attrib
    assert mode.find("content").get("type") == "string"
    assert "One of: fast, safe." in mode.find("longdesc").text
    assert root.find("actions/action[@name='reload-agent']") is None
    old = root.find("parameters/parameter[@name='old_count']")
    assert old.find("deprecated") is None and "use count instead" in old.find("longdesc").text


def test_ocf_1_1_form_has_select_reloadable_deprecated_and_reload_agent():
    text, root = parse({"OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1"})
    assert "DOCTYPE" not in text
    assert root.find("version").text == "1.1"
    mode = root.find("parameters/parameter[@name='mode']")
    assert mode.get("reloadable") == "1"
    assert [o.get("value") for o in mode.findall("content/option")] == ["fast", "safe"]
    assert mode.find("content").get("type") == "select"
    assert root.find("parameters/parameter[@name='old_count']/deprecated/replaced-with").get("name") == "count"
    assert root.find("actions/action[@name='reload-agent']") is not None


def test_descriptions_with_markup_characters_are_escaped():
    text, root = parse({})
    assert root.find("parameters/parameter[@name='mode']/shortdesc").text == 'Mode <&> "quoted"'
    assert "<&>" not in text


def test_monitor_is_advertised_once_per_depth_in_declaration_order():
    _text, root = parse({})
    monitors = root.findall("actions/action[@name='monitor']")
    assert [(m.get("depth"), m.get("interval"), m.get("timeout")) for m in monitors] == [
        ("0", "10s", "20s"), ("20", "60s", "40s")]


def test_required_unique_default_and_longdesc_from_the_docstring():
    _text, root = parse({})
    assert root.get("name") == "Sample"
    assert root.find("shortdesc").text == "Sample agent"
    assert root.find("longdesc").text.startswith("A sample agent for the framework's tests. It runs")
    p = root.find("parameters/parameter[@name='name_']")
    assert (p.get("required"), p.get("unique")) == ("1", "1")
    assert root.find("parameters/parameter[@name='count']/content").get("default") == "3"
    assert "Secret" in root.find("parameters/parameter[@name='password']/longdesc").text


def test_the_compatible_form_advertises_reload_only_when_every_non_unique_parameter_is_reloadable():
    from agents.dummy import Dummy
    from ocf.agent import Agent, action
    from ocf.params import Param, string

    class Half(Agent):
        """An agent whose legacy reload would not apply everything."""

        live = Param(string, reloadable=True, shortdesc="Applied live")
        fixed = Param(string, shortdesc="Needs a restart")

        @action(timeout=20)
        def reload(self):
            return 0

        @action(name="reload-agent", timeout=20)
        def reload_agent(self):
            return 0

    def actions(cls, env):
        text = render(cls, env)
        root = ET.fromstring(text.split("\n", 2)[2] if "DOCTYPE" in text else text.split("\n", 1)[1])
        return {a.get("name") for a in root.findall("actions/action")}

    ocf11 = {"OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1"}
    # Pacemaker reading 1.0 meta-data calls reload for a change of any unique="0" parameter.
    assert "reload" not in actions(Half, {})
    assert "reload" in actions(Dummy, {})  # only state is fixed, and it is unique
    assert {"reload", "reload-agent"} <= actions(Half, ocf11)
