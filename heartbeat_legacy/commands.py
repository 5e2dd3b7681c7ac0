"""`ocfkit heartbeat takeover|release|status|check`: heartbeat v1 group operations by hand."""

from __future__ import annotations

import os
import sys

from heartbeat_legacy import authkeys, hacf, haresources
from heartbeat_legacy.files import read_text
from heartbeat_legacy.runner import Runner, script_path
from heartbeat_legacy.takeover import ReleaseFailed, TakeoverFailed, release, status, takeover


def _groups(path: str, node: str, key: str | None) -> list[haresources.Group]:
    groups = haresources.parse(read_text(path))
    mine = haresources.groups_for(groups, node)
    if key:
        mine = [g for g in groups if g.key == key]
        if not mine:
            raise ValueError(f"no group with key {key} in {path}")
    return mine


def run(args) -> int:
    """Dispatch one `ocfkit heartbeat` subcommand; returns the exit status."""
    if args.hb_command == "check":
        return check(args.dir, hostname=args.node)
    node = args.node or os.uname().nodename
    say = (lambda m: print(m, file=sys.stderr)) if args.verbose else None
    runner = Runner(provider=args.provider, log=say)
    groups = _groups(args.haresources, node, args.group)
    if not groups:
        print(f"no resource groups for node {node} in {args.haresources}", file=sys.stderr)
        return 1
    rc = 0
    for g in groups:
        members = [runner.resource(r) for r in g.resources]
        if args.hb_command == "status":
            states = status(members, runner)
            held = sum(1 for v in states.values() if v == 0)
            verdict = "ALL" if held == len(states) else "NONE" if held == 0 else "SOME"
            print(f"group {g.key} ({g.node}): {verdict}")
            for m in members:
                print(f"  {m.token}: {'running' if states[m.instance] == 0 else 'not running'}")
            continue
        try:
            if args.hb_command == "takeover":
                takeover(members, runner)
                print(f"group {g.key}: taken over")
            else:
                release(members, runner)
                print(f"group {g.key}: released")
        except (TakeoverFailed, ReleaseFailed) as e:
            print(f"group {g.key}: {e}", file=sys.stderr)
            rc = 1
    return rc


def check(directory: str, *, hostname: str | None = None) -> int:
    """Validate a heartbeat configuration directory; print a report; 1 when there are errors."""
    findings: list[str] = []
    errors = 0

    def add(sev: str, msg: str) -> None:
        nonlocal errors
        errors += sev == "error"
        findings.append(f"{sev}: {msg}")

    cf_path = os.path.join(directory, "ha.cf")
    try:
        cf = hacf.parse(read_text(cf_path))
        for fd in hacf.validate(cf, hostname=hostname or os.uname().nodename, file=cf_path):
            add(fd.severity, f"{fd.file}{':' + str(fd.line) if fd.line else ''}: {fd.message}")
    except OSError as e:
        add("error", f"{cf_path}: {e.strerror}")
    ak_path = os.path.join(directory, "authkeys")
    try:
        ak = authkeys.parse(read_text(ak_path))
        for fd in authkeys.validate(ak, mode=os.stat(ak_path).st_mode, file=ak_path):
            add(fd.severity, f"{fd.file}{':' + str(fd.line) if fd.line else ''}: {fd.message}")
    except OSError as e:
        add("error", f"{ak_path}: {e.strerror}")
    hr_path = os.path.join(directory, "haresources")
    try:
        groups = haresources.parse(read_text(hr_path))
        nodes = {n.lower() for n in (cf.nodes if "cf" in locals() else [])}
        for g in groups:
            if nodes and g.node.lower() not in nodes:
                add("error", f"{hr_path}:{g.line}: node {g.node} is not a node in ha.cf")
            for r in g.resources:
                if script_path(r.name, resource_dir=os.path.join(directory, "resource.d")) is None:
                    add("error", f"{hr_path}:{r.line}:{r.col}: resource script {r.name} not found in "
                                 f"{directory}/resource.d or /etc/init.d")
    except haresources.HaresourcesError as e:
        add("error", f"{hr_path}: {e}")
    except OSError as e:
        add("error", f"{hr_path}: {e.strerror}")
    for line in findings:
        print(line)
    print(f"{directory}: {errors} error(s), {len(findings) - errors} warning(s)")
    return 1 if errors else 0
