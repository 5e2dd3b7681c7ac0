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


def lvs(run, vgname: str) -> list[dict[str, str]]:
    """Logical volumes of the VG with lv_attr (5th char a = active, 6th o = open), lv_active, lv_device_open."""
    return _report(run, ["lvs", "--foreign", "-o", "lv_name,lv_attr,lv_active,lv_device_open", vgname], "lv") or []


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
