"""The exit-code rules: how an action's result or exception becomes the code Pacemaker reads.

Applied once for every agent at Agent.main's boundary (the context rules of ocf-rarun's
handle_invalid_env): a stop whose configuration cannot be valid succeeds, a probe on a broken
environment reports "not running" (7), a recurring monitor never answers 6 (it would ban the
resource cluster-wide). Every failure prints $OCF_EXIT_REASON_PREFIX<reason> on stderr, the cause
first, and never a traceback.
"""

from __future__ import annotations

import sys

from ocf.errors import Rc

TYPE_CHECKING = False  # typing costs ~4 ms per agent start; mypy treats the name as true
if TYPE_CHECKING:
    from ocf.context import Context

# Exit codes that mean "the resource is fine", never a failure needing a reason.
GOOD = {Rc.SUCCESS, Rc.RUNNING_PROMOTED, Rc.DEGRADED, Rc.DEGRADED_PROMOTED}
# Errors that mean "this instance cannot run here": the context rules apply to them.
ENV_RCS = (Rc.ERR_ARGS, Rc.ERR_INSTALLED, Rc.ERR_CONFIGURED)


class ParserBug(Exception):
    """A parameter parser failed with something other than ValueError (its message is the reason)."""


def describe(e: BaseException) -> str:
    """A one-line reason for an unexpected exception, its cause first (no traceback)."""
    if isinstance(e, ParserBug):
        return str(e)
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = f"{tb.tb_frame.f_code.co_filename.rpartition('/')[2]}:{tb.tb_lineno}" if tb is not None else "?"
    if isinstance(e, OSError) and e.strerror:
        if e.filename is None:
            return f"{e.strerror} ({type(e).__name__} at {where})"
        what = _text(e.filename) + (f" -> {_text(e.filename2)}" if e.filename2 is not None else "")
        return f"cannot access {what}: {e.strerror}"
    text = str(e).strip().replace("\n", " ") or type(e).__name__
    return f"{text} (internal error: {type(e).__name__} at {where})"


def _text(name) -> str:
    return name.decode("utf-8", "backslashreplace") if isinstance(name, bytes) else str(name)


def rc_of(e: BaseException) -> int:
    """The exit code of an exception that is not an OcfError: 4 for a refused permission (EACCES,
    EPERM: the agent lacks privileges, OCF_ERR_PERM), 1 for every other OS error and every bug."""
    import errno  # built in, but not loaded at start: only a failing action pays for it

    if isinstance(e, OSError) and e.errno in (errno.EACCES, errno.EPERM):
        return Rc.ERR_PERM
    return Rc.ERR_GENERIC


def unexpected(e: BaseException, log) -> str:
    """Log e's traceback at debug level only and return a one-line reason, its cause first."""
    try:
        import traceback

        log.detail("traceback:\n" + "".join(traceback.format_exception(type(e), e, e.__traceback__)))
    except Exception:  # noqa: BLE001 - reporting must not raise
        pass
    return describe(e)


def finish(ctx: Context, rc: int, reason: str, *, before: bool = False, unexpected: bool = False) -> int:
    """Apply the context rules to an action's outcome and report a failure.

    before: raised by the checks before the action body (check_params, check_config).
    unexpected: an exception that is not an OcfError (a bug, an OS error)."""
    name = ctx.action
    monitor = ctx.is_monitor
    if rc in ENV_RCS and not unexpected:
        if name == "stop" and before:
            # Nothing can have been started with a configuration that fails these checks.
            ctx.log.warning(f"stop: {reason or 'invalid configuration'}: cannot be running; success")
            return Rc.SUCCESS
        if monitor and ctx.is_probe:
            # Pacemaker reads a probe's "not installed" / "not configured" as stopped.
            ctx.log.info(f"probe: {reason or 'invalid environment'}: reporting not running")
            return Rc.NOT_RUNNING
    if monitor and not ctx.is_probe and rc == Rc.ERR_CONFIGURED:
        # rc 6 from a recurring monitor would ban the resource cluster-wide.
        rc = Rc.ERR_GENERIC
    if name == "notify" and rc != Rc.SUCCESS:
        # Pacemaker ignores notify failures; say what went wrong and carry on.
        ctx.log.warning(f"notify failed (rc {rc}): {reason}")
    if rc in GOOD or (rc == Rc.NOT_RUNNING and monitor):
        return rc
    if name == "stop":
        # A failed stop is never turned into success here: the cluster must recover (fence).
        ctx.log.error(f"stop failed (rc {rc}): {ctx.instance} may still be running")
    return fail(ctx, rc, reason or f"{name} failed (rc {rc})")


def fail(ctx: Context, rc: int, reason: str) -> int:
    """Log reason and print it as the exit reason; return rc. Never raises."""
    from ocf.log import mask

    reason = mask(reason).replace("\n", " ")
    prefix = ctx.env.get("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:")
    try:
        ctx.log.error(reason)
    except Exception:  # noqa: BLE001 - reporting must not raise
        pass
    try:
        sys.stderr.write(f"{prefix}{reason}\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - reporting must not raise
        pass
    return rc
