"""Meta-data XML built with xml.etree from an agent's Param and @action declarations.

Two forms, because the consumers disagree (the OCF 1.1 RelaxNG schema ra-api.rng against ra-api-1.dtd):
- OCF 1.1 (OCF_RA_VERSION_MAJOR.MINOR >= 1.1, which Pacemaker 2.1 exports): `<version>1.1`,
  select/option, reloadable, unique-group, deprecated/replaced-with, the reload-agent action.
  Valid against the OCF 1.1 RelaxNG schema.
- Compatible (anything else, e.g. ocf-tester, older tools): a DOCTYPE naming ra-api-1.dtd,
  `<version>1.0`, only what ra-api-1.dtd declares: select becomes string with the choices in the
  longdesc, deprecation goes into the longdesc, reloadable/unique-group and actions outside the
  DTD's list are left out. Valid against ra-api-1.dtd, metadata.rng and the 1.1 schema.
Time parameters are type string in both (the 1.1 schema has no "time").

reload and reload-agent (Pacemaker 2.1, controld's metadata cache): for meta-data saying 1.1 and
advertising reload-agent, parameters without reloadable="1" form the restart list, and a change of
reloadable ones alone calls reload-agent; `reload` is ignored. For meta-data saying 1.0 (the
compatible form, and every Pacemaker before 2.1) an advertised `reload` makes every unique="0"
parameter reloadable: a change of those calls `reload` instead of stop + start. So the compatible
form advertises `reload` only when that reading is true, i.e. every parameter that is not unique is
declared reloadable; otherwise the change would be "applied" by an action that does not apply it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

_DTD_ACTIONS = {"start", "stop", "recover", "monitor", "restart", "migrate_to", "migrate_from", "promote",
                "demote", "notify", "status", "reload", "meta-data", "usage", "methods", "validate-all"}
_DOCTYPE = '<?xml version="1.0"?>\n<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">\n'


def wants_ocf_1_1(env) -> bool:
    """Whether the caller declared OCF RA API 1.1 or newer."""
    try:
        major = int(env.get("OCF_RA_VERSION_MAJOR", "1") or "1")
        minor = int(env.get("OCF_RA_VERSION_MINOR", "0") or "0")
    except ValueError:
        return False
    return (major, minor) >= (1, 1)


def _seconds(v: float) -> str:
    if v == int(v):
        return f"{int(v)}s"
    return f"{int(v * 1000)}ms"


def _desc(parent: ET.Element, tag: str, text: str) -> None:
    e = ET.SubElement(parent, tag, lang="en")
    e.text = text


def _docstring(cls) -> tuple[str, str]:
    doc = (cls.__doc__ or cls.type_name()).strip()
    lines = [ln.strip() for ln in doc.splitlines()]
    text = " ".join(ln for ln in lines if ln)
    short = cls.__dict__.get("shortdesc")
    short = short if isinstance(short, str) and short else lines[0]
    return text, short


def legacy_reload_holds(cls) -> bool:
    """Whether pre-1.1 reload semantics (every unique="0" parameter is reloadable) are true of cls."""
    return all(p.reloadable or p.unique for p in cls._params.values())


def build(cls, *, ocf_1_1: bool) -> ET.Element:
    """The meta-data element tree of an Agent subclass."""
    root = ET.Element("resource-agent", name=cls.type_name(), version=str(cls.version))
    ET.SubElement(root, "version").text = "1.1" if ocf_1_1 else "1.0"
    longdesc, shortdesc = _docstring(cls)
    _desc(root, "longdesc", longdesc)
    _desc(root, "shortdesc", shortdesc)
    params = ET.SubElement(root, "parameters")
    for name, p in cls._params.items():
        attrs = {"name": name, "required": "1" if p.required else "0", "unique": "1" if p.unique else "0"}
        if ocf_1_1:
            if p.unique_group:
                attrs["unique-group"] = p.unique_group
            if p.reloadable:
                attrs["reloadable"] = "1"
        e = ET.SubElement(params, "parameter", attrs)
        long = p.longdesc or p.shortdesc or name
        hint = p.parser.hint()
        if hint and (not ocf_1_1 or p.parser.content_type != "select"):
            long = f"{long} {hint}"
        if p.deprecated:
            if ocf_1_1:
                dep = ET.SubElement(e, "deprecated")
                if p.replaced_by:
                    ET.SubElement(dep, "replaced-with", name=p.replaced_by)
            else:
                long = f"{long} Deprecated" + (f": use {p.replaced_by} instead." if p.replaced_by else ".")
        if p.secret:
            long = f"{long} (Secret: never logged.)"
        _desc(e, "longdesc", long)
        _desc(e, "shortdesc", p.shortdesc or name)
        ctype = p.parser.content_type
        if ctype == "select" and not ocf_1_1:
            ctype = "string"
        content = ET.SubElement(e, "content", type=ctype)
        if p.default is not None:
            content.set("default", p.default)
        if ctype == "select":
            for opt in p.parser.options:
                ET.SubElement(content, "option", value=opt)
    actions = ET.SubElement(root, "actions")
    for name, (_attr, adverts) in cls._actions.items():
        if not ocf_1_1 and (name not in _DTD_ACTIONS or (name == "reload" and not legacy_reload_holds(cls))):
            continue
        for a in adverts:
            attrs = {"name": name, "timeout": _seconds(a["timeout"])}
            if a["interval"] is not None:
                attrs["interval"] = _seconds(a["interval"])
            if a["depth"] is not None:
                attrs["depth"] = str(a["depth"])
            if a["role"]:
                attrs["role"] = a["role"]
            if a["start_delay"] is not None:
                attrs["start-delay"] = _seconds(a["start_delay"])
            ET.SubElement(actions, "action", attrs)
    return root


def render(cls, env) -> str:
    """The meta-data document for the caller's OCF version."""
    ocf_1_1 = wants_ocf_1_1(env)
    root = build(cls, ocf_1_1=ocf_1_1)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return (_DOCTYPE if not ocf_1_1 else '<?xml version="1.0"?>\n') + body + "\n"
