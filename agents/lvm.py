"""ocf:ocfkit:LVM and ocf:ocfkit:LVM-activate: volume group / logical volume activation."""

from __future__ import annotations

from agents.tools import lvm, system_path
from agents.tools.lvm import lv_name, vg_name
from agents.tools.lvm import tag as lvm_tag
from ocf.agent import Agent, action
from ocf.errors import ArgsError, ConfigError, NotInstalledError, OcfError, Rc
from ocf.params import Param, boolean, choice


def _lv_state(run, vgname: str, lvname: str = "", *, extra: str = "") -> tuple[int, list[dict[str, str]]]:
    """(number of LVs of interest, those that are active) from lvs --reportformat json."""
    lvs = [lv for lv in lvm.lvs(run, vgname, extra=extra) if not lvname or lv.get("lv_name") == lvname]
    return len(lvs), [lv for lv in lvs if lvm.is_active(lv)]


def _in_kernel(env, vgname: str, lvname: str = ""):
    """The device-mapper devices of the VG (or of the LV) as sysfs shows them, without a child process;
    None when sysfs cannot say. None of them: nothing can be active, and the monitor answers without
    running lvm (~55 ms, every probe on every node)."""
    found = lvm.kernel_lvs(system_path(env, "sysfs"))
    if found is None:
        return None
    return [k for k in found if k.vg == vgname and (not lvname or k.lv == lvname)]


def _no_lvs(vgname: str) -> ConfigError:
    # The VG's metadata is the same on every node: no node could ever report it running (ClusterLabs'
    # LVM-activate refuses it with rc 6 too).
    return ConfigError(f"volume group {vgname} has no logical volume: nothing to activate, and the monitor "
                       "could never report it running")


def _without_lvm(e: NotInstalledError, what: str, kernel) -> OcfError:
    """A stop or monitor that cannot ask LVM while the kernel shows (or may show) active LVs fails: it cannot
    prove that nothing is active."""
    seen = f"{len(kernel)} device-mapper device(s) of it are active" if kernel else "sysfs cannot tell what is active"
    return OcfError(f"{e.reason}: cannot tell whether {what} is active ({seen})")


def _unknown_to_lvm(what: str, kernel) -> OcfError:
    """The kernel has device-mapper devices that lvm does not report (a PV gone, metadata unreadable): neither
    running nor stopped can be said."""
    return OcfError(f"the kernel has {len(kernel)} device-mapper device(s) of {what}, which lvm does not report")


def _check_open(run, vgname: str, lvname: str = "") -> None:
    busy = [lv["lv_name"] for lv in lvm.lvs(run, vgname) if (not lvname or lv.get("lv_name") == lvname)
            and lvm.is_open(lv)]
    if busy:
        raise OcfError(f"cannot deactivate {vgname}: logical volume(s) {', '.join(busy)} still open "
                       "(mounted, exported or in use)")


class LVM(Agent):
    """Activates and deactivates a whole LVM volume group, as the heartbeat LVM resource does. With
    exclusive activation (and a VG that is not clustered) the VG is tagged with the node's ownership
    tag and only tagged VGs are activated. Monitor asks LVM itself (lvs in JSON) whether the VG's
    logical volumes are active, not /dev symlinks, which can dangle. Stop refuses, with a reason,
    while a logical volume is still open."""

    shortdesc = "Controls the availability of an LVM Volume Group"

    volgrpname = Param(vg_name, required=True, unique=True, shortdesc="Volume group name",
                       longdesc="The name of the volume group.")
    exclusive = Param(boolean, default="false", shortdesc="Exclusive activation",
                      longdesc="Activate the VG on this node only, through the ownership tag.")
    tag = Param(lvm_tag, default="pacemaker", shortdesc="Exclusive activation tag",
                longdesc="The tag that marks ownership in exclusive mode.")
    partial_activation = Param(boolean, default="false", shortdesc="Activate with missing PVs",
                               longdesc="Activate even when physical volumes are missing (--activationmode "
                                        "partial).")

    def _vg(self):
        return lvm.vg(self.run, self.volgrpname)

    def check_config(self) -> None:
        """Exclusive activation and clones exclude each other."""
        if self.is_clone and self.exclusive:
            raise ConfigError("exclusive activation cannot be used in a clone")

    @action(timeout=30)
    def start(self) -> int:
        """Activate the VG (tagging it first in exclusive mode); a VG without LVs is refused."""
        vg = self._vg()
        if vg is None:
            raise ArgsError(f"volume group {self.volgrpname} not found")
        if vg.get("vg_missing_pv_count", "0") not in ("", "0") and not self.partial_activation:
            raise OcfError(f"volume group {self.volgrpname} is missing {vg['vg_missing_pv_count']} physical "
                           "volume(s); set partial_activation to activate anyway")
        if not lvm.lvs(self.run, self.volgrpname):
            raise _no_lvs(self.volgrpname)
        argv = ["lvm", "vgchange", "-ay", "--", self.volgrpname]
        if self.exclusive:
            lvm.own_by_tag(self.run, vg, self.tag)
            argv = ["lvm", "vgchange", "-ay", "--config", f'activation{{volume_list=["@{self.tag}"]}}',
                    "--", self.volgrpname]
        if self.partial_activation:
            argv[3:3] = ["--activationmode", "partial"]
        self.run(argv)
        total, active = _lv_state(self.run, self.volgrpname)
        if not total or len(active) < total:
            raise OcfError(f"volume group {self.volgrpname}: {len(active)} of {total} logical volumes active")
        return Rc.SUCCESS

    @action(timeout=30)
    def stop(self) -> int:
        """Deactivate the VG; fails with a reason while an LV is open.

        No device-mapper device of the VG in sysfs proves that nothing is active, without lvm (which
        may be missing); otherwise only LVM's own report decides."""
        kernel = _in_kernel(self.env, self.volgrpname)
        if kernel == []:
            return Rc.SUCCESS
        try:
            return self._deactivate(kernel)
        except NotInstalledError as e:
            raise _without_lvm(e, f"volume group {self.volgrpname}", kernel) from None

    def _deactivate(self, kernel) -> int:
        if self._vg() is None:
            if kernel:
                raise OcfError(f"lvm finds no volume group {self.volgrpname}, yet the kernel has {len(kernel)} of "
                               "its device-mapper devices: they cannot be deactivated through LVM")
            return Rc.SUCCESS
        _total, active = _lv_state(self.run, self.volgrpname)
        if not active:
            return Rc.SUCCESS
        _check_open(self.run, self.volgrpname)
        self.run(["lvm", "vgchange", "-an", "--", self.volgrpname])
        _total, active = _lv_state(self.run, self.volgrpname)
        if active:
            raise OcfError(f"volume group {self.volgrpname}: {', '.join(lv['lv_name'] for lv in active)} still active")
        return Rc.SUCCESS

    @action(timeout=30, interval=10, depth=0)
    def monitor(self) -> int:
        """0 when every LV of the VG is active, 7 when none is (or the VG is absent), 1 when some are.

        The kernel's device-mapper table (sysfs) answers "none active" without a child process; whether
        every LV is active, and the tag, come from one lvs report."""
        kernel = _in_kernel(self.env, self.volgrpname)
        if kernel == []:
            return Rc.NOT_RUNNING
        try:
            total, active = _lv_state(self.run, self.volgrpname, extra="vg_tags")
        except NotInstalledError as e:
            if kernel:  # a probe must not say "not running" while the kernel shows its devices
                raise _without_lvm(e, f"volume group {self.volgrpname}", kernel) from None
            raise
        if kernel and not total:
            raise _unknown_to_lvm(self.volgrpname, kernel)
        if not active:
            return Rc.NOT_RUNNING
        if len(active) < total:
            raise OcfError(f"volume group {self.volgrpname}: only {len(active)} of {total} logical volumes active")
        if self.exclusive and self.tag not in active[0].get("vg_tags", "").split(","):
            raise OcfError(f"volume group {self.volgrpname} is active but no longer carries tag {self.tag}")
        return Rc.SUCCESS

    @action(timeout=30)
    def status(self) -> int:
        """Legacy alias of monitor."""
        return self.monitor()


class LVMActivate(Agent):
    """Activates a volume group, or one logical volume, exclusively on one node: the VG is owned by
    this node's LVM system ID (vg_access_mode=system_id, taken over from a failed owner) or by a tag
    that lvm.conf's volume_list admits (vg_access_mode=tagging). Both refuse to activate, with a reason,
    where the access mode cannot guarantee ownership. lvmlockd and clvmd (shared activation) are not
    supported by ocfkit."""

    name = "LVM-activate"
    shortdesc = "Activates a volume group or a logical volume exclusively"

    vgname = Param(vg_name, required=True, shortdesc="Volume group name", longdesc="The volume group.")
    lvname = Param(lv_name, shortdesc="Logical volume name", longdesc="Only this LV (default: the whole VG).")
    vg_access_mode = Param(choice("system_id", "tagging", "lvmlockd", "clvmd"), required=True,
                           shortdesc="How the VG is protected",
                           longdesc="system_id: the VG belongs to one node's LVM system ID; tagging: a tag and "
                                    "lvm.conf's volume_list. lvmlockd and clvmd are not supported by ocfkit.")
    activation_mode = Param(choice("exclusive", "shared"), default="exclusive", shortdesc="Activation mode",
                            longdesc="exclusive (shared needs lvmlockd or clvmd, which ocfkit does not support).")
    tag = Param(lvm_tag, default="pacemaker", shortdesc="Tag for tagging mode", longdesc="The ownership tag.")
    partial_activation = Param(boolean, default="false", shortdesc="Activate with missing PVs",
                               longdesc="Activate even when physical volumes are missing.")

    def check_config(self) -> None:
        """Modes ocfkit supports."""
        if self.vg_access_mode in ("lvmlockd", "clvmd"):
            raise ConfigError(f"vg_access_mode={self.vg_access_mode} is not supported by ocfkit: use system_id "
                              "or tagging")
        if self.activation_mode == "shared":
            raise ConfigError("activation_mode=shared needs lvmlockd or clvmd, which ocfkit does not support")

    def _target(self) -> str:
        return f"{self.vgname}/{self.lvname}" if self.lvname else self.vgname

    def environment_problems(self) -> list[OcfError]:
        """validate-all level 10: what the access mode needs on this node, and the VG where this node sees
        it. A VG this node cannot see is only a warning: on a DRBD Secondary its PV appears with promotion,
        and pcs runs validate-all on whichever node creates the resource."""
        problems: list[OcfError] = []
        try:
            vg = lvm.vg(self.run, self.vgname)
            if vg is None:
                self.log.warning(f"volume group {self.vgname} is not visible on this node (yet)")
            else:
                self._check_vg(vg)
        except OcfError as e:
            problems.append(e)
        try:
            self._check_node()
        except OcfError as e:
            problems.append(e)
        return problems

    def _validate(self) -> dict[str, str]:
        vg = lvm.vg(self.run, self.vgname)
        if vg is None:
            raise ArgsError(f"volume group {self.vgname} not found")
        self._check_vg(vg)
        self._check_node()
        return vg

    def _check_vg(self, vg: dict[str, str]) -> None:
        """The VG's metadata matches the access mode and holds what is to be activated."""
        lock = vg.get("vg_lock_type", "")
        if lock in ("dlm", "sanlock") or vg.get("vg_attr", "")[5:6] == "c":
            raise ConfigError(f"volume group {self.vgname} is shared ({lock or 'clustered'}), which "
                              f"vg_access_mode={self.vg_access_mode} does not match")
        names = {lv.get("lv_name") for lv in lvm.lvs(self.run, self.vgname)}
        if not names:
            raise _no_lvs(self.vgname)
        if self.lvname and self.lvname not in names:
            raise ConfigError(f"logical volume {self.lvname} is not in {self.vgname}")

    def _check_node(self) -> None:
        """This node's LVM configuration provides the access mode's ownership mechanism."""
        if self.vg_access_mode == "system_id":
            if not lvm.local_system_id(self.run):
                raise ArgsError("vg_access_mode=system_id needs a system ID on this node: set global/"
                                "system_id_source in lvm.conf (e.g. uname)")
        else:
            vl = lvm.config_value(self.run, "activation/volume_list")
            if vl is None:
                raise ArgsError("vg_access_mode=tagging needs activation/volume_list in lvm.conf (with the local "
                                "VGs, not the cluster VG or its tag)")
            if f'"@{self.tag}"' in vl or f'"{self.vgname}"' in vl:
                raise ArgsError(f"volume_list in lvm.conf must not contain @{self.tag} or {self.vgname}: every node "
                                "could activate the VG")

    @action(timeout=90)
    def start(self) -> int:
        """Take ownership (system ID or tag) and activate."""
        vg = self._validate()
        total, active = _lv_state(self.run, self.vgname, self.lvname or "")
        if total and len(active) == total:
            return Rc.SUCCESS
        extra = ["--activationmode", "partial"] if self.partial_activation else []
        if self.vg_access_mode == "system_id":
            mine = lvm.local_system_id(self.run)
            owner = vg.get("vg_systemid", "")
            if owner != mine:
                # The previous owner failed (the cluster fenced it): take the VG over.
                self.log.info(f"taking {self.vgname} over from system ID {owner or '(none)'}")
                cfg = f'local/extra_system_ids=["{owner}"]' if owner else "local/extra_system_ids=[]"
                self.run(["lvm", "vgchange", "-y", "--config", cfg, "--systemid", mine, "--", self.vgname])
            self.run(["lvm", "lvchange", "-ay", *extra, "--", self._target()])
        else:
            lvm.own_by_tag(self.run, vg, self.tag)
            self.run(["lvm", "lvchange", "-ay", *extra, "--config", f'activation{{volume_list=["@{self.tag}"]}}',
                      "--", self._target()])
        total, active = _lv_state(self.run, self.vgname, self.lvname or "")
        if not total or len(active) < total:
            raise OcfError(f"{self._target()}: {len(active)} of {total} logical volumes active after activation")
        return Rc.SUCCESS

    @action(timeout=90)
    def stop(self) -> int:
        """Deactivate (tagging: and then remove the tag); fails with a reason while an LV is open.

        No device-mapper device of ours in sysfs proves that nothing is active here, without lvm; then the
        tag, which is in the VG's shared metadata, is left to the node that may have it active."""
        kernel = _in_kernel(self.env, self.vgname, self.lvname or "")
        if kernel == []:
            return Rc.SUCCESS
        try:
            return self._deactivate(kernel)
        except NotInstalledError as e:
            raise _without_lvm(e, self._target(), kernel) from None

    def _deactivate(self, kernel) -> int:
        if lvm.vg(self.run, self.vgname) is None:
            if kernel:
                raise OcfError(f"lvm finds no volume group {self.vgname}, yet the kernel has {len(kernel)} of its "
                               "device-mapper devices: they cannot be deactivated through LVM")
            return Rc.SUCCESS
        _total, active = _lv_state(self.run, self.vgname, self.lvname or "")
        if not active:
            return Rc.SUCCESS
        _check_open(self.run, self.vgname, self.lvname or "")
        self.run(["lvm", "lvchange", "-an", "--", self._target()])
        if self.vg_access_mode == "tagging":
            self.run(["lvm", "vgchange", "--deltag", self.tag, "--", self.vgname], ok=(0, 5))
        _total, active = _lv_state(self.run, self.vgname, self.lvname or "")
        if active:
            raise OcfError(f"{self._target()}: still active after deactivation")
        return Rc.SUCCESS

    @action(timeout=90, interval=30, depth=0)
    def monitor(self) -> int:
        """0 when the LVs are active; 7 when not (probe or inactive); a VG that vanished is 7 too.

        As LVM's monitor: device-mapper in sysfs first, then one lvs report. One LV (lvname) is settled by
        the kernel alone when its own device is live (not suspended, with a table): that is what LVM's
        "active" means, and the lvs run would cost more than the rest of the monitor together."""
        mine = _in_kernel(self.env, self.vgname, self.lvname or "")
        if mine == []:
            return Rc.NOT_RUNNING
        if mine and self.lvname and any(k.layer == "" and k.live for k in mine):
            return Rc.SUCCESS
        try:
            total, active = _lv_state(self.run, self.vgname, self.lvname or "")
        except NotInstalledError as e:
            if mine:  # a probe must not say "not running" while the kernel shows our devices
                raise _without_lvm(e, self._target(), mine) from None
            raise
        if mine and not total:
            raise _unknown_to_lvm(self._target(), mine)
        if not active:
            return Rc.NOT_RUNNING
        if len(active) < total:
            raise OcfError(f"{self._target()}: only {len(active)} of {total} logical volumes active")
        return Rc.SUCCESS


if __name__ == "__main__":
    raise SystemExit(LVM.main())
