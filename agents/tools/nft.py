"""nftables: rules in a table that only ocfkit owns, identified by an exact comment."""

from __future__ import annotations

from agents.tools import netlink
from ocf.kernel import KERNEL, Kernel


def chain_rules(run, table: str, chain: str, *, family: str = "inet") -> list[tuple[str, int]]:
    """(rule text, handle) of every rule in the chain; [] when the table or chain does not exist."""
    r = run(["nft", "-a", "list", "chain", family, table, chain], ok=(0, 1))
    if r.returncode != 0:
        return []
    rules = []
    for line in r.stdout.splitlines():
        text, sep, handle = line.strip().rpartition(" # handle ")
        if sep and handle.isdigit() and not text.startswith(("chain ", "type ", "table ")):
            rules.append((text, int(handle)))
    return rules


def table_rules(run, table: str, *, family: str = "inet") -> dict[str, list[tuple[str, int]]] | None:
    """Chain name -> (rule text, handle) of every rule, for every chain of the table (one nft process
    for all chains); None when the table does not exist."""
    r = run(["nft", "-a", "list", "table", family, table], ok=(0, 1))
    if r.returncode != 0:
        return None
    chains: dict[str, list[tuple[str, int]]] = {}
    rules: list[tuple[str, int]] | None = None
    for line in r.stdout.splitlines():
        text, sep, handle = line.strip().rpartition(" # handle ")
        if text.startswith("chain ") and text.endswith(" {"):
            rules = chains.setdefault(text[len("chain "):-2].strip(), [])
        elif sep and handle.isdigit() and rules is not None and not text.startswith(("type ", "table ")):
            rules.append((text, int(handle)))
    return chains


def find_comment(rules: list[tuple[str, int]], comment: str) -> list[int]:
    """Handles of the rules whose comment is exactly comment."""
    token = f'comment "{comment}"'
    return [h for text, h in rules if text.endswith(token)]


def apply(run, script: str) -> None:
    """Apply an nft script atomically (nft -f -)."""
    run(["nft", "-f", "-"], input=script)


def delete_table(run, table: str, *, family: str = "inet") -> None:
    """Delete the table (missing is fine)."""
    run(["nft", "delete", "table", family, table], ok=(0, 1))


# ----- nfnetlink (no child process: what portblock's monitor uses) ---------------------------------

_NFT_MSG_NEWTABLE, _NFT_MSG_GETTABLE, _NFT_MSG_NEWRULE, _NFT_MSG_GETRULE, _SUBSYS = 0, 1, 6, 7, 10
_NFTA_TABLE_NAME = 1
_NFTA_RULE_TABLE, _NFTA_RULE_CHAIN, _NFTA_RULE_HANDLE, _NFTA_RULE_USERDATA = 1, 2, 3, 7
_FAMILIES = {"inet": 1, "ip": 2, "ip6": 10}
_ENOENT = 2


def parse_rule_comments(data: bytes) -> tuple[list[str], int]:
    """(comments of the NFT_MSG_NEWRULE messages, errno of an error message or 0), from a dump."""
    comments: list[str] = []
    for mtype, payload in netlink.messages(data):
        if mtype == netlink.NLMSG_ERROR and netlink.error_of(payload):
            return comments, netlink.error_of(payload)
        if mtype != (_SUBSYS << 8) | _NFT_MSG_NEWRULE:
            continue
        comment = _comment(netlink.attributes(payload[4:]).get(_NFTA_RULE_USERDATA, b""))  # after the nfgenmsg
        if comment is not None:
            comments.append(comment)
    return comments, 0


def _comment(udata: bytes) -> str | None:
    """The comment in a rule's userdata (NFTNL_UDATA_RULE_COMMENT, NUL-terminated), None without one."""
    u = 0
    while u + 2 <= len(udata):
        utype, ulen = udata[u], udata[u + 1]
        if utype == 0:
            return udata[u + 2:u + 2 + ulen].rstrip(b"\0").decode(errors="replace")
        u += 2 + ulen
    return None


def _name(value: bytes) -> str:
    return value.rstrip(b"\0").decode(errors="replace")


def netlink_table_exists(table: str, *, family: str = "inet", kernel: Kernel = KERNEL) -> bool:
    """Whether the table exists, from an nfnetlink dump of the family's tables; OSError when nfnetlink
    cannot be used."""
    data = kernel.netlink(12, (_SUBSYS << 8) | _NFT_MSG_GETTABLE, bytes([_FAMILIES[family], 0, 0, 0]))
    return any(mtype == (_SUBSYS << 8) | _NFT_MSG_NEWTABLE and payload[:1] == bytes([_FAMILIES[family]])
               and _name(netlink.attributes(payload[4:]).get(_NFTA_TABLE_NAME, b"")) == table
               for mtype, payload in netlink.messages(data))


def netlink_table_rules(table: str, *, family: str = "inet",
                        kernel: Kernel = KERNEL) -> dict[str, list[tuple[str | None, int]]] | None:
    """Chain name -> (comment or None, handle) of every rule of the table, read over nfnetlink: what
    table_rules gives without an nft process (a chain without rules is not named); None when the table
    does not exist. Raises OSError when nfnetlink cannot be used (then ask nft)."""
    body = bytes([_FAMILIES[family], 0, 0, 0]) + netlink.attribute(_NFTA_RULE_TABLE, table.encode() + b"\0")
    try:
        data = kernel.netlink(12, (_SUBSYS << 8) | _NFT_MSG_GETRULE, body)
    except OSError as e:
        if e.errno != _ENOENT:  # a missing table: ENOENT on some kernels, an empty dump on others
            raise
        data = b""
    chains: dict[str, list[tuple[str | None, int]]] = {}
    for mtype, payload in netlink.messages(data):
        if mtype != (_SUBSYS << 8) | _NFT_MSG_NEWRULE or payload[:1] != bytes([_FAMILIES[family]]):
            continue
        attrs = netlink.attributes(payload[4:])
        if _name(attrs.get(_NFTA_RULE_TABLE, b"")) != table:
            continue
        handle = attrs.get(_NFTA_RULE_HANDLE, b"")
        if len(handle) != 8:
            raise OSError(f"nf_tables rule of {table} without its handle")
        chains.setdefault(_name(attrs.get(_NFTA_RULE_CHAIN, b"")), []).append(
            (_comment(attrs.get(_NFTA_RULE_USERDATA, b"")), int.from_bytes(handle, "big")))
    if not chains and not netlink_table_exists(table, family=family, kernel=kernel):
        return None  # an empty dump: no rules, or no table (this kernel answers both alike)
    return chains


def netlink_rule_comments(table: str, chain: str, *, family: str = "inet", kernel: Kernel = KERNEL) -> list[str]:
    """Comments of the rules in one chain, read over nfnetlink; [] when the table or chain is missing.

    Raises OSError when nfnetlink cannot be used (then ask the nft command)."""
    body = bytes([_FAMILIES[family], 0, 0, 0]) + netlink.attribute(_NFTA_RULE_TABLE, table.encode() + b"\0") + \
        netlink.attribute(_NFTA_RULE_CHAIN, chain.encode() + b"\0")
    try:
        data = kernel.netlink(12, (_SUBSYS << 8) | _NFT_MSG_GETRULE, body)  # NETLINK_NETFILTER
    except OSError as e:
        if e.errno == _ENOENT:  # no such table or chain
            return []
        raise
    return parse_rule_comments(data)[0]
