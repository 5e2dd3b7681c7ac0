"""Agent base class, @action, and Agent.main(): the only place exceptions become exit codes."""

from __future__ import annotations

import posix as _posix  # loaded with the interpreter; os costs ~1 ms of imports per start
import sys
import time

from ocf import environ
from ocf.errors import ConfigError, OcfError, Rc
from ocf.params import Param

# typing costs ~4 ms per agent start; mypy treats any TYPE_CHECKING name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from ocf.reload import Record

# Actions whose exit codes mean "the resource is fine", never a failure needing a reason.
_GOOD = {Rc.SUCCESS, Rc.RUNNING_PROMOTED, Rc.DEGRADED, Rc.DEGRADED_PROMOTED}
# Errors that mean "this instance cannot run here": the context rules below apply to them.
_ENV_RCS = (Rc.ERR_ARGS, Rc.ERR_INSTALLED, Rc.ERR_CONFIGURED)
# After these succeed, the parameters an instance runs with are recorded (reload-agent compares
# against them); after these, forgotten. Only for agents that declare reloadable parameters.
_RECORD_AFTER = ("start", "migrate_from", "reload-agent")
_FORGET_AFTER = ("stop", "migrate_to")
# Parameters every agent may be given without declaring them.
STANDARD_PARAMS = ("trace_ra", "trace_file", "trace_dir", "OCF_CHECK_LEVEL", "crm_feature_set")


def action(*, timeout: float, interval: float | None = None, depth: int | None = None,
           role: str | None = None, start_delay: float | None = None, name: str | None = None):
    """Declare a method as an OCF action; stack several to advertise e.g. monitor per role."""

    def deco(func):
        adverts = func.__dict__.setdefault("_ocf_actions", [])
        adverts.insert(0, {"name": name or func.__name__, "timeout": timeout, "interval": interval,
                           "depth": depth, "role": role, "start_delay": start_delay})
        return func

    return deco


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


class Agent:
    """Base class of every ocfkit resource agent; the subclass docstring is the longdesc."""

    version = "1.0"
    shortdesc = ""
    _params: dict[str, Param] = {}
    _actions: dict[str, tuple[str, list[dict]]] = {}
    _reloadable = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        for attr, value in vars(cls).items():
            _check_member(cls, attr, value)
        # Each attribute as the class sees it (the most derived definition wins), so that a
        # subclass replacing a parameter or an action leaves no stale one behind.
        resolved: dict[str, object] = {}
        for klass in reversed(cls.__mro__[:-1]):  # object declares nothing of ours
            resolved.update(vars(klass))
        params: dict[str, Param] = {}
        actions: dict[str, tuple[str, list[dict]]] = {}
        for attr, value in resolved.items():
            if isinstance(value, Param):
                if value.name in params:
                    raise TypeError(f"{cls.__name__}.{attr}: parameter {value.name!r} is declared twice")
                params[value.name] = value
            adverts = getattr(value, "_ocf_actions", None)
            if adverts:
                actions[adverts[0]["name"]] = (attr, adverts)
        cls._params = params
        cls._actions = actions
        # OCF 1.1: Pacemaker calls reload-agent when only reloadable="1" parameters changed. Either
        # half without the other is a declaration error: advertised reloadability with no action
        # to apply it, or an action that no parameter change can ever call.
        reloadable = sorted(n for n, p in params.items() if p.reloadable)
        if reloadable and "reload-agent" not in actions:
            raise TypeError(f"{cls.__name__}: parameters {', '.join(reloadable)} are reloadable but the agent "
                            "has no @action(name='reload-agent') to apply them")
        if "reload-agent" in actions and not reloadable:
            raise TypeError(f"{cls.__name__}: a reload-agent action needs parameters declared reloadable=True")
        cls._reloadable = bool(reloadable)

    def __init__(self, env=None, run=None) -> None:
        self.env = environ() if env is None else env
        self._runner = run
        self.action = ""
        self._values: dict[str, object] = {}
        self._log = None
        self._deadline: Deadline | None = None
        self._trace: TextIO | None = None
        self._ocf_record: Record | None = None

    # ----- identity and context -------------------------------------------------------------

    @classmethod
    def type_name(cls) -> str:
        """The OCF resource type: the class attribute name (a str) when set, else the class name."""
        name = cls.__dict__.get("name")
        return name if isinstance(name, str) and name else cls.__name__

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
    def is_probe(self) -> bool:
        """A monitor with interval 0 (or unset, as ocf-shellfuncs defaults it) is a probe."""
        return self.action in ("monitor", "status") and self.interval_ms == 0

    @property
    def check_level(self) -> int:
        """OCF_CHECK_LEVEL, lowered to the deepest level this agent advertises at or below it."""
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
        depths = sorted({a["depth"] or 0 for a in self._actions.get("monitor", ("", []))[1]} | {0})
        level = max(d for d in depths if d <= wanted) if wanted >= 0 else 0
        if level != wanted:
            self.log.debug(f"check level {wanted} not supported; using {level}")
        return level

    @property
    def is_clone(self) -> bool:
        """Whether this instance belongs to a clone."""
        return bool(self.env.get("OCF_RESKEY_CRM_meta_clone_max"))

    @property
    def log(self):
        """The instance's ocf_log-compatible logger (configured on first use)."""
        if self._log is None:
            from ocf.log import Logger

            self._log = Logger(self.env, self.type_name(), self.instance)
            self._log.trace = self._trace
        return self._log

    @property
    def rsctmp(self) -> str:
        """HA_RSCTMP: the directory for state files and locks (cleared at boot)."""
        return self.env.get("HA_RSCTMP") or "/run/resource-agents"

    @property
    def deadline(self) -> Deadline:
        """The current action's deadline."""
        if self._deadline is None:
            self._deadline = Deadline(self._timeout_for(self.action))
        return self._deadline

    def _timeout_for(self, name: str) -> float:
        text = self.env.get("OCF_RESKEY_CRM_meta_timeout", "")
        try:
            ms = int(text)
            if ms > 0:
                return ms / 1000.0
        except ValueError:
            pass
        adverts = self._actions.get(name, ("", [{"timeout": 20}]))[1]
        return float(adverts[0]["timeout"])

    # ----- commands and waiting -------------------------------------------------------------

    def run(self, argv, *, ok=(0,), timeout: float | None = None, input: str | None = None):  # noqa: A002
        """Run argv through the command seam, bounded by the action's deadline (a Runner, ocf.exec)."""
        left = self.deadline.remaining()
        t = left if timeout is None else min(timeout, left)
        if self._trace is not None:
            from ocf.log import mask
            from ocf.quoting import quote_argv

            # Mask before quoting: quoting changes a secret that holds a quote or a space.
            self._traced(f"+ {mask(quote_argv([mask(str(a)) for a in argv]))}\n")
        if self._runner is None:
            from ocf.exec import run as _run

            self._runner = _run
        try:
            result = self._runner(argv, ok=ok, timeout=t, input=input)
        except OcfError as e:
            if self._trace is not None:
                from ocf.log import mask

                self._traced(mask(f"  failed: {e.reason}\n"))
            raise
        if self._trace is not None:
            from ocf.log import mask

            # Mask before repr(): it escapes quotes, backslashes and newlines inside a secret.
            self._traced(mask(f"  rc={result.returncode}\n  stdout={mask(result.stdout)!r}\n"
                              f"  stderr={mask(result.stderr)!r}\n"))
        return result

    def wait_for(self, what: str, predicate, *, interval: float = 0.5, rc: int = Rc.ERR_GENERIC):
        """Poll predicate until it returns something true, or fail with a reason at the deadline."""
        while True:
            value = predicate()
            if value:
                return value
            left = self.deadline.remaining()
            if left <= 0:
                raise OcfError(f"timed out waiting for {what}", rc=rc)
            time.sleep(min(interval, left))

    # ----- parameters -----------------------------------------------------------------------

    def param(self, name: str):
        """The parsed value of parameter name (its default when unset); ConfigError if invalid."""
        if name in self._values:
            return self._values[name]
        p = self._params[name]
        raw = p.raw(self.env)
        if raw is None:
            # A replaced parameter still feeds its successor, so old configurations keep working.
            for old in self._params.values():
                if old.replaced_by == name and old.raw(self.env) is not None:
                    raw = old.raw(self.env)
                    break
        if raw is None:
            if p.required and p.default is None:
                raise ConfigError(f"parameter {name} is required")
            value = None if p.default is None else self._parse(p, self.expand_default(p.default))
        else:
            value = self._parse(p, raw)
        self._values[name] = value
        return value

    def expand_default(self, text: str) -> str:
        """Fill ${HA_RSCTMP} and ${OCF_RESOURCE_INSTANCE} into a default (as shell agents do)."""
        return text.replace("${HA_RSCTMP}", self.rsctmp).replace("${OCF_RESOURCE_INSTANCE}", self.instance)

    def _parse(self, p: Param, text: str):
        try:
            return p.parse(text)
        except Exception as e:  # noqa: BLE001 - a parser that fails on a value: the value is bad
            shown = "***" if p.secret else repr(text)
            if isinstance(e, ValueError):
                raise ConfigError(f"parameter {p.name}={shown}: {e}") from None
            # Anything else is the parser's bug, not the value's fault: rc 1, never the context rules.
            raise ParserBug(f"parameter {p.name}={shown}: {self._unexpected(e)}") from None

    def param_problems(self) -> list[str]:
        """Every parameter problem at once (syntax only: OCF_CHECK_LEVEL 0)."""
        problems = []
        for name in self._params:
            try:
                self.param(name)
            except ConfigError as e:
                problems.append(e.reason)
        for key in self.env:
            if key.startswith("OCF_RESKEY_") and not key.startswith("OCF_RESKEY_CRM_meta_"):
                pname = key[len("OCF_RESKEY_"):]
                if pname not in self._params and pname not in STANDARD_PARAMS:
                    problems.append(f"unknown parameter {pname}")
        return problems

    def check_params(self) -> None:
        """Raise one ConfigError naming every invalid parameter."""
        problems = [p for p in self.param_problems() if not p.startswith("unknown parameter")]
        if problems:
            raise ConfigError("; ".join(problems))

    def check_config(self) -> None:
        """Rules across parameters that hold on every node (raise ConfigError); agents override this.

        It runs before every action (the ConfigError it raises gets the context rules: stop 0, probe 7;
        anything else it raises is a bug, rc 1 everywhere) and in validate-all
        at every level. It must not look at the local environment or run commands."""

    def environment_problems(self) -> list[OcfError]:
        """Problems of the local environment (OCF_CHECK_LEVEL 10); agents override this."""
        return []

    def check_environment(self) -> None:
        """Raise one error naming every environment problem (rc of the first, 6 if any is 6)."""
        problems = self.environment_problems()
        if problems:
            rc = Rc.ERR_CONFIGURED if any(e.rc == Rc.ERR_CONFIGURED for e in problems) else problems[0].rc
            raise OcfError("; ".join(e.reason for e in problems), rc=rc)

    # ----- reload-agent (OCF 1.1) -------------------------------------------------------------

    def changed(self, name: str) -> bool:
        """In reload-agent: whether parameter name differs from the value the instance runs with."""
        p = self._params[name]
        return self._ocf_recorded().differs(name, p.raw(self.env), secret=p.secret)

    def changed_params(self) -> list[str]:
        """In reload-agent: the reloadable parameters whose value changed, in declaration order."""
        return [n for n, p in self._params.items() if p.reloadable and self.changed(n)]

    def previous(self, name: str):
        """In reload-agent: the parsed value the instance ran with before this reload (the default
        when it was unset); LookupError for a secret parameter (only its digest is recorded)."""
        p = self._params[name]
        raw = self._ocf_recorded().raw(name, secret=p.secret)
        if raw is None:
            return None if p.default is None else self._parse(p, self.expand_default(p.default))
        return self._parse(p, raw)

    def _ocf_recorded(self) -> Record:
        if self._ocf_record is None:
            raise LookupError("the recorded parameters are read by reload-agent only")
        return self._ocf_record

    def _ocf_record_path(self) -> str:
        from ocf.reload import record_path

        return record_path(self.rsctmp, self.type_name(), self.instance)

    def _ocf_before_reload(self) -> None:
        """reload-agent runs only on an instance that runs here, with known parameters of which only
        reloadable ones changed; anything else fails (Pacemaker then restarts the resource) rather
        than report a change as applied that was not."""
        from ocf.reload import Record
        from ocf.state import StateFile

        if "monitor" in self._actions:
            rc = getattr(self, self._actions["monitor"][0])()
            rc = Rc.SUCCESS if rc is None else int(rc)
            if rc == Rc.NOT_RUNNING:
                raise OcfError(f"{self.instance} is not running here: nothing to reload")
            if rc not in _GOOD:
                raise OcfError(f"{self.instance} is not healthy (monitor rc {rc}): not reloading")
        text = StateFile(self._ocf_record_path()).read()
        if text is None:
            raise OcfError(f"the parameters {self.instance} was started with are not recorded "
                           f"({self._ocf_record_path()}): a restart is needed to apply the change")
        record = self._ocf_record = Record(text)
        fixed = [n for n, p in self._params.items()
                 if not p.reloadable and record.differs(n, p.raw(self.env), secret=p.secret)]
        if fixed:
            raise OcfError(f"parameter{'s' if len(fixed) > 1 else ''} {', '.join(fixed)} changed and "
                           f"{'are' if len(fixed) > 1 else 'is'} not reloadable: a restart is needed")

    def _ocf_remember(self, name: str) -> None:
        """Record the parameters after a successful start or reload, forget them after a stop."""
        from ocf.reload import encode
        from ocf.state import StateFile

        record = StateFile(self._ocf_record_path())
        if name in _FORGET_AFTER:
            try:
                record.remove()
            except OSError as e:
                self.log.warning(f"cannot remove {record.path}: {e.strerror}")
            return
        secrets = {n for n, p in self._params.items() if p.secret}
        try:
            record.write(encode({n: p.raw(self.env) for n, p in self._params.items()}, secrets))
        except OSError as e:
            # A stale record would let a later reload compare against the wrong values.
            try:
                record.remove()
            except OSError:
                pass
            if name == "reload-agent":
                raise
            self.log.warning(f"cannot record the parameters in {record.path}: {e.strerror}; "
                             "a later reload-agent will ask for a restart")

    # ----- built-in actions -----------------------------------------------------------------

    @action(name="validate-all", timeout=20)
    def validate_all(self) -> int:
        """Check the parameters (level 0) and the local environment (level 10), all at once."""
        problems = self.param_problems()
        if problems:
            raise ConfigError("; ".join(problems))
        self._check_config()
        if self.check_level >= 10:
            self.check_environment()
        return Rc.SUCCESS

    @action(name="meta-data", timeout=5)
    def meta_data(self) -> int:
        """Print the meta-data XML."""
        from ocf.metadata import render

        sys.stdout.write(render(type(self), self.env))
        sys.stdout.flush()
        return Rc.SUCCESS

    def usage(self) -> str:
        """One line naming the actions."""
        names = [n for n in self._actions if n != "meta-data"] + ["meta-data"]
        return f"usage: {self.type_name()} {{{'|'.join(names)}}}"

    # ----- the boundary ---------------------------------------------------------------------

    @classmethod
    def main(cls, argv=None, env=None, run=None) -> int:
        """Run the action named in argv[1] and return its OCF exit code; never raises."""
        argv = sys.argv if argv is None else argv
        agent = cls(env, run)
        try:
            return agent._main(argv)
        except BaseException as e:  # the last line of defence: never a traceback to the cluster
            return agent._internal_error(e)

    def _main(self, argv) -> int:
        name = argv[1] if len(argv) > 1 else self.env.get("__OCF_ACTION", "")
        if name in ("-h", "--help", "help", "usage"):
            sys.stdout.write(self.usage() + "\n")
            return Rc.SUCCESS
        if not name:
            sys.stderr.write(self.usage() + "\n")
            return self._fail(Rc.ERR_ARGS, "no action given")
        self.action = name
        if name not in self._actions:
            return self._fail(Rc.ERR_UNIMPLEMENTED, f"action {name!r} is not implemented")
        if name == "meta-data":
            return self.meta_data()
        self._register_secrets()
        self._start_trace()
        try:
            return self._dispatch(name)
        finally:
            self._stop_trace()

    def _dispatch(self, name: str) -> int:
        method = getattr(self, self._actions[name][0])
        if name != "validate-all":
            # The checks before the body: a failure here means the resource cannot have been
            # started with this configuration, so the context rules apply (stop 0, probe 7).
            try:
                self._configuration_checks()
            except OcfError as e:
                return self._finish(e.rc, e.reason, before=True)
            except Exception as e:  # noqa: BLE001 - a bug or a broken install: see _check_config
                return self._finish(Rc.ERR_GENERIC, self._unexpected(e), unexpected=True)
        try:
            if name == "reload-agent":
                self._ocf_before_reload()
            rc = method()
            rc = Rc.SUCCESS if rc is None else int(rc)
            if self._reloadable and rc == Rc.SUCCESS and (name in _RECORD_AFTER or name in _FORGET_AFTER):
                self._ocf_remember(name)
        except OcfError as e:
            return self._finish(e.rc, e.reason)
        except Exception as e:  # noqa: BLE001 - a bug or an unexpected OS error: see _finish
            return self._finish(Rc.ERR_GENERIC, self._unexpected(e), unexpected=True)
        return self._finish(rc, "")

    def _configuration_checks(self) -> None:
        """check_params and check_config (what runs before every action body but validate-all's)."""
        self._check_config(self.check_params)
        self._check_config(self.check_config)

    def _check_config(self, check=None) -> None:
        """Run check (check_config). Only an OcfError it raises on purpose is a verdict on the
        configuration. Anything else is a bug or a broken install on this node (an ImportError after
        a partial upgrade, say). It proves neither that the resource is stopped nor that it cannot run,
        so it is rc 1 in every context: never a stop's 0, never a probe's 7."""
        (check or self.check_config)()

    def _finish(self, rc: int, reason: str, *, before: bool = False, unexpected: bool = False) -> int:
        """Apply the context rules to an action's outcome and report a failure.

        before: raised by the checks before the action body (check_params, check_config).
        unexpected: an exception that is not an OcfError (a bug, an OS error) from the body."""
        name = self.action
        monitor = name in ("monitor", "status")
        # The context rules of ocf-rarun's handle_invalid_env, applied once for every agent.
        if rc in _ENV_RCS and not unexpected:
            if name == "stop" and before:
                # Nothing can have been started with a configuration that fails these checks.
                self.log.warning(f"stop: {reason or 'invalid configuration'}: cannot be running; success")
                return Rc.SUCCESS
            if monitor and self.is_probe:
                # Pacemaker reads a probe's "not installed" / "not configured" as stopped.
                self.log.info(f"probe: {reason or 'invalid environment'}: reporting not running")
                return Rc.NOT_RUNNING
        if monitor and not self.is_probe and rc == Rc.ERR_CONFIGURED:
            # rc 6 from a recurring monitor would ban the resource cluster-wide.
            rc = Rc.ERR_GENERIC
        if name == "notify" and rc != Rc.SUCCESS:
            # Pacemaker ignores notify failures; say what went wrong and carry on.
            self.log.warning(f"notify failed (rc {rc}): {reason}")
        if rc in _GOOD or (rc == Rc.NOT_RUNNING and monitor):
            return rc
        if name == "stop":
            # A failed stop is never turned into success here: the cluster must recover (fence).
            self.log.error(f"stop failed (rc {rc}): {self.instance} may still be running")
        return self._fail(rc, reason or f"{name} failed (rc {rc})")

    def _fail(self, rc: int, reason: str) -> int:
        from ocf.log import mask

        reason = mask(reason).replace("\n", " ")
        prefix = self.env.get("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:")
        try:
            self.log.error(reason)
        except Exception:  # noqa: BLE001 - reporting must not raise
            pass
        try:
            sys.stderr.write(f"{prefix}{reason}\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - reporting must not raise
            pass
        return rc

    def _unexpected(self, e: BaseException) -> str:
        """Log e's traceback at debug level only and return a one-line reason, its cause first."""
        try:
            import traceback

            self.log.detail("traceback:\n" + "".join(traceback.format_exception(type(e), e, e.__traceback__)))
        except Exception:  # noqa: BLE001 - reporting must not raise
            pass
        return describe(e)

    def _internal_error(self, e: BaseException) -> int:
        """What main does with an exception that escaped _main (meta-data, usage, the trace...)."""
        if isinstance(e, SystemExit) and isinstance(e.code, int):
            return e.code
        if isinstance(e, KeyboardInterrupt):
            return self._fail(Rc.ERR_GENERIC, "interrupted")
        return self._fail(Rc.ERR_GENERIC, self._unexpected(e))

    def _register_secrets(self) -> None:
        for p in self._params.values():
            if p.secret:
                raw = p.raw(self.env)
                if raw:
                    from ocf.log import add_secret

                    add_secret(raw)
                    add_secret(raw.strip())

    def _start_trace(self) -> None:
        from ocf.params import is_true

        env = self.env
        if not (is_true(env.get("OCF_TRACE_RA")) or is_true(env.get("OCF_RESKEY_trace_ra"))):
            return
        import os

        target = env.get("OCF_TRACE_FILE") or env.get("OCF_RESKEY_trace_file")
        try:
            # 0600 from the start (no chmod after the fact, no umask race): a trace holds every command
            # and its output, which can name what a secret protects even with the secret masked.
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
            if not target:
                base = env.get("OCF_RESKEY_trace_dir") or (env.get("HA_VARLIB") or "/var/lib/heartbeat") + "/trace_ra"
                d = f"{base}/{self.type_name()}"
                os.makedirs(os.path.dirname(base.rstrip("/")) or "/", exist_ok=True)
                for directory in (base, d):
                    try:
                        os.mkdir(directory, 0o700)
                    except FileExistsError:
                        pass
                instance = self.instance.replace("/", "_")
                target = f"{d}/{instance}.{self.action}.{time.strftime('%Y-%m-%d.%H:%M:%S')}"
                flags |= os.O_NOFOLLOW  # a name of ours: never follow a link planted under it
            fd = os.open(target, flags, 0o600)
            try:
                st = os.fstat(fd)
                if (st.st_mode & 0o170000) == 0o100000 and st.st_mode & 0o077 and st.st_uid == os.geteuid():
                    os.fchmod(fd, 0o600)  # an existing trace file of ours, made before this rule
                self._trace = os.fdopen(fd, "a", encoding="utf-8")
            except BaseException:
                os.close(fd)
                raise
        except OSError as e:
            self.log.warning(f"cannot open trace file {target}: {e.strerror}")
            return
        from ocf.log import mask

        self._traced(f"+ {self.type_name()} {self.action} (pid {_posix.getpid()})\n")
        for k in sorted(env):
            if k.startswith("OCF_") or k.startswith("HA_"):
                p = self._params.get(k[len("OCF_RESKEY_"):]) if k.startswith("OCF_RESKEY_") else None
                self._traced(f"+ env {k}={'***' if p is not None and p.secret else mask(env[k])}\n")
        if self._log is not None:
            self._log.trace = self._trace

    def _traced(self, text: str) -> None:
        """Write text to the trace file; a full disk ends tracing instead of failing the action."""
        if self._trace is None:
            return
        try:
            self._trace.write(text)
        except (OSError, ValueError):
            self._stop_trace()

    def _stop_trace(self) -> None:
        if self._trace is not None:
            trace, self._trace = self._trace, None
            if self._log is not None:
                self._log.trace = None
            try:
                trace.close()
            except (OSError, ValueError):
                pass  # the trace is an aid: losing it never changes the action's result


# What a subclass may set (class settings: str) and override (hooks: methods); every other name the
# framework uses is refused at class creation, so that a parameter called "run" or "name" cannot
# silently replace Agent.run or break the meta-data.
_SETTINGS = ("name", "version", "shortdesc")
_HOOKS = ("check_config", "environment_problems")
_INSTANCE = ("env", "action", "_runner", "_values", "_log", "_deadline", "_trace", "_ocf_record")
_FRAMEWORK = frozenset(n for n in vars(Agent) if not (n.startswith("__") and n.endswith("__"))) | set(_INSTANCE)


def _check_member(cls: type, attr: str, value: object) -> None:
    """Raise TypeError when attr of an Agent subclass shadows the framework or is not a valid hook."""
    where = f"{cls.__name__}.{attr}"
    if isinstance(value, Param):
        name = value.name
        if not (name.isascii() and name.replace("_", "a").isalnum()):
            raise TypeError(f"{where}: parameter name {name!r} is not letters, digits and _")
        if attr in _FRAMEWORK or attr in _SETTINGS:
            raise TypeError(f"{where}: a parameter may not shadow the framework's {attr!r}; "
                            f"declare it as {attr}_ = Param(..., name={attr!r})")
    elif attr in _SETTINGS:
        if not isinstance(value, str):
            raise TypeError(f"{where} must be a str")
    elif attr in _HOOKS:
        if not callable(value):
            raise TypeError(f"{where} must be a method")
    elif attr in _FRAMEWORK:
        raise TypeError(f"{where} shadows the framework's Agent.{attr}")
