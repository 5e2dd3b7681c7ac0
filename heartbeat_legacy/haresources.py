"""haresources (heartbeat v1): parse and write, as data.

Grammar (heartbeat 3.0.6 ResourceManager): `#` starts a comment anywhere; a trailing backslash
joins the next line; blanks collapse. A logical line is `NODE RES1 RES2 ...`, one resource group
whose first resource is its key. A resource is `Name::arg::arg...`; a bare IPv4 address (with
`/bits/nic/broadcast`) means `IPaddr::<token>`.
"""

from __future__ import annotations

from heartbeat_legacy.files import split_lines


class HaresourcesError(ValueError):
    """A syntax error, with the 1-based line and column it was found at."""

    def __init__(self, line: int, col: int, msg: str) -> None:
        if len(msg) > 300:  # a hostile file's megabyte-long word would make a megabyte-long message
            msg = msg[:200] + "... (" + str(len(msg) - 200) + " more characters)"
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
    """Parse haresources text into groups; HaresourcesError names the line and column.

    Linear in the text: each physical line is split into words once, with its own line and column,
    and a continued logical line only collects those words."""
    groups: list[Group] = []
    keys: dict[str, int] = {}
    words: list[tuple[str, int, int]] = []  # (word, line, column) of the logical line being read
    start = 0
    lines = split_lines(text)
    for number, raw in enumerate(lines, start=1):
        body = raw.split("#", 1)[0].rstrip()
        cont = body.endswith("\\")
        if cont:
            body = body[:-1]
        if not words:
            start = number
        words.extend((w, number, col) for w, col in _words_with_columns(body))
        if cont and number < len(lines):
            continue
        logical, words = words, []
        if not logical:
            continue
        (node, node_ln, node_col), rest = logical[0], logical[1:]
        if not rest:
            raise HaresourcesError(node_ln, node_col, f"node {node!r} has no resources")
        resources = [parse_resource(w, line=ln, col=col) for w, ln, col in rest]
        group = Group(node, resources, line=start)
        if group.key in keys:
            raise HaresourcesError(rest[0][1], rest[0][2],
                                   f"group key {group.key} is already used on line {keys[group.key]}")
        keys[group.key] = start
        groups.append(group)
    return groups


def _words_with_columns(text: str) -> list[tuple[str, int]]:
    """The blank-separated words of one physical line with their 1-based columns."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text[i] in " \t":
            i += 1
            continue
        j = i
        while j < n and text[j] not in " \t":
            j += 1
        out.append((text[i:j], i + 1))
        i = j
    return out


def dump(groups: list[Group]) -> str:
    """Write groups as haresources text, one line per group."""
    return "".join(f"{g.node} {' '.join(r.token for r in g.resources)}\n" for g in groups)


def groups_for(groups: list[Group], node: str) -> list[Group]:
    """The groups whose preferred node is node (case-insensitive, as heartbeat compares)."""
    return [g for g in groups if g.node.lower() == node.lower()]
