"""heartbeat 3.0.6 configuration for a lab cluster: ha.cf, authkeys, the resource.d wrappers.

Like corosync.py, small writers kept apart so that ``ocfkit generate``'s output can replace them.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
_IFACE = re.compile(r"[A-Za-z0-9_.-]{1,15}\Z")
_ADDR = re.compile(r"[0-9.]{7,15}\Z")


def ha_cf(nodes: list[str], links: list[tuple[str, list[str]]], *, keepalive_ms: int = 250,
          deadtime_ms: int = 1000, warntime_ms: int = 500, initdead_s: int = 3, udpport: int = 694,
          logdir: str = "/var/log/heartbeat") -> str:
    """ha.cf: ucast on every link to every node's address (heartbeat ignores the ucast to itself, so
    every node gets the same file), auto_failback off, R1 (haresources) mode.

    links: (interface, [address of each node, in nodes' order]) per link.
    """
    for n in nodes:
        if not _NAME.match(n):
            raise ValueError(f"node name {n!r}")
    for iface, addrs in links:
        if not _IFACE.match(iface) or len(addrs) != len(nodes) or not all(_ADDR.match(a) for a in addrs):
            raise ValueError(f"link {iface}: one IPv4 address per node")
    if not deadtime_ms > 2 * keepalive_ms:  # heartbeat: "Dead time [..] is too small compared to keeplive"
        raise ValueError("deadtime must be more than twice keepalive")
    if initdead_s * 1000 < deadtime_ms or warntime_ms <= 0:
        raise ValueError("initdead >= deadtime and 0 < warntime required")
    out = [f"logfile {logdir}/ha.log", f"debugfile {logdir}/ha-debug.log", "logfacility none",
           f"keepalive {keepalive_ms}ms", f"deadtime {deadtime_ms}ms", f"warntime {warntime_ms}ms",
           f"initdead {initdead_s}", f"udpport {udpport}"]
    out += [f"ucast {iface} {a}" for iface, addrs in links for a in addrs]
    out += ["auto_failback off", "node " + " ".join(nodes)]
    return "\n".join(out) + "\n"


def authkeys(secret: str) -> str:
    """authkeys with one sha1 key (the file must be 0600)."""
    if not re.fullmatch(r"[A-Za-z0-9]{16,128}", secret):
        raise ValueError("secret: 16-128 letters and digits")
    return f"auth 1\n1 sha1 {secret}\n"
