"""iptables/ip6tables: exact rule checks with -C, always with -w (wait for the xtables lock).

With the nf_tables variant of iptables (Debian's default) the rules are nf_tables rules, so a
monitor can read them over nfnetlink instead of starting iptables (kernel_rules, decide).
"""

from __future__ import annotations

from agents.tools import netlink
from ocf import system
from ocf.kernel import KERNEL, Kernel


def binary(family: int) -> str:
    """iptables or ip6tables."""
    return "ip6tables" if family == 6 else "iptables"


def has_rule(run, family: int, chain: str, spec: list[str]) -> bool:
    """Whether exactly this rule is in chain (iptables -C: 0 present, 1 absent)."""
    r = run([binary(family), "-w", "-C", chain, *spec], ok=(0, 1))
    return r.returncode == 0


def insert_rule(run, family: int, chain: str, spec: list[str]) -> None:
    """Insert the rule at the top of chain."""
    run([binary(family), "-w", "-I", chain, *spec])


def delete_rule(run, family: int, chain: str, spec: list[str]) -> bool:
    """Delete one copy of the rule; False when there was none."""
    r = run([binary(family), "-w", "-D", chain, *spec], ok=(0, 1))
    return r.returncode == 0


# ----- iptables-nft rules over nfnetlink ------------------------------------------------------

_NFT_MSG_NEWRULE, _NFT_MSG_GETRULE, _SUBSYS = 6, 7, 10
_NFTA_RULE_TABLE, _NFTA_RULE_CHAIN, _NFTA_RULE_EXPRESSIONS, _NFTA_RULE_COMPAT = 1, 2, 4, 5
_NFTA_LIST_ELEM, _NFTA_EXPR_NAME, _NFTA_EXPR_DATA = 1, 1, 2
_NFTA_MATCH_NAME, _NFTA_MATCH_INFO = 1, 3
_NFPROTO = {4: 2, 6: 10}


def is_nft_variant(path: str | None) -> bool:
    """Whether the iptables at path is the nf_tables variant (a link to xtables-nft-multi)."""
    for _ in range(40):  # follow the alternatives links without system.path
        if path is None:
            return False
        if path.rpartition("/")[2] == "xtables-nft-multi":
            return True
        try:
            target = system.readlink(path)
        except OSError:
            return False
        path = target if target.startswith("/") else path.rpartition("/")[0] + "/" + target
    return False


def parse_rules(data: bytes) -> list[tuple[list[str], bytes]]:
    """(comments, signature) of every rule in an nf_tables rule dump made by iptables-nft.

    The comments are those of its `-m comment` matches (xt compat matches). The signature is the
    rule's kernel form minus what changes by itself (the counters): two rules with the same
    signature are the same rule to iptables -C."""
    rules = []
    for mtype, payload in netlink.messages(data):
        if mtype == netlink.NLMSG_ERROR and netlink.error_of(payload):
            raise OSError(netlink.error_of(payload), "nfnetlink rule dump refused")
        if mtype != (_SUBSYS << 8) | _NFT_MSG_NEWRULE:
            continue
        attrs = netlink.attributes(payload[4:])  # after the nfgenmsg
        comments: list[str] = []
        parts = [attrs.get(_NFTA_RULE_COMPAT, b"")]
        for etype, elem in netlink.attribute_list(attrs.get(_NFTA_RULE_EXPRESSIONS, b"")):
            if etype != _NFTA_LIST_ELEM:
                continue
            expr = netlink.attributes(elem)
            name = expr.get(_NFTA_EXPR_NAME, b"").rstrip(b"\0")
            if name == b"counter":
                continue
            parts.append(name + b"\0" + expr.get(_NFTA_EXPR_DATA, b""))
            if name == b"match":
                match = netlink.attributes(expr.get(_NFTA_EXPR_DATA, b""))
                if match.get(_NFTA_MATCH_NAME, b"").rstrip(b"\0") == b"comment":
                    comments.append(match.get(_NFTA_MATCH_INFO, b"").split(b"\0")[0].decode(errors="replace"))
        rules.append((comments, b"\1".join(len(p).to_bytes(4, "little") + p for p in parts)))
    return rules


def kernel_rules(family: int, chain: str, *, kernel: Kernel = KERNEL) -> list[tuple[list[str], bytes]]:
    """parse_rules of the chain in iptables-nft's filter table; [] when there is none.

    Raises OSError when nfnetlink cannot be used (then ask iptables)."""
    body = bytes([_NFPROTO[family], 0, 0, 0]) + netlink.attribute(_NFTA_RULE_TABLE, b"filter\0") + \
        netlink.attribute(_NFTA_RULE_CHAIN, chain.encode() + b"\0")
    try:
        data = kernel.netlink(12, (_SUBSYS << 8) | _NFT_MSG_GETRULE, body)  # NETLINK_NETFILTER
    except OSError as e:
        if e.errno == 2:  # ENOENT: no such table or chain
            return []
        raise
    return parse_rules(data)


def decide(rules: list[tuple[list[str], bytes]], comment: str, known: set[bytes]) -> bool | None:
    """What iptables -C would answer for a rule spec that carries `-m comment --comment comment`,
    from the chain's rules: False when no rule has that comment (-C can match no other), True when
    one of them has a signature recorded for exactly that spec, None when only iptables can tell."""
    ours = signatures(rules, comment)
    if not ours:
        return False
    if any(sig in known for sig in ours):
        return True
    return None


def signatures(rules: list[tuple[list[str], bytes]], comment: str) -> list[bytes]:
    """The signatures of the rules that carry comment."""
    return [sig for comments, sig in rules if comment in comments]
