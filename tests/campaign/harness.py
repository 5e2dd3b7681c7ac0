"""The campaign's harness: run one agent action in-process against a fake system and judge the verdict.

The command seam is faked by a permissive runner (every command answers, from a behaviour the test
chose: plausible output, garbage, a random status, a hang, a missing tool, a kill). Everything else
an agent could touch on the real host is fenced while the action runs: writes outside the test's
directory fail (and are recorded), signals and background spawns are recorded instead of sent, time
is virtual (a sleep advances the clock, so a wait-until-deadline costs nothing), and the mount table,
the holders of a mount and whether the drbd module is loaded come from the fake world. The verdict
applies the OCF rules by context.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import posix
import sys
import time

from ocf.calling import action_env
from ocf.errors import CommandTimeout, NotInstalledError
from ocf.exec import Result, check

OCF_RCS = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191})
GOOD = frozenset({0, 8, 190, 191})
SECRET_MARK = "S3cr3tMark"  # every secret value the campaign draws starts with this
RUNS = {"actions": 0, "commands": 0}  # what this session ran (reported at the end of the pytest run)


def agent_classes() -> dict[str, type]:
    """Every agent of the registry, by OCF type."""
    from agents import AGENTS, agent_class

    return {name: agent_class(name) for name in sorted(AGENTS)}


def actions_of(cls) -> list[str]:
    """The actions to fuzz: all but meta-data; monitor twice (probe and recurring)."""
    out = []
    for name in sorted(cls._actions):
        if name == "meta-data":
            continue
        if name in ("monitor", "status"):
            out += [f"{name}:probe", f"{name}:recurring"]
        else:
            out.append(name)
    return out


# ----- the fake system ---------------------------------------------------------------------------

class Behaviour:
    """How one command answers: kind in ok, garbage, status, missing, hang, killed; with text and status."""

    __slots__ = ("kind", "text", "status")

    def __init__(self, kind: str, text: str = "", status: int = 0) -> None:
        self.kind, self.text, self.status = kind, text, status

    def __repr__(self) -> str:
        return f"Behaviour({self.kind!r}, {self.text[:40]!r}, {self.status})"


def plausible(argv: list[str]) -> str:
    """Output shaped like the tool's (empty lists and tables), so parsers get past their first line."""
    tool = os.path.basename(argv[0]) if argv else ""
    joined = " ".join(argv)
    if tool == "ip":
        return "[]" if "-j" in argv or "-json" in argv else ""
    if tool in ("lvm", "lvs", "vgs", "pvs"):
        return '{"report": [{"vg": [], "lv": [], "pv": []}]}' if "json" in joined else ""
    if tool == "nft":
        return '{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}]}'
    if tool in ("drbdsetup", "drbdadm"):
        return ""
    return ""


class World:
    """The fake system an action runs against: the command seam, the mount table, holders, clock."""

    def __init__(self, behaviours=(), *, mountinfo: str = "", answer=None) -> None:
        self.behaviours = list(behaviours) or [Behaviour("ok")]
        self.answer = answer  # answer(world, argv, input) -> Result or None (then behaviours decide)
        self.calls: list[list[str]] = []
        self.mountinfo = mountinfo
        self.holders: dict[int, str] = {}
        self.signals: list[tuple[int, int]] = []
        self.drbd_loaded = True  # the drbd kernel module (read from /proc and /sys, not through the seam)
        self.spawned: list[list[str]] = []
        self.escapes: list[str] = []  # writes outside the sandbox the agent attempted
        self.clock = 0.0

    def __call__(self, argv, *, ok=(0,), timeout: float, input: str | None = None) -> Result:  # noqa: A002
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        if timeout is None or timeout <= 0:
            raise CommandTimeout(argv, 0.0)
        if self.answer is not None:
            r = self.answer(self, argv, input)
            if r is not None:
                return check(r, ok)
        b = self.behaviours[(len(self.calls) - 1) % len(self.behaviours)]
        if b.kind == "missing":
            raise NotInstalledError(f"{argv[0]}: command not found")
        if b.kind == "hang":
            self.clock += timeout
            raise CommandTimeout(argv, timeout)
        if b.kind == "killed":
            return check(Result(argv, -(b.status or 9), b.text, ""), ok)
        if b.kind == "garbage":
            return check(Result(argv, b.status, b.text, b.text[::-1]), ok)
        if b.kind == "status":
            return check(Result(argv, b.status, plausible(argv), b.text), ok)
        return check(Result(argv, 0, b.text or plausible(argv), ""), ok)


# ----- the fence around an in-process action -----------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@contextlib.contextmanager
def fenced(world: World, roots: list[str]):
    """While inside: writes only below roots, no real signals or spawns, virtual time, fake mounts."""
    import ocf.exec
    from agents.tools import drbd, holders, mounts

    roots = [os.path.realpath(r) for r in roots]

    def inside(path) -> bool:
        if isinstance(path, int):
            return True
        try:
            p = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return any(p == r or p.startswith(r + "/") for r in roots)

    def refuse(what: str, path) -> None:
        world.escapes.append(f"{what} {path!r}")
        raise PermissionError(13, "the campaign's fence refuses a write outside the sandbox", str(path))

    real = {"open": builtins.open, "os_open": os.open, "makedirs": os.makedirs, "mkdir": os.mkdir,
            "rmdir": os.rmdir, "unlink": os.unlink, "remove": os.remove, "replace": os.replace,
            "rename": os.rename, "chmod": os.chmod, "kill": os.kill, "pkill": posix.kill,
            "sleep": time.sleep, "monotonic": time.monotonic, "spawn": ocf.exec.spawn,
            "mounts": mounts.mounts, "holders": holders.holders, "drbd_loaded": drbd.module_loaded,
            "pmkdir": posix.mkdir,
            "popen": posix.open, "prmdir": posix.rmdir, "punlink": posix.unlink}

    def g_open(file, mode="r", *a, **kw):
        if any(c in mode for c in "wax+") and not inside(file):
            refuse("open", file)
        return real["open"](file, mode, *a, **kw)

    def g_os_open(path, flags, *a, **kw):
        if flags & _WRITE_FLAGS and not inside(path):
            refuse("os.open", path)
        return real["os_open"](path, flags, *a, **kw)

    def guard(name: str):
        fn = real[name]

        def wrapped(path, *a, **kw):
            if not inside(path):
                refuse(name, path)
            return fn(path, *a, **kw)

        return wrapped

    def guard2(name: str):
        fn = real[name]

        def wrapped(src, dst, *a, **kw):
            if not (inside(src) and inside(dst)):
                refuse(name, dst)
            return fn(src, dst, *a, **kw)

        return wrapped

    def kill(pid, sig):
        world.signals.append((pid, sig))

    def sleep(seconds):
        world.clock += max(0.0, seconds)

    def monotonic():
        return real["monotonic"]() + world.clock

    def spawn(argv, **kw):
        world.spawned.append([str(a) for a in argv])
        return 4_000_000 + len(world.spawned)  # above pid_max's default: never a real process

    patches = [(builtins, "open", g_open), (os, "open", g_os_open), (posix, "open", g_os_open),
               (os, "makedirs", guard("makedirs")), (os, "mkdir", guard("mkdir")), (posix, "mkdir", guard("mkdir")),
               (os, "rmdir", guard("rmdir")), (posix, "rmdir", guard("rmdir")), (os, "unlink", guard("unlink")),
               (posix, "unlink", guard("unlink")), (os, "remove", guard("remove")), (os, "chmod", guard("chmod")),
               (os, "replace", guard2("replace")), (os, "rename", guard2("rename")),
               (os, "kill", kill), (posix, "kill", kill), (time, "sleep", sleep), (time, "monotonic", monotonic),
               (ocf.exec, "spawn", spawn), (mounts, "mounts", lambda path=None: mounts.parse(world.mountinfo)),
               (holders, "holders", lambda mountpoint, *a, **kw: dict(world.holders)),
               (drbd, "module_loaded", lambda: world.drbd_loaded)]
    # A module the action imports lazily for the first time (a fresh tree has no __pycache__) would
    # have its bytecode written by the import system, not by the agent: that write is no escape.
    patches.append((sys, "dont_write_bytecode", True))
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        for obj, name, value in patches:
            setattr(obj, name, value)
        yield world
    finally:
        for obj, name, value in reversed(saved):
            setattr(obj, name, value)


# ----- running an action and judging it ----------------------------------------------------------

class Outcome:
    """What one action left: its rc, what it wrote to stderr and stdout, the log file, the trace."""

    def __init__(self, action: str, rc: int, *, stderr: str, stdout: str, log: str, trace: str,
                 trace_mode: int | None, world: World, env: dict[str, str]) -> None:
        self.action, self.rc, self.stderr, self.stdout, self.log = action, rc, stderr, stdout, log
        self.trace, self.trace_mode, self.world, self.env = trace, trace_mode, world, env

    @property
    def reasons(self) -> list[str]:
        """The exit reasons printed on stderr."""
        return [ln[len("ocf-exit-reason:"):] for ln in self.stderr.splitlines() if ln.startswith("ocf-exit-reason:")]

    def __repr__(self) -> str:
        return (f"Outcome({self.action} rc={self.rc} stderr={self.stderr[-600:]!r} calls={self.world.calls[-6:]!r} "
                f"escapes={self.world.escapes!r})")


def base_env(tmp: str, cls, params: dict[str, str], *, instance: str = "campaign",
             recurring: bool = False) -> dict[str, str]:
    """The OCF environment of one action (ocf.calling.action_env) rooted in tmp: state, trace,
    configfs, proc and etc all below it."""
    for d in ("rsctmp", "configfs", "proc", "etc", "sys", "varlib"):
        os.makedirs(os.path.join(tmp, d), exist_ok=True)
    base = {"HA_RSCTMP": f"{tmp}/rsctmp", "HA_VARLIB": f"{tmp}/varlib",
            "OCFKIT_CONFIGFS_ROOT": f"{tmp}/configfs", "OCFKIT_PROC_ROOT": f"{tmp}/proc",
            "OCFKIT_ETC_ROOT": f"{tmp}/etc",
            # tgtd's control socket and lock (the proof that no tgtd runs) in the test's directory, not the host's.
            "TGT_IPC_SOCKET": f"{tmp}/tgtd/socket",
            # An empty sysfs: LVM cannot read the device-mapper table there and asks the (fake) lvm.
            "OCFKIT_SYSFS_ROOT": f"{tmp}/sys", "PATH": "/usr/sbin:/usr/bin"}
    return action_env(base, cls.type_name(), instance, params, provider="ocfkit", timeout_ms=20000,
                      interval_ms=10000 if recurring else None)


def run_action(cls, action: str, params: dict[str, str], world: World, tmp: str, *, log_to_file: bool = True,
               trace: bool = False, extra_env: dict[str, str] | None = None) -> Outcome:
    """Run one action (monitor:probe / monitor:recurring for the two monitor contexts) and collect its outcome."""
    name, _, context = action.partition(":")
    env = base_env(tmp, cls, {k: v for k, v in params.items() if v is not None}, recurring=context == "recurring")
    logfile = os.path.join(tmp, "agent.log")
    tracefile = os.path.join(tmp, "agent.trace")
    for p in (logfile, tracefile):
        if os.path.exists(p):
            os.unlink(p)
    if log_to_file:
        env["HA_LOGFILE"] = logfile
        env["HA_debug"] = "1"
    if trace:
        env["OCF_TRACE_RA"] = "1"
        env["OCF_TRACE_FILE"] = tracefile
    env.update(extra_env or {})
    err, out = io.StringIO(), io.StringIO()
    import ocf.log

    ocf.log._secrets.clear()  # each action is a new process: it knows only its own secrets
    RUNS["actions"] += 1
    with fenced(world, [tmp]), contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        rc = cls.main([cls.type_name(), name], env=env, run=world)
    RUNS["commands"] += len(world.calls)
    log = trace_text = ""
    mode = None
    if os.path.exists(logfile):
        with open(logfile, encoding="utf-8", errors="replace") as f:
            log = f.read()
    if os.path.exists(tracefile):
        mode = os.stat(tracefile).st_mode & 0o777
        with open(tracefile, encoding="utf-8", errors="replace") as f:
            trace_text = f.read()
    return Outcome(action, rc, stderr=err.getvalue(), stdout=out.getvalue(), log=log, trace=trace_text,
                   trace_mode=mode, world=world, env=env)


def verdict(o: Outcome, *, misconfigured: bool = False, user_values: list[str] = (),
            secrets: list[str] = ()) -> list[str]:
    """Every OCF rule the outcome breaks (empty when it keeps them all)."""
    bad = []
    name, _, context = o.action.partition(":")
    if o.rc not in OCF_RCS:
        bad.append(f"rc {o.rc} is not an OCF return code")
    for where, text in (("stderr", o.stderr), ("log", o.log), ("trace", o.trace)):
        if "Traceback (most recent call last)" in text and where == "stderr":
            bad.append(f"a Python traceback on {where}")
    if any(r.startswith("internal error") for r in o.reasons):
        bad.append(f"a bug: {o.reasons[0][:200]}")
    monitor = name in ("monitor", "status")
    failed = o.rc not in GOOD and not (monitor and o.rc == 7)
    if failed and not any(r.strip() for r in o.reasons):
        bad.append(f"rc {o.rc} without an ocf-exit-reason line")
    if monitor and context == "probe" and o.rc in (2, 3, 4, 5, 6):
        bad.append(f"probe returned {o.rc} (the context rules give 7 for a broken environment)")
    if monitor and context == "recurring" and o.rc == 6:
        bad.append("recurring monitor returned 6 (bans the resource cluster-wide)")
    if name == "stop" and o.rc in (2, 3, 6, 7, 8, 9):
        bad.append(f"stop returned {o.rc}")
    if name == "stop" and misconfigured and o.rc != 0:
        bad.append(f"stop of a misconfigured resource returned {o.rc}, not 0")
    if monitor and context == "probe" and misconfigured and o.rc != 7:
        bad.append(f"probe of a misconfigured resource returned {o.rc}, not 7")
    bad += option_injections(o.world.calls, user_values)
    bad += secret_leaks(o, secrets)
    if o.world.escapes:
        bad.append(f"wrote outside its directories: {o.world.escapes[:3]}")
    if o.world.signals:
        bad.append(f"signalled processes the fake world does not have: {o.world.signals[:3]}")
    return bad


# Options that take the next argument as their value (getopt's required arguments) in the tools the
# agents run, and `ip`'s keywords followed by a value: a user value right after one of them is data.
VALUE_OPTIONS = frozenset({
    "-o", "-t", "-L", "-U", "-O", "-s", "-m", "-n", "-p", "-T", "-l", "-d", "-j", "-A", "-D", "-I", "-C", "-i",
    "--tid", "--lun", "--targetname", "--name", "--value", "--user", "--password", "--initiator-address",
    "--initiator-name", "--backing-store", "--bstype", "--bsoflags", "--device-type", "--params", "--addtag",
    "--deltag", "--comment", "--dport", "--sport", "--dports", "--sports", "--reject-with", "--lld", "--mode",
    "--op", "--sid", "--cid", "--config", "--select", "--options", "--systemid", "--tag",
    "dev", "label", "broadcast", "brd", "peer", "local", "scope", "preferred_lft", "valid_lft", "table", "via",
    "src", "to", "from", "netns", "link", "name", "comment", "metric",
})


def option_injections(calls: list[list[str]], user_values) -> list[str]:
    """argv elements that are a user value starting with '-', placed where the tool reads an option."""
    hostile = {v for v in user_values if v and v.startswith("-")}
    hostile |= {v.strip() for v in user_values if v and v.strip().startswith("-")}
    hostile.discard("-")
    if not hostile:
        return []
    bad = []
    for argv in calls:
        for i, arg in enumerate(argv[1:], start=1):
            if arg not in hostile:
                continue
            if "--" in argv[1:i] or argv[i - 1] in VALUE_OPTIONS:
                continue
            bad.append(f"option injection: {arg!r} reaches {argv[0]} as an option ({argv[:8]})")
    return bad


def secret_leaks(o: Outcome, secrets) -> list[str]:
    """Secret values (or their marked head) seen in stderr, stdout, the log or the trace."""
    bad = []
    for s in secrets:
        probes = {s, s.strip(), SECRET_MARK} if s.startswith(SECRET_MARK) else {s, s.strip()}
        for where, text in (("stderr", o.stderr), ("log", o.log), ("trace", o.trace)):
            if any(p and len(p) >= 6 and p in text for p in probes):
                bad.append(f"secret in the {where}")
    return bad
