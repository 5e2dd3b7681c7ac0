#!/usr/bin/python3
"""fence_ocfkit_netns: fence agent for ocfkit's namespace lab nodes (fence-agents conventions).

A namespace node is powered by its lab's power switch, a small service on the host that plays the
part a BMC or a PDU plays for a real machine: a node cannot reach another node's processes (each has
its own PID namespace), exactly as a real server cannot reach its peer's, so the agent asks the
switch over a unix socket (the lab directory is shared by every node), as fence_xvm asks fence_virtd.
"off" kills every process of the node's namespaces (SIGKILL to its PID namespace's init, then any
straggler that still uses one of its namespaces) and removes its links; the switch answers only when
nothing of the node runs any more. "on" boots a fresh node.

Arguments come as ``key=value`` lines on stdin (as pacemaker-fenced passes them) or as options.
Exit codes: 0 success (status: ON), 1 failure, 2 status OFF. Standard library only.
"""

from __future__ import annotations

import socket
import sys

VERSION = "0.1"
ACTIONS = ("on", "off", "reboot", "status", "list", "list-status", "monitor", "metadata", "validate-all")

# name: (getopt, content type, default, required, shortdesc)
PARAMETERS = {
    "action": ("-o, --action=[action]", "string", "reboot", True, "Fencing action"),
    "plug": ("-n, --plug=[id]", "string", None, True,
             "Physical plug number on device, UUID or identification of machine (the lab node's name)"),
    "port": ("-n, --plug=[id]", "string", None, False, "Physical plug number on device (deprecated, use plug)"),
    "power_switch": ("--power-switch=[path]", "string", None, True, "Path of the lab's power switch socket"),
    "power_timeout": ("--power-timeout=[seconds]", "second", "20", False,
                      "Test X seconds for status change after ON/OFF"),
    "delay": ("--delay=[seconds]", "second", "0", False, "Wait X seconds before fencing is started"),
    "quiet": ("-q, --quiet", "boolean", None, False, "Disable logging to stderr"),
    "verbose": ("-v, --verbose", "boolean", None, False, "Verbose mode"),
    "version": ("-V, --version", "boolean", None, False, "Display version information and exit"),
    "help": ("-h, --help", "boolean", None, False, "Display help and exit"),
}
SHORT = {"-o": "action", "-n": "plug", "-q": "quiet", "-v": "verbose", "-V": "version", "-h": "help"}
FLAGS = {"quiet", "verbose", "version", "help"}


class FenceError(Exception):
    """The action failed; the message says why."""


def metadata() -> str:
    from xml.sax.saxutils import quoteattr

    out = ['<?xml version="1.0" ?>',
           '<resource-agent name="fence_ocfkit_netns" shortdesc="Fence agent for ocfkit namespace lab nodes" >',
           "<longdesc>fence_ocfkit_netns powers a node of an ocfkit namespace lab off and on through the lab's "
           "power switch: off kills every process of the node's namespaces and removes its network links; on "
           "boots a fresh node.</longdesc>",
           "<vendor-url>https://github.com/ClusterLabs/fence-agents</vendor-url>", "<parameters>"]
    for name, (getopt, ctype, default, required, short) in PARAMETERS.items():
        extra = ' deprecated="1"' if name == "port" else (' obsoletes="port"' if name == "plug" else "")
        out.append(f'\t<parameter name="{name}" unique="0" required="{int(required)}"{extra}>')
        out.append(f"\t\t<getopt mixed={quoteattr(getopt)} />")
        out.append(f'\t\t<content type="{ctype}"' + (f" default={quoteattr(default)}" if default else "") + "  />")
        out.append(f'\t\t<shortdesc lang="en">{short}</shortdesc>')
        out.append("\t</parameter>")
    out.append("</parameters>")
    out.append("<actions>")
    for a in ACTIONS:
        auto = ' automatic="0"' if a == "on" else ""
        out.append(f'\t<action name="{a}"{auto}/>')
    out.append("</actions>")
    out.append("</resource-agent>")
    return "\n".join(out) + "\n"


def parse_stdin(text: str) -> dict[str, str]:
    """key=value lines (fenced's format); '#' comments and blank lines skipped; unknown keys kept."""
    opts: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        opts[key.strip()] = value.strip()
    return opts


def parse_argv(argv: list[str]) -> dict[str, str]:
    opts: dict[str, str] = {}
    longs = {g.split("--", 1)[1].split("=")[0]: n for n, (g, *_rest) in PARAMETERS.items() if n != "port"}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            name = longs.get(key)
            if name is None:
                raise FenceError(f"unknown option {arg}")
        elif arg in SHORT:
            name, eq, value = SHORT[arg], "", ""
        else:
            raise FenceError(f"unknown option {arg}")
        if name in FLAGS:
            opts[name] = "1"
        elif eq:
            opts[name] = value
        else:
            i += 1
            if i >= len(argv):
                raise FenceError(f"option {arg} needs a value")
            opts[name] = argv[i]
        i += 1
    return opts


def ask(path: str, request: str, timeout: float) -> str:
    """One request to the power switch; returns the text after 'ok'."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(request.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n") and len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError as e:
        raise FenceError(f"power switch {path}: {e}") from None
    finally:
        s.close()
    reply = data.decode(errors="replace").strip()
    word, _, rest = reply.partition(" ")
    if word != "ok":
        raise FenceError(f"power switch: {reply or 'no answer'}")
    return rest


def run(opts: dict[str, str], out) -> int:
    action = opts.get("action", "reboot")
    if action == "metadata":
        out.write(metadata())
        return 0
    if action not in ACTIONS:
        raise FenceError(f"unsupported action {action!r}")
    path = opts.get("power_switch", "")
    if not path:
        raise FenceError("power_switch (the lab's power switch socket) is required")
    plug = opts.get("plug") or opts.get("port") or ""
    try:
        timeout = float(opts.get("power_timeout") or 20)
        delay = float(opts.get("delay") or 0)
    except ValueError:
        raise FenceError("power_timeout and delay are numbers of seconds") from None
    if action in ("monitor", "validate-all"):
        ask(path, "list", timeout)
        return 0
    if action in ("list", "list-status"):
        for name in ask(path, "list", timeout).split():
            if action == "list":
                out.write(f"{name},\n")
            else:
                out.write(f"{name},,{ask(path, f'status {name}', timeout)}\n")
        return 0
    if not plug or plug.startswith("-") or any(c.isspace() for c in plug):
        raise FenceError("plug (the node's name) is required")
    if action == "status":
        state = ask(path, f"status {plug}", timeout)
        out.write(f"Status: {state}\n")
        return 0 if state == "ON" else 2
    if delay > 0:
        import time

        time.sleep(delay)
    if action in ("off", "reboot"):
        ask(path, f"off {plug}", timeout)
        if ask(path, f"status {plug}", timeout) != "OFF":
            raise FenceError(f"{plug} is still ON after off")
    if action in ("on", "reboot"):
        try:
            ask(path, f"on {plug}", timeout)
        except FenceError as e:
            if action == "on":
                raise
            # fence-agents: a reboot whose power-on fails still fenced the node.
            sys.stderr.write(f"WARNING: {plug} fenced but not powered on again: {e}\n")
    out.write("Success: Rebooted\n" if action == "reboot" else f"Success: Powered {action.upper()}\n")
    return 0


def main(argv: list[str], stdin, out) -> int:
    opts: dict[str, str] = {}
    try:
        opts = parse_argv(argv[1:]) if len(argv) > 1 else parse_stdin(stdin.read(65536))
        if opts.get("help"):
            out.write("Usage: fence_ocfkit_netns -o ACTION -n NODE --power-switch=PATH\n")
            return 0
        if opts.get("version"):
            out.write(VERSION + "\n")
            return 0
        return run(opts, out)
    except FenceError as e:
        if opts.get("quiet", "0").lower() not in ("1", "yes", "true", "on"):
            sys.stderr.write(f"ERROR: {e}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv, sys.stdin, sys.stdout))
