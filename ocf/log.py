"""Logging compatible with ocf-shellfuncs' ocf_log/ha_log, configured on first use.

Destinations follow ha_log: syslog when HA_LOGFACILITY is set (and not "none"), appended to
HA_LOGFILE when set, stderr when neither is set (Pacemaker logs an agent's stderr at NOTICE),
HA_DEBUGLOG additionally. Debug messages only when HA_debug is set and not "0".
Lines carry the ocf_log tag `Type(instance)[pid]`. Known secret values are masked everywhere.
"""

from __future__ import annotations

import os
import sys
import time

_LEVELS = {"debug": 7, "info": 6, "notice": 5, "warning": 4, "err": 3, "crit": 2}
_PRIO_WORD = {"debug": "DEBUG", "info": "INFO", "notice": "NOTICE", "warning": "WARNING",
              "err": "ERROR", "crit": "CRIT"}
_FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
               "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4", "local5",
               "local6", "local7")

_secrets: set[str] = set()


def add_secret(value: str) -> None:
    """Remember a secret value so that it is masked in every log line and exit reason."""
    if value:
        _secrets.add(value)
        if "'" in value:
            # As quote_argv writes it inside a quoted word (command lines in reasons and logs).
            _secrets.add(value.replace("'", "'\"'\"'"))


def mask(text: str) -> str:
    """Replace every known secret in text by ***."""
    for s in sorted(_secrets, key=len, reverse=True):
        if s in text:
            text = text.replace(s, "***")
    return text


def debug_enabled(env) -> bool:
    """HA_debug as ocf-shellfuncs reads it: unset, empty or 0 means off."""
    v = env.get("HA_debug", "").strip()
    return v not in ("", "0")


class Logger:
    """An ocf_log-like logger bound to one agent instance; reads its settings on first use."""

    def __init__(self, env, agent_type: str = "", instance: str = "") -> None:
        self.env = env
        self.agent_type = agent_type or env.get("OCF_RESOURCE_TYPE", "") or "ocfkit"
        self.instance = instance or env.get("OCF_RESOURCE_INSTANCE", "") or "default"
        self._ready = False
        self.trace = None  # a writable file when OCF_TRACE_RA tracing is on

    def _setup(self) -> None:
        env = self.env
        fac = env.get("HA_LOGFACILITY") or env.get("PCMK_LOGFACILITY") or ""
        self.facility = "" if fac.lower() in ("none", "") else fac.lower()
        self.logfile = env.get("HA_LOGFILE", "")
        self.debuglog = env.get("HA_DEBUGLOG", "")
        self.debug_on = debug_enabled(env)
        self.tag = f"{self.agent_type}({self.instance})[{os.getpid()}]"
        self._ready = True

    def log(self, level: str, msg: str) -> None:
        """Log msg at one of debug, info, notice, warning, err, crit."""
        self._emit(level, msg, stderr=True)

    def detail(self, msg: str) -> None:
        """Log a multi-line detail (a traceback) at debug level, never on stderr (the cluster reads
        that): the trace file and HA_DEBUGLOG always, syslog and HA_LOGFILE only with HA_debug."""
        self._emit("debug", msg, stderr=False)

    def _emit(self, level: str, msg: str, *, stderr: bool) -> None:
        if not self._ready:
            self._setup()
        msg = mask(str(msg))
        line = f"{self.tag}: {_PRIO_WORD[level]}: {msg}"
        if self.trace is not None:
            try:
                self.trace.write(f"+ log {level}: {msg}\n")
            except (OSError, ValueError):
                self.trace = None  # a full disk or a closed trace never fails the action
        stamp = time.strftime("%Y/%m/%d_%H:%M:%S")
        if level == "debug" and not self.debug_on:
            if not stderr and self.debuglog:
                _append(self.debuglog, f"{stamp} {line}\n")
            return
        if self.facility:
            import syslog

            fac = self.facility if self.facility in _FACILITIES else "daemon"
            syslog.openlog(self.agent_type, 0, getattr(syslog, "LOG_" + fac.upper()))
            syslog.syslog(_LEVELS[level], line)
        if self.logfile:
            _append(self.logfile, f"{stamp} {line}\n")
        if stderr and not self.facility and not self.logfile:
            try:
                sys.stderr.write(f"{stamp} {line}\n")
                sys.stderr.flush()
            except OSError:
                pass
        if self.debuglog and self.debuglog != self.logfile:
            _append(self.debuglog, f"{stamp} {line}\n")

    def debug(self, msg: str) -> None:
        """Log at debug level (shown only with HA_debug)."""
        self.log("debug", msg)

    def info(self, msg: str) -> None:
        """Log at info level."""
        self.log("info", msg)

    def warning(self, msg: str) -> None:
        """Log at warning level."""
        self.log("warning", msg)

    def error(self, msg: str) -> None:
        """Log at error level."""
        self.log("err", msg)


def _append(path: str, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
    except OSError:
        pass
