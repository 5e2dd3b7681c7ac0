"""ocf:ocfkit:iSCSITarget and ocf:ocfkit:iSCSILogicalUnit (iSCSI target and LUN), and iscsitarget (the daemon).

The agents hold the parameters and the OCF rules; each implementation is a backend module imported
only when used (agents/iscsi_tgt.py, iscsi_lio.py, iscsi_iet.py), so a monitor loads one of them.
A backend has a Target and a Lun class built from the agent, with check() (configuration rules, no
environment), require() (the implementation is usable here, for validate-all), monitor(), start() and
stop(); the actions find a missing implementation on their way (NotInstalledError: a probe says 7, a
stop 0).
"""

from __future__ import annotations

from agents.tools import system_path
from ocf.agent import Agent, action
from ocf.errors import ConfigError, NotInstalledError, OcfError, Rc
from ocf.params import Param, Parser, boolean, choice, integer, path, string, words

IMPLEMENTATIONS = ("tgt", "lio", "iet")


def iet_loaded(env) -> bool:
    """Whether the IET kernel module is loaded (it publishes /proc/net/iet)."""
    from ocf.state import exists

    return exists(system_path(env, "proc") + "/net/iet")


def detect(env) -> str:
    """The implementation this host runs, or "": lio, then iet, then tgt.

    Kernel targets first: a loaded target module is a deliberate choice, while tgtadm may be installed
    and unused; lio before iet because both cannot usefully share port 3260 and LIO is in every
    current kernel."""
    import os

    if os.path.isdir(system_path(env, "configfs") + "/target") or \
            os.path.isdir(system_path(env, "sysfs") + "/module/target_core_mod"):
        return "lio"
    if iet_loaded(env):
        return "iet"
    from ocf.exec import which

    return "tgt" if which("tgtadm") else ""


def is_initiator_name(text: str) -> bool:
    """Whether text is an iSCSI name (iqn./eui./naa.) rather than an address or network."""
    return text.lower().startswith(("iqn.", "eui.", "naa."))


def instance_name(instance: str) -> str:
    """The resource name without a clone suffix, made safe for a configfs directory name."""
    name = instance.split(":", 1)[0]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "lun"


def check_portal(portal: str) -> None:
    """portal is ip:port (IPv6 in brackets or bare), nothing else (it reaches tgtadm/tgtd --param portal=)."""
    from ocf.params import canonical_ip

    host, sep, port = portal.rpartition(":")
    try:
        canonical_ip(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(f"portal {portal!r} is not ip:port") from None


def check_initiator(entry: str) -> None:
    """entry is an iSCSI name (a LIO ACL directory, a tgtadm -Q value), an address or network, or ALL."""
    if is_initiator_name(entry):
        if not set(entry) <= _IQN_CHARS:
            raise ConfigError(f"allowed_initiators: {entry!r} is not an iSCSI name")
        return
    if entry == "ALL":
        return
    from ocf.params import canonical_ip

    addr, sep, prefix = entry.partition("/")
    try:
        ip = canonical_ip(addr)
        if sep and not (prefix.isdigit() and int(prefix) <= (128 if ":" in ip else 32)):
            raise ValueError
    except ValueError:
        raise ConfigError(f"allowed_initiators: {entry!r} is not an iSCSI name, an address, a network or ALL") from None


class Rollback:
    """Undo steps recorded while a start builds something; run in reverse when a later step fails."""

    def __init__(self, log) -> None:
        self.log = log
        self.steps: list[tuple] = []

    def add(self, func, *args) -> None:
        """Remember how to undo what was just done."""
        self.steps.append((func, args))

    def run(self) -> None:
        """Undo everything recorded, newest first; an undo that fails is logged, not raised."""
        for func, args in reversed(self.steps):
            try:
                func(*args)
            except (OcfError, OSError) as e:
                self.log.warning(f"undo after a failed start: {e}")
        self.steps.clear()


# RFC 3720 section 3.2.6.2: iSCSI names are letters, digits, '.', '-' and ':' ('_' as some targets
# accept it). Nothing else: the name becomes a configfs directory (LIO) and an ietadm Name= value.
_IQN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_")


class _Iqn(Parser):
    def parse(self, text: str) -> str:
        t = text.strip()
        if not t.lower().startswith(("iqn.", "eui.", "naa.")) or len(t) > 223 or not set(t) <= _IQN_CHARS:
            raise ValueError("expected an iSCSI name such as iqn.2024-01.com.example:target (letters, digits, "
                             "'.', '-', ':', at most 223 characters)")
        return t

    def hint(self) -> str:
        return "An iSCSI qualified name (iqn.YYYY-MM.reverse.domain:name)."


class _KeyValues(Parser):
    def parse(self, text: str) -> dict[str, str]:
        out = {}
        for item in text.replace(",", " ").split():
            k, sep, v = item.partition("=")
            if not sep or not k or not v:
                raise ValueError(f"{item!r} is not name=value")
            out[k] = v
        return out

    def hint(self) -> str:
        return "Space-separated name=value pairs."


class _Iscsi(Agent):
    """Shared parts of the target and LUN agents."""

    implementation = Param(choice(*IMPLEMENTATIONS), shortdesc="iSCSI target implementation",
                           longdesc="The iSCSI target implementation: tgt (userspace tgtd through tgtadm), lio "
                                    "(the kernel target, through configfs) or iet (iSCSI Enterprise Target, "
                                    "through ietadm and /proc/net/iet). When unset: lio if "
                                    "/sys/kernel/config/target exists or target_core_mod is loaded, else iet if "
                                    "/proc/net/iet exists, else tgt if tgtadm is installed.")
    _backend_obj = None
    backend_kind = ""  # the backend class name: Target or Lun

    def impl(self) -> str:
        """The implementation in use (NotInstalledError when none is found)."""
        impl = self.implementation or detect(self.env)
        if not impl:
            raise NotInstalledError("no iSCSI target implementation found (LIO configfs, IET /proc/net/iet or tgtadm)")
        return impl

    def backend(self):
        """The backend object of the implementation, its configuration checked."""
        if self._backend_obj is None:
            impl = self.impl()
            if impl == "lio":
                from agents import iscsi_lio as mod
            elif impl == "iet":
                from agents import iscsi_iet as mod
            else:
                from agents import iscsi_tgt as mod
            b = getattr(mod, self.backend_kind)(self)
            b.check()
            self._backend_obj = b
        return self._backend_obj

    def path_of(self, which: str) -> str:
        """A system directory, moved by OCFKIT_*_ROOT for tests."""
        return system_path(self.env, which)

    def check_config(self) -> None:
        """Rules that hold on every node; the backend's own when the implementation is given."""
        self.common_checks()
        if self.implementation:
            self.backend()

    def common_checks(self) -> None:
        """Rules for every backend."""

    def environment_problems(self) -> list[OcfError]:
        """validate-all level 10."""
        try:
            self.backend().require()
        except OcfError as e:
            return [e]
        return []

    @action(timeout=10, interval=10, depth=0)
    def monitor(self) -> int:
        """0 when running, 7 when cleanly stopped."""
        try:
            b = self.backend()
        except NotInstalledError as e:
            # No implementation found (a probe's 7), unless a tgtd whose tgtadm is gone still runs.
            self._fail_if_tgtd_runs(e)
            raise
        return b.monitor()

    def _fail_if_tgtd_runs(self, e: NotInstalledError) -> None:
        from agents.tools import tgtadm

        alive = tgtadm.daemon_running(self.env, self.path_of("proc"))
        if alive:
            raise OcfError(f"{e.reason}, but {alive}") from None

    @action(timeout=10)
    def start(self) -> int:
        """Ensure the configuration step by step (undone when a step fails), then monitor."""
        b = self.backend()
        b.start()
        return b.monitor()

    @action(timeout=10)
    def stop(self) -> int:
        """Remove what start made (nothing to do is success)."""
        try:
            b = self.backend()
        except ConfigError as e:
            # Only when the implementation was detected rather than given (check_config checks a given
            # one before the action): with this configuration that backend could not have started it.
            self.log.warning(f"stop: {e.reason}: it cannot have been started with this implementation")
            return Rc.SUCCESS
        except NotInstalledError as e:
            # No implementation found: no LIO target core, no IET module, no tgtadm. Only a tgtd that
            # still runs (its tgtadm gone) could export something.
            self._fail_if_tgtd_runs(e)
            self.log.info(f"stop: {e.reason}: nothing can be exported")
            return Rc.SUCCESS
        b.stop()
        return Rc.SUCCESS

    @action(timeout=10)
    def status(self) -> int:
        """Legacy alias of monitor."""
        return self.monitor()


class iSCSITarget(_Iscsi):  # noqa: N801 - the class name is the OCF type
    """Manages an iSCSI target: its name, portals, allowed initiators, CHAP authentication and session
    parameters, on tgt, LIO or IET. Start is a sequence of ensure steps that undoes what it made when a
    step fails, so the next start never trips over half-built objects; stop removes exactly what start
    created and finishes within its deadline even while initiators are logged in and reconnecting
    (access is revoked first, then the target is deleted with its sessions). The CHAP password is never
    logged nor shown in an exit reason. tgt: tid required; portals other than 0.0.0.0:3260 are added to
    tgtd; initiator names and addresses. LIO: driven through configfs directly; every portal (the
    default too) is created under the target; allowed_initiators become ACLs, which LIO only knows by
    initiator name (addresses are a configuration error); without them the target runs in demo mode
    (dynamic ACLs, writable). IET: through ietadm; tid optional (the next free one is taken); portals
    are ietd's (a warning); allowed_initiators (names or addresses) are lines in initiators.allow (and
    an ALL line in initiators.deny for older ietd), removed again at stop."""

    shortdesc = "iSCSI target export agent"
    backend_kind = "Target"

    iqn = Param(_Iqn(), required=True, unique=True, shortdesc="iSCSI target IQN",
                longdesc="The target iSCSI Qualified Name.")
    tid = Param(integer(1, 65535), unique=True, shortdesc="iSCSI target ID",
                longdesc="The target id: required by tgt (give the same tid on every node); optional for IET "
                         "(unset: the next free one); not used by LIO.")
    portals = Param(words, default="0.0.0.0:3260", shortdesc="iSCSI portal addresses",
                    longdesc="Space-separated ip:port portals. tgt listens on 0.0.0.0:3260 by default; other "
                             "portals are added when missing and removed at stop if this agent added them. LIO: "
                             "each portal (the default too) is created under the target. IET: ietd's own "
                             "listening address applies (a warning when set to something else).")
    allowed_initiators = Param(words, shortdesc="List of iSCSI initiators allowed to connect",
                               longdesc="Space-separated initiators; unset allows everyone. tgt and IET: names "
                                        "(iqn...) and/or addresses or networks. LIO: initiator names only (LIO "
                                        "ACLs are by name).")
    incoming_username = Param(string, unique=True, shortdesc="Incoming account username",
                              longdesc="CHAP user name initiators must log in with.")
    incoming_password = Param(string, secret=True, shortdesc="Incoming account password",
                              longdesc="CHAP secret (12 to 16 characters for most initiators).")
    additional_parameters = Param(_KeyValues(), reloadable=True, shortdesc="List of iSCSI target parameters",
                                  longdesc="Session parameters as name=value, e.g. MaxRecvDataSegmentLength=65536 "
                                           "InitialR2T=No ImmediateData=Yes, checked against what the "
                                           "implementation accepts (LIO: also TPG attributes such as "
                                           "login_timeout; IET: also Wthreads, QueuedCommands, NOPInterval...).")

    def common_checks(self) -> None:
        """Rules for every backend."""
        if bool(self.incoming_username) != bool(self.incoming_password):
            raise ConfigError("incoming_username and incoming_password go together")
        user = self.incoming_username
        if user and (user.startswith("-") or not user.isprintable() or any(c.isspace() or c in ",=" for c in user)):
            # One word per line in tgtadm's account list, a Key=Value item for ietadm, never an option.
            raise ConfigError(f"incoming_username {user!r}: no whitespace, ',', '=' or leading '-'")
        for p in self.portals:
            check_portal(p)
        for i in self.allowed_initiators or []:
            check_initiator(i)

    @action(name="reload-agent", timeout=10)
    def reload_agent(self) -> int:
        """Set changed or added session parameters on the running target (sessions logged in keep what
        they negotiated until their next login). A name dropped from additional_parameters cannot be
        returned to the implementation's default live: that fails, and Pacemaker restarts the target."""
        old = self.previous("additional_parameters") or {}
        new = self.additional_parameters or {}
        dropped = sorted(set(old) - set(new))
        if dropped:
            raise OcfError(f"additional_parameters: {', '.join(dropped)} no longer set: only a restart returns "
                           "them to the implementation's defaults")
        changes = {k: v for k, v in new.items() if old.get(k) != v}
        if changes:
            self.backend().reload(changes)
            self.log.info("reloaded " + " ".join(f"{k}={v}" for k, v in changes.items()))
        return Rc.SUCCESS


class iSCSILogicalUnit(_Iscsi):  # noqa: N801 - the class name is the OCF type
    """Manages an iSCSI logical unit (LUN) of a target, backed by a block device or a file, on tgt, LIO
    or IET. The SCSI ID and serial number default to values derived from the resource name, so that
    they stay the same on every node and initiators (and multipath) see the same disk after a failover.
    LIO: a storage object core/iblock_N/NAME (block device) or core/fileio_N/NAME (file), NAME being
    the resource name, linked as the LUN and mapped into every ACL of the target; stop removes the
    mappings, the LUN and the storage object. IET: ietadm with Type=blockio (block device) or fileio
    (file)."""

    shortdesc = "iSCSI logical unit agent"
    backend_kind = "Lun"

    target_iqn = Param(_Iqn(), required=True, shortdesc="iSCSI target IQN",
                       longdesc="The IQN of the target that holds this LUN.")
    lun = Param(integer(0, 255), required=True, shortdesc="Logical Unit number (LUN)",
                longdesc="The LUN number (tgt reserves 0 for its controller: 1 or more there).")
    path = Param(path(), required=True, shortdesc="Block device (or file) path",
                 longdesc="The block device or file that backs the LUN.")
    scsi_id = Param(string, unique=True, shortdesc="SCSI ID",
                    longdesc="The SCSI ID (tgt, IET); default: the first 16 characters of the resource name.")
    scsi_sn = Param(string, unique=True, shortdesc="SCSI serial number",
                    longdesc="The SCSI serial number (LIO: the unit serial VPD page); default: 8 hex digits "
                             "derived from the resource name.")
    vendor_id = Param(string, shortdesc="SCSI vendor ID",
                      longdesc="The SCSI vendor id (8 characters at most; LIO: where the kernel offers "
                               "wwn/vendor_id).")
    product_id = Param(string, shortdesc="SCSI product ID",
                       longdesc="The SCSI product id (16 characters at most; LIO: where the kernel offers "
                                "wwn/product_id).")
    readonly = Param(boolean, default="false", shortdesc="Read only",
                     longdesc="Export the LUN read only (LIO: block devices opened read only, and the LUN "
                              "write-protected in every ACL; IET: IOMode=ro).")
    additional_parameters = Param(_KeyValues(), shortdesc="Logical unit parameters",
                                  longdesc="name=value pairs for the implementation: tgt logical unit parameters "
                                           "(product_rev, removable, sense_format, online, thin_provisioning); "
                                           "LIO storage object attributes (emulate_tpu, emulate_3pc, "
                                           "emulate_caw, queue_depth, ...); IET IOMode, BlockSize.")
    tgt_bstype = Param(string, shortdesc="tgt backing store type", longdesc="tgtadm --bstype (rdwr, aio, ...).")
    tgt_bsoflags = Param(string, shortdesc="tgt backing store flags", longdesc="tgtadm --bsoflags (direct, sync).")
    tgt_device_type = Param(string, shortdesc="tgt device type", longdesc="tgtadm --device-type (disk, ...).")
    lio_hba = Param(integer(0, 65535), default="0", shortdesc="LIO HBA number",
                    longdesc="N of the LIO storage object's core/iblock_N or core/fileio_N directory.")
    iet_type = Param(choice("blockio", "fileio"), shortdesc="IET I/O type",
                     longdesc="IET Type= of the LUN; default: blockio for a block device, fileio for a file.")

    def identity(self) -> tuple[str, str]:
        """(scsi_id, scsi_sn), stable across nodes."""
        name = self.instance.split(":", 1)[0]
        sid = self.scsi_id or name[:16]
        if self.scsi_sn:
            return sid, self.scsi_sn
        try:
            # CPython's built-in MD5, the same digest as hashlib's: importing hashlib loads OpenSSL and
            # costs ~4 ms of CPU, a fifth of a LUN's start (docs/benchmarks.md, "Many LUNs").
            from _md5 import md5
        except ImportError:
            from hashlib import md5
        return sid, md5(name.encode(), usedforsecurity=False).hexdigest()[:8]

    def is_block_device(self) -> bool:
        """Whether path is a block device (else a file)."""
        import os
        import stat

        try:
            return stat.S_ISBLK(os.stat(self.path).st_mode)
        except OSError:
            return False

    def common_checks(self) -> None:
        """Rules for every backend."""
        if self.vendor_id and len(self.vendor_id) > 8:
            raise ConfigError("vendor_id is at most 8 characters")
        if self.product_id and len(self.product_id) > 16:
            raise ConfigError("product_id is at most 16 characters")

    def environment_problems(self) -> list[OcfError]:
        """validate-all level 10."""
        import os

        problems = super().environment_problems()
        if not os.path.exists(self.path):
            problems.append(NotInstalledError(f"{self.path} does not exist"))
        return problems

    @action(timeout=10)
    def start(self) -> int:
        """Ensure the LUN with its identity (undone when a step fails), then monitor."""
        import os

        b = self.backend()
        if not os.path.exists(self.path):
            raise NotInstalledError(f"{self.path} does not exist")
        b.start()
        return b.monitor()


class iscsitarget(Agent):  # noqa: N801 - the class name is the OCF type (the seed's heartbeat resource)
    """Runs the iSCSI target daemon itself, as the seed's heartbeat `iscsitarget` resource does. tgt:
    start launches tgtd (its own pid file under HA_RSCTMP) and loads the targets of a configuration
    file that can live on the replicated configuration filesystem (tgt-admin -e -c FILE); stop deletes
    every target with its sessions, shuts the daemon down and waits for it, killing it at the
    deadline. IET: start launches ietd -c FILE (ietd reads its targets itself) and records its pid;
    stop deletes every target (ietadm --op delete, which also ends ietd), waits, and kills it at the
    deadline. Monitor checks that the daemon lives (and, for tgt, answers)."""

    shortdesc = "iSCSI target daemon (tgtd or ietd) with its configuration file"

    implementation = Param(choice("auto", "tgt", "iet"), default="auto", shortdesc="iSCSI target implementation",
                           longdesc="tgt (tgtd) or iet (ietd; needs the IET kernel module). auto: iet when the "
                                    "configuration file is an ietd.conf or the IET module is loaded "
                                    "(/proc/net/iet), else tgt; so the seed's bare `iscsitarget` runs ietd on an "
                                    "IET host, as its init script did.")
    config = Param(path(), shortdesc="Configuration file to load",
                   longdesc="tgt: the tgt-admin configuration loaded on start (default /etc/tgt/targets.conf); "
                            "iet: the ietd.conf ietd reads (default /etc/iet/ietd.conf). Missing: the daemon "
                            "starts without configured targets.")
    portal = Param(string, shortdesc="Listening portal",
                   longdesc="ip:port for the daemon to listen on (tgtd --iscsi portal=, ietd -a/-p); default: "
                            "all addresses, 3260.")

    def check_config(self) -> None:
        """The portal reaches tgtd's --iscsi portal= and ietd's -a/-p: ip:port only."""
        if self.portal:
            check_portal(self.portal)

    @property
    def impl(self) -> str:
        """tgt or iet: the parameter, or what auto finds."""
        if self.implementation != "auto":
            return self.implementation
        if self.config and self.config.rsplit("/", 1)[-1] == "ietd.conf":
            return "iet"
        return "iet" if iet_loaded(self.env) else "tgt"

    @property
    def daemon(self) -> str:
        """The daemon's process name."""
        return "ietd" if self.impl == "iet" else "tgtd"

    @property
    def config_file(self) -> str:
        """The configuration file, or the implementation's default."""
        return self.config or ("/etc/iet/ietd.conf" if self.impl == "iet" else "/etc/tgt/targets.conf")

    def _pidfile(self) -> str:
        return f"{self.rsctmp}/iscsitarget-{self.instance.replace('/', '_')}.pid"

    def _alive(self, pid: int) -> bool:
        """Whether pid is a live (not zombie) process of our daemon."""
        proc = system_path(self.env, "proc")
        try:
            with open(f"{proc}/{pid}/comm", encoding="ascii") as f:
                if f.read().strip() != self.daemon:
                    return False
            with open(f"{proc}/{pid}/stat", encoding="ascii") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return False

    def _pid(self) -> int | None:
        """The daemon's pid when it is alive (and is our daemon)."""
        try:
            with open(self._pidfile(), encoding="ascii") as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if self._alive(pid) else None

    def _find_ietd(self) -> int | None:
        """The running ietd (there can be only one: it owns the IET control device)."""
        import os

        proc = system_path(self.env, "proc")
        for name in os.listdir(proc):
            if name.isdigit() and self._alive(int(name)):
                return int(name)
        return None

    def _answers(self) -> bool:
        r = self.run(["tgtadm", "--lld", "iscsi", "--op", "show", "--mode", "system"], ok=tuple(range(256)),
                     timeout=5)
        return r.returncode == 0

    @action(timeout=30)
    def start(self) -> int:
        """Start the daemon (if needed) with its configuration."""
        if self.impl == "iet":
            return self._start_iet()
        import os

        if self._pid() is None:
            os.makedirs(self.rsctmp, exist_ok=True)
            argv = ["tgtd", "-p", self._pidfile()]
            if self.portal:
                argv += ["--iscsi", f"portal={self.portal}"]
            self.run(argv)  # tgtd daemonises itself (its own session: not killed with the agent)
            self.wait_for("tgtd to answer", lambda: self._pid() is not None and self._answers(), interval=0.1)
        if os.path.exists(self.config_file):
            self.run(["tgt-admin", "-e", "-c", self.config_file])
        else:
            self.log.warning(f"{self.config_file} does not exist: tgtd runs without configured targets")
        return Rc.SUCCESS

    def _start_iet(self) -> int:
        import os

        from ocf.state import StateFile

        if self._pid() is not None:
            return Rc.SUCCESS
        pid = self._find_ietd()
        if pid is None:
            if not iet_loaded(self.env):
                raise NotInstalledError("the IET kernel module is not loaded (no /proc/net/iet)")
            argv = ["ietd"]
            if os.path.exists(self.config_file):
                argv += ["-c", self.config_file]
            else:
                self.log.warning(f"{self.config_file} does not exist: ietd runs without configured targets")
            if self.portal:
                host, _, port = self.portal.rpartition(":")
                argv += ["-a", host.strip("[]"), "-p", port]
            self.run(argv)  # ietd daemonises itself and writes no pid file: find it by name below
            pid = self.wait_for("ietd to run", self._find_ietd, interval=0.1)
        else:
            self.log.info(f"ietd[{pid}] runs already: adopting it")
        StateFile(self._pidfile()).write(f"{pid}\n")
        return Rc.SUCCESS

    @staticmethod
    def _signal(pid: int, sig: int) -> None:
        import os

        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass  # it has just exited

    @action(timeout=30)
    def stop(self) -> int:
        """Delete the targets with their sessions, shut the daemon down, wait for it (SIGKILL at the deadline)."""
        import os
        import signal
        import time

        pid = self._pid()
        if pid is not None:
            try:
                if self.impl == "iet":
                    from agents.tools import ietadm

                    ietadm.delete_all(self.run)
                elif self._answers():
                    from agents.tools import tgtadm

                    for tid in tgtadm.targets(self.run):
                        tgtadm.delete_target(self.run, tid)
                    self.run(["tgtadm", "--lld", "iscsi", "--op", "delete", "--mode", "system"], ok=(0, 22))
                else:
                    self.log.warning(f"tgtd[{pid}] does not answer: killing it")
                    self._signal(pid, signal.SIGKILL)
            except NotInstalledError as e:
                # No management tool: end the daemon by a signal; its targets end with it. tgtd blocks
                # SIGTERM and SIGINT (it reads them from a signalfd and carries on: measured), so only
                # SIGKILL ends it; ietd gets SIGTERM first.
                sig = signal.SIGKILL if self.impl == "tgt" else signal.SIGTERM
                self.log.warning(f"{e.reason}: ending {self.daemon}[{pid}] with {sig.name}")
                self._signal(pid, sig)
            while self._pid() is not None and self.deadline.remaining() > 1:
                time.sleep(0.1)
            if self._pid() is not None:
                self.log.warning(f"{self.daemon}[{pid}] did not exit: killing it")
                self._signal(pid, signal.SIGKILL)
        try:
            os.unlink(self._pidfile())
        except FileNotFoundError:
            pass
        return Rc.SUCCESS

    @action(timeout=20, interval=10, depth=0)
    def monitor(self) -> int:
        """0 while the daemon lives (tgtd: and answers); 7 when cleanly stopped; 1 when it died or hangs."""
        import os

        pid = self._pid()
        if pid is None:
            if os.path.exists(self._pidfile()) and not self.is_probe:
                raise OcfError(f"{self.daemon} died (its pid file remains)")
            return Rc.NOT_RUNNING
        if self.impl == "tgt" and not self._answers():
            raise OcfError(f"tgtd[{pid}] does not answer on its management socket")
        return Rc.SUCCESS


if __name__ == "__main__":
    # Installed agents import their class directly; run as a module this is the target agent.
    raise SystemExit(iSCSITarget.main())
