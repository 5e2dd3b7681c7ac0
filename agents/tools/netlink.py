"""Netlink without a child process or pyroute2: message and attribute walking, and one dump request.

Used where a monitor would otherwise spawn `ip` or `nft` (rtnetlink addresses, nf_tables rules).
"""

from __future__ import annotations

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST_DUMP = 0x301  # NLM_F_REQUEST | NLM_F_ROOT | NLM_F_MATCH


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


def dump(protocol: int, mtype: int, body: bytes, *, timeout: float = 5) -> bytes:
    """Send one dump request and return every answer datagram joined; OSError(errno) on an error reply."""
    import _socket

    s = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, protocol)
    try:
        s.settimeout(timeout)
        header = (16 + len(body)).to_bytes(4, "little") + mtype.to_bytes(2, "little") + \
            NLM_F_REQUEST_DUMP.to_bytes(2, "little") + (1).to_bytes(4, "little") + (0).to_bytes(4, "little")
        s.sendto(header + body, (0, 0))
        chunks = []
        while True:
            data = s.recv(1 << 16)
            chunks.append(data)
            for t, payload in messages(data):
                if t == NLMSG_ERROR and error_of(payload):
                    raise OSError(error_of(payload), "netlink dump refused")
                if t in (NLMSG_DONE, NLMSG_ERROR):
                    return b"".join(chunks)
    finally:
        s.close()
