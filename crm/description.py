"""A cluster description file (TOML) and everything generated from it.

One file says what the SAN is (nodes, DRBD resources, the configuration filesystem, the service
group: VIP, DRBD, volume group, portblock, iSCSI targets and LUNs; heartbeat settings and policy).
`generate()` turns it into drbd.conf, the target configuration of the chosen backend, heartbeat's
ha.cf/authkeys/haresources, and the Pacemaker equivalent through crm.migrate and the renderers, so
the heartbeat and Pacemaker configurations cannot drift apart.
"""

from __future__ import annotations


class DescriptionError(ValueError):
    """The description is incomplete or inconsistent; the message names the key."""


def load(path: str) -> dict:
    """Read a description file."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]

    with open(path, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise DescriptionError(f"{path}: {e}") from None


def _need(d: dict, key: str, where: str):
    if key not in d:
        raise DescriptionError(f"{where}: {key} is missing")
    return d[key]


def haresources_groups(desc: dict):
    """The heartbeat groups the description stands for (config filesystem line, service line)."""
    from heartbeat_legacy.haresources import Group, parse_resource

    nodes = [_need(n, "name", "node") for n in _need(desc, "node", "description")]
    drbd = {r["name"]: r for r in desc.get("drbd", [])}
    first = nodes[0]
    groups = []
    for fs in desc.get("filesystem", []):
        res = drbd.get(_need(fs, "drbd", "filesystem"))
        if res is None:
            raise DescriptionError(f"filesystem {fs.get('directory')}: no drbd resource {fs['drbd']}")
        tokens = [f"drbddisk::{res['name']}",
                  f"Filesystem::{res['device']}::{_need(fs, 'directory', 'filesystem')}::{fs.get('fstype', 'ext4')}"]
        groups.append(Group(first, [parse_resource(t) for t in tokens]))
    svc = desc.get("service")
    if svc:
        tokens = [f"IPaddr2::{_need(svc, 'vip', 'service')}/{svc.get('cidr_netmask', 24)}"
                  + (f"/{svc['nic']}" if svc.get("nic") else "")]
        if svc.get("drbd"):
            if svc["drbd"] not in drbd:
                raise DescriptionError(f"service: no drbd resource {svc['drbd']}")
            tokens.append(f"drbddisk::{svc['drbd']}")
        if svc.get("volume_group"):
            tokens.append(f"LVM::{svc['volume_group']}")
        port = str(svc.get("portblock", ""))
        if port:
            tokens.append(f"portblock::tcp::{port}::block")
        if target_backend(desc) == "lio":
            # No daemon and no configuration file: the agents build each target and LUN in configfs.
            for t in desc.get("target", []):
                tokens.append(f"iSCSITarget::{t['iqn']}::lio")
                tokens += [f"iSCSILogicalUnit::{t['iqn']}::{lu['lun']}::{lu['path']}::lio" for lu in t.get("lun", [])]
        else:
            tokens.append("iscsitarget")
        if port:
            tokens.append(f"portblock::tcp::{port}::unblock")
        groups.append(Group(first, [parse_resource(t) for t in tokens]))
    return groups


def drbd_conf(desc: dict) -> str:
    """The DRBD resources (protocol C, one `on` section per node, internal metadata)."""
    nodes = desc["node"]
    out = ["global { usage-count no; }", ""]
    for r in desc.get("drbd", []):
        net = "    net { protocol C;"
        if r.get("shared_secret"):
            net += f' cram-hmac-alg sha1; shared-secret "{r["shared_secret"]}";'
        out += [f"resource {r['name']} {{", net + " }"]
        for n in nodes:
            addr = _need(n, "replication_address", f"node {n.get('name')}")
            out.append(f"    on {n['name']} {{ device {r['device']}; disk {r['disk']}; "
                       f"address {addr}:{r['port']}; meta-disk internal; }}")
        out += ["}", ""]
    return "\n".join(out)


def target_backend(desc: dict) -> str:
    """cluster.target_backend: iet, tgt (the default) or lio."""
    return desc.get("cluster", {}).get("target_backend", "tgt")


def target_conf(desc: dict) -> tuple[str, str]:
    """(file name, text) of the target configuration for the backend ('' for lio: the agents do it)."""
    backend = target_backend(desc)
    targets = desc.get("target", [])
    if backend == "iet":
        lines = []
        for t in targets:
            lines.append(f"Target {t['iqn']}")
            for lu in t.get("lun", []):
                lines.append(f"    Lun {lu['lun']} Path={lu['path']},Type={lu.get('type', 'blockio')}")
        return "ietd.conf", "\n".join(lines) + "\n"
    if backend == "tgt":
        lines = []
        for t in targets:
            lines.append(f"<target {t['iqn']}>")
            lines += [f"    backing-store {lu['path']}" for lu in t.get("lun", [])]
            lines.append("</target>")
        return "targets.conf", "\n".join(lines) + "\n"
    if backend == "lio":
        return "", ""
    raise DescriptionError(f"cluster.target_backend {backend!r}: use iet, tgt or lio")


def ha_cf(desc: dict) -> str:
    """heartbeat's ha.cf."""
    from heartbeat_legacy import hacf

    hb = desc.get("heartbeat", {})
    cf = hacf.HaCf([])
    for key in ("logfacility", "autojoin"):
        if key in hb:
            cf.set(key, str(hb[key]))
    cf.set("auto_failback", "yes" if desc.get("cluster", {}).get("auto_failback") else "no")
    for key in ("keepalive", "deadtime", "warntime", "initdead"):
        if key in hb:
            cf.set(key, str(hb[key]))
    for line in hb.get("media", []):
        words = line.split()
        cf.lines.append(hacf.Line(words[0], words[1:]))
    for n in desc["node"]:
        cf.lines.append(hacf.Line("node", [n["name"]]))
    for line in hb.get("respawn", []):
        cf.lines.append(hacf.Line("respawn", line.split()))
    for p in hb.get("ping", []):
        cf.lines.append(hacf.Line("ping", [p]))
    return hacf.dump(cf)


def authkeys_text(desc: dict) -> str:
    """authkeys (write it with mode 0600: heartbeat refuses anything readable by others)."""
    from heartbeat_legacy import authkeys

    hb = desc.get("heartbeat", {})
    num = int(hb.get("auth_number", 1))
    return authkeys.dump(authkeys.AuthKeys(num, {num: (hb.get("auth_method", "sha1"), hb.get("auth_key", ""))}))


def cluster_model(desc: dict):
    """The Pacemaker model: the heartbeat groups migrated, the target daemon per backend."""
    from dataclasses import replace

    from crm.migrate import migrate
    from crm.model import Group, Primitive, default_ops

    c = desc.get("cluster", {})
    model = migrate(haresources_groups(desc), nodes=[n["name"] for n in desc["node"]],
                    auto_failback=bool(c.get("auto_failback")), fencing=bool(c.get("fencing", True)),
                    name=c.get("name", "cluster"))
    backend = target_backend(desc)
    name = target_conf(desc)[0]
    if not name:  # lio: no daemon, the targets and LUNs came from haresources
        return model
    # ocfkit runs the daemon itself, from the target configuration on the configuration filesystem.
    conf_dir = (desc.get("filesystem") or [{}])[0].get("directory", "/etc/tgt" if backend == "tgt" else "/etc/iet")
    daemon = Primitive("p_iscsitarget", "ocf:ocfkit:iscsitarget",
                       (("implementation", backend), ("config", f"{conf_dir}/{name}")),
                       ops=default_ops("ocf:ocfkit:iscsitarget"))
    res = tuple(replace(r, members=tuple(daemon if m.id == "p_iscsitarget" else m for m in r.members))
                if isinstance(r, Group) else r for r in model.resources)
    return replace(model, resources=res)


def generate(desc: dict) -> dict[str, tuple[str, int]]:
    """file name -> (content, mode) of everything the description yields."""
    from crm import render
    from heartbeat_legacy import haresources

    if not desc.get("node") or len(desc["node"]) != 2:
        raise DescriptionError("description: exactly two [[node]] entries are needed")
    files = {"drbd.conf": (drbd_conf(desc), 0o644), "ha.cf": (ha_cf(desc), 0o644),
             "authkeys": (authkeys_text(desc), 0o600),
             "haresources": (haresources.dump(haresources_groups(desc)), 0o644)}
    name, text = target_conf(desc)
    if name:
        files[name] = (text, 0o644)
    model = cluster_model(desc)
    files["cluster.crm"] = (render.crmsh_text(model), 0o644)
    files["cib.xml"] = (render.cib_xml(model), 0o644)
    files["pcs.sh"] = (render.pcs_script(model), 0o755)
    return files
