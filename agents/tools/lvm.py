"""LVM through `lvm ... --reportformat json`: volume groups and logical volumes as data."""

from __future__ import annotations


def _report(run, argv: list[str], key: str) -> list[dict[str, str]] | None:
    import json  # only LVM's agents pay for it

    r = run(["lvm", *argv, "--reportformat", "json"], ok=(0, 5))
    try:
        data = json.loads(r.stdout or "{}")
    except ValueError:
        return None
    rows = [row for part in data.get("report", []) for row in part.get(key, [])]
    if r.returncode == 5 and not rows:
        return None
    return rows


def vg(run, name: str) -> dict[str, str] | None:
    """The volume group's name, attr, tags, systemid, lock_type, missing PV count; None if not found."""
    rows = _report(run, ["vgs", "--foreign", "-o", "vg_name,vg_attr,vg_tags,vg_systemid,vg_lock_type,"
                                                   "vg_missing_pv_count", name], "vg")
    return rows[0] if rows else None


def lvs(run, vgname: str, *, extra: str = "") -> list[dict[str, str]]:
    """Logical volumes of the VG with lv_attr (5th char a = active, 6th o = open), lv_active, lv_device_open,
    and the extra fields (e.g. vg_tags); [] when the VG does not exist."""
    fields = "lv_name,lv_attr,lv_active,lv_device_open" + (f",{extra}" if extra else "")
    return _report(run, ["lvs", "--foreign", "-o", fields, vgname], "lv") or []


def split_dm_name(name: str) -> tuple[str, str, str]:
    """(VG, LV, layer) of a device-mapper name LVM made: the parts joined by one '-', a '-' inside a part
    doubled ("my--vg-lv" is VG my-vg, LV lv); a layer after the LV ("vg-lv-real", "vg-pool-tpool")
    marks a device below the LV's own, whose layer is ""."""
    parts: list[str] = []
    cur = []
    i = 0
    while i < len(name):
        if name[i] == "-":
            if name[i + 1:i + 2] == "-":
                cur.append("-")
                i += 2
                continue
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(name[i])
        i += 1
    parts.append("".join(cur))
    return parts[0], parts[1] if len(parts) > 1 else "", "-".join(parts[2:])


class KernelLV:
    """One device-mapper device that LVM created, as sysfs shows it."""

    __slots__ = ("vg", "lv", "layer", "live")

    def __init__(self, vg: str, lv: str, layer: str, live: bool) -> None:
        self.vg, self.lv, self.layer, self.live = vg, lv, layer, live


def kernel_lvs(sysfs: str = "/sys") -> list[KernelLV] | None:
    """Every device-mapper device LVM created (dm uuid "LVM-..."), read from sysfs without a child
    process; None when sysfs cannot say (then ask lvm). An active LV always has one; it is live when
    it is not suspended and has a table (a size). Devices that vanish while read are skipped."""
    import posix

    try:
        devices = [d for d in posix.listdir(f"{sysfs}/block") if d.startswith("dm-")]
    except OSError:
        return None
    found = []
    for dev in devices:
        try:
            uuid, name = (_read(f"{sysfs}/block/{dev}/dm/{leaf}") for leaf in ("uuid", "name"))
        except OSError:
            continue  # removed while we looked
        if not uuid.startswith("LVM-"):
            continue
        try:
            live = _read(f"{sysfs}/block/{dev}/dm/suspended") == "0" and \
                _read(f"{sysfs}/block/{dev}/size") not in ("", "0")
        except OSError:
            live = False  # its state cannot be read: not known to be live
        found.append(KernelLV(*split_dm_name(name), live))
    return found


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def is_active(lv: dict[str, str]) -> bool:
    """Whether an LV is active on this node (lv_attr state character)."""
    attr = lv.get("lv_attr", "")
    return len(attr) > 4 and attr[4] == "a"


def is_open(lv: dict[str, str]) -> bool:
    """Whether an LV's device is open (mounted, exported, in use)."""
    attr = lv.get("lv_attr", "")
    return (len(attr) > 5 and attr[5] == "o") or lv.get("lv_device_open") == "open"


def local_system_id(run) -> str:
    """`lvm systemid` of this node ("" when system_id_source is not configured)."""
    r = run(["lvm", "systemid"], ok=(0, 5))
    return r.stdout.split(":", 1)[1].strip() if ":" in r.stdout else ""


def config_value(run, key: str) -> str | None:
    """A setting from lvmconfig (e.g. activation/volume_list), None when unset."""
    r = run(["lvm", "lvmconfig", key], ok=(0, 5))
    if r.returncode != 0 or "=" not in r.stdout:
        return None
    return r.stdout.split("=", 1)[1].strip()
