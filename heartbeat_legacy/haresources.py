"""haresources (heartbeat v1): parse and write, as data.

Grammar (heartbeat 3.0.6 ResourceManager): `#` starts a comment anywhere; a trailing backslash
joins the next line; blanks collapse. A logical line is `NODE RES1 RES2 ...`, one resource group
whose first resource is its key. A resource is `Name::arg::arg...`; a bare IPv4 address (with
`/bits/nic/broadcast`) means `IPaddr::<token>`.
"""

from __future__ import annotations


class HaresourcesError(ValueError):
    """A syntax error, with the 1-based line and column it was found at."""

    def __init__(self, line: int, col: int, msg: str) -> None:
        super().__init__(f"line {line}, column {col}: {msg}")
        self.line, self.col, self.msg = line, col, msg


class Resource:
    """One resource token: script name and positional arguments."""

    __slots__ = ("name", "args", "line", "col")

    def __init__(self, name: str, args: tuple[str, ...] = (), *, line: int = 0, col: int = 0) -> None:
        self.name, self.args, self.line, self.col = name, tuple(args), line, col

    @property
    def token(self) -> str:
        """The canonical token (a bare IP stays bare)."""
        if self.name == "IPaddr" and len(self.args) == 1 and _is_bare_ip(self.args[0]):
            return self.args[0]
        return "::".join((self.name, *self.args))

    def __eq__(self, other) -> bool:
        return isinstance(other, Resource) and (self.name, self.args) == (other.name, other.args)

    def __hash__(self) -> int:
        return hash((self.name, self.args))

    def __repr__(self) -> str:
        return f"Resource({self.token!r})"


class Group:
    """One haresources line: the preferred node and its resources, started left to right."""

    __slots__ = ("node", "resources", "line")

    def __init__(self, node: str, resources: list[Resource], *, line: int = 0) -> None:
        self.node, self.resources, self.line = node, resources, line

    @property
    def key(self) -> str:
        """The group key: its first resource."""
        return self.resources[0].token

    def __repr__(self) -> str:
        return f"Group({self.node!r}, {self.resources!r})"


def _is_bare_ip(token: str) -> bool:
    # heartbeat's canonname glob [0-9]*.[0-9]*.[0-9]*.[0-9]*
    head = token.split("/", 1)[0]
    parts = head.split(".")
    return len(parts) == 4 and all(p[:1].isdigit() for p in parts)


def parse_resource(token: str, *, line: int = 0, col: int = 0) -> Resource:
    """Parse one resource token."""
    if _is_bare_ip(token):
        return Resource("IPaddr", (token,), line=line, col=col)
    name, _, rest = token.partition("::")
    if not name:
        raise HaresourcesError(line, col, f"resource {token!r} has no script name")
    args = tuple(rest.split("::")) if rest else ()
    for i, a in enumerate(args):
        if a == "":
            raise HaresourcesError(line, col, f"resource {token!r}: argument {i + 1} is empty")
    return Resource(name, args, line=line, col=col)


def parse(text: str) -> list[Group]:
    """Parse haresources text into groups; HaresourcesError names the line and column."""
    groups: list[Group] = []
    keys: dict[str, int] = {}
    pending = ""
    start = 0
    positions: list[tuple[int, int]] = []  # (line, column offset) of each char run of a logical line
    lines = text.splitlines()
    for number, raw in enumerate(lines, start=1):
        body = raw.split("#", 1)[0]
        cont = body.rstrip().endswith("\\")
        if cont:
            body = body.rstrip()[:-1]
        if not pending:
            start = number
            positions = []
        positions.append((number, len(pending)))
        pending += body + " "
        if cont and number < len(lines):
            continue
        logical, pending = pending, ""
        words = _words_with_columns(logical)
        if not words:
            continue

        def where(offset: int, positions=positions) -> tuple[int, int]:
            ln, base = positions[0]
            for p_ln, p_base in positions:
                if p_base <= offset:
                    ln, base = p_ln, p_base
            return ln, offset - base + 1

        (node, node_off), rest = words[0], words[1:]
        if not rest:
            ln, col = where(node_off)
            raise HaresourcesError(ln, col, f"node {node!r} has no resources")
        resources = [parse_resource(w, line=where(off)[0], col=where(off)[1]) for w, off in rest]
        group = Group(node, resources, line=start)
        if group.key in keys:
            ln, col = where(rest[0][1])
            raise HaresourcesError(ln, col, f"group key {group.key} is already used on line {keys[group.key]}")
        keys[group.key] = start
        groups.append(group)
    return groups


def _words_with_columns(text: str) -> list[tuple[str, int]]:
    out, i = [], 0
    while i < len(text):
        if text[i] in " \t":
            i += 1
            continue
        j = i
        while j < len(text) and text[j] not in " \t":
            j += 1
        out.append((text[i:j], i))
        i = j
    return out


def dump(groups: list[Group]) -> str:
    """Write groups as haresources text, one line per group."""
    return "".join(f"{g.node} {' '.join(r.token for r in g.resources)}\n" for g in groups)


def groups_for(groups: list[Group], node: str) -> list[Group]:
    """The groups whose preferred node is node (case-insensitive, as heartbeat compares)."""
    return [g for g in groups if g.node.lower() == node.lower()]
