"""The cluster model: what a Pacemaker configuration holds, as frozen dataclasses.

Renderers (crmsh text, CIB XML, pcs commands) take a Cluster; they describe the same cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Op:
    """An operation: name, interval and timeout in seconds, optional role (Promoted/Unpromoted)."""

    name: str
    interval: int = 0
    timeout: int = 20
    role: str = ""


@dataclass(frozen=True)
class Primitive:
    """A resource: id, agent "class:provider:type" (or "lsb:name"), parameters, meta attributes, ops."""

    id: str
    agent: str
    params: tuple[tuple[str, str], ...] = ()
    meta: tuple[tuple[str, str], ...] = ()
    ops: tuple[Op, ...] = ()

    @property
    def standard(self) -> str:
        """ocf, lsb, stonith..."""
        return self.agent.split(":")[0]

    @property
    def provider(self) -> str:
        """The OCF provider ("" for other standards)."""
        parts = self.agent.split(":")
        return parts[1] if len(parts) == 3 else ""

    @property
    def type(self) -> str:
        """The agent type."""
        return self.agent.split(":")[-1]


@dataclass(frozen=True)
class Group:
    """Members started in order, stopped in reverse, kept together."""

    id: str
    members: tuple[Primitive, ...]


@dataclass(frozen=True)
class Clone:
    """A clone (promotable when promotable=True) of one primitive or group."""

    id: str
    child: Primitive | Group
    meta: tuple[tuple[str, str], ...] = ()
    promotable: bool = False


@dataclass(frozen=True)
class Location:
    """Prefer (or avoid) a node; with role, only for that role (a rule on #uname)."""

    id: str
    rsc: str
    node: str
    score: str
    role: str = ""


@dataclass(frozen=True)
class Colocation:
    """rsc runs where with_rsc runs (in the given roles)."""

    id: str
    rsc: str
    with_rsc: str
    score: str = "INFINITY"
    rsc_role: str = ""
    with_role: str = ""


@dataclass(frozen=True)
class Order:
    """first (first_action) before then (then_action)."""

    id: str
    first: str
    then: str
    first_action: str = "start"
    then_action: str = "start"
    kind: str = "Mandatory"


@dataclass(frozen=True)
class Cluster:
    """A whole configuration."""

    name: str
    nodes: tuple[str, ...]
    resources: tuple[Primitive | Group | Clone, ...] = ()
    locations: tuple[Location, ...] = ()
    colocations: tuple[Colocation, ...] = ()
    orders: tuple[Order, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    rsc_defaults: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)
    # Why the configuration is what it is (fencing timings, inferred dependencies): comments in every rendering.
    notes: tuple[str, ...] = field(default=(), compare=False)
    # (primitive id, parameter name) of values that are secrets: masked() hides them.
    secrets: tuple[tuple[str, str], ...] = field(default=(), compare=False)


MASK = "********"


def masked(c: Cluster) -> Cluster:
    """The same cluster with every secret parameter value replaced by MASK (for anything shown to a person
    or written outside the 0600 files that must hold the secrets)."""
    from dataclasses import replace

    hidden = set(c.secrets)
    if not hidden:
        return c

    def prim(p: Primitive) -> Primitive:
        return replace(p, params=tuple((k, MASK if (p.id, k) in hidden else v) for k, v in p.params))

    def res(r):
        if isinstance(r, Primitive):
            return prim(r)
        if isinstance(r, Group):
            return replace(r, members=tuple(prim(m) for m in r.members))
        return replace(r, child=res(r.child))

    return replace(c, resources=tuple(res(r) for r in c.resources))


def default_ops(agent: str) -> tuple[Op, ...]:
    """Monitor (and for promotable DRBD, start/stop) operations from the agent's meta-data when ocfkit
    has the agent, else the ClusterLabs agents' documented defaults."""
    std, _, rest = agent.partition(":")
    typ = rest.split(":")[-1]
    if typ == "drbd":
        # Pacemaker tells operations apart by interval only: the roles need different intervals.
        # Every action with the agent's advertised timeout: without an op, Pacemaker gives promote, demote
        # and notify its 20 s default, too short for crm-fence-peer on a loaded node (seen in the guests).
        return (Op("monitor", 29, 20, "Promoted"), Op("monitor", 31, 20, "Unpromoted"),
                Op("start", 0, 240), Op("stop", 0, 100), Op("promote", 0, 90), Op("demote", 0, 90),
                Op("notify", 0, 90))
    if std == "ocf" and rest.split(":")[0].startswith("ocfkit"):
        try:
            from agents import AGENTS, agent_class

            if typ in AGENTS:
                klass = agent_class(typ)
                adverts = klass._actions.get("monitor", ("", []))[1]
                if adverts and adverts[0]["interval"]:
                    return (Op("monitor", int(adverts[0]["interval"]), int(adverts[0]["timeout"])),)
        except ImportError:
            pass
    defaults = {"IPaddr2": (10, 20), "Filesystem": (20, 40), "portblock": (10, 20), "LVM": (30, 30),
                "LVM-activate": (30, 90), "iSCSITarget": (10, 10), "iSCSILogicalUnit": (10, 10)}
    if typ in defaults:
        return (Op("monitor", *defaults[typ]),)
    if std == "lsb":
        return (Op("monitor", 30, 30),)
    return (Op("monitor", 10, 20),)


def scale_timeouts(c: Cluster, factor: int) -> Cluster:
    """Every operation timeout of every primitive (in groups and clones too, fence devices included)
    multiplied by factor: for slow nodes (emulated guests, overloaded hosts), where the agents' own
    timeouts would fail operations that are only slow. A primitive without a start or stop operation
    gets one with Pacemaker's default (20 s) times factor: that default is what it would run with,
    and a start that times out is fatal on the node (start-failure-is-fatal)."""
    from dataclasses import replace

    def prim(p: Primitive) -> Primitive:
        have = {o.name for o in p.ops}
        ops = p.ops + tuple(Op(name, 0, 20) for name in ("start", "stop") if name not in have)
        return replace(p, ops=tuple(replace(o, timeout=o.timeout * factor) for o in ops))

    def any_(r):
        if isinstance(r, Primitive):
            return prim(r)
        if isinstance(r, Group):
            return replace(r, members=tuple(prim(m) for m in r.members))
        if isinstance(r, Clone):
            return replace(r, child=any_(r.child))
        return r

    return replace(c, resources=tuple(any_(r) for r in c.resources))
