"""`ocfkit`: list, meta-data, run, install, uninstall (heartbeat, crm and demo subcommands join later)."""

from __future__ import annotations

import argparse
import os
import sys

from ocfkit import __version__


class UsageError(Exception):
    """A mistake in the command line; reported as one line, exit 2."""


def _load(name: str):
    from agents import AGENTS

    spec = AGENTS.get(name)
    if spec is None:
        lowered = {k.lower(): k for k in AGENTS}
        if name.lower() in lowered:
            spec = AGENTS[lowered[name.lower()]]
        else:
            raise UsageError(f"unknown agent {name!r} (ocfkit list shows the agents)")
    from ocf import load

    return load(spec), spec.partition(":")[0]


def cmd_list(args) -> int:
    from agents import AGENTS

    for name in sorted(AGENTS):
        cls, _m = _load(name)
        from ocf.metadata import _docstring

        print(f"ocf:{args.provider}:{name:<20} {_docstring(cls)[1]}")
    return 0


def cmd_meta_data(args) -> int:
    cls, _m = _load(args.agent)
    from ocf.metadata import render

    env = dict(os.environ)
    if args.ocf_1_1:
        env.update(OCF_RA_VERSION_MAJOR="1", OCF_RA_VERSION_MINOR="1")
    sys.stdout.write(render(cls, env))
    return 0


def run_env(cls_name: str, params: list[str], *, instance: str | None, provider: str, timeout: float | None,
            interval: float | None, check_level: int | None, base=None) -> dict[str, str]:
    """The environment Pacemaker would give an action of this agent (ocf.calling.action_env)."""
    from ocf.calling import action_env

    values = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key or not key.replace("_", "a").isalnum():
            raise UsageError(f"parameter {item!r} is not of the form name=value")
        values[key] = value
    env = action_env(os.environ if base is None else base, cls_name, instance or cls_name.lower(), values,
                     provider=provider, timeout_ms=None if timeout is None else int(timeout * 1000),
                     interval_ms=None if interval is None else int(interval * 1000))
    if check_level is not None:
        env["OCF_CHECK_LEVEL"] = str(check_level)
    return env


def unknown_params(cls, params: list[str]) -> list[str]:
    """One message for each name=value whose name the agent does not declare, with close matches."""
    import difflib

    from ocf.agent import STANDARD_PARAMS

    known = sorted(set(cls._params) | set(STANDARD_PARAMS))
    out = []
    for item in params:
        name = item.partition("=")[0]
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(close)}?" if close else f"{cls.type_name()} takes: {', '.join(known)}"
        out.append(f"{cls.type_name()} has no parameter {name!r} ({hint})")
    return out


def cmd_run(args) -> int:
    import subprocess

    from ocf.errors import RC_NAMES

    cls, module = _load(args.agent)
    env = run_env(cls.type_name(), args.params, instance=args.instance, provider="ocfkit",
                  timeout=args.timeout, interval=args.interval, check_level=args.check_level)
    unknown = unknown_params(cls, args.params)
    if unknown and not args.force:
        # The agent would ignore a misspelled name and act on the default (validate-all alone reports it).
        raise UsageError("; ".join(unknown) + "; --force passes it anyway")
    argv = [sys.executable, "-c", f"import sys; from {module} import {cls.__name__} as A; sys.exit(A.main())",
            args.action]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.dirname(os.path.dirname(_pkg_file())),
                                                      env.get("PYTHONPATH", "")]))
    proc = subprocess.run(argv, env=env, check=False)
    rc = proc.returncode
    print(f"ocfkit: {cls.type_name()} {args.action}: rc {rc} ({RC_NAMES.get(rc, 'unknown')})", file=sys.stderr)
    return rc


def _pkg_file() -> str:
    import ocf

    return os.path.abspath(ocf.__file__)


def cmd_install(args) -> int:
    from ocfkit import install as inst

    if args.bundles_only:
        if not args.system:
            raise UsageError("--bundles-only goes with --system (the package's bundle cache)")
        paths = inst.install_bundles()
    elif args.system:
        if args.python or args.force:
            raise UsageError("--system always runs /usr/bin/python3 and writes into an empty --destdir")
        paths = inst.install_system(destdir=args.destdir, provider=args.provider)
    else:
        paths = inst.install(destdir=args.destdir, provider=args.provider, python=args.python, force=args.force)
    for path in paths:
        print(path)
    return 0


def cmd_uninstall(args) -> int:
    from ocfkit.install import uninstall

    for path in uninstall(destdir=args.destdir, provider=args.provider):
        print(f"removed {path}")
    return 0


def cmd_migrate(args) -> int:
    from crm import fencing, ietd, render
    from crm import migrate as mig
    from crm.model import masked
    from heartbeat_legacy import hacf, haresources
    from heartbeat_legacy.files import read_text
    from ocf.exec import run
    from ocfkit import description, validate

    def seam(argv, **kw):
        return run(argv, **kw)

    groups = haresources.parse(read_text(args.haresources))
    cf_path = args.ha_cf or os.path.join(os.path.dirname(os.path.abspath(args.haresources)), "ha.cf")
    nodes, failback = None, False
    if os.path.exists(cf_path):
        cf = hacf.parse(read_text(cf_path))
        nodes = cf.nodes or None
        af = (cf.first("auto_failback") or ["legacy"])[0].lower()
        failback = af in hacf.TRUE
    all_nodes = list(nodes or [])
    all_nodes += [g.node for g in groups if g.node not in all_nodes]
    # Fencing must be said: a fencing file (the [fencing] part of a description), or --no-fencing.
    if args.no_fencing and args.fencing:
        raise UsageError("--fencing and --no-fencing exclude each other")
    if args.no_fencing:
        plan = fencing.plan("none", all_nodes)
    elif args.fencing:
        spec = description.Description()
        try:
            spec.update(description.load(args.fencing))
        except description.DescriptionError as e:
            raise UsageError(str(e)) from None
        spec.path, spec.text = args.fencing, read_text(args.fencing)
        found = [(k, m) for k, m in validate.problems(dict(spec)) if k[0] == "fencing"]
        extra = set(spec) - {"fencing"}
        found += [((k,), "unknown key in a fencing file (only [fencing...] or fencing = \"none\")") for k in extra]
        if found:
            raise UsageError("\n".join(f"{description._where(spec, k)}: {m}" for k, m in found))
        try:
            plan = fencing.plan(spec.get("fencing"), all_nodes, run=seam)
        except fencing.FencingError as e:
            raise UsageError(f"{args.fencing}: {e}") from None
    else:
        raise UsageError("fencing: give --fencing FILE (SBD or fence devices: see docs/crm.md) or --no-fencing (test "
                         "clusters only): Pacemaker starts nothing while STONITH is enabled without a device")
    targets: list[dict] = []
    if args.target:
        conf = args.ietd_conf or "/etc/iet/ietd.conf"
        allow = args.initiators_allow or os.path.join(os.path.dirname(conf), "initiators.allow")
        try:
            targets, notes = ietd.parse(read_text(conf), read_text(allow) if os.path.exists(allow) else "",
                                        path=conf, allow_path=allow)
        except ietd.IetdError as e:
            raise UsageError(str(e)) from None
        found = validate.problems({"target": targets})
        if found:
            raise UsageError("\n".join(f"{conf}: {validate.dotted(k)}: {m}" for k, m in found))
        if args.target == "lio":
            targets = _lio_initiators(targets, conf)
        for n in notes:
            print(f"ocfkit: warning: {n}", file=sys.stderr)
        groups = mig.translate_target_daemon(groups, targets, args.target)
    elif args.ietd_conf or args.initiators_allow:
        raise UsageError("--ietd-conf and --initiators-allow are read for --target lio|tgt")
    cluster = mig.migrate(groups, nodes=nodes, auto_failback=failback, fencing=plan, name=args.name,
                          provider=args.provider)
    if targets and args.target == "tgt":
        # tgt: tgtd on every node (a clone), each target an iSCSITarget with its tid and its LUNs shifted by one
        # (tgt's LUN 0 is the controller), as the description's tgt_daemon = "clone" renders them.
        cluster = mig.clone_target_daemon(cluster, targets, args.provider)
    elif targets:
        cluster = mig.add_target_params(cluster, targets)
    cluster = mig.add_filesystem_dependencies(cluster)
    if args.drbd_conf:
        from agents.tools import drbd

        def drbdadm(argv, **kw):
            # drbd-utils 9's drbdadm parses DRBD 9 syntax unless the 8.4 module is loaded; the seed's file is
            # 8.3/8.4 syntax, which drbd-utils' 8.4 parser (what drbdadm runs with that module) reads.
            from ocf.errors import CommandError

            try:
                return run(argv, timeout=30, **kw)
            except CommandError:
                legacy = "/usr/lib/drbd/drbdadm-84"
                if argv[0] != "drbdadm" or not os.path.exists(legacy):
                    raise
                return run([legacy, *argv[1:]], timeout=30, **kw)

        defined = set(drbd.defined_resources(drbdadm, args.drbd_conf))
        wanted = {a for g in groups for r in g.resources if r.name == "drbddisk" for a in (r.args or ("all",))}
        missing = sorted(wanted - defined - {"all"})
        if missing:
            raise UsageError(f"drbddisk resource(s) {', '.join(missing)} not defined in {args.drbd_conf}")
        if plan.enabled and "resource-and-stonith" not in read_text(args.drbd_conf):
            print(f"ocfkit: warning: {args.drbd_conf}: no 'fencing resource-and-stonith;' with the crm-fence-peer.9.sh "
                  "and crm-unfence-peer.9.sh handlers: DRBD would not freeze I/O while Pacemaker fences the peer "
                  "(ocfkit generate writes such a drbd.conf)", file=sys.stderr)
    for w in cluster.warnings:
        print(f"ocfkit: warning: {w}", file=sys.stderr)
    pacemaker = args.pacemaker or render.installed_pacemaker(seam)
    renderers = {"crmsh": render.crmsh_text, "cib": lambda c: render.cib_xml(c, pacemaker), "pcs": render.pcs_script}
    if args.out:
        # The one file that must hold the secrets (Pacemaker reads passwords from the CIB): mode 0600.
        try:
            description.write_files(os.path.dirname(os.path.abspath(args.out)),
                                    {os.path.basename(args.out): (renderers[args.format](cluster), 0o600)})
        except description.DescriptionError as e:
            raise UsageError(str(e)) from None
        print(args.out)
        return 0
    if cluster.secrets:
        print("ocfkit: warning: secrets are masked on standard output; --out FILE writes them (mode 0600)",
              file=sys.stderr)
    sys.stdout.write(renderers[args.format](masked(cluster)))
    return 0


def cmd_generate(args) -> int:
    from crm import render
    from ocf.exec import run
    from ocfkit import description

    def seam(argv, **kw):
        return run(argv, **kw)

    try:
        desc = description.load(args.description)
        pacemaker = args.pacemaker or desc.get("cluster", {}).get("pacemaker") or render.installed_pacemaker(seam)
        files = description.generate(desc, run=seam, pacemaker=pacemaker, target=args.target)
        written = description.write_files(args.out, files)
    except description.DescriptionError as e:
        raise UsageError(str(e)) from None
    for path in written:
        print(path)
    return 0


def _seconds(value: str) -> float:
    """A positive, finite number of seconds (argparse type of crm check's --timeout)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < 86400:
        raise argparse.ArgumentTypeError(f"{value!r}: seconds between 0 and 86400")
    return seconds


def cmd_crm_check(args) -> int:
    from crm.check import check

    rep = check(args.cib, fail_node=args.fail_node, corosync=args.corosync, timeout=args.timeout)
    sys.stdout.write(rep.text())
    return 1 if not rep.ok else 0 if rep.complete else 3


def cmd_crm_graph(args) -> int:
    from crm import graph

    text = graph.dot(graph.read(args.cib))  # bounded: a FIFO, a device or a huge CIB is refused at once
    if args.svg:
        rendered = graph.svg(text)
        if rendered is None:
            raise UsageError("Graphviz's dot is not installed (apt-get install graphviz), or drop --svg")
        text = rendered
    sys.stdout.write(text)
    return 0


def cmd_heartbeat(args) -> int:
    from heartbeat_legacy import commands

    return commands.run(args)


def cmd_demo(args) -> int:
    from ocfkit import demo

    try:
        return demo.main(args)
    except demo.DemoError as e:
        raise UsageError(str(e)) from None


def _lio_initiators(targets: list[dict], conf: str) -> list[dict]:
    """IET's initiators.allow for LIO, whose ACLs are by initiator name: addresses are dropped with a warning
    (IET let in anyone who matched any entry, so the names left only narrow access); a target left with
    addresses only is refused (no ACL at all would let every initiator in)."""
    from agents.iscsi.config import is_initiator_name

    out = []
    for t in targets:
        names = [i for i in t.get("initiators", []) if is_initiator_name(i)]
        dropped = [i for i in t.get("initiators", []) if not is_initiator_name(i)]
        if dropped and not names:
            raise UsageError(f"{conf}: {t['iqn']}: initiators.allow names only addresses ({', '.join(dropped)}), and "
                             "LIO's ACLs are by initiator name: list the initiators' IQNs, or use --target tgt")
        if dropped:
            print(f"ocfkit: warning: {t['iqn']}: not carried over: {', '.join(dropped)} (LIO's ACLs are by initiator "
                  "name; only the named initiators may log in: filter addresses with a firewall)", file=sys.stderr)
        out.append(dict(t, initiators=names) if dropped else t)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(prog="ocfkit", description="OCF resource agents in Python, and the tools around them.")
    p.add_argument("--version", action="version", version=f"ocfkit {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("list", help="list the agents")
    s.add_argument("--provider", default="ocfkit")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("meta-data", help="print an agent's meta-data XML")
    s.add_argument("agent")
    s.add_argument("--ocf-1.1", dest="ocf_1_1", action="store_true",
                   help="the OCF 1.1 form (select, reloadable, reload-agent) Pacemaker 2.1 asks for")
    s.set_defaults(func=cmd_meta_data)

    s = sub.add_parser("run", help="run one action of an agent by hand, with the OCF environment set up",
                       description="Run ACTION of AGENT with OCF_RESKEY_name=value for each parameter; "
                                   "the agent's exit code is passed through and its exit reason shown.")
    s.add_argument("agent")
    s.add_argument("action")
    s.add_argument("params", nargs="*", metavar="name=value")
    s.add_argument("--instance", help="OCF_RESOURCE_INSTANCE (default: the agent name in lower case)")
    s.add_argument("--timeout", type=float, help="the action timeout in seconds (OCF_RESKEY_CRM_meta_timeout)")
    s.add_argument("--interval", type=float, help="monitor interval in seconds; 0 or unset makes it a probe")
    s.add_argument("--check-level", type=int, help="OCF_CHECK_LEVEL (0, 10, 20)")
    s.add_argument("--force", action="store_true", help="pass parameters the agent does not declare")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("install", help="install the agents under DESTDIR/usr/lib/ocf/resource.d/PROVIDER")
    s.add_argument("--provider", default="ocfkit")
    s.add_argument("--destdir", default="/")
    s.add_argument("--python", help="interpreter for the agents (default: the base interpreter of this one)")
    s.add_argument("--force", action="store_true",
                   help="replace files ocfkit did not write (a displaced heartbeat wrapper is put back by uninstall)")
    s.add_argument("--system", action="store_true",
                   help="the Debian package's layout: agents run /usr/bin/python3 with the system's dist-packages, "
                        "bundles in /var/cache/ocfkit, heartbeat wrappers named ocfkit-NAME (package builds, with "
                        "--destdir)")
    s.add_argument("--bundles-only", action="store_true",
                   help="with --system: (re)build the start-up bundles in /var/cache/ocfkit (the package's "
                        "postinst and its python3 trigger run this)")
    s.set_defaults(func=cmd_install)

    s = sub.add_parser("demo", help="the reference HA iSCSI SAN failing over on this machine (root)",
                       description="Two real cluster nodes (namespace nodes running corosync + Pacemaker or "
                                   "heartbeat, configured by ocfkit generate from examples/demo.toml) and a client; "
                                   "the group moves, node1 crashes and is fenced, while the client writes; every "
                                   "acknowledged write is verified.")
    s.add_argument("--provider", default="ocfkit", help="agents to use (ocf:PROVIDER:...)")
    s.add_argument("--steady", type=float, default=None,
                   help="seconds of steady I/O between failovers (default 4, with --guests 10)")
    s.add_argument("--manager", choices=("pacemaker", "heartbeat"), default="pacemaker",
                   help="the cluster manager the two nodes run: corosync + Pacemaker (default) or heartbeat 3.0.6")
    s.add_argument("--guests", action="store_true",
                   help="instead: the SAN of examples/guest-san.toml on a real two-node Pacemaker 3.0 cluster in "
                        "Debian 13 qemu guests (DRBD, SBD fencing, LIO, an open-iscsi client): a planned move, a "
                        "crash of the active node and its rejoin with a DRBD resync (docs/guests.md; 10-20 min "
                        "without KVM, plus the image build once)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON (progress goes to stderr)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("heartbeat", help="heartbeat v1: group takeover/release/status, configuration check")
    hb = s.add_subparsers(dest="hb_command", metavar="ACTION")
    hb.required = True
    for name, text in (("takeover", "start this node's haresources groups left to right"),
                       ("release", "stop them right to left"), ("status", "show what runs (ALL/SOME/NONE)")):
        h = hb.add_parser(name, help=text)
        h.add_argument("--haresources", default="/etc/ha.d/haresources")
        h.add_argument("--node", help="node name (default: uname -n)")
        h.add_argument("--group", help="only the group with this key (its first resource)")
        h.add_argument("--provider", default="ocfkit")
        h.add_argument("-v", "--verbose", action="store_true", help="show every action and its result")
        h.set_defaults(func=cmd_heartbeat)
    h = hb.add_parser("check", help="validate ha.cf, authkeys and haresources of a configuration directory")
    h.add_argument("--dir", default="/etc/ha.d")
    h.add_argument("--node", help="node name to check for in ha.cf (default: uname -n)")
    h.set_defaults(func=cmd_heartbeat)

    s = sub.add_parser("migrate", help="turn a heartbeat v1 setup (haresources, ha.cf) into Pacemaker configuration")
    s.add_argument("--haresources", default="/etc/ha.d/haresources")
    s.add_argument("--ha-cf", help="ha.cf for the node list and auto_failback (default: beside haresources)")
    s.add_argument("--drbd-conf", help="DRBD configuration: every drbddisk resource must be defined in it")
    s.add_argument("--format", choices=("crmsh", "cib", "pcs"), default="crmsh")
    s.add_argument("--name", default="cluster", help="cluster name")
    s.add_argument("--fencing", metavar="FILE",
                   help="a TOML file with the [fencing] part of a description (SBD or fence devices; docs/crm.md)")
    s.add_argument("--no-fencing", action="store_true", help="disable STONITH (test clusters only: see the warning)")
    s.add_argument("--target", choices=("lio", "tgt"),
                   help="replace heartbeat's iscsitarget (IET) by iSCSITarget/iSCSILogicalUnit of this backend")
    s.add_argument("--ietd-conf", help="IET configuration to translate with --target (default /etc/iet/ietd.conf)")
    s.add_argument("--initiators-allow", help="IET initiators.allow (default: beside the ietd.conf)")
    s.add_argument("--pacemaker", choices=("2.1", "3.0"), help="CIB for this Pacemaker (default: the installed one)")
    s.add_argument("--provider", default="ocfkit", help="OCF provider of ocfkit's agents")
    s.add_argument("--out", help="write to this file (mode 0600, secrets included) instead of standard output "
                                 "(where secrets are masked)")
    s.set_defaults(func=cmd_migrate)

    s = sub.add_parser("generate", help="write every configuration file from a cluster description (TOML)")
    s.add_argument("description", help="the TOML description (see examples/seed-san.toml)")
    s.add_argument("--out", required=True, help="directory to write into (all files or none)")
    s.add_argument("--pacemaker", choices=("2.1", "3.0"),
                   help="the Pacemaker the CIB is for (default: cluster.pacemaker, else the installed pacemakerd)")
    s.add_argument("--target", choices=("lio", "tgt"),
                   help="the iSCSI target to run instead of the description's (an IET description is translated)")
    s.set_defaults(func=cmd_generate)

    s = sub.add_parser("crm", help="Pacemaker configuration tools")
    crm_sub = s.add_subparsers(dest="crm_command", metavar="ACTION")
    crm_sub.required = True
    c = crm_sub.add_parser("check", help="offline checks: schema, crm_verify, fencing of every node, "
                                         "corosync.conf, crm_simulate start and failover")
    c.add_argument("cib", help="CIB XML file")
    c.add_argument("--fail-node", help="node to fail in the simulation (default: where the services run)")
    c.add_argument("--corosync", metavar="FILE",
                   help="corosync.conf to check against the CIB (default: a corosync.conf beside the CIB, if any)")
    c.add_argument("--timeout", type=_seconds, default=240.0,
                   help="total time limit in seconds for the tools (each one also stops after 60 s)")
    c.set_defaults(func=cmd_crm_check)
    c = crm_sub.add_parser("graph", help="ordering and colocation as Graphviz DOT (SVG with --svg when dot exists)")
    c.add_argument("cib", help="CIB XML file")
    c.add_argument("--svg", action="store_true", help="render SVG with Graphviz's dot")
    c.set_defaults(func=cmd_crm_graph)

    s = sub.add_parser("uninstall", help="remove exactly what install wrote")
    s.add_argument("--provider", default="ocfkit")
    s.add_argument("--destdir", default="/")
    s.set_defaults(func=cmd_uninstall)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ocfkit console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except UsageError as e:
        print(f"ocfkit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ocfkit: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - one clear line, never a traceback
        print(f"ocfkit: error: {e}", file=sys.stderr)
        return 1
