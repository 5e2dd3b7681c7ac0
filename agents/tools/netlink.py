"""Netlink without a child process or pyroute2: message and attribute walking.

Used where a monitor would otherwise spawn `ip` or `nft` (rtnetlink addresses, nf_tables rules); the
dump request itself goes through the injectable ocf.kernel.Kernel.netlink.
"""

from __future__ import annotations

NLMSG_ERROR, NLMSG_DONE = 2, 3


def messages(data: bytes):
    """(type, payload) of each netlink message in data (payload after the 16-byte header)."""
    off = 0
    while off + 16 <= len(data):
        length = int.from_bytes(data[off:off + 4], "little")
        if length < 16:
            return
        yield int.from_bytes(data[off + 4:off + 6], "little"), data[off + 16:off + length]
        off += (length + 3) & ~3


def attributes(data: bytes) -> dict[int, bytes]:
    """type -> value of the netlink attributes in data (the nested flag bits masked off)."""
    return dict(attribute_list(data))


def attribute_list(data: bytes) -> list[tuple[int, bytes]]:
    """(type, value) of the netlink attributes in data, in order and with repeats (nested lists)."""
    out = []
    a = 0
    while a + 4 <= len(data):
        alen = int.from_bytes(data[a:a + 2], "little")
        if alen < 4:
            break
        out.append((int.from_bytes(data[a + 2:a + 4], "little") & 0x3FFF, data[a + 4:a + alen]))
        a += (alen + 3) & ~3
    return out


def attribute(atype: int, value: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    length = 4 + len(value)
    return length.to_bytes(2, "little") + atype.to_bytes(2, "little") + value + b"\0" * ((4 - length % 4) % 4)


def error_of(payload: bytes) -> int:
    """The errno an NLMSG_ERROR carries (0 is an acknowledgement)."""
    return -int.from_bytes(payload[:4], "little", signed=True)
