"""DRBD through drbdsetup/drbdadm: resource state from `drbdsetup events2 --now`, and role changes.

drbd-utils 9 prints the same events2 lines for the DRBD 9 and the 8.4 kernel module (drbdadm and
drbdsetup hand 8.4 calls to their -84 variants, which know no `status --json`). Without the kernel
module drbdsetup cannot reach the drbd netlink family and exits 20.
"""

from __future__ import annotations

from ocf import system
from ocf.errors import NotInstalledError, OcfError
from ocf.params import Param, Parser, path

NO_MODULE = 20  # drbdsetup: "Could not connect to 'drbd' generic netlink family"
# The characters the LINBIT agent accepts in a resource name (ocf:linbit:drbd, drbd-utils 9.22: [-%+./0-9:=@A-Z_a-z]).
_NAME_CHARS = frozenset("-%+./0123456789:=@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")


class _ResourceName(Parser):
    def parse(self, text: str) -> str:
        t = text.strip()
        # A leading "-" would reach drbdadm and drbdsetup as an option.
        if not t or t[0] == "-" or not set(t) <= _NAME_CHARS:
            raise ValueError("expected a DRBD resource name: letters, digits and -%+./:=@_, not starting with -")
        return t

    def hint(self) -> str:
        return "Letters, digits and -%+./:=@_, not starting with -."


resource_name = _ResourceName()


def config_param() -> Param:
    """The drbdconf parameter of the agents that run drbdadm (drbd, drbddisk): what adm() and
    resources() take as conf."""
    return Param(path(), name="drbdconf", shortdesc="DRBD configuration file",
                 longdesc="drbdadm -c FILE; default: drbdadm's own (/etc/drbd.conf).")


def module_loaded() -> bool:
    """Whether the drbd kernel module is there (/proc/drbd or /sys/module/drbd)."""
    return system.path.exists("/proc/drbd") or system.path.isdir("/sys/module/drbd")


class Resource:
    """The local state of one DRBD resource."""

    def __init__(self, data: dict) -> None:
        self.name = data.get("name", "")
        self.role = data.get("role", "Unknown")
        self.disks = [d.get("disk-state", "Unknown") for d in data.get("devices", [])]
        self.minors = [d.get("minor") for d in data.get("devices", [])]
        self.peers = []
        for c in data.get("connections", []):
            self.peers.append({
                "name": c.get("name", ""), "connection": c.get("connection-state", "Unknown"),
                "role": c.get("peer-role", "Unknown"),
                "disks": [p.get("peer-disk-state", "Unknown") for p in c.get("peer_devices", [])],
                "replication": [p.get("replication-state", "Off") for p in c.get("peer_devices", [])],
            })

    @property
    def disk(self) -> str:
        """The worst local disk state (UpToDate only when every volume is)."""
        order = ["Failed", "Diskless", "Inconsistent", "Outdated", "DUnknown", "Consistent", "UpToDate"]
        known = [d for d in self.disks if d in order]
        if not known:
            return self.disks[0] if self.disks else "Diskless"
        return min(known, key=order.index)

    @property
    def connected(self) -> bool:
        """Connected to every configured peer."""
        return bool(self.peers) and all(p["connection"] == "Connected" for p in self.peers)

    @property
    def peer_primary(self) -> bool:
        """A peer is Primary."""
        return any(p["role"] == "Primary" for p in self.peers)


def parse_events2(text: str) -> dict[str, Resource]:
    """Parse `drbdsetup events2 --now` output (key:value words, the same from DRBD 8.4 and 9)."""
    found: dict[str, dict] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) < 3 or words[0] not in ("exists", "create", "change"):
            continue
        kv = dict(w.split(":", 1) for w in words[2:] if ":" in w)
        name = kv.get("name", "")
        r = found.setdefault(name, {"name": name, "devices": [], "connections": {}})
        kind = words[1]
        if kind == "resource":
            r["role"] = kv.get("role", "Unknown")
        elif kind == "device":
            r["devices"].append({"minor": int(kv.get("minor", "-1")), "disk-state": kv.get("disk", "Unknown")})
        elif kind == "connection":
            c = r["connections"].setdefault(kv.get("peer-node-id", ""), {"peer_devices": []})
            c.update({"name": kv.get("conn-name", ""), "connection-state": kv.get("connection", "Unknown"),
                      "peer-role": kv.get("role", "Unknown")})
        elif kind == "peer-device":
            c = r["connections"].setdefault(kv.get("peer-node-id", ""), {"peer_devices": []})
            c["peer_devices"].append({"peer-disk-state": kv.get("peer-disk", "DUnknown"),
                                      "replication-state": kv.get("replication", "Off")})
    for r in found.values():
        r["connections"] = list(r["connections"].values())
    return {name: Resource(r) for name, r in found.items()}


def status(run, resource: str) -> Resource | None:
    """The resource's state, None when it is not configured in the kernel (down).

    `drbdsetup events2 --now` answers the same way on DRBD 8.4 and 9 (`status --json` exists only
    with the DRBD 9 module: drbd-utils hands 8.4 calls to drbdsetup-84, which rejects --json)."""
    if not module_loaded():
        raise NotInstalledError("the DRBD kernel module is not loaded")
    r = run(["drbdsetup", "events2", "--now", resource], ok=(0, 10, NO_MODULE))
    if r.returncode == NO_MODULE:
        raise NotInstalledError("the DRBD kernel module is not loaded (drbdsetup cannot reach it)")
    if r.returncode != 0:
        return None
    return parse_events2(r.stdout).get(resource)


def known_status(run, resource: str) -> Resource | None:
    """status() for stop and monitor, which must not guess: None (down) when no DRBD is in the kernel,
    which proves that nothing can be up; an error (rc 1) when the tools are missing while DRBD is
    loaded, because then the resource may well be up."""
    if not module_loaded():
        return None
    try:
        return status(run, resource)
    except NotInstalledError as e:
        if not module_loaded():  # unloaded meanwhile
            return None
        raise OcfError(f"{e.reason}, but DRBD is loaded in the kernel: {resource} may be up") from None


def _adm(conf: str | None) -> list[str]:
    return ["drbdadm"] + (["-c", conf] if conf else [])


def resources(run, conf: str | None = None) -> list[str]:
    """Every resource of the configuration (drbdadm sh-resources)."""
    return run([*_adm(conf), "sh-resources"]).stdout.split()


def devices(run, resource: str, conf: str | None = None) -> list[str]:
    """The resource's device paths on this host (drbdadm sh-dev)."""
    return run([*_adm(conf), "sh-dev", resource]).stdout.split()


def adm(run, verb: str, resource: str, conf: str | None = None, *, ok=(0,)):
    """drbdadm VERB RESOURCE (up, down, adjust, primary, secondary...)."""
    return run([*_adm(conf), verb, resource], ok=ok)


def defined_resources(run, conf: str) -> list[str]:
    """Every resource a configuration defines, for any host (drbdadm dump; sh-resources lists only
    this host's)."""
    out = []
    for line in run(["drbdadm", "-c", conf, "dump"]).stdout.splitlines():
        words = line.lstrip("# ").split()
        if len(words) >= 2 and words[0] == "resource" and words[1] not in out:
            out.append(words[1].rstrip("{"))
    return out
