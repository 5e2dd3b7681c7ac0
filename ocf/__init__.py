"""ocfkit's framework for writing OCF resource agents (stdlib only, imported on every action)."""

import posix as _posix  # built in; os costs ~1 ms of imports per agent start
import sys as _sys


def environ():
    """The process environment as str, without importing os on the hot path.

    When os is already loaded (ocfkit run, tests) its live os.environ is used, so changes made
    through it are seen; otherwise nothing can have changed the start-up environment, and the
    posix module's copy (bytes) is decoded the way os.environ does (surrogateescape)."""
    os = _sys.modules.get("os")
    if os is not None:
        return os.environ
    enc = _sys.getfilesystemencoding()
    return {k.decode(enc, "surrogateescape"): v.decode(enc, "surrogateescape")
            for k, v in _posix.environ.items()}


def load(spec: str):
    """The object named by "module:name" (e.g. "agents.dummy:Dummy"), its module imported on demand.

    __import__ rather than importlib: importing importlib costs an agent start more than the call."""
    module, _, name = spec.partition(":")
    __import__(module)
    return getattr(_sys.modules[module], name)
