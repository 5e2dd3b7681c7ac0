"""The demo's iSCSI client: a checksummed write stream through libiscsi (ctypes), with reconnects.

Run inside the client's network namespace: python3 demo_client.py [--retry-every S] PORTAL IQN LUN SECONDS.
It writes 64 KiB chunks round robin over the first 8 MiB of the LUN, each carrying its sequence
number and a CRC32, and prints one line per event: `ACK seq slot t`, `ERR t reason`,
`CONNECTED t`. When the time is up (or on a line "stop" on stdin) it reads every slot back and
prints `VERIFY ok N` or `VERIFY bad slot expected got`; a slot whose last acknowledged write is
not what reads back is a lost acknowledged write.

Like an initiator within its replacement_timeout, it holds a failed write and logs in again until the
write is acknowledged. Each login attempt waits for TCP's handshake, and a SYN dropped by portblock is
sent again only after the kernel's retransmission timeout (1 s, then 2 s...). With --retry-every S the
client instead gives up a connection attempt that got no answer within S seconds and tries again at
once (a plain TCP connect to the portal first, then the login), so it is back within S of the portal
answering.
"""

from __future__ import annotations

import ctypes
import os
import select
import sys
import time
import zlib

CHUNK = 64 * 1024
SLOTS = 128
BLOCK = 512


def _lib():
    lib = ctypes.CDLL("libiscsi.so.7")
    lib.iscsi_create_context.restype = ctypes.c_void_p
    lib.iscsi_create_context.argtypes = [ctypes.c_char_p]
    for name in ("iscsi_set_targetname",):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.iscsi_set_session_type.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.iscsi_set_header_digest.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.iscsi_set_timeout.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.iscsi_set_noautoreconnect.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.iscsi_set_tcp_syncnt.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.iscsi_full_connect_sync.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.iscsi_get_error.restype = ctypes.c_char_p
    lib.iscsi_get_error.argtypes = [ctypes.c_void_p]
    lib.iscsi_write16_sync.restype = ctypes.c_void_p
    lib.iscsi_write16_sync.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64, ctypes.c_char_p,
                                       ctypes.c_uint32, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                       ctypes.c_int, ctypes.c_int]
    lib.scsi_cdb_read16.restype = ctypes.c_void_p
    lib.scsi_cdb_read16.argtypes = [ctypes.c_uint64, ctypes.c_uint32, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                    ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.scsi_task_add_data_in_buffer.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.iscsi_scsi_command_sync.restype = ctypes.c_void_p
    lib.iscsi_scsi_command_sync.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    lib.scsi_free_scsi_task.argtypes = [ctypes.c_void_p]
    lib.iscsi_destroy_context.argtypes = [ctypes.c_void_p]
    return lib


def payload(seq: int, slot: int) -> bytes:
    """A chunk: header (seq, slot, crc of the body) and a body derived from seq."""
    body = (seq.to_bytes(8, "big") * (CHUNK // 8))[: CHUNK - 16]
    return seq.to_bytes(8, "big") + slot.to_bytes(4, "big") + zlib.crc32(body).to_bytes(4, "big") + body


class Session:
    """One login; reconnection is ours (libiscsi's own reconnects forever)."""

    def __init__(self, lib, portal: str, iqn: str, lun: int, initiator: str) -> None:
        self.lib, self.portal, self.iqn, self.lun, self.initiator = lib, portal, iqn, lun, initiator
        self.ctx = None

    def connect(self, timeout: int) -> str:
        """Log in; '' on success, else the error."""
        self.close()
        lib = self.lib
        ctx = lib.iscsi_create_context(self.initiator.encode())
        lib.iscsi_set_targetname(ctx, self.iqn.encode())
        lib.iscsi_set_session_type(ctx, 2)
        lib.iscsi_set_header_digest(ctx, 0)
        lib.iscsi_set_noautoreconnect(ctx, 1)
        lib.iscsi_set_timeout(ctx, timeout)
        lib.iscsi_set_tcp_syncnt(ctx, 1)
        if lib.iscsi_full_connect_sync(ctx, self.portal.encode(), self.lun) != 0:
            err = (lib.iscsi_get_error(ctx) or b"").decode(errors="replace")
            lib.iscsi_destroy_context(ctx)
            return err or "login failed"
        self.ctx = ctx
        return ""

    def write(self, slot: int, data: bytes) -> str:
        """Write one chunk; '' when the target acknowledged it with GOOD status."""
        task = self.lib.iscsi_write16_sync(self.ctx, self.lun, slot * CHUNK // BLOCK, data, CHUNK, BLOCK,
                                           0, 0, 0, 0, 0)
        if not task:
            return (self.lib.iscsi_get_error(self.ctx) or b"write failed").decode(errors="replace")
        status = ctypes.c_int.from_address(task).value
        self.lib.scsi_free_scsi_task(task)
        return "" if status == 0 else f"SCSI status {status}"

    def read(self, slot: int) -> bytes | None:
        """Read one chunk back, or None."""
        # Our own buffer as data-in (REFERENCE 6.8): no guessing at struct scsi_task's layout.
        buf = ctypes.create_string_buffer(CHUNK)
        task = self.lib.scsi_cdb_read16(slot * CHUNK // BLOCK, CHUNK, BLOCK, 0, 0, 0, 0, 0)
        if not task:
            return None
        try:
            self.lib.scsi_task_add_data_in_buffer(task, CHUNK, buf)
            if not self.lib.iscsi_scsi_command_sync(self.ctx, self.lun, task, None):
                return None
            if ctypes.c_int.from_address(task).value != 0:
                return None
            return buf.raw
        finally:
            self.lib.scsi_free_scsi_task(task)

    def close(self) -> None:
        """Drop the session."""
        if self.ctx:
            self.lib.iscsi_destroy_context(self.ctx)
            self.ctx = None


def portal_answers(portal: str, within: float) -> bool:
    """Whether a TCP connection to the portal is accepted within `within` seconds (then closed)."""
    import socket

    host, _, port = portal.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=within):
            return True
    except OSError:
        return False


def main(argv: list[str]) -> int:
    """[--retry-every S] PORTAL IQN LUN SECONDS [INITIATOR]."""
    retry_every = 0.0
    if argv[:1] == ["--retry-every"]:
        retry_every, argv = float(argv[1]), argv[2:]
    portal, iqn, lun, seconds = argv[0], argv[1], int(argv[2]), float(argv[3])
    initiator = argv[4] if len(argv) > 4 else "iqn.2024-01.demo.ocfkit:client"
    lib = _lib()
    s = Session(lib, portal, iqn, lun, initiator)
    t0 = time.monotonic()
    end = t0 + seconds
    last_ack: dict[int, int] = {}
    seq = 0
    out = sys.stdout

    def say(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    connected = False
    while time.monotonic() < end:
        if select.select([sys.stdin], [], [], 0)[0] and sys.stdin.readline().strip() == "stop":
            break
        now = time.monotonic() - t0
        if not connected:
            tried = time.monotonic()
            if retry_every and not portal_answers(portal, retry_every):
                time.sleep(max(0.0, 0.05 - (time.monotonic() - tried)))  # refused at once: the usual pace
                continue
            err = s.connect(2)
            if err:
                say(f"ERR {now:.3f} {err}")
                time.sleep(0.05)
                continue
            connected = True
            say(f"CONNECTED {time.monotonic() - t0:.3f}")
        slot = seq % SLOTS
        data = payload(seq, slot)
        err = s.write(slot, data)
        if err:
            say(f"ERR {time.monotonic() - t0:.3f} {err}")
            connected = False
            continue
        last_ack[slot] = seq
        say(f"ACK {seq} {slot} {time.monotonic() - t0:.3f}")
        seq += 1
    # Verify every acknowledged write: the last one acknowledged per slot must read back.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if connected or not s.connect(2):
            connected = True
            break
        time.sleep(0.2)
    if not connected:
        say("VERIFY failed cannot reconnect")
        return 1
    bad = 0
    for slot, want in sorted(last_ack.items()):
        got = s.read(slot)
        if got != payload(want, slot):
            bad += 1
            seen = int.from_bytes(got[:8], "big") if got else -1
            say(f"VERIFY bad {slot} {want} {seen}")
    say(f"VERIFY {'ok' if not bad else 'failed'} {len(last_ack)} {seq}")
    s.close()
    os._exit(0 if not bad else 1)  # skip libiscsi's atexit handlers


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
