"""The context of one action: its name, Pacemaker's environment for it, its deadline and its log.

Everything here is read from the environment the executor passes (OCF RA API 1.1): which instance,
which monitor interval (0 is a probe), which check level, how long the action may take.
"""

from __future__ import annotations

import time

# typing costs ~4 ms per agent start; mypy treats any TYPE_CHECKING name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ocf.log import Logger


class Deadline:
    """The time an action may take: OCF_RESKEY_CRM_meta_timeout (ms) less a margin to report."""

    def __init__(self, total: float) -> None:
        self.total = total
        # Shell agents budget timeout-5s; scale the margin down for short timeouts.
        self.margin = min(5.0, max(0.5, total * 0.1))
        self.end = time.monotonic() + total - self.margin

    def remaining(self) -> float:
        """Seconds left before the agent must stop working and report."""
        return self.end - time.monotonic()

    def expired(self) -> bool:
        """Whether no time is left."""
        return self.remaining() <= 0


class Context:
    """One action of one resource instance as Pacemaker asks for it.

    actions maps each action name to (method name, adverts) as Agent collects them: the advertised
    timeouts and monitor depths are the fallbacks when Pacemaker passes none."""

    def __init__(self, env, type_name: str, actions: dict) -> None:
        self.env = env
        self.type_name = type_name
        self.actions = actions
        self.action = ""
        self._deadline: Deadline | None = None
        self._log: Logger | None = None
        self.trace_file = None  # the open trace (ocf.trace) that the log copies its lines to

    @property
    def instance(self) -> str:
        """OCF_RESOURCE_INSTANCE (the resource id, with :N for clone instances)."""
        return self.env.get("OCF_RESOURCE_INSTANCE", "") or "default"

    @property
    def interval_ms(self) -> int:
        """OCF_RESKEY_CRM_meta_interval, the monitor interval in milliseconds (0 = probe)."""
        try:
            return int(self.env.get("OCF_RESKEY_CRM_meta_interval", "0") or "0")
        except ValueError:
            return 0

    @property
    def is_monitor(self) -> bool:
        """Whether the action is monitor or its legacy alias status."""
        return self.action in ("monitor", "status")

    @property
    def is_probe(self) -> bool:
        """A monitor with interval 0 (or unset, as ocf-shellfuncs defaults it) is a probe."""
        return self.is_monitor and self.interval_ms == 0

    @property
    def is_clone(self) -> bool:
        """Whether this instance belongs to a clone."""
        return bool(self.env.get("OCF_RESKEY_CRM_meta_clone_max"))

    @property
    def rsctmp(self) -> str:
        """HA_RSCTMP: the directory for state files and locks (cleared at boot)."""
        return self.env.get("HA_RSCTMP") or "/run/resource-agents"

    @property
    def check_level(self) -> int:
        """OCF_CHECK_LEVEL, lowered to the deepest level the agent advertises at or below it."""
        text = self.env.get("OCF_CHECK_LEVEL") or self.env.get("OCF_RESKEY_OCF_CHECK_LEVEL") or ""
        if not text.strip():
            # validate-all without a level checks the environment too, as shell agents do.
            return 10 if self.action == "validate-all" else 0
        try:
            wanted = int(text)
        except ValueError:
            self.log.warning(f"OCF_CHECK_LEVEL={text!r} is not a number; using 0")
            return 0
        if self.action == "validate-all":
            return 10 if wanted >= 10 else 0
        depths = sorted({a["depth"] or 0 for a in self.actions.get("monitor", ("", []))[1]} | {0})
        level = max(d for d in depths if d <= wanted) if wanted >= 0 else 0
        if level != wanted:
            self.log.debug(f"check level {wanted} not supported; using {level}")
        return level

    @property
    def deadline(self) -> Deadline:
        """The action's deadline, counted from its first use."""
        if self._deadline is None:
            self._deadline = Deadline(self.timeout_for(self.action))
        return self._deadline

    def timeout_for(self, name: str) -> float:
        """OCF_RESKEY_CRM_meta_timeout in seconds, else the timeout action name advertises."""
        text = self.env.get("OCF_RESKEY_CRM_meta_timeout", "")
        try:
            ms = int(text)
            if ms > 0:
                return ms / 1000.0
        except ValueError:
            pass
        adverts = self.actions.get(name, ("", [{"timeout": 20}]))[1]
        return float(adverts[0]["timeout"])

    @property
    def log(self) -> Logger:
        """The instance's ocf_log-compatible logger (configured on first use)."""
        if self._log is None:
            from ocf.log import Logger

            self._log = Logger(self.env, self.type_name, self.instance)
            self._log.trace = self.trace_file
        return self._log

    @property
    def has_log(self) -> bool:
        """Whether the logger has been made (tracing attaches to it then)."""
        return self._log is not None
