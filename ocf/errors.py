"""OCF return codes and the exceptions that carry them (OCF RA API 1.1, section "Return codes")."""

from __future__ import annotations


class Rc:
    """Named OCF return codes, kept as plain ints: enum would cost 7 ms per agent start."""

    SUCCESS = 0
    ERR_GENERIC = 1
    ERR_ARGS = 2
    ERR_UNIMPLEMENTED = 3
    ERR_PERM = 4
    ERR_INSTALLED = 5
    ERR_CONFIGURED = 6
    NOT_RUNNING = 7
    RUNNING_PROMOTED = 8
    FAILED_PROMOTED = 9
    DEGRADED = 190
    DEGRADED_PROMOTED = 191


RC_NAMES = {
    0: "OCF_SUCCESS",
    1: "OCF_ERR_GENERIC",
    2: "OCF_ERR_ARGS",
    3: "OCF_ERR_UNIMPLEMENTED",
    4: "OCF_ERR_PERM",
    5: "OCF_ERR_INSTALLED",
    6: "OCF_ERR_CONFIGURED",
    7: "OCF_NOT_RUNNING",
    8: "OCF_RUNNING_PROMOTED",
    9: "OCF_FAILED_PROMOTED",
    190: "OCF_DEGRADED",
    191: "OCF_DEGRADED_PROMOTED",
}


class OcfError(Exception):
    """A failure with an exit reason and the OCF return code it maps to."""

    rc = Rc.ERR_GENERIC

    def __init__(self, reason: str, *, rc: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if rc is not None:
            self.rc = rc


class ArgsError(OcfError):
    """A parameter is invalid on this host (a file missing here, an unknown interface)."""

    rc = Rc.ERR_ARGS


class UnimplementedError(OcfError):
    """The action is not supported."""

    rc = Rc.ERR_UNIMPLEMENTED


class PermError(OcfError):
    """Insufficient privilege."""

    rc = Rc.ERR_PERM


class NotInstalledError(OcfError):
    """Required software is missing on this host."""

    rc = Rc.ERR_INSTALLED


class ConfigError(OcfError):
    """The configuration is inherently invalid (the same on every node)."""

    rc = Rc.ERR_CONFIGURED


class CommandError(OcfError):
    """A command ended with a status outside the accepted ones."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        from ocf.quoting import quote_argv  # only when a command failed: not on every agent's start

        detail = stderr.strip().replace("\n", " | ")
        super().__init__(f"{quote_argv(argv)}: exit {returncode}" + (f": {detail}" if detail else ""))
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr


class CommandTimeout(OcfError):
    """A command did not finish before the action's deadline and was killed."""

    def __init__(self, argv: list[str], timeout: float) -> None:
        from ocf.quoting import quote_argv

        super().__init__(f"{quote_argv(argv)}: timed out after {timeout:.1f}s")
        self.argv = argv
        self.timeout = timeout
