"""LVM through `lvm ... --reportformat json`: volume groups and logical volumes as data.

Every name given to lvm comes after "--" (lvm(8), VALID NAMES), so that nothing that reaches it can be
read as an option; the parameters that carry names are checked against LVM's own rules as well.
"""

from __future__ import annotations

from ocf import system
from ocf.errors import OcfError
from ocf.params import Parser

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+_.-")
_TAG_CHARS = _NAME_CHARS | frozenset("/=!:&#")
# lvm(8) VALID NAMES: strings an LV name may not contain (LVM's internal sub-LVs), and names it may not
# start with.
_LV_RESERVED = ("_cdata", "_cmeta", "_corig", "_iorig", "_mimage", "_mlog", "_pmspare", "_rimage", "_rmeta",
                "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig")
NAME_MAX = 127  # NAME_LEN 128 with its NUL


def name_problem(text: str, *, lv: bool = False) -> str:
    """Why text is not a valid VG (or LV) name by lvm(8)'s rules, "" when it is."""
    what = "an LV" if lv else "a VG"
    if not text:
        return f"{what} name cannot be empty"
    if text.startswith("-"):
        return f"{what} name cannot start with '-'"
    if text in (".", ".."):
        return f"{what} name cannot be '.' or '..'"
    if not set(text) <= _NAME_CHARS:
        return f"{what} name may contain only a-z A-Z 0-9 + _ . -"
    if len(text) > NAME_MAX:
        return f"{what} name is longer than {NAME_MAX} characters"
    if lv:
        if text.startswith(("snapshot", "pvmove")):
            return "an LV name cannot start with 'snapshot' or 'pvmove' (reserved by LVM)"
        reserved = next((r for r in _LV_RESERVED if r in text), "")
        if reserved:
            return f"an LV name cannot contain {reserved!r} (reserved by LVM)"
    return ""


def tag_problem(text: str) -> str:
    """Why text is not a valid LVM tag, "" when it is (LVM's validate_tag)."""
    if not text or text.startswith("-") or text in (".", ".."):
        return "a tag cannot be empty, start with '-' or be '.' or '..'"
    if not set(text) <= _TAG_CHARS:
        return "a tag may contain only a-z A-Z 0-9 _ + . - / = ! : & #"
    if len(text) > 1024:
        return "a tag is longer than 1024 characters"
    return ""


class _Name(Parser):
    def __init__(self, check) -> None:
        self.check = check

    def parse(self, text: str) -> str:
        problem = self.check(text)
        if problem:
            raise ValueError(problem)
        return text


vg_name = _Name(name_problem)
lv_name = _Name(lambda text: name_problem(text, lv=True))
tag = _Name(tag_problem)


def _report(run, command: str, options: list[str], names: list[str], key: str) -> list[dict[str, str]] | None:
    import json  # only LVM's agents pay for it

    r = run(["lvm", command, *options, "--reportformat", "json", "--", *names], ok=(0, 5))
    try:
        data = json.loads(r.stdout or "{}")
        rows = [row for part in data.get("report", []) for row in part.get(key, [])]
        if not all(isinstance(row, dict) for row in rows):
            raise ValueError("a row that is not an object")
    except (ValueError, AttributeError, TypeError):
        # Never read as "nothing there": garbage says nothing about what is active.
        raise OcfError(f"lvm {command} printed no JSON report (exit {r.returncode}): "
                       f"{(r.stderr or r.stdout).strip()[:200]}") from None
    if r.returncode == 5 and not rows:
        return None
    return rows


def vg(run, name: str) -> dict[str, str] | None:
    """The volume group's name, attr, tags, systemid, lock_type, missing PV count; None if not found."""
    rows = _report(run, "vgs", ["--foreign", "-o", "vg_name,vg_attr,vg_tags,vg_systemid,vg_lock_type,"
                                                   "vg_missing_pv_count"], [name], "vg")
    rows = [row for row in rows or () if row.get("vg_name") == name]  # never another VG's answer
    return rows[0] if rows else None


def lvs(run, vgname: str, *, extra: str = "") -> list[dict[str, str]]:
    """Logical volumes of the VG with lv_attr (5th char a = active, 6th o = open), lv_active, lv_device_open,
    and the extra fields (e.g. vg_tags); [] when the VG does not exist."""
    fields = "lv_name,lv_attr,lv_active,lv_device_open" + (f",{extra}" if extra else "")
    return _report(run, "lvs", ["--foreign", "-o", fields], [vgname], "lv") or []


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
    try:
        devices = [d for d in system.listdir(f"{sysfs}/block") if d.startswith("dm-")]
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


def own_by_tag(run, vg: dict[str, str], tag: str) -> None:
    """Make tag the VG's only tag (the ownership mark of exclusive activation): other tags go first."""
    tags = [t for t in vg.get("vg_tags", "").split(",") if t]
    for t in tags:
        if t != tag:
            run(["lvm", "vgchange", "--deltag", t, "--", vg["vg_name"]])
    if tag not in tags:
        run(["lvm", "vgchange", "--addtag", tag, "--", vg["vg_name"]])


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
