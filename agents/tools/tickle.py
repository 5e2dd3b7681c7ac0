"""Tickle ACKs (what ctdb's tickle_tcp does): make the far end of a stale TCP connection reset it.

A bare ACK with sequence and acknowledgement numbers 0 is out of window for the receiver, which
answers with a correct ACK (RFC 5961 challenge ACK); the node that now owns the address has no
socket for it and answers that with a RST, so the client learns at once that the connection is gone
and reconnects instead of waiting for its retransmission timeout.
Run as `python3 -IS tickle.py COUNT < connections` with lines "src_ip:port dst_ip:port".
"""

from __future__ import annotations

import sys


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_ack(src: bytes, sport: int, dst: bytes, dport: int) -> bytes:
    """A TCP header (ACK, seq 0, ack 0) with its checksum over the IPv4/IPv6 pseudo-header."""
    header = (sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + b"\x00" * 8 + bytes([5 << 4, 0x10])
              + (1234).to_bytes(2, "big") + b"\x00\x00" + b"\x00\x00")
    if len(src) == 4:
        pseudo = src + dst + b"\x00\x06" + len(header).to_bytes(2, "big")
    else:
        pseudo = src + dst + len(header).to_bytes(4, "big") + b"\x00\x00\x00\x06"
    csum = _checksum(pseudo + header)
    return header[:16] + csum.to_bytes(2, "big") + header[18:]


def split_endpoint(text: str) -> tuple[str, int]:
    """'10.0.0.1:3260' or '[fd00::1]:3260' -> (address, port)."""
    host, _, port = text.strip().rpartition(":")
    return host.strip("[]"), int(port)


def send(pairs: list[tuple[str, int, str, int]], count: int) -> int:
    """Send count tickle ACKs for each (src, sport, dst, dport); returns packets sent."""
    import socket

    sent = 0
    for src, sport, dst, dport in pairs:
        fam = socket.AF_INET6 if ":" in src else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
        try:
            s.bind((src, 0))
            seg = tcp_ack(socket.inet_pton(fam, src), sport, socket.inet_pton(fam, dst), dport)
            for _ in range(count):
                s.sendto(seg, (dst, 0))
                sent += 1
        except OSError as e:
            sys.stderr.write(f"tickle: {src}:{sport} -> {dst}:{dport}: {e}\n")
        finally:
            s.close()
    return sent


def main(argv: list[str]) -> int:
    """Read connection lines on stdin and tickle each one count times."""
    count = int(argv[0]) if argv else 3
    pairs = []
    for line in sys.stdin:
        words = line.split()
        if len(words) != 2:
            continue
        (src, sport), (dst, dport) = split_endpoint(words[0]), split_endpoint(words[1])
        pairs.append((src, sport, dst, dport))
    send(pairs, count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
