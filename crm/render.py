"""The three renderings of a Cluster: crmsh text, CIB XML and pcs command lines.

Dialects: one crmsh text serves crmsh 4.4 and 5.0 (promotable clones, never `ms`; Promoted/Unpromoted),
one pcs script serves pcs 0.11 and 0.12 (no legacy role names, `kind=` instead of scores in orders, no
`--force`: pcs checks every agent and its parameters, so the agents must be installed where the
script runs). The CIB names the schema of the Pacemaker it is for (PACEMAKER).
"""

from __future__ import annotations

import re

from crm.model import Clone, Cluster, Group, Primitive

_BARE = re.compile(r"^[\w.-]+\Z")
# validate-with and crm_feature_set per Pacemaker release: 2.1.5 writes pacemaker-3.9 / 3.16.1 (cibadmin
# --empty); Pacemaker 3.0 brings the 4.0 schema (no <master>, no lifetime, no nagios/upstart classes). The
# cluster sets crm_feature_set itself when it takes the CIB; for 3.0 it is left to it.
PACEMAKER = {"2.1": ("pacemaker-3.9", "3.16.1"), "3.0": ("pacemaker-4.0", "")}


def installed_pacemaker(run) -> str:
    """'2.1' or '3.0' from `pacemakerd --version` ('2.1' when Pacemaker is not installed here)."""
    from ocf.errors import NotInstalledError

    try:
        out = run(["pacemakerd", "--version"], timeout=30).stdout
    except NotInstalledError:
        return "2.1"
    m = re.search(r"Pacemaker (\d+)\.(\d+)", out)
    return "3.0" if m and int(m.group(1)) >= 3 else "2.1"


def _comment_lines(c: Cluster, prefix: str) -> list[str]:
    import textwrap

    out = []
    for note in c.notes:
        out += [prefix + ln for ln in textwrap.wrap(note, 100 - len(prefix), subsequent_indent="  ")]
    return out


def crmsh_quote(value: str) -> str:
    """crmsh's rule: [\\w.-]+ stays bare, anything else is double-quoted with " and \\ escaped."""
    if _BARE.match(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _secs(n: int) -> str:
    return f"{n}s"


def _crmsh_primitive(p: Primitive) -> str:
    agent = p.agent if p.standard == "ocf" else f"{p.standard}:{p.type}"
    line = f"primitive {p.id} {agent}"
    if p.params:
        line += " params " + " ".join(f"{k}={crmsh_quote(v)}" for k, v in p.params)
    if p.meta:
        line += " meta " + " ".join(f"{k}={crmsh_quote(v)}" for k, v in p.meta)
    for op in p.ops:
        line += f" \\\n    op {op.name} interval={_secs(op.interval)} timeout={_secs(op.timeout)}"
        if op.role:
            line += f" role={op.role}"
    return line


def _walk(resources):
    for r in resources:
        if isinstance(r, Primitive):
            yield r
        elif isinstance(r, Group):
            yield from r.members
        elif isinstance(r, Clone):
            yield from _walk([r.child])


def crmsh_text(c: Cluster) -> str:
    """crmsh configuration (Pacemaker 2.1 syntax: promotable clones, Promoted/Unpromoted)."""
    out = _comment_lines(c, "# ")
    out += [f"node {i}: {n}" for i, n in enumerate(c.nodes, start=1)]
    out += [_crmsh_primitive(p) for p in _walk(c.resources)]
    for r in c.resources:
        if isinstance(r, Group):
            out.append(f"group {r.id} " + " ".join(m.id for m in r.members))
        elif isinstance(r, Clone):
            meta = ([("promotable", "true")] if r.promotable else []) + list(r.meta)
            out.append(f"clone {r.id} {r.child.id} \\\n    meta " + " ".join(f"{k}={crmsh_quote(v)}" for k, v in meta))
    for loc in c.locations:
        if loc.role:
            out.append(f"location {loc.id} {loc.rsc} rule role={loc.role} {loc.score}: #uname eq {loc.node}")
        else:
            out.append(f"location {loc.id} {loc.rsc} {_score(loc.score)}: {loc.node}")
    for col in c.colocations:
        a = col.rsc + (f":{col.rsc_role}" if col.rsc_role else "")
        b = col.with_rsc + (f":{col.with_role}" if col.with_role else "")
        out.append(f"colocation {col.id} {_score(col.score)}: {a} {b}")
    for o in c.orders:
        out.append(f"order {o.id} {o.kind}: {o.first}:{o.first_action} {o.then}:{o.then_action}")
    if c.properties:
        out.append("property cib-bootstrap-options: " + " ".join(f"{k}={crmsh_quote(v)}" for k, v in c.properties))
    if c.rsc_defaults:
        out.append("rsc_defaults rsc-options: " + " ".join(f"{k}={crmsh_quote(v)}" for k, v in c.rsc_defaults))
    return "".join(line + "\n" for line in out)


def _score(s: str) -> str:
    return {"INFINITY": "inf", "-INFINITY": "-inf"}.get(s, s)


def cib_xml(c: Cluster, pacemaker: str = "2.1") -> str:
    """A CIB document for Pacemaker `pacemaker` (2.1: validate-with pacemaker-3.9, where Promoted/Unpromoted
    are valid; 3.0: pacemaker-4.0). The notes become XML comments."""
    import xml.etree.ElementTree as ET

    schema, feature_set = PACEMAKER[pacemaker]
    attrs = {"validate-with": schema, "crm_feature_set": feature_set, "admin_epoch": "0", "epoch": "1",
             "num_updates": "0"}
    cib = ET.Element("cib", {k: v for k, v in attrs.items() if v})
    for line in _comment_lines(c, " "):
        cib.append(ET.Comment(line.replace("--", "- -") + " "))
    conf = ET.SubElement(cib, "configuration")
    crm_config = ET.SubElement(conf, "crm_config")
    if c.properties or c.name:
        ps = ET.SubElement(crm_config, "cluster_property_set", id="cib-bootstrap-options")
        for k, v in (("cluster-name", c.name), *c.properties) if c.name else c.properties:
            ET.SubElement(ps, "nvpair", id=f"cib-bootstrap-options-{k}", name=k, value=v)
    nodes = ET.SubElement(conf, "nodes")
    for i, n in enumerate(c.nodes, start=1):
        ET.SubElement(nodes, "node", id=str(i), uname=n)
    resources = ET.SubElement(conf, "resources")

    def nvset(parent, tag: str, owner: str, pairs) -> None:
        if not pairs:
            return
        s = ET.SubElement(parent, tag, id=f"{owner}-{tag}")
        for k, v in pairs:
            ET.SubElement(s, "nvpair", id=f"{owner}-{tag}-{k}", name=k, value=v)

    def primitive(parent, p: Primitive) -> None:
        attrs = {"id": p.id, "class": p.standard, "type": p.type}
        if p.provider:
            attrs["provider"] = p.provider
        e = ET.SubElement(parent, "primitive", attrs)
        nvset(e, "instance_attributes", p.id, p.params)
        nvset(e, "meta_attributes", p.id, p.meta)
        if p.ops:
            ops = ET.SubElement(e, "operations")
            for op in p.ops:
                oid = f"{p.id}-{op.name}-interval-{op.interval}s"
                a = {"id": oid, "name": op.name, "interval": f"{op.interval}s", "timeout": f"{op.timeout}s"}
                if op.role:
                    a["role"] = op.role
                ET.SubElement(ops, "op", a)

    def group(parent, g: Group) -> None:
        e = ET.SubElement(parent, "group", id=g.id)
        for m in g.members:
            primitive(e, m)

    for r in c.resources:
        if isinstance(r, Primitive):
            primitive(resources, r)
        elif isinstance(r, Group):
            group(resources, r)
        else:
            e = ET.SubElement(resources, "clone", id=r.id)
            nvset(e, "meta_attributes", r.id, ([("promotable", "true")] if r.promotable else []) + list(r.meta))
            if isinstance(r.child, Primitive):
                primitive(e, r.child)
            else:
                group(e, r.child)
    cons = ET.SubElement(conf, "constraints")
    for loc in c.locations:
        if loc.role:
            e = ET.SubElement(cons, "rsc_location", id=loc.id, rsc=loc.rsc)
            rule = ET.SubElement(e, "rule", id=f"{loc.id}-rule", score=loc.score, role=loc.role)
            ET.SubElement(rule, "expression", id=f"{loc.id}-rule-expr", attribute="#uname", operation="eq",
                          value=loc.node)
        else:
            ET.SubElement(cons, "rsc_location", id=loc.id, rsc=loc.rsc, node=loc.node, score=loc.score)
    for col in c.colocations:
        a = {"id": col.id, "score": col.score, "rsc": col.rsc, "with-rsc": col.with_rsc}
        if col.rsc_role:
            a["rsc-role"] = col.rsc_role
        if col.with_role:
            a["with-rsc-role"] = col.with_role
        ET.SubElement(cons, "rsc_colocation", a)
    for o in c.orders:
        ET.SubElement(cons, "rsc_order", {"id": o.id, "kind": o.kind, "first": o.first,
                                          "first-action": o.first_action, "then": o.then,
                                          "then-action": o.then_action})
    if c.rsc_defaults:
        rd = ET.SubElement(conf, "rsc_defaults")
        nvset(rd, "meta_attributes", "rsc-options", c.rsc_defaults)
    ET.SubElement(cib, "status")
    ET.indent(cib)
    return ET.tostring(cib, encoding="unicode") + "\n"


def pcs_commands(c: Cluster, cib_file: str = "cib.xml") -> list[list[str]]:
    """pcs 0.11/0.12 command lines (argv lists) that build the cluster in a file CIB (pcs -f), without --force."""
    out: list[list[str]] = []
    pcs = ["pcs", "-f", cib_file]

    def create(p: Primitive, extra: list[str]) -> list[str]:
        if p.standard == "stonith":
            argv = [*pcs, "stonith", "create", p.id, p.type]
        else:
            argv = [*pcs, "resource", "create", p.id, p.agent if p.standard == "ocf" else f"{p.standard}:{p.type}"]
        argv += [f"{k}={v}" for k, v in p.params]
        if p.meta:
            argv += ["meta", *[f"{k}={v}" for k, v in p.meta]]
        if p.ops:
            argv.append("op")
            for op in p.ops:
                argv += [op.name, f"interval={op.interval}s", f"timeout={op.timeout}s"]
                if op.role:
                    argv.append(f"role={op.role}")
        argv += extra
        return argv

    for r in c.resources:
        if isinstance(r, Primitive):
            out.append(create(r, []))
        elif isinstance(r, Group):
            out += [create(m, ["--group", r.id]) for m in r.members]
        elif isinstance(r, Clone) and isinstance(r.child, Primitive):
            kind = "promotable" if r.promotable else "clone"
            out.append(create(r.child, [kind, r.id, *[f"{k}={v}" for k, v in r.meta]]))
    for col in c.colocations:
        argv = [*pcs, "constraint", "colocation", "add"]
        argv += ([col.rsc_role] if col.rsc_role else []) + [col.rsc, "with"]
        argv += ([col.with_role] if col.with_role else []) + [col.with_rsc, col.score]
        out.append([*argv, f"id={col.id}"])
    for o in c.orders:
        out.append([*pcs, "constraint", "order", o.first_action, o.first, "then", o.then_action, o.then,
                    f"kind={o.kind}", f"id={o.id}"])
    for loc in c.locations:
        if loc.role:
            out.append([*pcs, "constraint", "location", loc.rsc, "rule", f"role={loc.role}", f"score={loc.score}",
                        "#uname", "eq", loc.node])
        elif loc.score.startswith("-"):
            score = loc.score.removeprefix("-")
            out.append([*pcs, "constraint", "location", loc.rsc, "avoids", loc.node if score == "INFINITY"
                        else f"{loc.node}={score}"])
        else:
            out.append([*pcs, "constraint", "location", loc.rsc, "prefers", f"{loc.node}={loc.score}"])
    if c.rsc_defaults:
        out.append([*pcs, "resource", "defaults", "update", *[f"{k}={v}" for k, v in c.rsc_defaults]])
    for k, v in c.properties:
        out.append([*pcs, "property", "set", f"{k}={v}"])
    return out


def pcs_script(c: Cluster, cib_file: str = "cib.xml") -> str:
    """The pcs commands as a shell script (quoted with shlex.join at this edge only)."""
    import shlex

    lines = ["#!/bin/sh", *_comment_lines(c, "# "), "set -e", f"cibadmin --empty > {shlex.quote(cib_file)}"]
    lines += [shlex.join(argv) for argv in pcs_commands(c, cib_file)]
    return "\n".join(lines) + "\n"
