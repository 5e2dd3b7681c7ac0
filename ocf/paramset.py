"""One instance's parameters: the OCF_RESKEY_* environment turned into typed values and problems.

The Param declarations (ocf.params) say what each parameter is; a ParamSet reads them for one
environment, parses each value once, and names every problem at once (validate-all).
"""

from __future__ import annotations

from ocf.errors import ConfigError
from ocf.outcome import ParserBug, unexpected

TYPE_CHECKING = False  # typing costs ~4 ms per agent start; mypy treats the name as true
if TYPE_CHECKING:
    from ocf.context import Context
    from ocf.params import Param

# Parameters every agent may be given without declaring them.
STANDARD_PARAMS = ("trace_ra", "trace_file", "trace_dir", "OCF_CHECK_LEVEL", "crm_feature_set")


class ParamSet:
    """The declared parameters (name -> Param) as one action's environment sets them."""

    def __init__(self, params: dict[str, Param], ctx: Context) -> None:
        self.params = params
        self.ctx = ctx
        self._values: dict[str, object] = {}

    def raw(self, name: str) -> str | None:
        """The text set for parameter name, None when unset or empty."""
        return self.params[name].raw(self.ctx.env)

    def value(self, name: str):
        """The parsed value of parameter name (its default when unset); ConfigError if invalid."""
        if name in self._values:
            return self._values[name]
        p = self.params[name]
        env = self.ctx.env
        raw = p.raw(env)
        if raw is None:
            # A replaced parameter still feeds its successor, so old configurations keep working.
            for old in self.params.values():
                if old.replaced_by == name and old.raw(env) is not None:
                    raw = old.raw(env)
                    break
        if raw is None:
            if p.required and p.default is None:
                raise ConfigError(f"parameter {name} is required")
            value = self.default(p)
        else:
            value = self.parse(p, raw)
        self._values[name] = value
        return value

    def default(self, p: Param):
        """p's parsed default (None when it has none)."""
        return None if p.default is None else self.parse(p, self.expand_default(p.default))

    def expand_default(self, text: str) -> str:
        """Fill ${HA_RSCTMP} and ${OCF_RESOURCE_INSTANCE} into a default (as shell agents do)."""
        return text.replace("${HA_RSCTMP}", self.ctx.rsctmp).replace("${OCF_RESOURCE_INSTANCE}", self.ctx.instance)

    def parse(self, p: Param, text: str):
        """text parsed by p: a ConfigError naming the parameter when the value is bad."""
        try:
            return p.parse(text)
        except Exception as e:  # noqa: BLE001 - a parser that fails on a value: the value is bad
            shown = "***" if p.secret else repr(text)
            if isinstance(e, ValueError):
                raise ConfigError(f"parameter {p.name}={shown}: {e}") from None
            # Anything else is the parser's bug, not the value's fault: rc 1, never the context rules.
            raise ParserBug(f"parameter {p.name}={shown}: {unexpected(e, self.ctx.log)}") from None

    def problems(self) -> list[str]:
        """Every parameter problem at once (syntax only: OCF_CHECK_LEVEL 0), unknown names last."""
        problems = []
        for name in self.params:
            try:
                self.value(name)
            except ConfigError as e:
                problems.append(e.reason)
        for key in self.ctx.env:
            if key.startswith("OCF_RESKEY_") and not key.startswith("OCF_RESKEY_CRM_meta_"):
                pname = key[len("OCF_RESKEY_"):]
                if pname not in self.params and pname not in STANDARD_PARAMS:
                    problems.append(f"unknown parameter {pname}")
        return problems

    def check(self) -> None:
        """Raise one ConfigError naming every invalid parameter (an unknown name fails validate-all only)."""
        problems = [p for p in self.problems() if not p.startswith("unknown parameter")]
        if problems:
            raise ConfigError("; ".join(problems))

    def secrets(self) -> set[str]:
        """The names of the secret parameters."""
        return {n for n, p in self.params.items() if p.secret}

    def register_secrets(self) -> None:
        """Have the log mask every secret value set (and its stripped form)."""
        for p in self.params.values():
            if p.secret:
                raw = p.raw(self.ctx.env)
                if raw:
                    from ocf.log import add_secret

                    add_secret(raw)
                    add_secret(raw.strip())

    def raws(self) -> dict[str, str | None]:
        """Every declared parameter's text as set (None when unset): what reload-agent records."""
        return {n: p.raw(self.ctx.env) for n, p in self.params.items()}
