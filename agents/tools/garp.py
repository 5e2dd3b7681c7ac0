"""Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6), sent by ocfkit itself.

After a virtual address moves, peers still map it to the old owner's MAC. IPv4: broadcast ARP
request and reply frames naming the address with our MAC (RFC 5227 section 3 "ARP announcement").
IPv6: neighbour advertisements to all-nodes with the Override flag and the target link-layer address
option (RFC 4861 section 7.2.6). Run as `python3 -IS <this file> NIC IP COUNT INTERVAL_MS` in the
background by IPaddr2 (inside `ip netns exec` for network_namespace), so start never waits for it.

Only built-in modules (_socket, posix, time): the socket module would load selectors, enum and
collections, about 8 ms of CPU at start-up, while the group's next members start beside it.
"""

import posix
import sys
import time

ETH_P_ARP = 0x0806


def _mac(nic: str) -> bytes:
    with open(f"/sys/class/net/{nic}/address", encoding="ascii") as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def _ifindex(nic: str) -> int:
    with open(f"/sys/class/net/{nic}/ifindex", encoding="ascii") as f:
        return int(f.read())


def arp_frames(mac: bytes, ip4: bytes) -> list[bytes]:
    """An ARP announcement as a request and as a reply, padded to the Ethernet minimum."""
    frames = []
    for op, target_mac in ((1, b"\x00" * 6), (2, b"\xff" * 6)):
        eth = b"\xff" * 6 + mac + ETH_P_ARP.to_bytes(2, "big")
        arp = (b"\x00\x01\x08\x00\x06\x04" + op.to_bytes(2, "big") + mac + ip4 + target_mac + ip4)
        frames.append((eth + arp).ljust(60, b"\x00"))
    return frames


def neighbour_advertisement(mac: bytes, ip6: bytes) -> bytes:
    """An unsolicited NA (Override set) for ip6 with our MAC; the kernel fills in the checksum."""
    return (bytes([136, 0, 0, 0]) + (0x20000000).to_bytes(4, "big") + ip6 + bytes([2, 1]) + mac)


def send(nic: str, ip: str, count: int, interval_ms: int) -> int:
    """Send count announcements, interval_ms apart; returns how many were sent."""
    import _socket as socket  # built in: see the module's docstring

    mac = _mac(nic)
    sent = 0
    if ":" in ip:
        addr = socket.inet_pton(socket.AF_INET6, ip)
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        idx = _ifindex(nic)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
        s.bind((ip, 0, 0, idx if ip.lower().startswith("fe80") else 0))
        msg = neighbour_advertisement(mac, addr)
        for i in range(count):
            s.sendto(msg, ("ff02::1", 0, 0, idx))
            sent += 1
            if i + 1 < count:
                time.sleep(interval_ms / 1000)
    else:
        addr = socket.inet_pton(socket.AF_INET, ip)
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((nic, ETH_P_ARP))
        frames = arp_frames(mac, addr)
        for i in range(count):
            for frame in frames:
                s.send(frame)
            sent += 1
            if i + 1 < count:
                time.sleep(interval_ms / 1000)
    s.close()
    return sent


def main(argv: list[str]) -> int:
    """Entry point: NIC IP COUNT INTERVAL_MS."""
    if len(argv) != 4:
        sys.stderr.write("usage: garp NIC IP COUNT INTERVAL_MS\n")
        return 2
    nic, ip, count, interval = argv[0], argv[1], int(argv[2]), int(argv[3])
    try:
        n = send(nic, ip, count, interval)
    except OSError as e:
        sys.stderr.write(f"garp: {nic} {ip}: {e}\n")
        return 1
    sys.stderr.write(f"garp: sent {n} announcements for {ip} on {nic} (pid {posix.getpid()})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
