"""Resource ordering and colocation of a CIB as a Graphviz DOT graph (SVG when `dot` is installed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read(path: str) -> ET.Element:
    """The CIB at path, read as `crm check` reads it: a regular file only (a FIFO is refused, not
    waited on), at most MAX_CIB_BYTES, UTF-8 XML without DOCTYPE, bounded in depth and elements.
    crm.check.InputError (one line) for anything else."""
    from crm.check import MAX_CIB_BYTES, parse_xml, read_regular

    return parse_xml(read_regular(path, MAX_CIB_BYTES, "CIB"), f"CIB {path}")


def dot(cib: str | ET.Element) -> str:
    """DOT text: resources (groups as clusters with their members in order), orders as solid arrows
    (first -> then, with the actions), colocations as dashed arrows (dependent -> where it follows).
    A text is parsed with crm.check's bounded parser."""
    if isinstance(cib, str):
        from crm.check import parse_xml

        root = parse_xml(cib.encode("utf-8"), "CIB")
    else:
        root = cib
    res = root.find("configuration/resources")
    out = ["digraph cluster_config {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="sans"];']
    for e in (res if res is not None else []):
        rid = e.get("id", "")
        if e.tag == "group":
            out.append(f"  subgraph {_quote('cluster_' + rid)} {{ label={_quote('group ' + rid)};")
            members = [p.get("id", "") for p in e.findall("primitive")]
            for m in members:
                out.append(f"    {_quote(m)};")
            for a, b in zip(members, members[1:]):
                out.append(f"    {_quote(a)} -> {_quote(b)} [color=gray];")
            out.append(f"    {_quote(rid)} [shape=point, width=0.01];")
            out.append("  }")
        elif e.tag == "clone":
            promotable = any(nv.get("name") == "promotable" and nv.get("value") == "true" for nv in e.iter("nvpair"))
            label = ("promotable clone " if promotable else "clone ") + rid
            out.append(f"  {_quote(rid)} [label={_quote(label)}, shape=box3d];")
        else:
            agent = ":".join(filter(None, (e.get("class"), e.get("provider"), e.get("type"))))
            out.append(f"  {_quote(rid)} [label={_quote(rid + chr(10) + agent)}];")
    cons = root.find("configuration/constraints")
    for c in (cons if cons is not None else []):
        if c.tag == "rsc_order":
            label = f"{c.get('first-action', 'start')} then {c.get('then-action', 'start')}"
            out.append(f"  {_quote(c.get('first', ''))} -> {_quote(c.get('then', ''))} [label={_quote(label)}];")
        elif c.tag == "rsc_colocation":
            role = c.get("with-rsc-role") or ""
            label = f"with {role} ({c.get('score')})".replace("with  (", "with (")
            out.append(f"  {_quote(c.get('rsc', ''))} -> {_quote(c.get('with-rsc', ''))} "
                       f"[style=dashed, label={_quote(label)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def svg(dot_text: str) -> str | None:
    """Render with Graphviz when installed (None otherwise)."""
    import shutil
    import subprocess

    if not shutil.which("dot"):
        return None
    r = subprocess.run(["dot", "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60, check=True)
    return r.stdout
