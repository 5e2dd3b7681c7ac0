"""Fencing from a description's `[fencing]` part: SBD on a shared disk, or fence agents by name.

A two-node cluster with DRBD must be able to fence: a peer that looks dead may still write, and
Pacemaker starts nothing while `stonith-enabled=true` has no device (crm_verify: "Resource start-up
disabled since no STONITH resources have been defined"). So a description either gives fencing or
says `fencing = "none"` (test clusters only); nothing in between.

The plan this module makes is data: stonith primitives, the location rules that keep a device off
the only node it fences, cluster properties (stonith-timeout), the secrets to mask, the explanations
that go into the outputs as comments, the /etc/default/sbd settings and the set-up steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from crm.model import Location, Op, Primitive

# Parameter names that hold a secret whatever agent they belong to (fence-agents' names).
SECRET_NAMES = frozenset({"password", "passwd", "snmp_priv_passwd", "snmp_auth_prot_passwd", "community"})
# Parameters pacemaker-fenced itself understands on every device (`pacemaker-fenced metadata`).
PCMK_PARAMS = frozenset({
    "pcmk_host_argument", "pcmk_host_map", "pcmk_host_list", "pcmk_host_check", "pcmk_delay_max",
    "pcmk_delay_base", "pcmk_action_limit", "pcmk_reboot_action", "pcmk_reboot_timeout", "pcmk_reboot_retries",
    "pcmk_off_action", "pcmk_off_timeout", "pcmk_off_retries", "pcmk_on_action", "pcmk_on_timeout",
    "pcmk_on_retries", "pcmk_list_action", "pcmk_list_timeout", "pcmk_list_retries", "pcmk_monitor_action",
    "pcmk_monitor_timeout", "pcmk_monitor_retries", "pcmk_status_action", "pcmk_status_timeout",
    "pcmk_status_retries"})
# Required by the fence agents' meta-data, but given by Pacemaker per fencing request.
_SUPPLIED = frozenset({"action", "plug", "port", "nodename"})
SBD_KEYS = frozenset({"devices", "watchdog", "watchdog_timeout", "msgwait", "delay_max", "startmode",
                      "stonith_timeout", "monitor_interval"})
DEVICE_KEYS = frozenset({"id", "agent", "fences", "host_map", "params", "secrets", "monitor_interval"})


class FencingError(ValueError):
    """The fencing part is incomplete or wrong; the message names the key."""


@dataclass(frozen=True)
class Plan:
    """What the fencing part yields."""

    primitives: tuple[Primitive, ...] = ()
    locations: tuple[Location, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    secrets: tuple[tuple[str, str], ...] = ()  # (primitive id, parameter name)
    notes: tuple[str, ...] = ()
    sbd_settings: str = ""
    steps: tuple[str, ...] = ()
    enabled: bool = True


def agent_parameters(run, agent: str) -> tuple[set[str], list[set[str]]] | None:
    """(parameter names, groups of names one of which is required) from `/usr/sbin/AGENT -o metadata`,
    or None when the agent is not installed here. A required parameter is satisfied by the names it
    obsoletes or that obsolete it (fence-agents keep `ip`/`ipaddr`, `username`/`login` as aliases)."""
    import xml.etree.ElementTree as ET

    from ocf.errors import CommandError, NotInstalledError

    try:
        r = run([f"/usr/sbin/{agent}", "-o", "metadata"], timeout=30)
    except NotInstalledError:
        return None
    except CommandError as e:
        raise FencingError(f"{agent} -o metadata failed: {e}") from None
    try:
        root = ET.fromstring(r.stdout)
    except ET.ParseError as e:
        raise FencingError(f"{agent} -o metadata: not XML ({e})") from None
    names: set[str] = set()
    alias: dict[str, set[str]] = {}
    required: list[str] = []
    for p in root.iter("parameter"):
        name = p.get("name") or ""
        names.add(name)
        alias.setdefault(name, {name})
        old = p.get("obsoletes")
        if old:
            group = alias[name] | alias.setdefault(old, {old})
            for n in group:
                alias[n] = group
        if p.get("required") == "1" and p.get("deprecated") != "1" and name not in _SUPPLIED:
            required.append(name)
    return names, [alias[n] for n in required]


def _text(value, where: str) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, str)):
        return str(value)
    raise FencingError(f"{where}: a string, an integer or a boolean is needed")


def _int(spec: dict, key: str, default: int, where: str, low: int = 0) -> int:
    v = spec.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise FencingError(f"{where}.{key}: an integer >= {low} is needed")
    return v


def plan(spec, nodes: list[str], *, run=None, where: str = "fencing") -> Plan:
    """The fencing plan for `spec` (the description's `fencing` value) on `nodes`.

    `run` (the command seam) reads installed fence agents' meta-data to check parameter names;
    without it (or when an agent is not installed) names are not checked and a note says so."""
    if spec == "none":
        return Plan(properties=(("stonith-enabled", "false"),), enabled=False, notes=(
            "fencing = \"none\": STONITH is disabled. A DRBD split brain is possible when the nodes lose sight "
            "of each other (both become Primary and the LUN diverges). Test clusters only.",))
    if not isinstance(spec, dict):
        raise FencingError(f"{where}: missing. Pacemaker starts nothing without a fence device; give [fencing.sbd] "
                           "or [[fencing.device]] (see docs/crm.md), or fencing = \"none\" for a test cluster")
    unknown = set(spec) - {"sbd", "device"}
    if unknown:
        raise FencingError(f"{where}.{sorted(unknown)[0]}: unknown key (sbd or device)")
    if not spec.get("sbd") and not spec.get("device"):
        raise FencingError(f"{where}: give [fencing.sbd] or at least one [[fencing.device]]")
    parts = [_sbd(spec["sbd"], nodes, f"{where}.sbd")] if spec.get("sbd") else []
    for i, dev in enumerate(spec.get("device", [])):
        parts.append(_device(dev, nodes, f"{where}.device[{i}]", run))
    ids = [p.id for part in parts for p in part.primitives]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise FencingError(f"{where}: device id {sorted(dup)[0]} used twice")
    for node in nodes:
        # A node is fenceable when a device lists it; a device that fences only that node is banned
        # from it (below), so it runs on the peer, which is where the request comes from.
        if not any(node in _fenced(p) for part in parts for p in part.primitives):
            raise FencingError(f"{where}: no device fences node {node} (pcmk_host_list or host_map)")
    props: dict[str, str] = {"stonith-enabled": "true"}
    timeouts = [int(v[:-1]) for part in parts for k, v in part.properties if k == "stonith-timeout"]
    if timeouts:
        props["stonith-timeout"] = f"{max(timeouts)}s"
    return Plan(primitives=tuple(p for part in parts for p in part.primitives),
                locations=tuple(loc for part in parts for loc in part.locations),
                properties=tuple(props.items()),
                secrets=tuple(s for part in parts for s in part.secrets),
                notes=tuple(n for part in parts for n in part.notes),
                sbd_settings="".join(part.sbd_settings for part in parts),
                steps=tuple(s for part in parts for s in part.steps))


def _fenced(p: Primitive) -> set[str]:
    params = dict(p.params)
    names = set(params.get("pcmk_host_list", "").split())
    for pair in params.get("pcmk_host_map", "").split(";"):
        if ":" in pair:
            names.add(pair.split(":", 1)[0])
    return names


def _check_table(spec, keys: set[str] | frozenset[str], where: str) -> None:
    """spec is a TOML table holding only keys (FencingError naming the first other one)."""
    if not isinstance(spec, dict):
        raise FencingError(f"{where}: a table is needed")
    unknown = set(spec) - keys
    if unknown:
        raise FencingError(f"{where}.{sorted(unknown)[0]}: unknown key ({', '.join(sorted(keys))})")


def _sbd(spec: dict, nodes: list[str], where: str) -> Plan:
    _check_table(spec, SBD_KEYS, where)
    devices = spec.get("devices")
    if isinstance(devices, str):
        devices = [devices]
    if not devices or not isinstance(devices, list) or len(devices) > 3:
        raise FencingError(f"{where}.devices: one to three shared block devices are needed (sbd -d takes up to 3)")
    for d in devices:
        if not isinstance(d, str) or not d.startswith("/dev/"):
            raise FencingError(f"{where}.devices: {d!r} is not a device path under /dev/")
    watchdog = spec.get("watchdog", "/dev/watchdog")
    if not isinstance(watchdog, str) or not watchdog.startswith("/dev/"):
        raise FencingError(f"{where}.watchdog: a device path under /dev/ is needed")
    wd = _int(spec, "watchdog_timeout", 5, where, 1)
    msgwait = _int(spec, "msgwait", 2 * wd, where, 1)
    if msgwait < 2 * wd:
        raise FencingError(f"{where}.msgwait: {msgwait} is less than twice watchdog_timeout ({2 * wd}): a fence "
                           "would be reported done before the victim's watchdog has fired")
    delay = _int(spec, "delay_max", 15, where)
    need = math.ceil(1.2 * (msgwait + delay))
    timeout = _int(spec, "stonith_timeout", need, where, 1)
    if timeout < need:
        raise FencingError(f"{where}.stonith_timeout: {timeout} is below 1.2 x (msgwait {msgwait} + delay_max "
                           f"{delay}) = {need}: Pacemaker would give up on fences that are still on their way")
    startmode = spec.get("startmode", "always")
    if startmode not in ("always", "clean"):
        raise FencingError(f"{where}.startmode: always or clean")
    interval = _int(spec, "monitor_interval", 60, where, 1)
    params = [("devices", ",".join(devices)), ("pcmk_host_list", " ".join(nodes))]
    if delay:
        params.append(("pcmk_delay_max", f"{delay}s"))
    prim = Primitive("st_sbd", "stonith:fence_sbd", tuple(params), ops=(Op("monitor", interval, 20),))
    settings = "\n".join([
        "# /etc/default/sbd, written by ocfkit generate: the same file on every node.",
        f"# The disk header (sbd -d DEV create) holds watchdog {wd}s and msgwait {msgwait}s; the timeout below",
        "# is used for the watchdog device itself and must agree with the header.",
        "SBD_DEVICE=\"" + ";".join(devices) + "\"",
        f"SBD_WATCHDOG_DEV={watchdog}",
        f"SBD_WATCHDOG_TIMEOUT={wd}",
        "SBD_PACEMAKER=yes",
        f"SBD_STARTMODE={startmode}",
        "SBD_DELAY_START=no",
        "SBD_TIMEOUT_ACTION=flush,reboot",
        "SBD_MOVE_TO_ROOT_CGROUP=auto",
        "SBD_SYNC_RESOURCE_STARTUP=yes",
        "SBD_OPTS=",
        ""])
    create = " ".join(f"-d {d}" for d in devices)
    steps = (
        "SBD (poison-pill fencing over a shared disk, with a watchdog):",
        "  - a watchdog on every node: a hardware one, or `modprobe softdog` (and softdog in /etc/modules)",
        f"  - once, from one node (this OVERWRITES the start of the disk): sbd {create} -1 {wd} -4 {msgwait} create",
        f"  - check the header on both nodes: sbd {create} dump   (Timeout (watchdog): {wd}, Timeout (msgwait): "
        f"{msgwait})",
        "  - copy `sbd` to /etc/default/sbd on both nodes and `systemctl enable sbd` (it starts with corosync)",
    )
    notes = (
        f"Fencing: SBD on {', '.join(devices)}. A fence writes a poison pill to the victim's slot and counts as done "
        f"after msgwait ({msgwait}s, at least 2 x the watchdog timeout {wd}s: by then the victim has read the pill, "
        "or lost the disk, and its watchdog has reset it).",
        f"pcmk_delay_max={delay}s delays each fence by a random time up to {delay}s, so that in a split the two nodes "
        "do not shoot each other at the same moment (one device fences both nodes).",
        f"stonith-timeout={timeout}s >= 1.2 x (msgwait + pcmk_delay_max) = {need}s; stonith-watchdog-timeout stays "
        "unset (it is for disk-less SBD). A crash stalls the services for about token + consensus + "
        f"pcmk_delay (<= {delay}s) + msgwait ({msgwait}s) before the survivor takes over.",
    )
    return Plan(primitives=(prim,), properties=(("stonith-timeout", f"{timeout}s"),), notes=notes,
                sbd_settings=settings, steps=steps)


def _device(spec: dict, nodes: list[str], where: str, run) -> Plan:
    _check_table(spec, DEVICE_KEYS, where)
    agent = spec.get("agent")
    if not isinstance(agent, str) or not agent:
        raise FencingError(f"{where}.agent: the fence agent's name is needed (e.g. fence_ipmilan)")
    agent = agent.removeprefix("stonith:")
    params: dict[str, str] = {}
    for k, v in (spec.get("params") or {}).items():
        params[k] = _text(v, f"{where}.params.{k}")
    secrets: dict[str, str] = {}
    for k, v in (spec.get("secrets") or {}).items():
        secrets[k] = _text(v, f"{where}.secrets.{k}")
    for k in params:
        if k in SECRET_NAMES:
            raise FencingError(f"{where}.params.{k}: a secret; put it in [{where}.secrets] so that it is masked in "
                               "everything but the 0600 files that must hold it")
        if k in secrets:
            raise FencingError(f"{where}.params.{k}: also in secrets")
        if k in ("pcmk_host_list", "pcmk_host_map"):
            raise FencingError(f"{where}.params.{k}: use fences = [...] or host_map = {{ node = \"plug\" }}")
    fences = spec.get("fences")
    host_map = spec.get("host_map")
    if (fences is None) == (host_map is None):
        raise FencingError(f"{where}: give either fences = [nodes] or host_map = {{ node = \"plug\" }}")
    if fences is not None:
        if not isinstance(fences, list) or not fences or not all(isinstance(n, str) for n in fences):
            raise FencingError(f"{where}.fences: a list of node names is needed")
        targets = list(fences)
        params["pcmk_host_list"] = " ".join(fences)
    else:
        if not isinstance(host_map, dict) or not host_map:
            raise FencingError(f"{where}.host_map: a table node = \"plug\" is needed")
        targets = list(host_map)
        for n, plug in host_map.items():
            if not isinstance(plug, str) or not plug or any(c in plug for c in ";: \t"):
                raise FencingError(f"{where}.host_map.{n}: a plug name without ';', ':' or spaces is needed")
        params["pcmk_host_map"] = ";".join(f"{n}:{p}" for n, p in host_map.items())
    for n in targets:
        if n not in nodes:
            raise FencingError(f"{where}: {n} is not a node of this cluster ({', '.join(nodes)})")
    did = spec.get("id") or f"st_{agent.removeprefix('fence_')}_{'_'.join(targets)}"
    notes = []
    known = agent_parameters(run, agent) if run is not None else None
    if known is not None:
        names, required = known
        for k in [*params, *secrets]:
            if k not in names and k not in PCMK_PARAMS:
                raise FencingError(f"{where}: {agent} has no parameter {k} (its meta-data: "
                                   f"{', '.join(sorted(names))})")
        for group in required:
            if not group & (set(params) | set(secrets)):
                raise FencingError(f"{where}: {agent} requires {' or '.join(sorted(group))}")
    else:
        notes.append(f"{did}: the parameter names were not checked against {agent}'s meta-data (the agent "
                     "was not found where this was generated); pcs and crmsh check them where it is installed.")
    interval = _int(spec, "monitor_interval", 60, where, 1)
    prim = Primitive(did, f"stonith:{agent}", (*params.items(), *secrets.items()), ops=(Op("monitor", interval, 20),))
    locations = []
    if len(targets) == 1 and len(nodes) > 1:
        # A device that fences only its own node must run elsewhere: a node never fences itself, and
        # the device's monitor should watch the path the peer will use.
        locations.append(Location(f"l_{did}_not_on_{targets[0]}", did, targets[0], "-INFINITY"))
        notes.append(f"{did} ({agent}) fences only {targets[0]}: a -INFINITY location keeps it off {targets[0]}, "
                     "so it runs on (and fences from) the peer.")
    return Plan(primitives=(prim,), locations=tuple(locations), secrets=tuple((did, k) for k in secrets),
                notes=tuple(notes))

