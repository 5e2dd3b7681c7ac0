"""State files and locks under HA_RSCTMP, like ha_pseudo_resource and ocf_take_lock."""

from __future__ import annotations

import posix
import time


def rsctmp(env) -> str:
    """HA_RSCTMP, or /run/resource-agents (cleared on reboot, shared by every netns)."""
    return env.get("HA_RSCTMP") or "/run/resource-agents"


def exists(path: str) -> bool:
    """os.path.exists without importing os (posix is loaded with the interpreter)."""
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True


def is_dir(path: str) -> bool:
    """os.path.isdir without importing os."""
    try:
        return posix.stat(path).st_mode & 0o170000 == 0o040000  # S_ISDIR
    except (OSError, ValueError):
        return False


class StateFile:
    """A small file whose presence (and content) records that a resource runs on this node."""

    def __init__(self, path: str) -> None:
        self.path = path

    def exists(self) -> bool:
        """Whether the state file is there."""
        return exists(self.path)

    def read(self) -> str | None:
        """The content, or None when there is no state file."""
        try:
            with open(self.path, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write(self, content: str = "") -> None:
        """Create or replace the file atomically (write a temporary file, fsync, rename)."""
        import os

        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, mode=0o755, exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, content.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def remove(self) -> None:
        """Remove the file; missing is fine."""
        try:
            posix.unlink(self.path)
        except FileNotFoundError:
            pass


class Lock:
    """An exclusive flock on a file under HA_RSCTMP, waited for until a deadline."""

    def __init__(self, path: str, *, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self.fd = -1

    def __enter__(self) -> Lock:
        import fcntl
        import os

        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, mode=0o755, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        end = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= end:
                    os.close(self.fd)
                    self.fd = -1
                    from ocf.errors import OcfError

                    raise OcfError(f"timed out waiting for lock {self.path}") from None
                time.sleep(0.02)

    def __exit__(self, *exc) -> None:
        if self.fd >= 0:
            posix.close(self.fd)  # closing releases the flock
            self.fd = -1
