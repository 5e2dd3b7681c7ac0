"""Agent base class, @action, and Agent.main(): the only place exceptions become exit codes.

Agent is the face an agent author sees; its parts live beside it: ocf.context (the action, Pacemaker's
environment, the deadline, the log), ocf.paramset (OCF_RESKEY_* -> typed values and problems),
ocf.outcome (the exit-code rules) and ocf.trace (OCF_TRACE_RA). Agent ties them together.
"""

from __future__ import annotations

import sys
import time

from ocf import environ
from ocf.context import Context, Deadline
from ocf.errors import ConfigError, OcfError, Rc
from ocf.outcome import GOOD, ParserBug, describe, fail, finish, rc_of, unexpected
from ocf.params import Param
from ocf.paramset import STANDARD_PARAMS, ParamSet

# typing costs ~4 ms per agent start; mypy treats any TYPE_CHECKING name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from ocf.kernel import Kernel
    from ocf.reload import Record
    from ocf.trace import Trace

__all__ = ["STANDARD_PARAMS", "Agent", "Deadline", "ParserBug", "action", "describe"]

# After these succeed, the parameters an instance runs with are recorded (reload-agent compares
# against them); after these, forgotten. Only for agents that declare reloadable parameters.
_RECORD_AFTER = ("start", "migrate_from", "reload-agent")
_FORGET_AFTER = ("stop", "migrate_to")


def action(*, timeout: float, interval: float | None = None, depth: int | None = None,
           role: str | None = None, start_delay: float | None = None, name: str | None = None):
    """Declare a method as an OCF action; stack several to advertise e.g. monitor per role."""

    def deco(func):
        adverts = func.__dict__.setdefault("_ocf_actions", [])
        adverts.insert(0, {"name": name or func.__name__, "timeout": timeout, "interval": interval,
                           "depth": depth, "role": role, "start_delay": start_delay})
        return func

    return deco


def _from_context(name: str, doc: str) -> property:
    """A read-only Agent attribute that is the Context's attribute name."""
    return property(lambda self: getattr(self._ctx, name), doc=doc)


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

    def __init__(self, env=None, run=None, kernel=None) -> None:
        self._ctx = Context(environ() if env is None else env, self.type_name(), self._actions)
        self._paramset = ParamSet(self._params, self._ctx)
        self._runner = run
        self._kernel = kernel
        self._trace: Trace | None = None
        self._ocf_record: Record | None = None

    # ----- identity and context (ocf.context) -----------------------------------------------

    @classmethod
    def type_name(cls) -> str:
        """The OCF resource type: the class attribute name (a str) when set, else the class name."""
        name = cls.__dict__.get("name")
        return name if isinstance(name, str) and name else cls.__name__

    env = _from_context("env", "The action's environment, as Pacemaker's executor passed it.")
    instance = _from_context("instance", "OCF_RESOURCE_INSTANCE (the resource id, with :N for clone instances).")
    interval_ms = _from_context("interval_ms", "OCF_RESKEY_CRM_meta_interval, the monitor interval in ms (0 = probe).")
    is_probe = _from_context("is_probe", "A monitor with interval 0 (or unset, as ocf-shellfuncs defaults it).")
    check_level = _from_context("check_level", "OCF_CHECK_LEVEL, lowered to the deepest level the agent advertises.")
    is_clone = _from_context("is_clone", "Whether this instance belongs to a clone.")
    log = _from_context("log", "The instance's ocf_log-compatible logger (configured on first use).")
    rsctmp = _from_context("rsctmp", "HA_RSCTMP: the directory for state files and locks (cleared at boot).")
    deadline = _from_context("deadline", "The current action's deadline (a Deadline, counted from its first use).")

    # ----- commands and waiting -------------------------------------------------------------

    def run(self, argv, *, ok=(0,), timeout: float | None = None, input: str | None = None):  # noqa: A002
        """Run argv through the command seam, bounded by the action's deadline (a Runner, ocf.exec)."""
        left = self._ctx.deadline.remaining()
        t = left if timeout is None else min(timeout, left)
        trace = self._trace
        if trace is not None:
            trace.command(argv)
        if self._runner is None:
            from ocf.exec import run as _run

            self._runner = _run
        try:
            result = self._runner(argv, ok=ok, timeout=t, input=input)
        except OcfError as e:
            if trace is not None:
                trace.failed(e.reason)
            raise
        if trace is not None:
            trace.result(result)
        return result

    @property
    def kernel(self) -> Kernel:
        """The kernel state this agent reads without a command (ocf.kernel; a test passes FakeKernel)."""
        if self._kernel is None:
            from ocf.kernel import KERNEL

            self._kernel = KERNEL
        return self._kernel

    def wait_for(self, what: str, predicate, *, interval: float = 0.5, rc: int = Rc.ERR_GENERIC):
        """Poll predicate until it returns something true, or fail with a reason at the deadline."""
        while True:
            value = predicate()
            if value:
                return value
            left = self._ctx.deadline.remaining()
            if left <= 0:
                raise OcfError(f"timed out waiting for {what}", rc=rc)
            time.sleep(min(interval, left))

    # ----- parameters (ocf.paramset) --------------------------------------------------------

    def param(self, name: str):
        """The parsed value of parameter name (its default when unset); ConfigError if invalid."""
        return self._paramset.value(name)

    def expand_default(self, text: str) -> str:
        """Fill ${HA_RSCTMP} and ${OCF_RESOURCE_INSTANCE} into a default (as shell agents do)."""
        return self._paramset.expand_default(text)

    def param_problems(self) -> list[str]:
        """Every parameter problem at once (syntax only: OCF_CHECK_LEVEL 0)."""
        return self._paramset.problems()

    def check_params(self) -> None:
        """Raise one ConfigError naming every invalid parameter."""
        self._paramset.check()

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
            return self._paramset.default(p)
        return self._paramset.parse(p, raw)

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
            if rc not in GOOD:
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
        try:
            record.write(encode(self._paramset.raws(), self._paramset.secrets()))
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
        self.check_config()
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

    # ----- the boundary (ocf.outcome) --------------------------------------------------------

    @classmethod
    def main(cls, argv=None, env=None, run=None, kernel=None) -> int:
        """Run the action named in argv[1] and return its OCF exit code; never raises."""
        argv = sys.argv if argv is None else argv
        agent = cls(env, run, kernel)
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
            return fail(self._ctx, Rc.ERR_ARGS, "no action given")
        self._ctx.action = name
        if name not in self._actions:
            return fail(self._ctx, Rc.ERR_UNIMPLEMENTED, f"action {name!r} is not implemented")
        if name == "meta-data":
            return self.meta_data()
        self._paramset.register_secrets()
        self._start_trace()
        try:
            return self._dispatch(name)
        finally:
            if self._trace is not None:
                self._trace.close()
                self._trace = None

    def _dispatch(self, name: str) -> int:
        ctx = self._ctx
        method = getattr(self, self._actions[name][0])
        if name != "validate-all":
            # The checks before the body: a failure here means the resource cannot have been
            # started with this configuration, so the context rules apply (stop 0, probe 7).
            # Only an OcfError raised on purpose is a verdict on the configuration. Anything else
            # is a bug or a broken install on this node (an ImportError after a partial upgrade,
            # say): it proves neither that the resource is stopped nor that it cannot run, so it
            # never gets a stop's 0 or a probe's 7.
            try:
                self._paramset.check()
                self.check_config()
            except OcfError as e:
                return finish(ctx, e.rc, e.reason, before=True)
            except Exception as e:  # noqa: BLE001 - see above
                return finish(ctx, rc_of(e), unexpected(e, ctx.log), unexpected=True)
        try:
            if name == "reload-agent":
                self._ocf_before_reload()
            rc = method()
            rc = Rc.SUCCESS if rc is None else int(rc)
            if self._reloadable and rc == Rc.SUCCESS and (name in _RECORD_AFTER or name in _FORGET_AFTER):
                self._ocf_remember(name)
        except OcfError as e:
            return finish(ctx, e.rc, e.reason)
        except Exception as e:  # noqa: BLE001 - a bug or an unexpected OS error: rc_of, never the context rules
            return finish(ctx, rc_of(e), unexpected(e, ctx.log), unexpected=True)
        return finish(ctx, rc, "")

    def _internal_error(self, e: BaseException) -> int:
        """What main does with an exception that escaped _main (meta-data, usage, the trace...)."""
        if isinstance(e, SystemExit) and isinstance(e.code, int):
            return e.code
        if isinstance(e, KeyboardInterrupt):
            return fail(self._ctx, Rc.ERR_GENERIC, "interrupted")
        return fail(self._ctx, rc_of(e), unexpected(e, self._ctx.log))

    def _start_trace(self) -> None:
        env = self.env
        if not (env.get("OCF_TRACE_RA") or env.get("OCF_RESKEY_trace_ra")):
            return
        from ocf.trace import Trace, wanted

        if wanted(env):
            self._trace = Trace.open(self._ctx, self._paramset.secrets())

    def _get_action(self) -> str:
        return self._ctx.action

    def _set_action(self, name: str) -> None:
        self._ctx.action = name

    # Last in the class body, where the name no longer hides the @action decorator.
    action = property(_get_action, _set_action, doc="The action's name (\"\" before main has read it).")


# What a subclass may set (class settings: str) and override (hooks: methods); every other name the
# framework uses is refused at class creation, so that a parameter called "run" or "name" cannot
# silently replace Agent.run or break the meta-data.
_SETTINGS = ("name", "version", "shortdesc")
_HOOKS = ("check_config", "environment_problems")
_INSTANCE = ("_ctx", "_paramset", "_runner", "_kernel", "_trace", "_ocf_record")
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
