"""corosync.conf for a lab cluster: knet over every link of each node, votequorum two_node.

Kept in one small function so that the lab can switch to ``ocfkit generate``'s corosync.conf once
that exists: all the lab needs is a text it writes to the node's private /etc/corosync.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}\Z")
_ADDR = re.compile(r"[0-9A-Fa-f.:]{2,45}\Z")


def corosync_conf(cluster_name: str, nodes: list[tuple[str, int, list[str]]], *, token_ms: int = 1000,
                  crypto: bool = True, logfile: str = "/var/log/corosync/corosync.log") -> str:
    """The text of corosync.conf.

    nodes: (name, nodeid, [link0 address, link1 address, ...]) per node, every node with the same
    number of links. Two nodes get ``two_node: 1`` (which implies wait_for_all). crypto uses the
    node's /etc/corosync/authkey.
    """
    if not _NAME.match(cluster_name):
        raise ValueError(f"cluster name {cluster_name!r}: letters, digits, '_', '.', '-' only")
    if not nodes:
        raise ValueError("no nodes")
    nlinks = len(nodes[0][2])
    for name, nodeid, addrs in nodes:
        if not _NAME.match(name):
            raise ValueError(f"node name {name!r}: letters, digits, '_', '.', '-' only")
        if not 1 <= nodeid <= 2**31 - 1:
            raise ValueError(f"node {name}: nodeid {nodeid} out of range")
        if len(addrs) != nlinks or not 1 <= nlinks <= 8:
            raise ValueError(f"node {name}: every node needs the same number (1-8) of link addresses")
        for a in addrs:
            if not _ADDR.match(a):
                raise ValueError(f"node {name}: bad address {a!r}")
    if not 100 <= token_ms <= 600000:
        raise ValueError(f"token {token_ms} ms out of range")
    crypt = ("    crypto_cipher: aes256\n    crypto_hash: sha256\n" if crypto else
             "    crypto_cipher: none\n    crypto_hash: none\n")
    links = "".join(f"    interface {{\n        linknumber: {i}\n    }}\n" for i in range(nlinks))
    out = [f"totem {{\n    version: 2\n    cluster_name: {cluster_name}\n    transport: knet\n"
           f"    token: {token_ms}\n    link_mode: passive\n{crypt}{links}}}\n",
           "logging {\n    to_stderr: no\n    to_syslog: no\n    to_logfile: yes\n"
           f"    logfile: {logfile}\n    timestamp: hires\n    debug: off\n}}\n",
           "quorum {\n    provider: corosync_votequorum\n" + ("    two_node: 1\n" if len(nodes) == 2 else "") + "}\n",
           "nodelist {\n"]
    for name, nodeid, addrs in nodes:
        rings = "".join(f"        ring{i}_addr: {a}\n" for i, a in enumerate(addrs))
        out.append(f"    node {{\n        name: {name}\n        nodeid: {nodeid}\n{rings}    }}\n")
    out.append("}\n")
    return "".join(out)
