"""Tiny stateful fake systems: what a command changes, the next query sees.

Each world answers the commands of one agent from its state (a mount table, tgtd's targets, an
interface's addresses, LVM's volume groups) and says whether the resource is still there, so a
fault test can check the rule that matters most: a stop that returns 0 left nothing running.
"""

from __future__ import annotations

import json
import os

from ocf.exec import Result

IQN = "iqn.2015-12.cl.caschile:lun.filer"


def block_device() -> tuple[str, str]:
    """The path and major:minor of a block device node of this machine."""
    import os
    import stat

    for path in [f"/dev/loop{i}" for i in range(8)] + ["/dev/sda", "/dev/vda", "/dev/nvme0n1"]:
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISBLK(st.st_mode):
            return path, f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    return "/dev/campaign-none", "254:7"


class FilesystemWorld:
    """/proc/self/mountinfo and the mount and umount commands."""

    agent = "Filesystem"

    def __init__(self, tmp: str, *, mounted: bool = True, other_bind: bool = False) -> None:
        self.mountpoint = f"{tmp}/mnt"
        # A block device node that exists (stat only: start checks it exists, stop matches its rdev);
        # nothing is ever read from it or mounted.
        self.device, self.rdev = block_device()
        self.params = {"device": self.device, "directory": self.mountpoint, "fstype": "ext4"}
        self.lines: list[str] = []
        if mounted:
            self.lines.append(self._line(self.mountpoint, "/"))
        if other_bind:
            # A bind mount of a directory of the same filesystem elsewhere: not this resource's.
            self.other = f"{tmp}/elsewhere"
            self.lines.append(self._line(self.other, "/sub"))

    def _line(self, mountpoint: str, root: str) -> str:
        return f"{100 + len(self.lines)} 1 {self.rdev} {root} {mountpoint} rw,relatime - ext4 {self.device} rw"

    @property
    def mountinfo(self) -> str:
        return "".join(ln + "\n" for ln in self.lines)

    def present(self) -> bool:
        return any(ln.split()[4] == self.mountpoint for ln in self.lines)

    def mounted(self, mountpoint: str) -> bool:
        return any(ln.split()[4] == mountpoint for ln in self.lines)

    def answer(self, argv: list[str], input: str | None) -> Result:  # noqa: A002
        if argv[0] == "umount":
            target = argv[-1]
            for i in range(len(self.lines) - 1, -1, -1):
                if self.lines[i].split()[4] == target:
                    del self.lines[i]
                    return Result(argv, 0, "", "")
            return Result(argv, 32, "", f"umount: {target}: not mounted.")
        if argv[0] == "mount":
            self.lines.append(self._line(argv[-1], "/"))
            return Result(argv, 0, "", "")
        return Result(argv, 0, "", "")


class TgtWorld:
    """tgtd's targets through tgtadm --op show/new/delete (and accounts, bindings)."""

    agent = "iSCSITarget"

    def __init__(self, tmp: str, *, running: bool = True, daemon: bool = True) -> None:
        self.params = {"implementation": "tgt", "iqn": IQN, "tid": "1"}
        self.targets: dict[int, str] = {1: IQN} if running else {}
        self.daemon = daemon
        self._control_lock(tmp, held=daemon)
        self.accounts: dict[str, str] = {}  # user -> password
        self.bound: dict[int, set[str]] = {}  # tid -> users whose CHAP the target requires

    @staticmethod
    def _control_lock(tmp: str, *, held: bool) -> None:
        """A running tgtd holds a POSIX lock on its control lock file (PREFIX.0.lock, PREFIX being the
        harness's TGT_IPC_SOCKET): the lock file and the /proc/locks line (below OCFKIT_PROC_ROOT) that a
        real one has, so the agent's proof that no tgtd runs (tgtadm.daemon_running) sees this one."""
        os.makedirs(f"{tmp}/tgtd", exist_ok=True)
        os.makedirs(f"{tmp}/proc", exist_ok=True)
        lock = f"{tmp}/tgtd/socket.0.lock"
        if not held:  # no tgtd: nobody holds the lock (a tgtd that died may have left its file)
            with open(f"{tmp}/proc/locks", "w"):
                return
        with open(lock, "w"):
            pass
        ino = os.stat(lock).st_ino
        with open(f"{tmp}/proc/locks", "w") as f:  # pid above pid_max's default: never a real process
            f.write(f"1: POSIX  ADVISORY  WRITE 4194000 00:2a:{ino} 0 EOF\n")

    def present(self) -> bool:
        return IQN in self.targets.values()

    def show(self) -> str:
        return "".join(f"Target {tid}: {iqn}\n    System information:\n        Driver: iscsi\n        State: ready\n"
                       "    I_T nexus information:\n    LUN information:\n        LUN: 0\n"
                       "            Type: controller\n            Backing store path: None\n"
                       "    Account information:\n"
                       + "".join(f"        {u}\n" for u in sorted(self.bound.get(tid, ())))
                       + "    ACL information:\n        ALL\n"
                       for tid, iqn in sorted(self.targets.items()))

    def answer(self, argv: list[str], input: str | None) -> Result:  # noqa: A002
        if argv[0] != "tgtadm":
            return Result(argv, 0, "", "")
        if not self.daemon:
            return Result(argv, 107, "", "tgtadm: failed to send request hdr to tgt daemon, Transport endpoint "
                                         "is not connected")
        op = argv[argv.index("--op") + 1] if "--op" in argv else ""
        mode = argv[argv.index("--mode") + 1] if "--mode" in argv else ""
        tid = int(argv[argv.index("--tid") + 1]) if "--tid" in argv else 0
        if op == "show" and mode == "target":
            return Result(argv, 0, self.show(), "")
        if op == "new" and mode == "target":
            if tid in self.targets:
                return Result(argv, 22, "", "tgtadm: this target already exists")
            self.targets[tid] = argv[argv.index("-T") + 1] if "-T" in argv else argv[-1]
            return Result(argv, 0, "", "")
        if op == "delete" and mode == "target":
            if self.targets.pop(tid, None) is None:
                return Result(argv, 22, "", "tgtadm: can't find the target")
            self.bound.pop(tid, None)
            return Result(argv, 0, "", "")
        user = argv[argv.index("--user") + 1] if "--user" in argv else ""
        if mode == "account":
            if op == "show":
                return Result(argv, 0, "Account list:\n" + "".join(f"    {u}\n" for u in sorted(self.accounts)), "")
            if op == "new":
                if user in self.accounts:
                    return Result(argv, 22, "", "tgtadm: this account already exists")
                self.accounts[user] = argv[argv.index("--password") + 1]
            elif op == "delete":
                if self.accounts.pop(user, None) is None:
                    return Result(argv, 22, "", "tgtadm: can't find the account")
                for users in self.bound.values():  # tgtd drops a deleted account from every target
                    users.discard(user)
            elif op == "bind":
                if user not in self.accounts or tid not in self.targets:
                    return Result(argv, 22, "", "tgtadm: can't find the account")
                self.bound.setdefault(tid, set()).add(user)
            elif op == "unbind":
                self.bound.get(tid, set()).discard(user)
        return Result(argv, 0, "", "")


class IPaddr2World:
    """One interface's addresses through `ip` (JSON and -o forms), add and del."""

    agent = "IPaddr2"

    def __init__(self, tmp: str, *, present: bool = True) -> None:
        self.params = {"ip": "192.0.2.10", "cidr_netmask": "24", "nic": "eth0"}
        self.addrs = ["192.0.2.10/24"] if present else []
        # eth0 in the sysfs the run's OCFKIT_SYSFS_ROOT points at (tmp/sys, harness.base_env), up with a
        # carrier: the agent reads the link there, not the host's /sys (a network namespace may have no eth0).
        link = os.path.join(tmp, "sys", "class", "net", "eth0")
        os.makedirs(link, exist_ok=True)
        for name, value in (("flags", "0x1003\n"), ("operstate", "up\n"), ("address", "52:54:00:12:34:56\n"),
                            ("ifindex", "2\n")):
            with open(os.path.join(link, name), "w", encoding="ascii") as f:
                f.write(value)

    def present(self) -> bool:
        return "192.0.2.10/24" in self.addrs

    def _json(self) -> str:
        info = [{"family": "inet", "local": a.split("/")[0], "prefixlen": int(a.split("/")[1]), "label": "eth0",
                 "scope": "global"} for a in ["192.0.2.1/24", *self.addrs]]
        return json.dumps([{"ifindex": 2, "ifname": "eth0", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
                            "operstate": "UP", "addr_info": info}])

    def _o(self) -> str:
        return "".join(f"2: eth0    inet {a} brd 192.0.2.255 scope global eth0\\       valid_lft forever "
                       "preferred_lft forever\n" for a in ["192.0.2.1/24", *self.addrs])

    def answer(self, argv: list[str], input: str | None) -> Result:  # noqa: A002
        if argv[0] != "ip":
            return Result(argv, 0, "", "")
        words = [a for a in argv[1:] if not a.startswith("-")]
        if words[:2] in (["addr", "add"], ["address", "add"], ["a", "add"]):
            cidr = words[2]
            if cidr in self.addrs:
                return Result(argv, 2, "", "RTNETLINK answers: File exists")
            self.addrs.append(cidr)
            return Result(argv, 0, "", "")
        if words[:2] in (["addr", "del"], ["address", "del"], ["addr", "delete"], ["a", "del"]):
            cidr = words[2]
            if cidr not in self.addrs and cidr.split("/")[0] not in [a.split("/")[0] for a in self.addrs]:
                return Result(argv, 2, "", "RTNETLINK answers: Cannot assign requested address")
            self.addrs = [a for a in self.addrs if a.split("/")[0] != cidr.split("/")[0]]
            return Result(argv, 0, "", "")
        if "-j" in argv or "-json" in argv:
            if words[:1] in (["route"], ["r"]):
                return Result(argv, 0, json.dumps([{"dst": "192.0.2.0/24", "dev": "eth0", "prefsrc": "192.0.2.1"}]),
                              "")
            if words[:1] in (["link"], ["l"]):
                return Result(argv, 0, json.dumps([{"ifindex": 2, "ifname": "eth0", "operstate": "UP",
                                                    "flags": ["UP", "LOWER_UP"]}]), "")
            return Result(argv, 0, self._json(), "")
        if words[:1] in (["addr"], ["address"], ["a"]) or "-o" in argv:
            return Result(argv, 0, self._o(), "")
        return Result(argv, 0, "", "")


class LVMWorld:
    """One volume group with two logical volumes through `lvm vgs/lvs --reportformat json` and vgchange."""

    agent = "LVM"

    def __init__(self, tmp: str, *, present: bool = True) -> None:
        self.params = {"volgrpname": "vg0drbd"}
        self.active = {"lv0": present, "lv1": present}
        self.tags: list[str] = []

    def present(self) -> bool:
        return any(self.active.values())

    def answer(self, argv: list[str], input: str | None) -> Result:  # noqa: A002
        if argv[0] != "lvm" or len(argv) < 2:
            return Result(argv, 0, "", "")
        verb = argv[1]
        if verb == "vgs":
            row = {"vg_name": "vg0drbd", "vg_attr": "wz--n-", "vg_tags": ",".join(self.tags), "vg_systemid": "",
                   "vg_lock_type": "", "vg_missing_pv_count": "0"}
            return Result(argv, 0, json.dumps({"report": [{"vg": [row] if "vg0drbd" in argv else []}]}), "")
        if verb == "lvs":
            rows = [{"lv_name": lv, "lv_attr": "-wi-a-----" if on else "-wi-------",
                     "lv_active": "active" if on else "", "lv_device_open": "", "vg_tags": ",".join(self.tags)}
                    for lv, on in self.active.items()]
            return Result(argv, 0, json.dumps({"report": [{"lv": rows if "vg0drbd" in argv else []}]}), "")
        if verb == "vgchange":
            for i, a in enumerate(argv):
                if a == "--addtag":
                    self.tags.append(argv[i + 1])
                elif a == "--deltag" and argv[i + 1] in self.tags:
                    self.tags.remove(argv[i + 1])
            if "-ay" in argv or ("-a" in argv and argv[argv.index("-a") + 1].endswith("y")):
                self.active = dict.fromkeys(self.active, True)
            elif "-an" in argv or ("-a" in argv and argv[argv.index("-a") + 1] == "n"):
                self.active = dict.fromkeys(self.active, False)
            return Result(argv, 0, "", "")
        if verb == "systemid":
            return Result(argv, 0, "  system ID: \n", "")
        return Result(argv, 0, "", "")


WORLDS = {"Filesystem": FilesystemWorld, "iSCSITarget": TgtWorld, "IPaddr2": IPaddr2World, "LVM": LVMWorld}
