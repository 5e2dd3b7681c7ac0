"""Shared scaffolding for real-system tests: namespaces, veth links, loop devices, agent runs.

Every helper names what it creates with a per-run unique prefix and tears it down by name or PID,
even when the test fails (use them as context managers or through fixtures with finalizers).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid

OCF_ROOT = "/usr/lib/ocf"
PROVIDER = os.environ.get("OCFKIT_TEST_PROVIDER", "ocfkit")


def sh(*argv: str, check: bool = True, timeout: float = 60, input: str | None = None, netns: str | None = None):  # noqa: A002
    """Run a command for test scaffolding (never an agent's own work), bounded by a timeout."""
    cmd = list(argv)
    if netns:
        cmd = ["ip", "netns", "exec", netns, *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=timeout, input=input)


def unique(prefix: str = "ocfk") -> str:
    """A short unique name (interface names are limited to 15 characters)."""
    return f"{prefix}{uuid.uuid4().hex[:6]}"


class Netns:
    """A network namespace with lo up; deleted on exit."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or unique("ocfk-")

    def __enter__(self) -> Netns:
        sh("ip", "netns", "add", self.name)
        sh("ip", "-n", self.name, "link", "set", "lo", "up")
        return self

    def __exit__(self, *exc) -> None:
        sh("ip", "netns", "del", self.name, check=False)

    def run(self, *argv: str, **kw):
        """Run a command inside the namespace."""
        return sh(*argv, netns=self.name, **kw)


def veth(a: Netns, a_name: str, b: Netns, b_name: str) -> None:
    """Link two namespaces with a veth pair (it dies with the namespaces) and bring both ends up."""
    tmp_a, tmp_b = unique("oka"), unique("okb")
    sh("ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b)
    sh("ip", "link", "set", tmp_a, "netns", a.name, "name", a_name)
    sh("ip", "link", "set", tmp_b, "netns", b.name, "name", b_name)
    sh("ip", "-n", a.name, "link", "set", a_name, "up")
    sh("ip", "-n", b.name, "link", "set", b_name, "up")


class LoopDevice:
    """A sparse file attached to a loop device; detached and removed on exit."""

    def __init__(self, size_mb: int = 64, directory: str | None = None) -> None:
        self.size_mb = size_mb
        self.directory = directory
        self.path = ""
        self.device = ""

    def __enter__(self) -> LoopDevice:
        fd, self.path = tempfile.mkstemp(prefix="ocfk-loop-", suffix=".img", dir=self.directory)
        os.ftruncate(fd, self.size_mb * 1024 * 1024)
        os.close(fd)
        self.device = sh("losetup", "--find", "--show", self.path).stdout.strip()
        return self

    def __exit__(self, *exc) -> None:
        if self.device:
            sh("losetup", "-d", self.device, check=False)
        if self.path:
            os.unlink(self.path)


def isolated_lvm_conf(conf_dir: str, device: str) -> str:
    """Write an lvm.conf into conf_dir (use it as LVM_SYSTEM_DIR) whose filter sees only device, with
    udev and monitoring off and backups kept in conf_dir; the host's own LVM is never touched."""
    os.makedirs(conf_dir, exist_ok=True)
    with open(f"{conf_dir}/lvm.conf", "w", encoding="utf-8") as f:
        f.write(f'devices {{ use_devicesfile = 0 filter = [ "a|^{device}$|", "r|.*|" ] '
                "obtain_device_list_from_udev = 0 }\n"
                "activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }\n"
                f'backup {{ backup_dir = "{conf_dir}/backup" archive_dir = "{conf_dir}/archive" }}\n')
    return conf_dir


def agent_path(agent: str, provider: str = PROVIDER) -> str:
    """Where the installed agent lives."""
    return f"{OCF_ROOT}/resource.d/{provider}/{agent}"


def ocf_env(instance: str, params: dict[str, str], *, rsctmp: str, timeout_ms: int = 20000,
            interval_ms: int | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment Pacemaker would pass to an action."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT": OCF_ROOT, "OCF_RESOURCE_INSTANCE": instance,
           "HA_RSCTMP": rsctmp, "OCF_RESKEY_CRM_meta_timeout": str(timeout_ms),
           "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "1"}
    if interval_ms is not None:
        env["OCF_RESKEY_CRM_meta_interval"] = str(interval_ms)
    for k, v in params.items():
        env["OCF_RESKEY_" + k] = v
    env.update(extra or {})
    return env


def run_agent(agent: str, action: str, env: dict[str, str], *, netns: str | None = None, timeout: float = 120,
              provider: str = PROVIDER):
    """Run one action of an installed agent; returns the CompletedProcess (rc, stdout, stderr)."""
    argv = [agent_path(agent, provider), action]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def bridge_lan(prefix: str, hosts: list[str]) -> tuple[Netns, dict[str, Netns]]:
    """A bridge in its own namespace and one namespace per host, each linked to it by veth as eth0.

    Returns (bridge namespace, {host: namespace}); the caller exits them (deleting a namespace
    deletes its veth ends)."""
    br = Netns(f"{prefix}-br").__enter__()
    nodes: dict[str, Netns] = {}
    try:
        br.run("ip", "link", "add", "br0", "type", "bridge")
        br.run("ip", "link", "set", "br0", "up")
        for i, h in enumerate(hosts):
            ns = Netns(f"{prefix}-{h}").__enter__()
            nodes[h] = ns
            veth(ns, "eth0", br, f"p{i}")
            br.run("ip", "link", "set", f"p{i}", "master", "br0")
    except BaseException:
        for ns in nodes.values():
            ns.__exit__(None, None, None)
        br.__exit__(None, None, None)
        raise
    return br, nodes


class MountNs:
    """A private mount namespace kept alive by a holder process; commands enter it with nsenter.

    Mounts made inside vanish with it and never show on the host."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> MountNs:
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sleep", "3600"])
        deadline = 50
        while deadline and os.readlink(f"/proc/{self.proc.pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt"):
            import time

            time.sleep(0.02)
            deadline -= 1
        return self

    @property
    def prefix(self) -> list[str]:
        """argv prefix that runs a command inside the namespace."""
        return ["nsenter", "-t", str(self.proc.pid), "-m"]

    def run(self, *argv: str, **kw):
        """Run a command inside the namespace."""
        return sh(*self.prefix, *argv, **kw)

    def __exit__(self, *exc) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait()


# Runs an installed stub with its last line (the agent's main) left out and prints two lines: our modules
# that came from the start-up bundle, and those that did not.
BUNDLE_PROBE = """
import sys
stub = sys.argv[1]
with open(stub) as f:
    text = f.read().rstrip().rsplit("\\n", 1)[0]
exec(compile(text, stub, "exec"))
ours = [n for n, m in sys.modules.items() if n.split(".")[0] in ("ocf", "agents")]
print(" ".join(sorted(n for n in ours if type(getattr(sys.modules[n], "__loader__", None)).__name__ == "BundleFinder")))
print(" ".join(sorted(n for n in ours if type(getattr(sys.modules[n], "__loader__", None)).__name__ != "BundleFinder")))
"""
