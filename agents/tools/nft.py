"""nftables: rules in a table that only ocfkit owns, identified by an exact comment."""

from __future__ import annotations


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


def find_comment(rules: list[tuple[str, int]], comment: str) -> list[int]:
    """Handles of the rules whose comment is exactly comment."""
    token = f'comment "{comment}"'
    return [h for text, h in rules if text.endswith(token)]


def apply(run, script: str) -> None:
    """Apply an nft script atomically (nft -f -)."""
    run(["nft", "-f", "-"], input=script)


def delete_rule(run, table: str, chain: str, handle: int, *, family: str = "inet") -> None:
    """Delete one rule by handle."""
    run(["nft", "delete", "rule", family, table, chain, "handle", str(handle)])


def delete_table(run, table: str, *, family: str = "inet") -> None:
    """Delete the table (missing is fine)."""
    run(["nft", "delete", "table", family, table], ok=(0, 1))


# ----- nfnetlink (no child process: what portblock's monitor uses) ---------------------------------

_NFT_MSG_NEWRULE, _NFT_MSG_GETRULE, _SUBSYS = 6, 7, 10
_NFTA_RULE_TABLE, _NFTA_RULE_CHAIN, _NFTA_RULE_USERDATA = 1, 2, 7
_FAMILIES = {"inet": 1, "ip": 2, "ip6": 10}


def _attr(atype: int, value: bytes) -> bytes:
    length = 4 + len(value)
    return length.to_bytes(2, "little") + atype.to_bytes(2, "little") + value + b"\0" * ((4 - length % 4) % 4)


def parse_rule_comments(data: bytes) -> tuple[list[str], int]:
    """(comments of the NFT_MSG_NEWRULE messages, errno of an error message or 0), from a dump."""
    comments: list[str] = []
    off = 0
    while off + 16 <= len(data):
        length = int.from_bytes(data[off:off + 4], "little")
        mtype = int.from_bytes(data[off + 4:off + 6], "little")
        if length < 16:
            break
        if mtype == 2:  # NLMSG_ERROR: a negative errno (0 is an acknowledgement)
            err = -int.from_bytes(data[off + 16:off + 20], "little", signed=True)
            if err:
                return comments, err
        elif mtype == (_SUBSYS << 8) | _NFT_MSG_NEWRULE:
            body = data[off + 20:off + length]  # after nlmsghdr and nfgenmsg
            a = 0
            while a + 4 <= len(body):
                alen = int.from_bytes(body[a:a + 2], "little")
                atype = int.from_bytes(body[a + 2:a + 4], "little") & 0x3FFF
                if alen < 4:
                    break
                if atype == _NFTA_RULE_USERDATA:
                    udata = body[a + 4:a + alen]
                    u = 0
                    while u + 2 <= len(udata):
                        utype, ulen = udata[u], udata[u + 1]
                        if utype == 0:  # NFTNL_UDATA_RULE_COMMENT, NUL-terminated
                            comments.append(udata[u + 2:u + 2 + ulen].rstrip(b"\0").decode(errors="replace"))
                        u += 2 + ulen
                a += (alen + 3) & ~3
        off += (length + 3) & ~3
    return comments, 0


def netlink_rule_comments(table: str, chain: str, *, family: str = "inet") -> list[str]:
    """Comments of the rules in one chain, read over nfnetlink; [] when the table or chain is missing.

    Raises OSError when nfnetlink cannot be used (then ask the nft command)."""
    import _socket

    s = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
    try:
        s.settimeout(5)
        payload = bytes([_FAMILIES[family], 0, 0, 0]) + _attr(_NFTA_RULE_TABLE, table.encode() + b"\0") + \
            _attr(_NFTA_RULE_CHAIN, chain.encode() + b"\0")
        header = (16 + len(payload)).to_bytes(4, "little") + ((_SUBSYS << 8) | _NFT_MSG_GETRULE).to_bytes(2, "little")
        s.sendto(header + (0x301).to_bytes(2, "little") + (1).to_bytes(4, "little") + b"\0\0\0\0" + payload, (0, 0))
        comments: list[str] = []
        while True:
            data = s.recv(1 << 16)
            found, err = parse_rule_comments(data)
            comments += found
            if err == 2:  # ENOENT: no such table or chain
                return []
            if err:
                raise OSError(err, "nfnetlink rule dump failed")
            off, done = 0, False
            while off + 16 <= len(data):
                length = int.from_bytes(data[off:off + 4], "little")
                if int.from_bytes(data[off + 4:off + 6], "little") in (2, 3):  # error or NLMSG_DONE
                    done = True
                if length < 16:
                    break
                off += (length + 3) & ~3
            if done:
                return comments
    finally:
        s.close()
