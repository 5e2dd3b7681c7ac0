"""The lab's power switch: what a BMC or a PDU is to a real machine, for namespace nodes.

A node cannot reach another node's processes (each has its own PID namespace), so the fence agent
(``fence_ocfkit_netns``, run by pacemaker-fenced inside a node) asks this switch, which runs on the
host, over a unix socket in the lab directory that every node sees. One request per connection, one
line each way:

    on NODE | off NODE | status NODE | list     ->  ok [ON|OFF|names...]  or  error MESSAGE

Every request and its outcome is logged with a wall-clock timestamp (power.log in the lab directory).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable


class PowerSwitch:
    """Serves on/off/status/list for the nodes named in the lab, one request at a time."""

    def __init__(self, path: str, names: list[str], *, on: Callable[[str], None], off: Callable[[str], None],
                 status: Callable[[str], str], log: str) -> None:
        self.path, self.names = path, list(names)
        self._on, self._off, self._status = on, off, status
        self.log = log
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o077)
        try:
            s.bind(self.path)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        s.listen(8)
        s.settimeout(0.2)
        self._sock = s
        self._thread = threading.Thread(target=self._serve, name="ocfkit-lab-power", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(30)
        if self._sock:
            self._sock.close()
            self._sock = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _record(self, text: str) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(f"{time.time():.3f} {text}\n")

    def answer(self, request: str) -> str:
        """The reply to one request line."""
        words = request.split()
        if words == ["list"]:
            return "ok " + " ".join(self.names)
        if len(words) != 2 or words[0] not in ("on", "off", "status"):
            return "error bad request"
        verb, name = words
        if name not in self.names:
            return f"error no such node {name}"
        try:
            if verb == "status":
                return "ok " + self._status(name)
            self._record(f"{verb} {name} requested")
            (self._on if verb == "on" else self._off)(name)
            self._record(f"{verb} {name} done")
            return "ok"
        except Exception as e:  # noqa: BLE001 - the agent must get an answer, whatever went wrong
            self._record(f"{verb} {name} failed: {e}")
            return f"error {verb} {name}: {e}".replace("\n", " ")

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    data = b""
                    while not data.endswith(b"\n") and len(data) < 1024:
                        chunk = conn.recv(1024)
                        if not chunk:
                            break
                        data += chunk
                    reply = self.answer(data.decode(errors="replace").strip())
                    conn.sendall(reply.encode() + b"\n")
                except OSError:
                    continue
