"""The kernel state an agent reads without running a command, and the children it leaves running.

Files under /proc, /sys and configfs, netlink dumps (rtnetlink, nfnetlink), interface names, and
background spawns, their signals and their exits go through one Kernel object, as commands go
through the runner (ocf.exec): an agent reaches it as `self.kernel`, a tool function takes it as its first argument, and
a unit test passes ocf.testing.FakeKernel, which plays back a script of these calls the way
FakeRunner plays back commands. Everything here uses built-in modules (posix, _socket), so the
monitors that read kernel state stay as cheap as the code they replaced.
"""

from __future__ import annotations

import posix

NLMSG_ERROR, NLMSG_DONE = 2, 3
_NLM_F_REQUEST_DUMP = 0x301  # NLM_F_REQUEST | NLM_F_ROOT | NLM_F_MATCH


class Kernel:
    """The real kernel: the one place, beside ocf.exec, where an agent touches the system directly."""

    def read(self, path: str) -> bytes:
        """The contents of a file (a /proc, /sys or configfs attribute); OSError if it cannot be read."""
        with open(path, "rb") as f:
            return f.read()

    def read_text(self, path: str) -> str:
        """read() decoded (UTF-8, undecodable bytes replaced): what the kernel wrote is text."""
        return self.read(path).decode("utf-8", "replace")

    def listdir(self, path: str) -> list[str]:
        """The names in a directory; OSError if it cannot be listed."""
        return posix.listdir(path)

    def exists(self, path: str) -> bool:
        """Whether path exists (a broken link does not)."""
        try:
            posix.stat(path)
        except (OSError, ValueError):
            return False
        return True

    def netlink(self, protocol: int, mtype: int, body: bytes, *, timeout: float = 5) -> bytes:
        """Send one netlink dump request (NETLINK_ROUTE 0, NETLINK_NETFILTER 12) and return every answer
        datagram joined; OSError(errno) on an error reply or when netlink is unavailable."""
        import _socket  # built in; the socket module would load selectors, enum and more

        s = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, protocol)
        try:
            s.settimeout(timeout)
            header = (16 + len(body)).to_bytes(4, "little") + mtype.to_bytes(2, "little") + \
                _NLM_F_REQUEST_DUMP.to_bytes(2, "little") + (1).to_bytes(4, "little") + (0).to_bytes(4, "little")
            s.sendto(header + body, (0, 0))
            chunks = []
            while True:
                data = s.recv(1 << 16)
                chunks.append(data)
                off = 0
                while off + 16 <= len(data):
                    length = int.from_bytes(data[off:off + 4], "little")
                    if length < 16:
                        break
                    mt = int.from_bytes(data[off + 4:off + 6], "little")
                    if mt == NLMSG_ERROR:
                        errno = -int.from_bytes(data[off + 16:off + 20], "little", signed=True)
                        if errno:
                            raise OSError(errno, "netlink dump refused")
                    if mt in (NLMSG_DONE, NLMSG_ERROR):
                        return b"".join(chunks)
                    off += (length + 3) & ~3
        finally:
            s.close()

    def interface_name(self, index: int) -> str:
        """The name of the interface with index in this network namespace; OSError if there is none."""
        import _socket

        return _socket.if_indextoname(index)

    def spawn(self, argv) -> int:
        """Start argv in the background through the command seam's spawn and return its pid."""
        from ocf.exec import spawn

        return spawn(argv)

    def reap(self, pid: int, *, wait: bool = False) -> int | None:
        """The exit code of our child pid once it has ended (it is reaped then: ask once), None while it
        runs (wait: block until it ends; for a child that was just sent SIGKILL)."""
        p, status = posix.waitpid(pid, 0 if wait else posix.WNOHANG)
        return posix.waitstatus_to_exitcode(status) if p else None

    def kill(self, pid: int, sig: int) -> None:
        """Send sig to pid; OSError (ProcessLookupError) when it is gone."""
        posix.kill(pid, sig)


KERNEL = Kernel()  # the real one: stateless, so one serves every agent and tool
