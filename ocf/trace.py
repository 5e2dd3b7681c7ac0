"""OCF_TRACE_RA tracing: every command, its result and every log line of one action, in a 0600 file.

Imported only when tracing is asked for (OCF_TRACE_RA or the trace_ra parameter). A trace is an
aid: a full disk or a closed file ends it and never changes the action's result.
"""

from __future__ import annotations

import os
import time

from ocf.log import mask
from ocf.params import is_true

TYPE_CHECKING = False  # typing costs ~4 ms per agent start; mypy treats the name as true
if TYPE_CHECKING:
    from ocf.context import Context


def wanted(env) -> bool:
    """Whether the environment asks for a trace."""
    return is_true(env.get("OCF_TRACE_RA")) or is_true(env.get("OCF_RESKEY_trace_ra"))


class Trace:
    """The open trace of one action (ctx), its log lines copied to it while it is open."""

    def __init__(self, ctx: Context, file) -> None:
        self.ctx = ctx
        self.file = file
        ctx.trace_file = file
        if ctx.has_log:
            ctx.log.trace = file

    @classmethod
    def open(cls, ctx: Context, secrets: set[str]) -> Trace | None:
        """Open the trace file the environment names (or the default one) and write the action's
        start and its OCF_/HA_ environment (secret parameters as ***); None when it cannot be opened."""
        env = ctx.env
        target = env.get("OCF_TRACE_FILE") or env.get("OCF_RESKEY_trace_file")
        try:
            # 0600 from the start (no chmod after the fact, no umask race): a trace holds every command
            # and its output, which can name what a secret protects even with the secret masked.
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
            if not target:
                base = env.get("OCF_RESKEY_trace_dir") or (env.get("HA_VARLIB") or "/var/lib/heartbeat") + "/trace_ra"
                d = f"{base}/{ctx.type_name}"
                os.makedirs(os.path.dirname(base.rstrip("/")) or "/", exist_ok=True)
                for directory in (base, d):
                    try:
                        os.mkdir(directory, 0o700)
                    except FileExistsError:
                        pass
                instance = ctx.instance.replace("/", "_")
                target = f"{d}/{instance}.{ctx.action}.{time.strftime('%Y-%m-%d.%H:%M:%S')}"
                flags |= os.O_NOFOLLOW  # a name of ours: never follow a link planted under it
            fd = os.open(target, flags, 0o600)
            try:
                st = os.fstat(fd)
                if (st.st_mode & 0o170000) == 0o100000 and st.st_mode & 0o077 and st.st_uid == os.geteuid():
                    os.fchmod(fd, 0o600)  # an existing trace file of ours, made before this rule
                file = os.fdopen(fd, "a", encoding="utf-8")
            except BaseException:
                os.close(fd)
                raise
        except OSError as e:
            ctx.log.warning(f"cannot open trace file {target}: {e.strerror}")
            return None
        trace = cls(ctx, file)
        trace.write(f"+ {ctx.type_name} {ctx.action} (pid {os.getpid()})\n")
        for k in sorted(env):
            if k.startswith("OCF_") or k.startswith("HA_"):
                secret = k.startswith("OCF_RESKEY_") and k[len("OCF_RESKEY_"):] in secrets
                trace.write(f"+ env {k}={'***' if secret else mask(env[k])}\n")
        return trace

    def command(self, argv) -> None:
        """Record a command about to run."""
        from ocf.quoting import quote_argv

        # Mask before quoting: quoting changes a secret that holds a quote or a space.
        self.write(f"+ {mask(quote_argv([mask(str(a)) for a in argv]))}\n")

    def result(self, result) -> None:
        """Record a command's result."""
        # Mask before repr(): it escapes quotes, backslashes and newlines inside a secret.
        self.write(mask(f"  rc={result.returncode}\n  stdout={mask(result.stdout)!r}\n"
                        f"  stderr={mask(result.stderr)!r}\n"))

    def failed(self, reason: str) -> None:
        """Record a command that failed."""
        self.write(mask(f"  failed: {reason}\n"))

    def write(self, text: str) -> None:
        """Write text; a full disk ends tracing instead of failing the action."""
        if self.file is None:
            return
        try:
            self.file.write(text)
        except (OSError, ValueError):
            self.close()

    @property
    def closed(self) -> bool:
        """Whether the trace has ended."""
        return self.file is None

    def close(self) -> None:
        """End the trace (the log stops copying to it)."""
        if self.file is not None:
            file, self.file = self.file, None
            self.ctx.trace_file = None
            if self.ctx.has_log:
                self.ctx.log.trace = None
            try:
                file.close()
            except (OSError, ValueError):
                pass  # the trace is an aid: losing it never changes the action's result
