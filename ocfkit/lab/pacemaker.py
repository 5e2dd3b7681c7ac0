"""Pacemaker seen from inside a lab node: its own tools (crm_mon, stonith_admin, cibadmin), parsed.

Each function runs the tool inside the given node (its IPC is private to the node's namespaces).
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from ocfkit.lab.node import LabError, Node


@dataclass(frozen=True)
class View:
    """What a node's Pacemaker says: nodes online, the DC, where each active resource runs."""

    online: frozenset[str] = frozenset()
    dc: str = ""
    placement: dict[str, str] = field(default_factory=dict)  # resource id -> node, for Started resources
    ok: bool = False  # crm_mon answered
    unclean: frozenset[str] = frozenset()  # nodes the cluster must fence before it may move their resources
    fencing: tuple[dict[str, str], ...] = ()  # crm_mon's fence history (every action, pending ones too)


def view(node: Node, timeout: float = 20) -> View:
    """crm_mon --output-as=xml inside the node; an empty View when Pacemaker does not answer."""
    if not node.running:
        return View()
    try:
        r = node.run(["crm_mon", "-1", "--output-as=xml", "--fence-history=2"], check=False, timeout=timeout)
        root = ET.fromstring(r.stdout)
    except (LabError, ET.ParseError):
        return View()
    online = frozenset(n.get("name", "") for n in root.iter("node") if n.get("online") == "true")
    dc = next((d.get("name", "") for d in root.iter("current_dc") if d.get("present") == "true"), "")
    where = {}
    for res in root.iter("resource"):
        if res.get("role") == "Started" and res.get("active") == "true":
            for n in res.iter("node"):
                where[res.get("id", "")] = n.get("name", "")
    unclean = frozenset(n.get("name", "") for n in root.iter("node") if n.get("unclean") == "true")
    fencing = tuple(dict(e.attrib) for e in root.iter("fence_event"))
    return View(online, dc, where, ok=True, unclean=unclean, fencing=fencing)


def fence_history(node: Node, target: str) -> list[dict[str, str]]:
    """The fencer's history for target (attributes of each fence_event: action, status, delegate...)."""
    r = node.run(["stonith_admin", "--history", target, "--output-as=xml"], check=False, timeout=20)
    try:
        root = ET.fromstring(r.stdout)
    except ET.ParseError:
        return []
    return [dict(e.attrib) for e in root.iter("fence_event")]


def configure(node: Node, configuration: str, directory: str) -> None:
    """Replace the cluster's configuration (a <configuration> element) with cibadmin inside node;
    the file is written to directory (the lab directory, which every node sees)."""
    ET.fromstring(configuration)  # well-formed, or ParseError before anything is changed
    fd, path = tempfile.mkstemp(prefix="configuration-", suffix=".xml", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(configuration)
        node.run(["cibadmin", "--replace", "--scope", "configuration", "--xml-file", path], timeout=60)
    finally:
        os.unlink(path)
