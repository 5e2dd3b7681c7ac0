"""The offline check of a CIB: well-formed, schema, crm_verify, fencing, corosync.conf, crm_simulate.

No cluster is needed. crm_verify exits 78 for warnings and errors alike, so its text decides which it
was. crm_simulate runs no agents, so the promotion scores DRBD's agent would set are injected.

Hostile input is refused early and cheaply: the CIB must be a regular file (opened without blocking,
so a FIFO cannot hang the check) no bigger than MAX_CIB_BYTES, UTF-8, without a DOCTYPE (no entity
can be declared, so none can expand), no deeper than MAX_DEPTH and with at most MAX_ELEMENTS elements.
The tools run on a private copy of the bytes that passed, each with a timeout, all within one
deadline; placement comes from one crm_simulate call, however many resources there are.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter

SCHEMA_DIR = "/usr/share/pacemaker"
MAX_CIB_BYTES = 20 * 1024 * 1024
MAX_COROSYNC_BYTES = 1024 * 1024
MAX_TOOL_OUTPUT_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 64
MAX_ELEMENTS = 500_000
MAX_RESOURCES = 5_000
MAX_NODES = 64
STEP_TIMEOUT = 60.0
DEADLINE = 240.0
INFINITY = 1_000_000
NODE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
ROLE_NAMES = {"Master": "Promoted", "Slave": "Unpromoted"}  # Pacemaker < 2.1 and the 3.x aliases


class InputError(Exception):
    """An input the check refuses to read: what it is and why, in one line."""


class Report:
    """Each step's verdict: (step, "ok" | "info" | "warning" | "error" | "skipped", detail). "skipped": a step
    this host cannot run (a CIB for a newer Pacemaker than the one installed): the check is incomplete."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, str, str]] = []
        self.placement: dict[str, str] = {}
        self.after_failure: dict[str, str] = {}

    def add(self, step: str, verdict: str, detail: str = "") -> None:
        self.steps.append((step, verdict, detail.strip()))

    @property
    def ok(self) -> bool:
        """No step found an error."""
        return all(v != "error" for _s, v, _d in self.steps)

    @property
    def complete(self) -> bool:
        """Every step ran (none was skipped)."""
        return all(v != "skipped" for _s, v, _d in self.steps)

    def text(self) -> str:
        """A report a human can read."""
        out = []
        for step, verdict, detail in self.steps:
            out.append(f"{verdict.upper():8} {step}")
            lines = detail.splitlines()
            out += [f"         {ln}" for ln in lines[:12]]
            if len(lines) > 12:
                out.append(f"         ... ({len(lines) - 12} more lines)")
        if self.placement:
            out.append("cold start places:")
            out += [f"  {r}: {n}" for r, n in sorted(self.placement.items())]
        if self.after_failure:
            out.append("after the failure:")
            out += [f"  {r}: {n}" for r, n in sorted(self.after_failure.items())]
        out.append("verdict: " + ("ERRORS FOUND" if not self.ok else "OK" if self.complete else
                                  "INCOMPLETE (no errors in the steps that ran; run the check where the CIB's "
                                  "Pacemaker is installed)"))
        return "\n".join(out) + "\n"


# --- bounded readers -------------------------------------------------------------------------------


def read_regular(path: str, limit: int, what: str) -> bytes:
    """The bytes of a regular file of at most limit bytes; InputError for anything else.

    O_NONBLOCK makes opening a FIFO return at once (instead of waiting for a writer), and fstat on
    the opened descriptor decides, so nothing is read from a FIFO, a device or a directory."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise InputError(f"{what} {path}: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode)
                    else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                    else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
            raise InputError(f"{what} {path} is {kind}: only a regular file is read")
        if st.st_size > limit:
            raise InputError(f"{what} {path} is {st.st_size} bytes, more than the {limit} this check reads")
        chunks, total = [], 0
        while True:
            data = os.read(fd, min(1 << 20, limit + 1 - total))
            if not data:
                break
            chunks.append(data)
            total += len(data)
            if total > limit:  # it grew while we read
                raise InputError(f"{what} {path} is more than the {limit} bytes this check reads")
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse_xml(data: bytes, what: str, *, max_depth: int = MAX_DEPTH, max_elements: int = MAX_ELEMENTS) -> ET.Element:
    """Parse XML that declares nothing: no DOCTYPE, hence no entity to expand; bounded depth and size.

    The bytes are decoded as UTF-8 here and the text is fed to expat as text, which makes expat read
    it as UTF-8 whatever the declaration says: the DOCTYPE search sees what expat sees."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{what} is not UTF-8 (byte {e.start}): Pacemaker writes UTF-8") from None
    if text.startswith("<?xml"):
        # The tools (libxml2) honour the declared encoding; only one that reads the bytes as we did passes.
        m = re.search(r"""encoding\s*=\s*["']([^"']*)["']""", text[:text.find("?>") if "?>" in text[:200] else 200])
        if m and m.group(1).lower() not in ("utf-8", "utf8", "us-ascii", "ascii"):
            raise InputError(f"{what} declares encoding {m.group(1)[:20]!r}: only UTF-8 is read")
    for banned in ("<!DOCTYPE", "<!ENTITY"):
        at = text.find(banned)
        if at >= 0:
            line = text.count("\n", 0, at) + 1
            raise InputError(f"{what} line {line}: {banned[2:]} declarations are refused "
                             "(a CIB has none; entities can expand without bound)")
    parser: ET.XMLPullParser = ET.XMLPullParser(events=("start", "end"))
    depth = elements = 0
    root: ET.Element | None = None
    try:
        for i in range(0, len(text), 1 << 16):
            parser.feed(text[i:i + (1 << 16)])
            for event, elem in parser.read_events():  # type: ignore[misc]
                if event == "start":
                    depth += 1
                    elements += 1
                    if root is None:
                        root = elem  # type: ignore[assignment]
                    if depth > max_depth:
                        raise InputError(f"{what}: elements nested more than {max_depth} deep")
                    if elements > max_elements:
                        raise InputError(f"{what}: more than {max_elements} elements")
                else:
                    depth -= 1
        parser.close()
    except ET.ParseError as e:
        raise InputError(f"{what} is not well-formed XML: {e}") from None
    if root is None:
        raise InputError(f"{what} holds no XML element")
    return root


# --- corosync.conf ----------------------------------------------------------------------------------


class Section:
    """A corosync.conf section: its key/value pairs and subsections in file order."""

    def __init__(self, name: str, line: int) -> None:
        self.name = name
        self.line = line
        self.pairs: list[tuple[str, str, int]] = []
        self.sections: list[Section] = []

    def get(self, key: str, default: str | None = None) -> str | None:
        """The last value of key (corosync lets a later one win)."""
        found = default
        for k, v, _ln in self.pairs:
            if k == key:
                found = v
        return found

    def all(self, name: str) -> list[Section]:
        """Every subsection called name."""
        return [s for s in self.sections if s.name == name]

    def first(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None


class CorosyncError(InputError):
    """corosync.conf does not follow its grammar."""


def parse_corosync(text: str, *, max_depth: int = 16) -> Section:
    """corosync.conf's grammar in one pass: `name {`, `key: value`, `}`, `#` comment lines.

    As corosync's own parser: a line holding `{` opens a section named by what precedes it, a line
    with `:` is a pair split at the first colon, a line `}` closes; anything else is an error."""
    top = Section("", 0)
    stack = [top]
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, _, rest = line.partition("{")
            name = name.strip()
            if rest.strip():
                raise CorosyncError(f"corosync.conf:{n}: text after '{{'")
            if not name or ":" in name:
                raise CorosyncError(f"corosync.conf:{n}: a section needs a name before '{{'")
            if len(stack) > max_depth:
                raise CorosyncError(f"corosync.conf:{n}: sections nested more than {max_depth} deep")
            sec = Section(name, n)
            stack[-1].sections.append(sec)
            stack.append(sec)
        elif ":" in line:
            key, _, value = line.partition(":")
            key = key.strip()
            if not key:
                raise CorosyncError(f"corosync.conf:{n}: a key is missing before ':'")
            stack[-1].pairs.append((key, value.strip(), n))
        elif line == "}":
            if len(stack) == 1:
                raise CorosyncError(f"corosync.conf:{n}: '}}' closes no section")
            stack.pop()
        else:
            raise CorosyncError(f"corosync.conf:{n}: neither 'name {{', 'key: value' nor '}}': {line[:60]!r}")
    if len(stack) > 1:
        raise CorosyncError(f"corosync.conf: section '{stack[-1].name}' opened at line {stack[-1].line} is not closed")
    return top


def _is_address(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    return True


def corosync_findings(conf: Section, cib: ET.Element) -> list[tuple[str, str, str]]:
    """corosync.conf against the CIB: node names and ids, quorum and no-quorum-policy, name, links."""
    out: list[tuple[str, str, str]] = []
    props = properties(cib)
    totem = conf.first("totem") or Section("totem", 0)
    quorum = conf.first("quorum") or Section("quorum", 0)
    nodelist = conf.first("nodelist")
    cib_nodes = nodes(cib)

    # Nodes: Pacemaker takes a node's name from `name:`, else from ring0_addr when it is a name.
    cs_nodes = nodelist.all("node") if nodelist else []
    names, unnamed, ids = [], [], {}
    for nd in cs_nodes:
        ring0 = nd.get("ring0_addr") or ""
        name = nd.get("name") or (ring0 if ring0 and not _is_address(ring0) else None)
        if name:
            names.append(name)
            if nd.get("nodeid"):
                ids[name] = nd.get("nodeid")
        else:
            unnamed.append(f"line {nd.line}")
    step = "corosync.conf: nodes"
    if not cs_nodes:
        out.append((step, "error", "no nodelist { node { ... } }: knet needs one, and Pacemaker takes node names "
                                   "from it"))
    else:
        problems, notes = [], []
        dup = sorted(n for n, k in Counter(names).items() if k > 1)
        if dup:
            problems.append("the same name twice: " + ", ".join(dup))
        cib_names = [u for u, _i in cib_nodes]
        if cib_names:
            name_set, cib_set = set(names), set(cib_names)
            missing = [n for n in cib_names if n not in name_set]
            extra = [n for n in names if n not in cib_set][:20]
            if missing and not unnamed:
                problems.append("in the CIB but not in corosync.conf: " + ", ".join(missing)
                                + " (Pacemaker would never see them join)")
            elif missing:
                notes.append("in the CIB but not named in corosync.conf: " + ", ".join(missing)
                             + f"; the nodes at {', '.join(unnamed)} have no name: and an address as ring0_addr, so "
                             "Pacemaker names them after their host name (uname -n); add name: to compare")
            if extra:
                problems.append("in corosync.conf but not in the CIB: " + ", ".join(extra)
                                + " (Pacemaker adds them when they join, without the CIB's node settings)")
            for uname, nid in cib_nodes:
                if nid and uname in ids and ids[uname] != nid:
                    problems.append(f"{uname} is id {nid} in the CIB but nodeid {ids[uname]} in corosync.conf "
                                    "(Pacemaker would see a second node of that name)")
        elif unnamed:
            notes.append(f"the nodes at {', '.join(unnamed)} have no name: (Pacemaker uses uname -n)")
        if problems:
            out.append((step, "error", "\n".join(problems + notes)))
        elif notes:
            out.append((step, "warning", "\n".join(notes)))
        else:
            out.append((step, "ok", ", ".join(names)))

    # Quorum: two_node for two nodes, with the no-quorum-policy that suits it.
    step = "corosync.conf: quorum"
    count = len(cs_nodes)
    provider = quorum.get("provider")
    two_node = (quorum.get("two_node") or "0").strip()
    qdevice = quorum.first("device") is not None
    nqp = props.get("no-quorum-policy", "stop")
    wait_for_all = quorum.get("wait_for_all")
    if provider != "corosync_votequorum":
        out.append((step, "error", "quorum { provider: corosync_votequorum } is missing: without a quorum provider "
                                   "every partition believes it is the cluster"))
    elif two_node not in ("0", "1"):
        out.append((step, "error", f"two_node: {two_node!r} (0 or 1)"))
    elif count >= 3 and two_node == "1":
        out.append((step, "error", f"two_node: 1 with {count} nodes: two_node is for exactly two nodes; remove it "
                                   "(a majority of three or more survives one failure by itself)"))
    elif count == 2 and two_node == "1" and qdevice:
        out.append((step, "error", "two_node: 1 together with a quorum device: corosync refuses the combination; "
                                   "keep one (the qdevice)"))
    elif count == 2 and two_node == "1":
        detail = [f"two_node: 1 (wait_for_all implied) with no-quorum-policy={nqp}"]
        verdict = "ok"
        if nqp == "ignore":
            verdict = "warning"
            detail.append("no-quorum-policy=ignore is the corosync 1 era's way for two nodes; with two_node the "
                          "survivor keeps quorum anyway, and ignore would also let a node that lost quorum "
                          "(wait_for_all after a cold boot alone) start resources; use stop")
        if wait_for_all == "0":
            verdict = "warning"
            detail.append("wait_for_all: 0: a node booted alone has quorum at once and fences its peer (fence loop); "
                          "leave wait_for_all at its two_node default (1)")
        out.append((step, verdict, "\n".join(detail)))
    elif count == 2 and not qdevice:
        msg = ("two nodes without two_node: 1 and without a quorum device: one node's failure leaves the survivor "
               "with 1 of 2 votes, no quorum")
        if nqp == "ignore":
            out.append((step, "warning", msg + "; no-quorum-policy=ignore keeps it running regardless (and "
                                               "unprotected); add quorum { two_node: 1 } and use "
                                               "no-quorum-policy=stop"))
        else:
            out.append((step, "error", msg + f", so with no-quorum-policy={nqp} it stops everything: add "
                                              "quorum { two_node: 1 }"))
    else:
        out.append((step, "ok", f"{count} node(s), two_node: {two_node}, quorum device: {'yes' if qdevice else 'no'}, "
                                f"no-quorum-policy={nqp}"))

    # Cluster name.
    step = "corosync.conf: cluster name"
    cs_name, cib_name = totem.get("cluster_name"), props.get("cluster-name")
    if not cs_name:
        out.append((step, "warning", "totem { cluster_name } is not set (pcs, DLM and the CIB's cluster-name use it)"))
    elif cib_name and cib_name != cs_name:
        out.append((step, "error", f"totem cluster_name is {cs_name!r} but the CIB's cluster-name is {cib_name!r}"))
    else:
        out.append((step, "ok", cs_name + ("" if cib_name else " (the CIB has no cluster-name; Pacemaker takes "
                                                                 "this one)")))

    # Transport and links: every node needs an address on every link.
    step = "corosync.conf: transport and links"
    transport = totem.get("transport") or "knet"
    if transport not in ("knet", "udp", "udpu"):
        out.append((step, "error", f"transport: {transport!r} (corosync 3 knows knet, udp, udpu)"))
    elif cs_nodes:
        problems = []
        link_re = re.compile(r"ring(\d+)_addr$")
        per_node = []
        for nd in cs_nodes:
            links = {}
            for k, v, _ln in nd.pairs:
                m = link_re.match(k)
                if m:
                    links[int(m.group(1))] = v
            per_node.append((nd, links))
        all_links = sorted({i for _nd, links in per_node for i in links})
        max_links = 8 if transport == "knet" else 1
        if any(i >= max_links for i in all_links):
            problems.append(f"{transport} has links 0..{max_links - 1}; found ring{max(all_links)}_addr")
        for nd, links in per_node:
            label = nd.get("name") or nd.get("ring0_addr") or f"node at line {nd.line}"
            lacking = [f"ring{i}_addr" for i in all_links if i not in links]
            if lacking:
                problems.append(f"{label} has no {', '.join(lacking)}: every node needs an address on every link")
        for i in all_links:
            addrs = [links[i] for _nd, links in per_node if i in links]
            dups = sorted(a for a, k in Counter(addrs).items() if k > 1)[:20]
            if dups:
                problems.append(f"link {i}: the same address for two nodes: {', '.join(dups)}")
        for itf in totem.all("interface"):
            ln = itf.get("linknumber") or itf.get("ringnumber") or "0"
            if not ln.isdigit() or int(ln) not in all_links:
                problems.append(f"totem interface (line {itf.line}) configures link {ln}, which no node has")
        if problems:
            out.append((step, "error", "\n".join(problems)))
        else:
            out.append((step, "ok", f"{transport}, link(s) {', '.join(map(str, all_links))} on every node"))
    return out


# --- the CIB as data --------------------------------------------------------------------------------


def _pairs(elem: ET.Element, block: str) -> dict[str, str]:
    """name -> value of the first nvpair of each name in elem's <block> children (first set wins)."""
    out: dict[str, str] = {}
    for b in elem.findall(block):
        for nv in b.findall("nvpair"):
            name = nv.get("name")
            if name and name not in out and nv.get("value") is not None:
                out[name] = nv.get("value", "")
    return out


def properties(cib: ET.Element) -> dict[str, str]:
    """Cluster properties; the first value of a name wins (rules on property sets are not evaluated)."""
    cfg = cib.find("configuration/crm_config")
    return _pairs(cfg, "cluster_property_set") if cfg is not None else {}


def nodes(cib: ET.Element) -> list[tuple[str, str]]:
    """(uname, id) of the cluster nodes in the CIB (remote and guest nodes left out)."""
    out = []
    for n in cib.findall("configuration/nodes/node"):
        if n.get("uname") and n.get("type", "member") in ("member", "normal"):
            out.append((n.get("uname", ""), n.get("id", "")))
    return out


def is_true(value: str | None, default: bool) -> bool:
    """Pacemaker's crm_is_true."""
    if value is None:
        return default
    return value.strip().lower() in ("true", "on", "yes", "y", "1")


def score(value: str | None) -> int | None:
    """Pacemaker's score: INFINITY and -INFINITY, integers clipped to them; None when unreadable."""
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("infinity", "+infinity"):
        return INFINITY
    if v == "-infinity":
        return -INFINITY
    try:
        return max(-INFINITY, min(INFINITY, int(v)))
    except ValueError:
        return None


def primitives(cib: ET.Element) -> list[tuple[ET.Element, list[ET.Element]]]:
    """Every primitive with its ancestors in the resources section (innermost first)."""
    res = cib.find("configuration/resources")
    out: list[tuple[ET.Element, list[ET.Element]]] = []
    if res is None:
        return out
    stack: list[tuple[ET.Element, list[ET.Element]]] = [(child, []) for child in reversed(list(res))]
    while stack:
        elem, parents = stack.pop()
        if elem.tag == "primitive":
            out.append((elem, parents))
        elif elem.tag in ("group", "clone", "master", "bundle"):
            for child in reversed(list(elem)):
                stack.append((child, [elem, *parents]))
    return out


def _is_promotable(elem: ET.Element) -> bool:
    return elem.tag == "master" or (elem.tag == "clone" and is_true(_pairs(elem, "meta_attributes").get("promotable"),
                                                                    False))


def drbd_promotables(cib: ET.Element) -> list[str]:
    """Ids of promotable clones (or <master>s) of a DRBD agent."""
    out = []
    for prim, parents in primitives(cib):
        if prim.get("type") != "drbd":
            continue
        out += [p.get("id", "") for p in parents if _is_promotable(p)]
    return out


def _split(value: str) -> list[str]:
    return [t for t in re.split(r"[\s,;]+", value.strip()) if t]


def targets(prim: ET.Element, all_nodes: list[str]) -> tuple[set[str] | None, str]:
    """The nodes a fence device can fence (None: decided by the agent at run time) and how we know."""
    params = _pairs(prim, "instance_attributes")
    host_list = _split(params.get("pcmk_host_list", ""))
    # pcmk_host_map: "node1:port;node2:port,port" (entries split by ; or blanks, ports by commas).
    entries = [e for e in re.split(r"[\s;]+", params.get("pcmk_host_map", "").strip()) if e]
    host_map = [re.split(r"[:=]", e, maxsplit=1)[0] for e in entries]
    check = params.get("pcmk_host_check")
    if check is None:
        check = "static-list" if host_list or host_map else "dynamic-list"
    agent = prim.get("type", "")
    if check == "none":
        return set(all_nodes), "pcmk_host_check=none: every node"
    if check == "static-list":
        how = []
        if host_list:
            how.append("pcmk_host_list=" + " ".join(host_list))
        if host_map:
            how.append("pcmk_host_map")
        return set(host_list) | set(host_map), ", ".join(how) or "static-list with no pcmk_host_list/map: nothing"
    if agent in ("fence_sbd", "external/sbd"):
        # SBD's list is the nodes with a slot on the shared disk: every node running sbd.
        return set(all_nodes), "SBD: every node with a slot on the disk"
    return None, f"pcmk_host_check={check}: the agent's answer at run time"


def _rule_matches(rule: ET.Element, node: str) -> bool | None:
    """Whether a location rule selects node; None when it uses more than #uname eq/ne."""
    results = []
    for child in rule:
        if (child.tag != "expression" or child.get("attribute") != "#uname"
                or child.get("operation") not in ("eq", "ne")):
            return None
        eq = child.get("value") == node
        results.append(eq if child.get("operation") == "eq" else not eq)
    if not results:
        return None
    return any(results) if rule.get("boolean-op") == "or" else all(results)


def locations(cib: ET.Element) -> dict[str | None, list[ET.Element]]:
    """rsc_location constraints by the resource id they name (None: those with an rsc-pattern), built once
    so that checking many devices against many constraints stays linear."""
    index: dict[str | None, list[ET.Element]] = {}
    for loc in cib.iter("rsc_location"):
        if loc.get("rsc-pattern"):
            index.setdefault(None, []).append(loc)
            continue
        for rid in {loc.get("rsc")} | {r.get("id") for r in loc.iter("resource_ref")}:
            if rid:
                index.setdefault(rid, []).append(loc)
    return index


def allowed_nodes(prim: ET.Element, parents: list[ET.Element], cib: ET.Element, all_nodes: list[str], *,
                  index: dict[str | None, list[ET.Element]] | None = None,
                  symmetric: bool | None = None) -> tuple[set[str], list[str], list[str]]:
    """(nodes where the resource may run, why the others are excluded, constraints not evaluated)."""
    if index is None:
        index = locations(cib)
    if symmetric is None:
        symmetric = is_true(properties(cib).get("symmetric-cluster"), True)
    banned: dict[str, str] = {}
    preferred: set[str] = set()
    unevaluated = [f"{loc.get('id', '?')} (rsc-pattern)" for loc in index.get(None, [])]
    seen: set[int] = set()
    for loc in [loc for e in [prim, *parents] for loc in index.get(e.get("id"), [])]:
        if id(loc) in seen:
            continue
        seen.add(id(loc))
        cid = loc.get("id", "?")
        if loc.get("node"):
            s = score(loc.get("score"))
            if s is None:
                unevaluated.append(f"{cid} (score {loc.get('score') or loc.get('score-attribute')!r})")
            elif s <= -INFINITY:
                banned.setdefault(loc.get("node", ""), f"{cid}: -INFINITY on {loc.get('node')}")
            elif s >= 0:
                preferred.add(loc.get("node", ""))
        for rule in loc.findall("rule"):
            s = score(rule.get("score"))
            if s is None:
                unevaluated.append(f"{cid} (rule score {rule.get('score') or rule.get('score-attribute')!r})")
                continue
            for n in all_nodes:
                m = _rule_matches(rule, n)
                if m is None:
                    unevaluated.append(f"{cid} (rule {rule.get('id', '?')} beyond #uname eq/ne)")
                    break
                if m and s <= -INFINITY:
                    banned.setdefault(n, f"{cid}: rule {rule.get('id', '?')} -INFINITY on {n}")
                elif m and s >= 0:
                    preferred.add(n)
    allowed = {n for n in all_nodes if n not in banned and (symmetric or n in preferred)}
    why = list(banned.values())
    if not symmetric:
        why += [f"symmetric-cluster=false and no location allows {n}" for n in all_nodes
                if n not in banned and n not in preferred]
    return allowed, why, unevaluated


def fencing_findings(cib: ET.Element) -> list[tuple[str, str, str]]:
    """Whether every node can be fenced by a device that may run on another node."""
    props = properties(cib)
    enabled_value = props.get("stonith-enabled", props.get("fencing-enabled"))
    enabled = is_true(enabled_value, True)
    drbd = drbd_promotables(cib)
    node_names = [u for u, _i in nodes(cib)]
    if not enabled:
        if drbd:
            return [("fencing", "error",
                     f"stonith-enabled={enabled_value} with promotable DRBD ({', '.join(drbd)}): when the nodes lose "
                     "sight of each other each one promotes DRBD (split brain) and the data diverges. Enable fencing "
                     "with a device per node, and DRBD's 'fencing resource-and-stonith' with the crm-fence-peer.9.sh "
                     "handler")]
        return [("fencing", "warning",
                 f"stonith-enabled={enabled_value}: a node that stops answering is assumed dead; a resource it still "
                 "runs can then run twice. Acceptable for a test cluster only")]
    devices = [(p, parents) for p, parents in primitives(cib) if p.get("class") == "stonith"]
    if not devices:
        if props.get("stonith-watchdog-timeout", "0").strip() not in ("", "0", "0s"):
            return [("fencing", "warning", "no fence device, stonith-watchdog-timeout set: watchdog-only (diskless) "
                                           "SBD; nodes fence themselves, which needs sbd and a watchdog on every node")]
        return [("fencing", "error", "stonith-enabled is true (the default) and no fence device (class stonith) is "
                                     "configured: Pacemaker starts no resource; add one device per node")]
    out: list[tuple[str, str, str]] = []
    if not node_names:
        return [("fencing", "warning", "the CIB names no nodes: which node each device fences is not checked")]
    info = []
    notes = set()
    index = locations(cib)
    symmetric = is_true(props.get("symmetric-cluster"), True)
    for prim, parents in devices:
        meta = {}
        for e in reversed([prim, *parents]):
            meta.update(_pairs(e, "meta_attributes"))
        if meta.get("target-role", "").lower() == "stopped":
            notes.add(f"{prim.get('id')} is disabled (target-role=Stopped) and fences nothing")
            continue
        tgt, how = targets(prim, node_names)
        allowed, why, unevaluated = allowed_nodes(prim, parents, cib, node_names, index=index, symmetric=symmetric)
        for u in unevaluated:
            notes.add(f"{prim.get('id')}: location {u} not evaluated")
        how = how if len(how) <= 100 else how[:100] + "..."
        info.append((prim.get("id", "?"), prim.get("type", "?"), tgt, how, allowed, why))
    shown = 8  # lines per verdict and node; the rest are counted (thousands of devices stay fast)
    for node in node_names:
        step = f"fencing of {node}"
        good: list[str] = []
        maybe: list[str] = []
        bad: list[str] = []
        more = {"good": 0, "maybe": 0, "bad": 0}
        for rid, agent, tgt, how, allowed, why in info:
            can_run_elsewhere = len(allowed) > (1 if node in allowed else 0)
            if (tgt is not None and node not in tgt) or not can_run_elsewhere:
                kind = "bad"
            elif tgt is None:
                kind = "maybe"
            else:
                kind = "good"
            lines = {"good": good, "maybe": maybe, "bad": bad}[kind]
            if len(lines) >= shown:
                more[kind] += 1
                continue
            rest = sorted(allowed - {node})
            others = ", ".join(rest[:4]) + (f" (+{len(rest) - 4} more)" if len(rest) > 4 else "")
            if tgt is not None and node not in tgt:
                lines.append(f"{rid} ({agent}) does not target {node} ({how})")
            elif not can_run_elsewhere:
                reason = "; ".join(why) if why else "no other node"
                lines.append(f"{rid} ({agent}) targets {node} but can run only on "
                             + (node if node in allowed else "no node") + f" ({reason}): a node cannot fence itself")
            elif tgt is None:
                lines.append(f"{rid} ({agent}) may fence {node} from {others}: {how}")
            else:
                lines.append(f"{rid} ({agent}, {how}) fences {node} from {others}")
        for kind, lines in (("good", good), ("maybe", maybe), ("bad", bad)):
            if more[kind]:
                lines.append(f"... and {more[kind]} more")
        if good:
            out.append((step, "ok", "\n".join(good)))
        elif maybe:
            out.append((step, "warning", "\n".join(maybe) + "\nset pcmk_host_list or pcmk_host_map so that this can "
                                                            "be checked"))
        else:
            out.append((step, "error", f"no device can fence {node} from another node:\n" + "\n".join(bad)))
    if len(node_names) == 2 and not props.get("priority-fencing-delay") and not any(
            {"pcmk_delay_max", "pcmk_delay_base"} & set(_pairs(p, "instance_attributes")) for p, _ in devices):
        notes.add("two nodes and no pcmk_delay_max/pcmk_delay_base or priority-fencing-delay: after a split both "
                  "may fence each other at once (fence race)")
    if notes:
        out.append(("fencing", "warning", "\n".join(sorted(notes))))
    return out


# --- the pipeline -----------------------------------------------------------------------------------


def _installed_schemas(directory: str) -> dict[tuple[int, int], str]:
    installed = {}
    try:
        for name in os.listdir(directory):
            m = re.fullmatch(r"pacemaker-(\d+)\.(\d+)\.rng", name)
            if m:
                installed[(int(m.group(1)), int(m.group(2)))] = os.path.join(directory, name)
    except OSError:
        pass
    return installed


def newer_than_installed(validate_with: str | None, directory: str = SCHEMA_DIR) -> str:
    """Why this host cannot check a CIB whose validate-with is newer than every installed schema ("" when
    it can): its Pacemaker is older than the one the CIB was written for."""
    m = re.fullmatch(r"pacemaker-(\d+)\.(\d+)", validate_with or "")
    installed = _installed_schemas(directory)
    if not m or not installed or (int(m.group(1)), int(m.group(2))) <= max(installed):
        return ""
    newest = os.path.basename(installed[max(installed)])[:-len(".rng")]
    return (f"validate-with={validate_with} is newer than this host's Pacemaker (newest schema {newest}): its tools "
            "would reject what that Pacemaker accepts; run `ocfkit crm check` on a node with the CIB's Pacemaker "
            "(pacemaker-4.0 is Pacemaker 3.0's)")


def schema_for(validate_with: str | None, directory: str = SCHEMA_DIR) -> tuple[str | None, str]:
    """The RNG file to validate against, and a note when it is not the one the CIB names."""
    installed = _installed_schemas(directory)
    newest = installed[max(installed)] if installed else None
    m = re.fullmatch(r"pacemaker-(\d+)\.(\d+)", validate_with or "")
    if m and (int(m.group(1)), int(m.group(2))) in installed:
        return installed[(int(m.group(1)), int(m.group(2)))], ""
    if newest is None:
        return None, f"no pacemaker-*.rng in {directory}"
    return newest, (f"validate-with={validate_with} is not installed here; validating against the newest installed "
                    f"schema, {os.path.basename(newest)}")


def placement(sim_xml: str) -> dict[str, list[tuple[str, str]]]:
    """Top-level resource id -> [(node, role)] from crm_simulate's --output-as=xml status."""
    root = parse_xml(sim_xml.encode(), "crm_simulate's output", max_depth=32, max_elements=10 * MAX_ELEMENTS)
    res = root.find("cluster_status/resources")
    out: dict[str, list[tuple[str, str]]] = {}
    for top in (res if res is not None else []):
        rid = top.get("id", "")
        found: list[tuple[str, str]] = []
        stack = [top]
        while stack:
            e = stack.pop()
            if e.tag == "resource":
                role = ROLE_NAMES.get(e.get("role", ""), e.get("role", ""))
                for n in e.findall("node"):
                    if (n.get("name", ""), role) not in found:
                        found.append((n.get("name", ""), role))
            else:
                stack.extend(reversed(list(e)))
        out[rid] = found
    return out


def _describe(places: list[tuple[str, str]]) -> str:
    return ", ".join(n + (" (Promoted)" if role == "Promoted" else "") for n, role in places) or "stopped"


class _Steps:
    """Runs the tools with a per-step timeout inside one deadline, and reports what went wrong."""

    def __init__(self, run, rep: Report, deadline: float, hide: str, show: str) -> None:
        self.run, self.rep, self.deadline, self.hide, self.show = run, rep, deadline, hide, show

    def __call__(self, step: str, argv: list[str], ok=(0,)):
        from ocf.errors import CommandError, CommandTimeout, NotInstalledError

        left = self.deadline - time.monotonic()
        if left < 1:
            self.rep.add(step, "error", "the check's total time limit was reached before this step")
            return None
        limit = min(STEP_TIMEOUT, left)
        try:
            r = self.run(argv, ok=ok, timeout=limit)
        except CommandTimeout:
            self.rep.add(step, "error", f"{argv[0]} did not finish within {limit:.0f} s and was stopped")
            return None
        except CommandError as e:
            self.rep.add(step, "error", str(e).replace(self.hide, self.show))
            return None
        except NotInstalledError:
            self.rep.add(step, "error", f"{argv[0]} is not installed (Debian: pacemaker-cli-utils, libxml2-utils)")
            return None
        r.stdout = r.stdout.replace(self.hide, self.show)
        r.stderr = r.stderr.replace(self.hide, self.show)
        return r


def _inject_promotion_scores(sim: ET.Element, promotables: list[str]) -> None:
    """What DRBD's agent does on UpToDate disks (crm_attribute -l reboot), done in the status section."""
    for ns in sim.iter("node_state"):
        ta = ns.find("transient_attributes")
        if ta is None:
            ta = ET.SubElement(ns, "transient_attributes", id=ns.get("id", ""))
        ia = ta.find("instance_attributes")
        if ia is None:
            ia = ET.SubElement(ta, "instance_attributes", id=f"status-{ns.get('id', '')}")
        for rid in promotables:
            ET.SubElement(ia, "nvpair", id=f"status-{ns.get('id', '')}-master-{rid}", name=f"master-{rid}",
                          value="1000")


def check(path: str, *, fail_node: str | None = None, corosync: str | None = None, run=None,
          timeout: float = DEADLINE) -> Report:
    """Check a CIB file; corosync.conf from corosync, else from beside the CIB when one is there."""
    if run is None:
        from ocf.exec import run
    rep = Report()
    deadline = time.monotonic() + timeout
    try:
        data = read_regular(path, MAX_CIB_BYTES, "CIB")
        cib = parse_xml(data, f"CIB {path}")
    except InputError as e:
        rep.add("input", "error", str(e))
        return rep
    if cib.tag != "cib":
        rep.add("input", "error", f"CIB {path}: the root element is <{cib.tag[:40]}>, not <cib>")
        return rep
    count = sum(1 for _ in primitives(cib))
    if count > MAX_RESOURCES or len(nodes(cib)) > MAX_NODES:
        rep.add("input", "error", f"{count} primitives and {len(nodes(cib))} nodes: more than this check handles "
                                  f"({MAX_RESOURCES} and {MAX_NODES})")
        return rep
    rep.add("input", "ok", f"{len(data)} bytes, {count} primitives, {len(nodes(cib))} nodes")
    work = tempfile.mkdtemp(prefix="ocfkit-crm-check-")
    try:
        copy = os.path.join(work, "cib.xml")
        with open(copy, "wb") as f:
            f.write(data)
        step = _Steps(run, rep, deadline, copy, path)
        well_formed = _tools(step, rep, cib, copy)
        _fencing_and_corosync(rep, cib, path, corosync)
        if well_formed:
            _simulate(step, rep, cib, copy, work=work, fail_node=fail_node)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep


def _tools(step: _Steps, rep: Report, cib: ET.Element, copy: str) -> bool:
    """xmllint, the schema, crm_verify; False when the file is not fit for the simulation."""
    r = step("well-formed XML (xmllint)", ["xmllint", "--noout", "--nonet", copy], ok=range(256))
    if r is None or r.returncode != 0:
        if r is not None:
            rep.add("well-formed XML (xmllint)", "error", r.stderr)
        return False
    rep.add("well-formed XML (xmllint)", "ok")
    validate_with = cib.get("validate-with")
    newer = newer_than_installed(validate_with)
    if newer:
        # A CIB for a newer Pacemaker (3.0's pacemaker-4.0 on a 2.1 host): the older schema and tools reject
        # what is valid there, so their errors would be about this host, not the configuration.
        rep.add("schema", "skipped", newer)
        rep.add("crm_verify", "skipped", "as the schema")
        rep.add("crm_simulate", "skipped", "as the schema")
        return False
    if not validate_with or validate_with == "none":
        rep.add("schema", "error", f"validate-with={validate_with or '(unset)'}: Pacemaker would skip schema "
                                   "validation entirely (dangling references pass)")
    else:
        schema, note = schema_for(validate_with)
        if schema is None:
            rep.add("schema", "error", note)
        else:
            r = step("schema", ["xmllint", "--noout", "--nonet", "--relaxng", schema, copy], ok=range(256))
            if r is not None:
                name = f"schema ({os.path.basename(schema)})"
                verdict = "ok" if r.returncode == 0 else "error"
                if verdict == "ok" and note:
                    verdict = "warning"
                rep.add(name, verdict, "\n".join(x for x in (note, "" if r.returncode == 0 else r.stderr) if x))
    r = step("crm_verify", ["crm_verify", "-VV", "-x", copy], ok=range(256))
    if r is None:
        return False
    text = r.stdout + r.stderr
    if r.returncode == 0:
        rep.add("crm_verify", "ok")
    elif "Errors found" in text or "invalid (with errors)" in text or \
            ("error" in text.lower() and "warning" not in text.lower()):  # 2.1: "Errors found", 3.0: "(with errors)"
        rep.add("crm_verify", "error", text)
    else:
        if "unclean but cannot be fenced" in text or "lack of quorum" in text:
            text += "\n(expected for a CIB without status: the check after the simulated cold start decides)"
        rep.add("crm_verify", "warning", text)
    return True


def _fencing_and_corosync(rep: Report, cib: ET.Element, path: str, corosync: str | None) -> None:
    for finding in fencing_findings(cib):
        rep.add(*finding)
    if corosync is None:
        beside = os.path.join(os.path.dirname(os.path.abspath(path)), "corosync.conf")
        if not os.path.lexists(beside):
            rep.add("corosync.conf", "info", "not given (--corosync) and none beside the CIB: membership not checked")
            return
        corosync = beside
        rep.add("corosync.conf", "info", f"using {beside} (found beside the CIB)")
    try:
        conf = parse_corosync(read_regular(corosync, MAX_COROSYNC_BYTES, "corosync.conf").decode("utf-8", "replace"))
    except InputError as e:
        rep.add("corosync.conf", "error", str(e))
        return
    for finding in corosync_findings(conf, cib):
        rep.add(*finding)


def _simulate(step: _Steps, rep: Report, cib: ET.Element, copy: str, *, work: str, fail_node: str | None) -> None:
    names = [u for u, _i in nodes(cib)]
    if not names:
        rep.add("crm_simulate", "error", "no nodes in the configuration")
        return
    if fail_node is not None and fail_node not in names:
        rep.add("crm_simulate", "error", f"--fail-node {fail_node}: not a node of the CIB ({', '.join(names)})")
        return
    sim1, sim2, sim3 = (os.path.join(work, f"sim{i}.xml") for i in (1, 2, 3))
    unsafe = [n for n in names + ([fail_node] if fail_node else []) if not NODE_NAME.fullmatch(n)]
    if unsafe:
        rep.add("crm_simulate", "error", "node names this check does not pass to crm_simulate: "
                + ", ".join(repr(n[:40]) for n in unsafe[:5]) + " (letters, digits, '.', '_', '-'; not a leading '-')")
        return
    up = [f"--node-up={n}" for n in names]
    r = step("crm_simulate (cold start)", ["crm_simulate", "-x", copy, "-S", *up, "-q", "1", "-O", sim1], ok=range(256))
    if r is None:
        return
    if r.returncode != 0:
        rep.add("crm_simulate (cold start)", "error", r.stdout + r.stderr)
        return
    try:
        sim = parse_xml(read_regular(sim1, MAX_TOOL_OUTPUT_BYTES, "simulated CIB"), "simulated CIB")
    except InputError as e:
        rep.add("crm_simulate (cold start)", "error", str(e))
        return
    _inject_promotion_scores(sim, _promotable_primitives(cib))
    ET.ElementTree(sim).write(sim1, encoding="utf-8", xml_declaration=False)
    r = step("crm_simulate (cold start)", ["crm_simulate", "-x", sim1, "-S", "-q", "1", "-O", sim2], ok=range(256))
    if r is None:
        return
    placed = _locate(step, rep, "crm_simulate (cold start)", sim2)
    if placed is None:
        return
    stonith = {p.get("id") for p, parents in primitives(cib) if p.get("class") == "stonith" and not parents}
    rep.placement = {k: _describe(v) for k, v in placed.items()}
    stopped = [k for k, v in placed.items() if not v and k not in stonith]
    rep.add("crm_simulate (cold start, promotion scores injected)", "ok" if not stopped else "warning",
            ("stays stopped: " + ", ".join(stopped)) if stopped else "")
    r = step("crm_verify (after the cold start)", ["crm_verify", "-V", "-x", sim2], ok=range(256))
    if r is not None:
        rep.add("crm_verify (after the cold start)", "ok" if r.returncode == 0 else "error",
                "" if r.returncode == 0 else r.stdout + r.stderr)
    # Fail the node that runs the services: where a single-instance resource (a group) runs.
    single = [v[0][0] for k, v in placed.items() if len(v) == 1 and k not in stonith]
    target = fail_node or (single[0] if single else names[0])
    r = step(f"crm_simulate (failure of {target})",
             ["crm_simulate", "-x", sim2, "-S", f"--node-fail={target}", "-q", "1", "-O", sim3], ok=range(256))
    if r is None:
        return
    after = _locate(step, rep, f"crm_simulate (failure of {target})", sim3)
    if after is None:
        return
    rep.after_failure = {k: _describe(v) for k, v in after.items()}
    still = [k for k, v in after.items() if any(n == target for n, _r in v)]
    fenced = f"Fence (reboot) {target}" in r.stdout or f"Fencing {target}" in r.stdout
    detail = []
    if still:
        detail.append("still on the failed node: " + ", ".join(still))
    if stonith and not fenced:
        detail.append(f"{target} was not fenced")
    rep.add(f"crm_simulate (failure of {target})", "error" if detail else "ok",
            "\n".join(detail) or (f"{target} fenced" if fenced else ""))


def _promotable_primitives(cib: ET.Element) -> list[str]:
    """Primitives of promotable clones: their agents (DRBD's) set the promotion scores."""
    out = []
    for prim, parents in primitives(cib):
        if any(_is_promotable(p) for p in parents):
            out.append(prim.get("id", ""))
    return out


def _locate(step: _Steps, rep: Report, name: str, sim: str) -> dict[str, list[tuple[str, str]]] | None:
    r = step(name, ["crm_simulate", "-x", sim, "--output-as=xml"], ok=range(256))
    if r is None:
        return None
    if r.returncode != 0:
        rep.add(name, "error", r.stdout + r.stderr)
        return None
    try:
        return placement(r.stdout)
    except InputError as e:
        rep.add(name, "error", str(e))
        return None


def locate(path: str, *, run=None, timeout: float = STEP_TIMEOUT) -> dict[str, str]:
    """resource id -> "node[, node...]" (Promoted marked) for every top-level resource of a status CIB,
    from one crm_simulate call (crm_resource --locate per resource would start a process each)."""
    if run is None:
        from ocf.exec import run
    r = run(["crm_simulate", "-x", path, "--output-as=xml"], timeout=timeout)
    return {k: _describe(v) for k, v in placement(r.stdout).items()}
