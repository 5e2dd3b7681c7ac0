"""heartbeat resource.d wrappers for ocfkit's agents, and running haresources resources.

heartbeat's ResourceManager runs `/etc/ha.d/resource.d/NAME ARG... ACTION` and judges status by
the words it prints (`running`/`OK` means held, `not running` means not held), start and stop by
the exit code. Each wrapper maps the positional `::` arguments of a haresources token to the OCF
parameters exactly as heartbeat's own wrappers do (hto-mapfuncs), then runs ocfkit's agent.

A wrapper starts like an installed agent (its agent's start-up bundle, ocfkit.install.wrapper_stub),
and this module keeps to what an agent's start loads: no os (about 1 ms), no __future__ import
(the annotations below are valid at run time).
"""

import sys


class UsageError(Exception):
    """The positional arguments do not fit the wrapper."""


def _ip_spec(spec: str) -> dict[str, str]:
    """IPaddr/IPaddr2's single argument: ip[/bits[/nic[:label]][/broadcast]]."""
    parts = spec.split("/")
    out = {"ip": parts[0]}
    if len(parts) > 1 and parts[1]:
        out["cidr_netmask"] = parts[1]
    rest = parts[2:]
    if rest and rest[0][:1].isdigit():
        out["broadcast"] = rest[0]  # a digit after the bits: broadcast, no interface
    elif rest:
        nic, _, label = rest[0].partition(":")
        out["nic"] = nic
        if label:
            out["iflabel"] = label
        if len(rest) > 1 and rest[1]:
            out["broadcast"] = rest[1]
    return out


def _ipaddr2(args: list[str]) -> tuple[str, dict[str, str]]:
    if len(args) != 1:
        raise UsageError("usage: IPaddr2 ip-address[/netmaskbits[/interface[:label]][/broadcast]] ACTION")
    p = _ip_spec(args[0])
    if ":" not in p["ip"]:
        p["lvs_support"] = "1"  # what heartbeat's IPaddr2 wrapper does
    return f"IPaddr2_{p['ip']}", p


def _ipaddr(args: list[str]) -> tuple[str, dict[str, str]]:
    if len(args) != 1:
        raise UsageError("usage: IPaddr ip-address[/netmaskbits[/interface[:label]][/broadcast]] ACTION")
    p = _ip_spec(args[0])
    return f"IPaddr_{p['ip']}", p


def _filesystem(args: list[str]) -> tuple[str, dict[str, str]]:
    if not 2 <= len(args) <= 4:
        raise UsageError("usage: Filesystem device directory [fstype [options]] ACTION")
    p = dict(zip(("device", "directory", "fstype", "options"), args))
    return f"Filesystem_{args[0]}", p


def _portblock(args: list[str]) -> tuple[str, dict[str, str]]:
    # heartbeat calls `portblock tcp 3260 block start`: three arguments and the action. The historic
    # wrapper tested `$# != 3` (so every call failed) and did not export protocol; both are fixed here.
    if len(args) != 3:
        raise UsageError("usage: portblock {udp|tcp} portno,portno {block|unblock} ACTION")
    return f"portblock_{args[0]}_{args[1]}_{args[2]}", {"protocol": args[0], "portno": args[1], "action": args[2]}


def _lvm(args: list[str]) -> tuple[str, dict[str, str]]:
    if len(args) != 1:
        raise UsageError("usage: LVM volume-group ACTION")
    return "LVM", {"volgrpname": args[0]}


def _drbddisk(args: list[str]) -> tuple[str, dict[str, str]]:
    if len(args) > 1:
        raise UsageError("usage: drbddisk [resource] ACTION")
    res = args[0] if args else "all"
    return f"drbddisk_{res}", {"drbd_resource": res}


def _dummy(args: list[str]) -> tuple[str, dict[str, str]]:
    if len(args) > 1:
        raise UsageError("usage: Dummy [statefile] ACTION")
    return f"Dummy_{'_'.join(args) or 'default'}".replace("/", "_"), ({"state": args[0]} if args else {})


def _iscsitarget(args: list[str]) -> tuple[str, dict[str, str]]:
    # The seed's `iscsitarget` takes no arguments (it was IET's init script); ocfkit's runs ietd on an IET
    # host and tgtd elsewhere (implementation=auto), with an optional configuration file.
    if len(args) > 1:
        raise UsageError("usage: iscsitarget [targets.conf|ietd.conf] ACTION")
    return "iscsitarget", ({"config": args[0]} if args else {})


def _iscsi_target(args: list[str]) -> tuple[str, dict[str, str]]:
    # No heartbeat precedent (heartbeat's iSCSI resource was IET's init script): ocfkit's own form, for
    # LIO, where no daemon reads a configuration file.
    if not 1 <= len(args) <= 2:
        raise UsageError("usage: iSCSITarget iqn [implementation] ACTION")
    p = {"iqn": args[0]}
    if len(args) > 1:
        p["implementation"] = args[1]
    return f"iSCSITarget_{args[0]}", p


def _iscsi_lun(args: list[str]) -> tuple[str, dict[str, str]]:
    if not 3 <= len(args) <= 4:
        raise UsageError("usage: iSCSILogicalUnit target-iqn lun path [implementation] ACTION")
    p = {"target_iqn": args[0], "lun": args[1], "path": args[2]}
    if len(args) > 3:
        p["implementation"] = args[3]
    return f"iSCSILogicalUnit_{args[0]}_{args[1]}", p


# wrapper name -> (OCF type of the ocfkit agent, positional mapper)
WRAPPERS = {
    "IPaddr2": ("IPaddr2", _ipaddr2),
    "IPaddr": ("IPaddr2", _ipaddr),
    "Filesystem": ("Filesystem", _filesystem),
    "portblock": ("portblock", _portblock),
    "LVM": ("LVM", _lvm),
    "drbddisk": ("drbddisk", _drbddisk),
    "Dummy": ("Dummy", _dummy),
    "iscsitarget": ("iscsitarget", _iscsitarget),
    "iSCSITarget": ("iSCSITarget", _iscsi_target),
    "iSCSILogicalUnit": ("iSCSILogicalUnit", _iscsi_lun),
}


def available() -> dict[str, tuple[str, object]]:
    """The wrappers whose agent ocfkit has."""
    from agents import AGENTS

    return {name: spec for name, spec in WRAPPERS.items() if spec[0] in AGENTS}


def ocf_call(name: str, args: list[str]) -> tuple[str, str, dict[str, str]]:
    """(OCF type, instance, parameters) for a haresources resource NAME::ARGS."""
    if name not in WRAPPERS:
        raise UsageError(f"no ocfkit wrapper for {name}")
    agent, mapper = WRAPPERS[name]
    instance, params = mapper(list(args))
    return agent, instance, params


def set_process_env(env: dict[str, str]) -> None:
    """Make env this process's environment, as seen by ocf.environ() and so by the command seam's
    children: through os.environ when os is loaded; else in posix.environ, which ocf.environ()
    decodes and from which os.environ would be built if something imported os later."""
    os = sys.modules.get("os")
    if os is not None:
        os.environ.clear()
        os.environ.update(env)
        return
    import posix

    enc = sys.getfilesystemencoding()
    posix.environ.clear()
    posix.environ.update({k.encode(enc, "surrogateescape"): v.encode(enc, "surrogateescape") for k, v in env.items()})


def main(name: str, argv: list[str], env=None) -> int:
    """Run a wrapper: positional arguments, then the action (what heartbeat passes)."""
    from agents import agent_class
    from ocf.calling import action_env

    if not argv:
        sys.stderr.write(f"usage: {name} ARGS... (start|stop|status|monitor|meta-data)\n")
        return 1
    action, args = argv[-1], argv[:-1]
    params: dict[str, str] = {}
    if action in ("meta-data", "usage") and name in WRAPPERS:
        agent, instance = WRAPPERS[name][0], name
    else:
        try:
            agent, instance, params = ocf_call(name, args)
        except UsageError as e:
            sys.stderr.write(f"{e}\n")
            return 1
    if action not in ("start", "stop", "status", "monitor", "meta-data", "usage", "validate-all"):
        sys.stderr.write(f"ERROR: unknown operation {action}\n")
        return 1
    if env is None:
        from ocf import environ

        env = environ()
    env = action_env(env, agent, instance, params, version="1.0")
    set_process_env(env)  # the command seam passes some of these on to children
    rc = agent_class(agent).main([agent, "monitor" if action == "status" else action], env)
    if action in ("status", "monitor"):
        # ResourceManager reads the words, not the code: "not running" must never look like "running".
        print(f"{instance}: running (OK)" if rc == 0 else
              f"{instance}: not running" + ("" if rc == 7 else f" (failed, rc {rc})"))
    elif action in ("start", "stop"):
        print(f"{instance}: {action}: Success" if rc == 0 else f"ERROR: {instance}: {action} failed (rc {rc})")
    return rc
