"""A cluster description file (TOML) and everything generated from it.

One file says what the SAN is (nodes and their addresses, membership, fencing, DRBD resources, the
configuration filesystem, the service group - or several, each preferring a node (active/active) -
with its VIP, DRBD, volume group, portblock, iSCSI targets and LUNs; heartbeat settings and policy).
`generate()` turns it into drbd.conf, the target configuration of the chosen backend, heartbeat's
ha.cf/authkeys/haresources, corosync.conf, the SBD settings, and the Pacemaker equivalent through
crm.migrate and the renderers, so the heartbeat and Pacemaker configurations cannot drift apart.
Every value is checked first (ocfkit.validate), then what must be unique across groups (conflicts());
a bad one is an error with the description's file:line and nothing is written.

This is the command's floor: it ties the packages together (crm for Pacemaker, heartbeat_legacy for
heartbeat's files, the DRBD and target configuration), so crm itself stays Pacemaker only and
nothing below imports ocfkit.
"""

from __future__ import annotations

import os
import re

IET_GONE = ("the IET kernel module (iscsitarget-dkms) exists on no supported distribution (Debian dropped it "
            "after 9); choose target_backend = \"lio\" (the kernel's target, configured by ocfkit's agents) or "
            "\"tgt\" (the user-space tgtd), or pass --target lio|tgt: the IET targets, LUNs (path, type, "
            "scsi_sn, scsi_id), CHAP account and initiators are translated")


class DescriptionError(ValueError):
    """The description is incomplete or inconsistent; the message names the key."""


class Description(dict):
    """A parsed description that remembers its file name and text (for file:line in errors)."""

    path = ""
    text = ""


def load(path: str) -> Description:
    """Read a description file."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]

    from heartbeat_legacy.files import InputFileError, read_text

    try:  # a regular file only, at most 1 MiB, UTF-8: never blocks on a FIFO or reads a device
        text = read_text(path)
    except InputFileError as e:
        raise DescriptionError(str(e)) from None
    try:
        d = Description(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        raise DescriptionError(f"{path}: {e}") from None
    d.path, d.text = path, text
    return d


def _where(desc: dict, key: tuple) -> str:
    from ocfkit.validate import dotted, line_of

    path = getattr(desc, "path", "") or "description"
    line = line_of(getattr(desc, "text", ""), key) if getattr(desc, "text", "") else 0
    return f"{path}:{line}: {dotted(key)}" if line else f"{path}: {dotted(key)}"


def check(desc: dict) -> None:
    """Every value against what the generated files can hold; all problems in one error."""
    from ocfkit.validate import problems

    found = problems(desc)
    if not found:  # conflicts between well-formed values
        found = conflicts(desc)
    if found:
        raise DescriptionError("\n".join(f"{_where(desc, key)}: {msg}" for key, msg in found))


def several(desc: dict) -> bool:
    """Whether the description has several service groups ([[service]] entries, active/active)."""
    return isinstance(desc.get("service"), list)


def services(desc: dict) -> list[dict]:
    """Each service group as a table with its targets under "target" and its preferred node under "prefer"
    ([[service]] entries; or the one [service] with the top-level [[target]]s, preferring the first node)."""
    first = (desc.get("node") or [{}])[0].get("name", "")
    svc = desc.get("service")
    if isinstance(svc, list):
        return [dict(s, target=s.get("target", []), prefer=s.get("prefer", first)) for s in svc]
    return [dict(svc, target=desc.get("target", []), prefer=first)] if svc else []


def targets(desc: dict) -> list[dict]:
    """Every target of the description, of all service groups."""
    if several(desc):
        return [t for s in services(desc) for t in s["target"]]
    return desc.get("target", [])


def _target_keys(desc: dict) -> list[tuple[tuple, dict]]:
    """(key path, target) of every target, for messages with file:line."""
    if several(desc):
        return [(("service", i, "target", j), t) for i, s in enumerate(desc["service"])
                for j, t in enumerate(s.get("target", []))]
    return [(("target", j), t) for j, t in enumerate(desc.get("target", []))]


def conflicts(desc: dict) -> list[tuple[tuple, str]]:
    """[(key path, problem)] for values that must be unique across the description and are not: two DRBD
    resources with one name, device (minor), port or backing disk; a DRBD resource in two groups; two
    service groups with one name, VIP or volume group; two targets with one IQN or tid; two LUNs on one
    device or with one number in a target. Several groups: each has a name and prefers a known node, the
    targets live in their group, and the target backend is lio (see below)."""
    out: list[tuple[tuple, str]] = []

    def unique(items, what: str) -> None:
        seen: dict = {}
        for key, value in items:
            if value is None:
                continue
            if value in seen:
                out.append((key, f"{what} {value} is also {dotted(seen[value])}'s"))
            else:
                seen[value] = key

    from ocfkit.validate import dotted

    drbd = desc.get("drbd", [])
    unique([(("drbd", i, "name"), r.get("name")) for i, r in enumerate(drbd)], "DRBD resource name")
    unique([(("drbd", i, "device"), r.get("device")) for i, r in enumerate(drbd)], "DRBD device (minor)")
    unique([(("drbd", i, "port"), r.get("port")) for i, r in enumerate(drbd)], "DRBD port")
    unique([(("drbd", i, "disk"), r.get("disk")) for i, r in enumerate(drbd)], "DRBD backing disk")
    svc_keys = ([("service", i) for i in range(len(desc["service"]))] if several(desc)
                else [("service",)] if desc.get("service") else [])
    svcs = services(desc)
    users = [((*k, "drbd"), s.get("drbd")) for k, s in zip(svc_keys, svcs)]
    users += [(("filesystem", i, "drbd"), fs.get("drbd")) for i, fs in enumerate(desc.get("filesystem", []))]
    unique(users, "DRBD resource")  # one drbddisk per resource: two groups cannot both promote it
    unique([((*k, "vip"), s.get("vip")) for k, s in zip(svc_keys, svcs)], "VIP")
    unique([((*k, "volume_group"), s.get("volume_group")) for k, s in zip(svc_keys, svcs)], "volume group")
    tkeys = _target_keys(desc)
    unique([((*k, "iqn"), t.get("iqn")) for k, t in tkeys], "IQN")
    unique([((*k, "tid"), t.get("tid")) for k, t in tkeys], "target id (tid)")
    unique([((*k, "lun", j, "path"), lu.get("path")) for k, t in tkeys for j, lu in enumerate(t.get("lun", []))],
           "LUN device")
    for k, t in tkeys:
        unique([((*k, "lun", j, "lun"), lu.get("lun")) for j, lu in enumerate(t.get("lun", []))],
               f"LUN number in {t.get('iqn')}:")
    if target_backend(desc) == "lio":
        from agents.iscsi.config import is_initiator_name

        # LIO's ACLs are by initiator name: an address (initiators.allow's other form) would reach the agent's
        # allowed_initiators, which refuses it at start, so the configuration would not run as written.
        for k, t in tkeys:
            for j, i in enumerate(t.get("initiators", [])):
                if not is_initiator_name(str(i)):
                    out.append(((*k, "initiators", j), f"{i}: LIO's ACLs are by initiator name (iqn., eui., naa.); "
                                                       "filter addresses with a firewall, or use target_backend = "
                                                       "\"tgt\", which takes them"))
    if several(desc):
        nodes = [n.get("name") for n in desc.get("node", [])]
        unique([((*k, "name"), s.get("name")) for k, s in zip(svc_keys, svcs)], "service name")
        for k, s in zip(svc_keys, desc["service"]):
            if "name" not in s:
                out.append(((*k, "name"), "missing (several service groups: each has a name)"))
            if "prefer" in s and s["prefer"] not in nodes:
                out.append(((*k, "prefer"), f"{s['prefer']} is not a [[node]] name ({', '.join(map(str, nodes))})"))
        if "target" in desc:
            out.append((("target",), "several service groups: give each group's targets as [[service.target]] "
                                     "below its [[service]]"))
        if target_backend(desc) != "lio":
            # tgt: one tgtd per node, loaded from one configuration file and emptied by the daemon agent's stop,
            # and heartbeat's iSCSITarget wrapper cannot name a tid: groups cannot share it.
            out.append((("cluster", "target_backend"), "several service groups need target_backend = \"lio\" (each "
                                                        "group builds its own targets in the kernel; tgt runs one "
                                                        "daemon per node from one configuration file)"))
    return out


def _need(d: dict, key: str, where: str):
    if key not in d:
        raise DescriptionError(f"{where}: {key} is missing")
    return d[key]


def haresources_groups(desc: dict):
    """The heartbeat groups the description stands for (config filesystem lines, then one line per service
    group on the node it prefers)."""
    from heartbeat_legacy.haresources import Group, parse_resource

    nodes = [_need(n, "name", "node") for n in _need(desc, "node", "description")]
    drbd = {r["name"]: r for r in desc.get("drbd", [])}
    first = nodes[0]
    groups = []
    for fs in desc.get("filesystem", []):
        if ("drbd" in fs) == ("device" in fs):
            raise DescriptionError(f"filesystem {fs.get('directory')}: give drbd (a [[drbd]] name) or device (a shared "
                                   "block device, without replication), one of them")
        mount = f"{_need(fs, 'directory', 'filesystem')}::{fs.get('fstype', 'ext4')}"
        if "device" in fs:
            # A device every node sees (a SAN disk; the demo's loop device): no drbddisk in front.
            groups.append(Group(first, [parse_resource(f"Filesystem::{fs['device']}::{mount}")]))
            continue
        res = drbd.get(fs["drbd"])
        if res is None:
            raise DescriptionError(f"filesystem {fs.get('directory')}: no drbd resource {fs['drbd']}")
        tokens = [f"drbddisk::{res['name']}", f"Filesystem::{res['device']}::{mount}"]
        groups.append(Group(first, [parse_resource(t) for t in tokens]))
    for svc in services(desc):
        where = f"service {svc['name']}" if several(desc) else "service"
        tokens = [f"IPaddr2::{_need(svc, 'vip', where)}/{svc.get('cidr_netmask', 24)}"
                  + (f"/{svc['nic']}" if svc.get("nic") else "")]
        if svc.get("drbd"):
            if svc["drbd"] not in drbd:
                raise DescriptionError(f"{where}: no drbd resource {svc['drbd']}")
            tokens.append(f"drbddisk::{svc['drbd']}")
        if svc.get("volume_group"):
            tokens.append(f"LVM::{svc['volume_group']}")
        port = str(svc.get("portblock", ""))
        if port:
            tokens.append(f"portblock::tcp::{port}::block")
        if target_backend(desc) == "lio":
            # No daemon and no configuration file: the agents build each target and LUN in configfs.
            for t in svc["target"]:
                tokens.append(f"iSCSITarget::{t['iqn']}::lio")
                tokens += [f"iSCSILogicalUnit::{t['iqn']}::{lu['lun']}::{lu['path']}::lio" for lu in t.get("lun", [])]
        else:
            tokens.append("iscsitarget")
        if port:
            tokens.append(f"portblock::tcp::{port}::unblock")
        groups.append(Group(svc["prefer"], [parse_resource(t) for t in tokens]))
    return groups


DRBD_FENCING = {
    # Pacemaker: freeze I/O and have the cluster fence the peer (crm-fence-peer puts a constraint that keeps
    # the peer from being promoted until it has resynced; crm-unfence-peer lifts it after the resync).
    # The .9 scripts work with the 8.4 kernel module too (REFERENCE 9.3).
    "pacemaker": ("resource-and-stonith", (("fence-peer", "/usr/lib/drbd/crm-fence-peer.9.sh"),
                                           ("after-resync-target", "/usr/lib/drbd/crm-unfence-peer.9.sh"))),
    # heartbeat: dopd outdates the peer's disk over the heartbeat links (the seed's handler; 8.4 calls it
    # fence-peer, 8.3's outdate-peer; Debian 12 moved it from /usr/lib/heartbeat to /usr/libexec/heartbeat).
    # ha.cf respawns dopd and gives it apiauth.
    "heartbeat": ("resource-only", (("fence-peer", "/usr/libexec/heartbeat/drbd-peer-outdater -t 5"),)),
}


def drbd_version(desc: dict) -> str:
    """cluster.drbd_version: 8.4 (the kernel module Debian 12 and 13 ship; the default) or 9."""
    return desc.get("cluster", {}).get("drbd_version", "8.4")


# The seed's emergency handlers (drbd.conf of the guide): power the node off at once when it is Primary
# with inconsistent data and no peer, lost a split-brain resolution, or its disk failed.
EMERGENCY = "echo o > /proc/sysrq-trigger ; halt -f"


def drbd_options(desc: dict) -> tuple[list[str], list[str], list[str], list[str]]:
    """[drbd_options] as DRBD 8.4 statements for (net, disk, startup, handlers) of every resource. The seed's
    8.3 `syncer {}` settings are 8.4's resync-rate and al-extents (disk) and verify-alg (net)."""
    o = desc.get("drbd_options", {})
    net = [f"{k.replace('_', '-')} {o[k]};" for k in ("after_sb_0pri", "after_sb_1pri", "after_sb_2pri",
                                                      "rr_conflict", "verify_alg") if k in o]
    disk = [f"{k.replace('_', '-')} {o[k]};" for k in ("on_io_error", "resync_rate", "al_extents") if k in o]
    startup = [f"degr-wfc-timeout {o['degr_wfc_timeout']};"] if "degr_wfc_timeout" in o else []
    handlers = ([f'{h} "{EMERGENCY}";' for h in ("pri-on-incon-degr", "pri-lost-after-sb", "local-io-error")]
                if o.get("emergency_handlers") else [])
    return net, disk, startup, handlers


def drbd_conf(desc: dict, manager: str = "pacemaker", fencing: bool = True) -> str:
    """The DRBD resources (protocol C, one `on` section per node, internal metadata), with the fencing
    policy and handlers of the cluster manager (`pacemaker` or `heartbeat`) unless fencing is off, and the
    [drbd_options] of every resource. DRBD 8.4 takes `fencing` in `disk {}`, DRBD 9 in `net {}` (drbd-utils
    9 parses both forms)."""
    nodes = desc["node"]
    v9 = drbd_version(desc) == "9"
    net_opts, disk_opts, startup, emergency = drbd_options(desc)
    out = ["global { usage-count no; }", ""]
    for r in desc.get("drbd", []):
        policy, handlers = DRBD_FENCING[manager] if fencing else ("", ())
        net = "    net { protocol C;"
        if r.get("shared_secret"):
            net += f' cram-hmac-alg sha1; shared-secret "{r["shared_secret"]}";'
        if policy and v9:
            net += f" fencing {policy};"
        out += [f"resource {r['name']} {{", " ".join([net, *net_opts]) + " }"]
        disk = disk_opts + ([f"fencing {policy};"] if policy and not v9 else [])
        if disk:
            out.append("    disk { " + " ".join(disk) + " }")
        if startup:
            out.append("    startup { " + " ".join(startup) + " }")
        if handlers or emergency:
            out.append("    handlers { " + " ".join([*emergency, *(f'{k} "{v}";' for k, v in handlers)]) + " }")
        for n in nodes:
            addr = _need(n, "replication_address", f"node {n.get('name')}")
            out.append(f"    on {n['name']} {{ device {r['device']}; disk {r['disk']}; "
                       f"address {addr}:{r['port']}; meta-disk internal; }}")
        out += ["}", ""]
    return "\n".join(out)


def target_backend(desc: dict) -> str:
    """cluster.target_backend: tgt (the default), lio, or iet (reported: no IET kernel exists any more)."""
    return desc.get("cluster", {}).get("target_backend", "tgt")


def target_conf(desc: dict) -> tuple[str, str]:
    """(file name, text) of the target configuration for the backend ('' for lio: the agents do it)."""
    backend = target_backend(desc)
    if backend == "tgt":
        lines = []
        for t in targets(desc):
            lines.append(f"<target {t['iqn']}>")
            for lu in t.get("lun", []):
                extra = [f"{k} {lu[k]}" for k in ("scsi_sn", "scsi_id") if lu.get(k)]
                if lu.get("type", "blockio") == "blockio":
                    extra.append("bsoflags direct")  # IET's blockio: no page cache on the target (O_DIRECT)
                lines.append(f"    <backing-store {lu['path']}>")
                lines += [f"        lun {int(lu['lun']) + 1}", *[f"        {e}" for e in extra]]
                lines.append("    </backing-store>")
            if t.get("incoming_user"):
                lines.append(f"    incominguser {t['incoming_user']} {t.get('incoming_password', '')}")
            lines += [f"    initiator-{'name' if a.startswith(('iqn.', 'eui.')) else 'address'} {a}"
                      for a in t.get("initiators", [])]
            lines.append("</target>")
        return "targets.conf", "\n".join(lines) + "\n"
    if backend == "lio":
        return "", ""
    if backend == "iet":
        raise DescriptionError(f"cluster.target_backend = \"iet\": {IET_GONE}")
    raise DescriptionError(f"cluster.target_backend {backend!r}: use lio or tgt")


def ha_cf(desc: dict) -> str:
    """heartbeat's ha.cf."""
    from heartbeat_legacy import hacf

    hb = desc.get("heartbeat", {})
    cf = hacf.HaCf([])
    for key in ("logfile", "debugfile", "logfacility", "autojoin"):
        if key in hb:
            cf.set(key, str(hb[key]))
    cf.set("auto_failback", "yes" if desc.get("cluster", {}).get("auto_failback") else "no")
    for key in ("keepalive", "deadtime", "warntime", "initdead"):
        if key in hb:
            cf.set(key, str(hb[key]))
    if "keepalive" in hb and "deadtime" in hb and (
            hacf.parse_time_ms(str(hb["deadtime"])) <= 2 * hacf.parse_time_ms(str(hb["keepalive"]))):
        # heartbeat refuses to start: "Dead time [..] is too small compared to keeplive"
        raise DescriptionError("heartbeat.deadtime must be more than twice heartbeat.keepalive")
    for line in hb.get("media", []):
        words = line.split()
        cf.lines.append(hacf.Line(words[0], words[1:]))
    for n in desc["node"]:
        cf.lines.append(hacf.Line("node", [n["name"]]))
    for line in hb.get("respawn", []):
        cf.lines.append(hacf.Line("respawn", line.split()))
    if desc.get("drbd") and not any("/dopd" in line for line in hb.get("respawn", [])):
        # drbd-peer-outdater (DRBD's fence-peer handler under heartbeat) asks dopd on the peer to outdate
        # its disk; dopd runs under heartbeat and needs API access.
        cf.lines.append(hacf.Line("respawn", ["hacluster", "/usr/libexec/heartbeat/dopd"]))
        cf.lines.append(hacf.Line("apiauth", ["dopd", "gid=haclient", "uid=hacluster"]))
    for p in hb.get("ping", []):
        cf.lines.append(hacf.Line("ping", [p]))
    for line in hb.get("stonith_host", []):
        cf.lines.append(hacf.Line("stonith_host", line.split()))
    return hacf.dump(cf)


def authkeys_text(desc: dict) -> str:
    """authkeys (write it with mode 0600: heartbeat refuses anything readable by others)."""
    from heartbeat_legacy import authkeys

    hb = desc.get("heartbeat", {})
    num = int(hb.get("auth_number", 1))
    method, key = hb.get("auth_method", "sha1"), hb.get("auth_key", "")
    if method != "crc" and not key:
        # No key in the description: a random one, as an admin would make with /dev/urandom (the files go
        # to both nodes from this one run). An empty key would make heartbeat's signatures worthless.
        key = os.urandom(20).hex()
    return authkeys.dump(authkeys.AuthKeys(num, {num: (method, key)}))


def corosync_conf(desc: dict) -> str:
    """corosync.conf (corosync 3, knet): one link per kind of node address named in corosync.links (default:
    the LAN `address`, then the `replication_address` of the DRBD network, when the nodes have them),
    two_node for two nodes (it implies wait_for_all), crypto with /etc/corosync/authkey."""
    c = desc.get("corosync", {})
    nodes = desc["node"]
    kinds = c.get("links") or [k for k in ("address", "replication_address") if all(k in n for n in nodes)]
    if not kinds:
        raise DescriptionError("corosync.links: the nodes need an address or a replication_address")
    if len(kinds) > 8 or len(set(kinds)) != len(kinds):
        raise DescriptionError("corosync.links: at most 8 different links (knet)")
    for n in nodes:
        for kind in kinds:
            if kind not in n:
                raise DescriptionError(f"node {n['name']}: {kind} is missing (corosync link {kinds.index(kind)})")
    crypto = c.get("crypto", True)
    out = ["# corosync.conf written by ocfkit generate: the same file on every node (/etc/corosync/corosync.conf).",
           "# links: " + ", ".join(f"{i} = the nodes' {k}" for i, k in enumerate(kinds)) + ".",
           "# The key (crypto) is not generated here: run corosync-keygen on one node and copy",
           "# /etc/corosync/authkey (mode 0400, root) to the other.",
           "totem {", "    version: 2", f"    cluster_name: {desc.get('cluster', {}).get('name', 'cluster')}",
           f"    transport: {c.get('transport', 'knet')}", f"    token: {c.get('token', 3000)}"]
    out += (["    crypto_cipher: aes256", "    crypto_hash: sha256"] if crypto
            else ["    crypto_cipher: none", "    crypto_hash: none"])
    for i in range(len(kinds)):
        out += ["    interface {", f"        linknumber: {i}", "    }"]
    out += ["}", "", "nodelist {"]
    for nid, n in enumerate(nodes, start=1):
        out += ["    node {", f"        name: {n['name']}", f"        nodeid: {nid}"]
        out += [f"        ring{i}_addr: {n[k]}" for i, k in enumerate(kinds)]
        out.append("    }")
    out += ["}", "", "quorum {", "    provider: corosync_votequorum"]
    if len(nodes) == 2:
        out.append("    two_node: 1")
    out += ["}", "", "logging {", "    to_logfile: yes", "    logfile: /var/log/corosync/corosync.log",
            "    to_syslog: yes", f"    timestamp: {c.get('timestamp', 'on')}", "}", ""]
    return "\n".join(out)


def _lun_paths_follow_the_volume_group(desc: dict) -> list[str]:
    notes = []
    for svc in services(desc):
        vg = svc.get("volume_group")
        where = f"service {svc['name']}: volume_group" if several(desc) else "service.volume_group"
        for t in svc["target"]:
            for lu in t.get("lun", []):
                if vg and not (lu["path"].startswith(f"/dev/{vg}/") or lu["path"].startswith(f"/dev/mapper/{vg}-")):
                    raise DescriptionError(f"target {t['iqn']} lun {lu['lun']}: {lu['path']} is not a volume of "
                                           f"{where} {vg}: it would not move with the service")
    if target_backend(desc) == "lio" and any(lu.get("type") == "fileio" for t in targets(desc)
                                              for lu in t.get("lun", [])):
        notes.append("type = \"fileio\" is not carried over to LIO: ocfkit's iSCSILogicalUnit gives a block device an "
                     "iblock backstore (IET's blockio) and a file a fileio one.")
    for svc in services(desc):
        vg = svc.get("volume_group")
        if vg and svc["target"]:
            group = f"service group g_{svc['name']}" if several(desc) else "service group"
            notes.append(f"The LUNs are volumes of {vg}: the {group} activates {vg} before the target and its "
                         "LUNs and deactivates it after them, so each LUN path exists while it is exported (one group, "
                         "in order: nothing more to add).")
    return notes


def _rename_group(model, old: str, svc: dict):
    """The model with group `old` called g_NAME (in its constraints and notes too), and its portblock resources
    named after the service and limited to its VIP."""
    from dataclasses import replace

    from crm.migrate import ident
    from crm.model import Group

    new = f"g_{svc['name']}"

    def rsc(x: str) -> str:
        return new if x == old else x

    def renamed(text: str) -> str:  # old as a whole id part: l_OLD, col_OLD_on_..., o_..._before_OLD
        return re.sub(rf"(?<![A-Za-z0-9.-]){re.escape(old)}(?![A-Za-z0-9.-])", new, text)

    def member(m):
        if m.type != "portblock":
            return m
        p = dict(m.params)
        return replace(m, id=f"p_{p['action']}_{svc['name']}_{p['protocol']}_{ident(p['portno'])}",
                       params=m.params + (("ip", svc["vip"]),))

    return replace(
        model,
        resources=tuple(replace(r, id=new, members=tuple(member(m) for m in r.members))
                        if isinstance(r, Group) and r.id == old else r for r in model.resources),
        locations=tuple(replace(x, id=renamed(x.id), rsc=rsc(x.rsc)) for x in model.locations),
        colocations=tuple(replace(x, id=renamed(x.id), rsc=rsc(x.rsc), with_rsc=rsc(x.with_rsc))
                          for x in model.colocations),
        orders=tuple(replace(x, id=renamed(x.id), first=rsc(x.first), then=rsc(x.then)) for x in model.orders),
        notes=tuple(renamed(n) for n in model.notes))


def _several_groups(model, desc: dict):
    """Several service groups: each group named g_NAME after its service, and its portblock limited to its own
    VIP (a takeover of one group must not block the other group's clients on the same node)."""
    from dataclasses import replace

    from crm.model import Group

    for svc in services(desc):
        old = next(r.id for r in model.resources if isinstance(r, Group) and any(
            m.type == "IPaddr2" and dict(m.params).get("ip") == svc["vip"] for m in r.members))
        model = _rename_group(model, old, svc)
    prefer = ", ".join(f"g_{svc['name']} on {svc['prefer']}" for svc in services(desc))
    return replace(model, notes=model.notes + (
        f"Several service groups (active/active): each prefers its node ({prefer}), DRBD is promoted there, and "
        "each group's portblock blocks only its own VIP.",))


def cluster_model(desc: dict, *, fencing=None, provider: str = "ocfkit"):
    """The Pacemaker model: the heartbeat groups migrated, the fencing plan, the target per backend, the
    dependencies the description implies (explained in the model's notes)."""
    from dataclasses import replace

    from crm.migrate import add_filesystem_dependencies, add_target_params, migrate
    from crm.model import Group, Primitive, default_ops

    c = desc.get("cluster", {})
    model = migrate(haresources_groups(desc), nodes=[n["name"] for n in desc["node"]],
                    auto_failback=bool(c.get("auto_failback")), fencing=fencing if fencing is not None else True,
                    name=c.get("name", "cluster"), provider=provider)
    backend = target_backend(desc)
    name = target_conf(desc)[0]
    def swap(fn):
        return tuple(replace(r, members=tuple(fn(m) for m in r.members)) if isinstance(r, Group) else r
                     for r in model.resources)

    if name:
        # ocfkit runs the daemon itself, from the target configuration on the configuration filesystem.
        conf_dir = (desc.get("filesystem") or [{}])[0].get("directory", "/etc/tgt")
        a = f"ocf:{provider}:iscsitarget"
        daemon = Primitive("p_iscsitarget", a, (("implementation", backend), ("config", f"{conf_dir}/{name}")),
                           ops=default_ops(a))
        model = replace(model, resources=swap(lambda m: daemon if m.id == "p_iscsitarget" else m))
    else:
        # lio: the heartbeat tokens carry the IQN, LUN and path; the rest of each target and LUN goes here.
        model = add_target_params(model, targets(desc))
    if backend == "tgt" and c.get("tgt_daemon") == "clone":
        from crm.migrate import clone_target_daemon

        model = clone_target_daemon(model, targets(desc), provider)
    if several(desc):
        model = _several_groups(model, desc)
    model = add_filesystem_dependencies(model)
    if c.get("transition_delay"):
        model = replace(model, properties=model.properties + (("transition-delay", c["transition_delay"]),))
    if c.get("op_timeout_factor", 1) != 1:
        from crm.model import scale_timeouts

        model = scale_timeouts(model, c["op_timeout_factor"])
        model = replace(model, notes=model.notes + (
            f"Every operation timeout is {c['op_timeout_factor']} times the agents' own (cluster.op_timeout_factor: "
            "slow nodes, such as emulated guests, where an operation that is only slow must not fail).",))
    return replace(model, notes=model.notes + tuple(_lun_paths_follow_the_volume_group(desc)))


def _fencing_spec(desc: dict):
    spec = desc.get("fencing")
    if spec is None and "fencing" in desc.get("cluster", {}):
        raise DescriptionError("cluster.fencing: moved; give [fencing.sbd] or [[fencing.device]] (docs/crm.md), or "
                               "fencing = \"none\" at the top for a test cluster")
    return spec


def readme(desc: dict, plan, files: dict, pacemaker: str) -> str:
    """The steps that make a cluster of the generated files (no secret in it)."""
    name = desc.get("cluster", {}).get("name", "cluster")
    out = [f"Cluster {name}: what ocfkit generate wrote and how to use it (Pacemaker {pacemaker}).", "",
           "Files: " + ", ".join(sorted(files)) + ".",
           "Mode 0600 (they hold secrets: fence-device passwords, CHAP, DRBD's shared secret, heartbeat's key): "
           + ", ".join(sorted(f for f, (_t, m) in files.items() if m & 0o077 == 0)) + ".", "",
           "1. Membership (both nodes): copy corosync.conf to /etc/corosync/corosync.conf. On ONE node run",
           "   corosync-keygen (it writes /etc/corosync/authkey from /dev/urandom), copy that key to the other",
           "   node with mode 0400 owner root. `corosync -t` checks the file (it needs the key).", ""]
    n = 2
    if plan is not None and plan.steps:
        out += [f"{n}. Fencing, before the cluster starts:"] + ["   " + s for s in plan.steps] + [""]
        n += 1
    elif plan is not None and not plan.enabled:
        out += [f"{n}. Fencing is OFF (fencing = \"none\"): test clusters only.", ""]
        n += 1
    else:
        out += [f"{n}. Fencing: every fence device must reach its target from the peer node; test each",
                "   with `stonith_admin --reboot NODE` before putting data on the cluster.", ""]
        n += 1
    out += [f"{n}. DRBD (both nodes): copy drbd.conf to /etc/drbd.conf (mode 0600: it holds the shared secret), then",
            "   drbdadm create-md RES; drbdadm up RES; on the first node drbdadm primary --force RES once.", ""]
    if several(desc):  # each resource starts primary where its group will run
        where = ", ".join(f"{s['drbd']} on {s['prefer']}" for s in services(desc) if s.get("drbd"))
        out[-2] = ("   drbdadm create-md RES; drbdadm up RES; then drbdadm primary --force RES once on the node its "
                   f"group\n   prefers: {where}.")
    n += 1
    drbd = {r.get("name"): r for r in desc.get("drbd", [])}
    lvm = [(s["volume_group"], drbd[s["drbd"]]) for s in services(desc)
           if s.get("volume_group") and s.get("drbd") in drbd]
    if lvm:
        vgs = ", ".join(vg for vg, _r in lvm)
        below = ", ".join(r.get("disk", "?") for _vg, r in lvm)
        out += [f"{n}. LVM on DRBD (both nodes): LVM must find {vgs} on the DRBD device only, never on the device",
                f"   below it ({below}), or it sees each PV twice and may activate the VG there. In",
                '   /etc/lvm/lvm.conf: devices { global_filter = [ "a|^/dev/drbd|", "a|DISK|", "r|.*|" ] }, with an',
                '   "a" pattern for the disks of the node\'s own VGs in place of DISK (`pvs -a` shows what LVM scans).',
                "   Then once, on the node where DRBD is Primary:"]
        out += [f"   pvcreate {r['device']}; vgcreate {vg} {r['device']}; vgchange --setautoactivation n {vg}"
                for vg, r in lvm]
        out += ["   (the cluster activates the VG, never the boot; LVM 2.03.12 or later).", ""]
        n += 1
    if "targets.conf" in files and desc.get("cluster", {}).get("tgt_daemon") == "clone":
        out += [f"{n}. tgtd runs on both nodes as a clone (cl_tgtd); the CIB's iSCSITarget and iSCSILogicalUnit",
                "   resources create the targets. targets.conf (heartbeat's) goes on the configuration filesystem.", ""]
        n += 1
    elif "targets.conf" in files:
        out += [f"{n}. The target configuration targets.conf goes on the configuration filesystem (the CIB names its",
                "   path); the target group runs with that filesystem and starts after it.", ""]
        n += 1
    out += [f"{n}. Pacemaker (one node, cluster running): `pcs cluster cib-push cib.xml --config` or",
            "   `crm configure load update cluster.crm`, or run pcs.sh (it builds pcs-cib.xml with pcs -f;",
            "   the agents, ocfkit's and the fence agents, must be installed there: pcs checks them).",
            "   DRBD's promotion score on a node: crm_attribute --promotion=p_drbd_RES -G -N NODE",
            "   (crm_master is deprecated in Pacemaker 3.0).",
            "   Check offline first: ocfkit crm check cib.xml.", "",
            "Heartbeat instead of Pacemaker: ha.cf, authkeys (0600) and haresources go to /etc/ha.d, and",
            "drbd-heartbeat.conf (dopd's fencing) to /etc/drbd.conf. dopd runs as hacluster and outdates this node's",
            "disk with drbdadm when the peer asks: let group haclient run DRBD's tools as root (the seed's chgrp and",
            "chmod u+s, in the form drbdadm itself suggests, for the 8.4 module's tools), on both nodes:",
            "  dpkg-statoverride --add --update root haclient 4750 /usr/lib/drbd/drbdsetup-84",
            "  dpkg-statoverride --add --update root haclient 4750 /usr/sbin/drbdmeta",
            "`ocfkit install --force` puts ocfkit's resource.d",
            "wrappers in place of heartbeat's (the originals are kept); `ocfkit heartbeat check` validates /etc/ha.d. "
            + ("The bare iscsitarget reads /etc/tgt/targets.conf: make it a symlink to the targets.conf on the "
               "configuration filesystem, as the seed did for ietd.conf." if "targets.conf" in files else
               "LIO needs no file: the resource.d wrappers build the targets (CHAP and initiators: Pacemaker only)."),
            ""]
    if several(desc):
        out[-1:-1] = ["Each haresources line is one service group on the node it prefers. heartbeat's portblock "
                      "wrapper",
                      "takes no address: under heartbeat a group's takeover blocks its port on every address of that",
                      "node while it lasts (Pacemaker's portblock is limited to the group's VIP)."]
    return "\n".join(out)


def generate(desc: dict, *, run=None, pacemaker: str | None = None, target: str | None = None
             ) -> dict[str, tuple[str, int]]:
    """file name -> (content, mode) of everything the description yields. `run` (the command seam) reads
    installed fence agents' meta-data; `pacemaker` is 2.1 or 3.0 (default: cluster.pacemaker, else 2.1);
    `target` (lio or tgt) overrides cluster.target_backend (an IET description is translated)."""
    import copy

    from crm import fencing, render
    from heartbeat_legacy import haresources

    check(desc)
    if target is not None:
        if target not in ("lio", "tgt"):
            raise DescriptionError(f"--target {target}: lio or tgt")
        src, desc = desc, Description(copy.deepcopy(dict(desc)))
        desc.path, desc.text = getattr(src, "path", ""), getattr(src, "text", "")
        desc.setdefault("cluster", {})["target_backend"] = target
        found = conflicts(desc)
        if found:
            raise DescriptionError("\n".join(f"{_where(desc, key)}: {msg} (--target {target})" for key, msg in found))
    if not desc.get("node") or len(desc["node"]) != 2:
        raise DescriptionError("description: exactly two [[node]] entries are needed")
    names = [n["name"] for n in desc["node"]]
    if len(set(names)) != 2:
        raise DescriptionError("node: the two names must differ")
    if target_backend(desc) == "iet":
        raise DescriptionError(f"{_where(desc, ('cluster', 'target_backend'))}: {IET_GONE}")
    pacemaker = pacemaker or desc.get("cluster", {}).get("pacemaker", "2.1")
    if pacemaker not in render.PACEMAKER:
        raise DescriptionError(f"pacemaker {pacemaker}: 2.1 or 3.0")
    try:
        plan = fencing.plan(_fencing_spec(desc), names, run=run)
    except fencing.FencingError as e:
        raise DescriptionError(str(e)) from None
    provider = desc.get("cluster", {}).get("provider", "ocfkit")
    name, text = target_conf(desc)
    files = {"drbd.conf": (drbd_conf(desc, "pacemaker", plan.enabled), 0o600),
             "drbd-heartbeat.conf": (drbd_conf(desc, "heartbeat"), 0o600),
             "ha.cf": (ha_cf(desc), 0o644),
             "authkeys": (authkeys_text(desc), 0o600),
             "haresources": (haresources.dump(haresources_groups(desc)), 0o644),
             "corosync.conf": (corosync_conf(desc), 0o644)}
    if name:
        secret = any(t.get("incoming_password") for t in targets(desc))
        files[name] = (text, 0o600 if secret else 0o644)
    if plan.sbd_settings:
        files["sbd"] = (plan.sbd_settings, 0o644)
    model = cluster_model(desc, fencing=plan, provider=provider)
    sbd = (desc.get("fencing") or {}).get("sbd") if isinstance(desc.get("fencing"), dict) else None
    if sbd:
        from dataclasses import replace

        token = desc.get("corosync", {}).get("token", 3000) / 1000
        wd = sbd.get("watchdog_timeout", 5)
        worst = token + 1.2 * token + sbd.get("delay_max", 15) + sbd.get("msgwait", 2 * wd)
        model = replace(model, notes=model.notes + (
            f"With token {token:g}s (consensus 1.2 x token = {1.2 * token:g}s), a crash of the node running the "
            f"services leaves them stopped for up to about {worst:g}s plus their start on the survivor.",))
    # Pacemaker needs the fence and CHAP passwords in the CIB: the three renderings hold them, mode 0600.
    files["cluster.crm"] = (render.crmsh_text(model), 0o600)
    files["cib.xml"] = (render.cib_xml(model, pacemaker), 0o600)
    # pcs.sh builds its own pcs-cib.xml (never the cib.xml beside it).
    files["pcs.sh"] = (render.pcs_script(model, "pcs-cib.xml"), 0o700)
    files["README"] = (readme(desc, plan, {**files, "README": ("", 0o644)}, pacemaker), 0o644)
    return files


def write_files(out: str, files: dict[str, tuple[str, int]]) -> list[str]:
    """Write every file into directory `out`, all or nothing as far as the file system allows: each is
    written into a private temporary directory inside `out` (created 0700; files with O_EXCL|O_NOFOLLOW,
    their mode from the start, fsync'd), then renamed into place. A rename replaces a symlink planted in
    `out` instead of writing through it. Returns the paths written."""
    import os
    import tempfile

    os.makedirs(out, mode=0o755, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".ocfkit-generate-", dir=out)
    done: list[str] = []
    try:
        for name, (content, mode) in files.items():
            if "/" in name or name.startswith("."):
                raise DescriptionError(f"{name}: not a plain file name")
            fd = os.open(os.path.join(tmp, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            try:
                os.fchmod(fd, mode)
                data = content.encode("utf-8")
                while data:
                    data = data[os.write(fd, data):]
                os.fsync(fd)
            finally:
                os.close(fd)
        for name in files:
            target = os.path.join(out, name)
            if os.path.isdir(target) and not os.path.islink(target):
                raise DescriptionError(f"{target}: a directory is in the way")
        for name in files:
            os.rename(os.path.join(tmp, name), os.path.join(out, name))
            done.append(os.path.join(out, name))
    finally:
        for name in os.listdir(tmp):
            os.unlink(os.path.join(tmp, name))
        os.rmdir(tmp)
    return done
