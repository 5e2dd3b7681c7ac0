"""heartbeat v1 (haresources, ha.cf) to a Pacemaker 2.1 cluster model.

Rules (REFERENCE section 5.1): each haresources line becomes a group in its order; drbddisk becomes
a promotable clone of ocf:ocfkit:drbd, and the group is colocated with its Promoted instance and
ordered after its promotion; IPaddr/IPaddr2 arguments map as heartbeat's wrappers map them;
iscsitarget becomes ocfkit's target daemon agent; other scripts become lsb: resources; the
preferred node becomes a location preference (on the Promoted role for DRBD); auto_failback off
becomes a resource stickiness above that preference. Fencing stays enabled unless asked: DRBD
without fencing risks split brain.
"""

from __future__ import annotations

import re

from crm.fencing import Plan
from crm.model import Clone, Cluster, Colocation, Group, Location, Order, Primitive, default_ops

FENCING_WARNING = ("fencing (STONITH) stays enabled: DRBD replicates to a peer that may still be alive when "
                   "it looks dead, so without fencing both nodes can become Primary (split brain) and the LUN "
                   "diverges. Add one fence device per node (e.g. stonith:fence_ipmilan), configure DRBD with "
                   "'fencing resource-and-stonith' and crm-fence-peer handlers, or pass --no-fencing to accept "
                   "the risk (test clusters only)")


def ident(text: str) -> str:
    """text as a Pacemaker id part (anything but [A-Za-z0-9_.-] becomes _)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text).strip("_.-") or "r"


def _known() -> tuple[str, ...]:
    """haresources names whose heartbeat wrapper maps onto an ocfkit agent (resource_d.WRAPPERS), but Dummy (heartbeat's
    own is a test script, kept lsb:) and drbddisk (it becomes the promotable clone)."""
    from heartbeat_legacy.resource_d import WRAPPERS

    return tuple(n for n in WRAPPERS if n not in ("Dummy", "drbddisk"))


def _primitive(name: str, args: tuple[str, ...], warnings: list[str], provider: str = "ocfkit"
               ) -> tuple[Primitive | None, str]:
    """(primitive or None for drbddisk, drbd resource name)."""
    from heartbeat_legacy.resource_d import UsageError, ocf_call

    # The Debian package installs ocfkit's wrappers beside heartbeat's as /etc/ha.d/resource.d/ocfkit-NAME:
    # in haresources, `ocfkit-IPaddr2::...` is the same resource as `IPaddr2::...`.
    known = _known()
    if name.startswith("ocfkit-") and name[len("ocfkit-"):] in known + ("drbddisk",):
        name = name[len("ocfkit-"):]
    if name == "drbddisk":
        return None, (args[0] if args else "all")
    # iscsitarget is the seed's target daemon (IET's init script in its day): ocfkit's daemon agent runs ietd
    # on an IET host and tgtd elsewhere (implementation=auto), with the configuration file given, if any.
    if name in known:
        try:
            agent, _inst, params = ocf_call(name, list(args))
        except UsageError as e:
            raise ValueError(f"{name}::{'::'.join(args)}: {e}") from None
        params = dict(params)
        params.pop("lvs_support", None)  # heartbeat's wrapper forces it; a Pacemaker VIP does not need it
        if agent == "IPaddr2":
            pid = "p_ip_" + ident(params["ip"])
        elif agent == "Filesystem":
            pid = "p_fs_" + ident(params["directory"].rsplit("/", 1)[-1])
        elif agent == "portblock":
            pid = f"p_{params['action']}_{params['protocol']}_{ident(params['portno'])}"
        elif agent == "iSCSITarget":
            pid = "p_target_" + ident(params["iqn"].rsplit(":", 1)[-1])
        elif agent == "iSCSILogicalUnit":
            pid = f"p_lun_{ident(params['target_iqn'].rsplit(':', 1)[-1])}_{params['lun']}"
        elif agent == "iscsitarget":
            pid = "p_iscsitarget"
        else:
            pid = "p_lvm_" + ident(params.get("volgrpname", "vg"))
        a = f"ocf:{provider}:{agent}"
        return Primitive(pid, a, tuple(params.items()), ops=default_ops(a)), ""
    warnings.append(f"{name}: no OCF agent known; kept as lsb:{name}"
                    + (" (consider ocf:ocfkit:iSCSITarget + iSCSILogicalUnit)" if "iscsi" in name.lower() else ""))
    a = f"lsb:{name}"
    return Primitive("p_" + ident(name), a, ops=default_ops(a)), ""


def migrate(groups, *, nodes: list[str] | None = None, auto_failback: bool | None = False, fencing=True,
            name: str = "cluster", provider: str = "ocfkit") -> Cluster:
    """Turn parsed haresources groups into a Pacemaker cluster model (warnings in .warnings).

    fencing: a crm.fencing.Plan (its devices, rules and properties join the model), False (STONITH off:
    test clusters) or True (STONITH on, devices to be added by the caller: a warning says so)."""
    warnings: list[str] = []
    resources: list = []
    locations: list[Location] = []
    colocations: list[Colocation] = []
    orders: list[Order] = []
    drbd_clones: dict[str, str] = {}
    used: set[str] = set()
    all_nodes = list(nodes or [])
    for gi, g in enumerate(groups, start=1):
        if g.node not in all_nodes:
            all_nodes.append(g.node)
        members: list[Primitive] = []
        drbd_here: list[str] = []
        for r in g.resources:
            prim, drbd_res = _primitive(r.name, r.args, warnings, provider)
            if prim is None:
                if drbd_res not in drbd_clones:
                    base = ident(drbd_res)
                    p = Primitive(f"p_drbd_{base}", f"ocf:{provider}:drbd", (("drbd_resource", drbd_res),),
                                  ops=default_ops(f"ocf:{provider}:drbd"))
                    clone = Clone(f"ms_drbd_{base}", p, (("promoted-max", "1"), ("promoted-node-max", "1"),
                                                         ("clone-max", "2"), ("clone-node-max", "1"),
                                                         ("notify", "true")), promotable=True)
                    resources.append(clone)
                    drbd_clones[drbd_res] = clone.id
                    locations.append(Location(f"l_promote_{base}", clone.id, g.node, "100", role="Promoted"))
                drbd_here.append(drbd_clones[drbd_res])
                continue
            pid, n = prim.id, 2
            while pid in used:
                pid, n = f"{prim.id}_{n}", n + 1
            used.add(pid)
            members.append(Primitive(pid, prim.agent, prim.params, prim.meta, prim.ops))
        if not members:
            continue
        first = g.resources[0]
        gid = "g_" + ident(first.args[0].split("/")[0] if first.args else first.name)
        while gid in used:
            gid = f"{gid}_{gi}"
        used.add(gid)
        resources.append(Group(gid, tuple(members)))
        locations.append(Location(f"l_{gid}", gid, g.node, "100"))
        for clone_id in drbd_here:
            colocations.append(Colocation(f"col_{gid}_on_{clone_id}", gid, clone_id, with_role="Promoted"))
            orders.append(Order(f"o_{clone_id}_before_{gid}", clone_id, gid, first_action="promote"))
    notes = _depends_on_filesystems(resources, colocations, orders)
    # two_node in corosync keeps quorum with one node left (and waits for both at first start), so the
    # default no-quorum-policy=stop is right for two nodes.
    props = [("no-quorum-policy", "stop")]
    secrets: tuple = ()
    if isinstance(fencing, Plan):
        props[:0] = list(fencing.properties)
        resources[:0] = list(fencing.primitives)
        locations[:0] = list(fencing.locations)
        notes[:0] = list(fencing.notes)
        secrets = fencing.secrets
        if not fencing.enabled:
            warnings.append("fencing disabled: a DRBD split brain is possible when the nodes lose sight of each other")
    elif fencing:
        props.insert(0, ("stonith-enabled", "true"))
        if drbd_clones:
            warnings.append(FENCING_WARNING)
    else:
        props.insert(0, ("stonith-enabled", "false"))
        warnings.append("fencing disabled (--no-fencing): a DRBD split brain is possible when the nodes lose sight "
                        "of each other")
    rsc_defaults = []
    if auto_failback is not True:
        # auto_failback off: resources stay where they run; the stickiness beats the 100 preference.
        rsc_defaults.append(("resource-stickiness", "200"))
    return Cluster(name=name, nodes=tuple(all_nodes), resources=tuple(resources), locations=tuple(locations),
                   colocations=tuple(colocations), orders=tuple(orders), properties=tuple(props),
                   rsc_defaults=tuple(rsc_defaults), warnings=tuple(warnings), notes=tuple(notes), secrets=secrets)


def add_filesystem_dependencies(c: Cluster) -> Cluster:
    """The cluster with the dependencies on other groups' filesystems added (see _depends_on_filesystems)."""
    from dataclasses import replace

    cols, orders = list(c.colocations), list(c.orders)
    notes = _depends_on_filesystems(list(c.resources), cols, orders)
    return replace(c, colocations=tuple(cols), orders=tuple(orders), notes=c.notes + tuple(notes))


def _depends_on_filesystems(resources, colocations: list[Colocation], orders: list[Order]) -> list[str]:
    """A group whose members read a file (an absolute path parameter such as the target daemon's config)
    below a Filesystem mounted by another group runs with that group and starts after it (heartbeat v1
    moved all lines together, so the seed never had to say it). Returns the explanations."""
    notes = []
    groups = [r for r in resources if isinstance(r, Group)]
    mounts = [(g.id, dict(m.params)["directory"].rstrip("/") + "/") for g in groups for m in g.members
              if m.type == "Filesystem" and dict(m.params).get("directory")]
    for g in groups:
        for m in g.members:
            if m.type == "Filesystem":
                continue
            for key, value in m.params:
                for owner, mount in mounts:
                    if owner == g.id or not value.startswith(mount):
                        continue
                    cid, oid = f"col_{g.id}_with_{owner}", f"o_{owner}_before_{g.id}"
                    if any(c.id == cid for c in colocations):
                        continue
                    colocations.append(Colocation(cid, g.id, owner))
                    orders.append(Order(oid, owner, g.id))
                    notes.append(f"{g.id} runs with {owner} and starts after it ({cid}, {oid}): {m.id} reads "
                                 f"{key}={value}, which lives on the filesystem {owner} mounts at {mount.rstrip('/')}.")
    return notes


def translate_target_daemon(groups, targets: list[dict], implementation: str):
    """The groups with heartbeat's bare `iscsitarget` (IET's daemon) replaced by one iSCSITarget and its
    iSCSILogicalUnits per target, run by `implementation` (lio, or tgt after ocfkit's tgtd daemon agent).
    The rest of each target (CHAP, initiators, serials) is added by add_target_params."""
    from heartbeat_legacy.haresources import Group as HaGroup
    from heartbeat_legacy.haresources import parse_resource

    out = []
    for g in groups:
        res = []
        for r in g.resources:
            if r.name != "iscsitarget":
                res.append(r)
                continue
            if implementation == "tgt":
                # tgtd's place in the group: clone_target_daemon turns it into the targets (with their tids)
                # and the LUNs, and runs tgtd itself as a clone on every node.
                res.append(parse_resource("iscsitarget"))
                continue
            tokens = []
            for t in targets:
                tokens.append(f"iSCSITarget::{t['iqn']}::{implementation}")
                tokens += [f"iSCSILogicalUnit::{t['iqn']}::{lu['lun']}::{lu['path']}::{implementation}"
                           for lu in t.get("lun", [])]
            res += [parse_resource(tok) for tok in tokens]
        out.append(HaGroup(g.node, res, line=g.line))
    return out


def clone_target_daemon(c: Cluster, targets: list[dict], provider: str) -> Cluster:
    """tgt with its daemon on every node (cluster.tgt_daemon = "clone"): the group's p_iscsitarget (tgtd
    started with the group and loading the target configuration at each start) gives way to one
    iSCSITarget (tid) and its iSCSILogicalUnits per target, and tgtd runs as a clone (cl_tgtd) that the
    group needs. A switchover then no longer starts and stops the daemon. tgt's LUN 0 is its controller:
    the description's LUN n is tgt's n + 1, as in targets.conf. The group keeps running with the groups
    whose filesystem it used to read (heartbeat moved every line together) but no longer waits for them:
    the targets come from the CIB, not from a file there."""
    from dataclasses import replace

    group = next((r for r in c.resources if isinstance(r, Group) and any(m.id == "p_iscsitarget"
                                                                          for m in r.members)), None)
    if group is None:
        return c
    old = next(m for m in group.members if m.id == "p_iscsitarget")
    members = []
    for m in group.members:
        if m is not old:
            members.append(m)
            continue
        for t in targets:
            short = t["iqn"].rsplit(":", 1)[-1]
            a = f"ocf:{provider}:iSCSITarget"
            members.append(Primitive(f"p_target_{short}", a, (("implementation", "tgt"), ("iqn", t["iqn"]),
                                                              ("tid", str(t["tid"]))), ops=default_ops(a)))
            for lu in t.get("lun", []):
                a = f"ocf:{provider}:iSCSILogicalUnit"
                params = [("implementation", "tgt"), ("target_iqn", t["iqn"]), ("lun", str(int(lu["lun"]) + 1)),
                          ("path", lu["path"])]
                if lu.get("type", "blockio") == "blockio":
                    params.append(("tgt_bsoflags", "direct"))  # IET's blockio: no page cache (targets.conf too)
                members.append(Primitive(f"p_lun_{short}_{lu['lun']}", a, tuple(params), ops=default_ops(a)))
    a = f"ocf:{provider}:iscsitarget"
    daemon = Clone("cl_tgtd", Primitive("p_tgtd", a, (("implementation", "tgt"),), ops=default_ops(a)))
    svc = replace(group, members=tuple(members))
    resources = tuple(svc if r is group else r for r in c.resources) + (daemon,)
    c = replace(c, resources=resources,
                orders=c.orders + (Order(f"o_cl_tgtd_before_{svc.id}", "cl_tgtd", svc.id),),
                colocations=c.colocations + (Colocation(f"col_{svc.id}_with_cl_tgtd", svc.id, "cl_tgtd"),))
    notes = [f"tgtd runs on every node (cl_tgtd); {svc.id} needs it there and starts after it "
             f"(col_{svc.id}_with_cl_tgtd, o_cl_tgtd_before_{svc.id}): its targets and LUNs are iSCSITarget and "
             "iSCSILogicalUnit resources, so a switchover leaves the daemon running."]
    fs_groups = [r.id for r in c.resources if isinstance(r, Group) and r.id != svc.id
                 and any(m.type == "Filesystem" and _reads(old, m) for m in r.members)]
    for owner in fs_groups:
        cid = f"col_{svc.id}_with_{owner}"
        c = replace(c, colocations=c.colocations + (Colocation(cid, svc.id, owner),))
        notes.append(f"{svc.id} runs with {owner} ({cid}), as heartbeat moved both lines together; it no longer "
                     "starts after it (nothing of it reads that filesystem): both stop and start side by side.")
    c = add_target_params(c, [dict(t, lun=[dict(lu, lun=int(lu["lun"]) + 1) for lu in t.get("lun", [])])
                              for t in targets])
    return replace(c, notes=c.notes + tuple(notes))


def _reads(daemon: Primitive, fs: Primitive) -> bool:
    """Whether the daemon's parameters name a file below the Filesystem's directory."""
    mount = dict(fs.params).get("directory", "").rstrip("/") + "/"
    return mount != "/" and any(v.startswith(mount) for _k, v in daemon.params)


def add_target_params(c: Cluster, targets: list[dict]) -> Cluster:
    """iSCSITarget and iSCSILogicalUnit primitives completed from the description's targets: allowed
    initiators, the CHAP account (its password a secret of the model), scsi_sn and scsi_id."""
    from dataclasses import replace

    by_iqn = {t["iqn"]: t for t in targets}
    luns = {(t["iqn"], str(lu["lun"])): lu for t in targets for lu in t.get("lun", [])}
    secrets = list(c.secrets)

    def more(m: Primitive) -> Primitive:
        p = dict(m.params)
        if m.type == "iSCSITarget" and p.get("iqn") in by_iqn:
            t = by_iqn[p["iqn"]]
            extra = [("allowed_initiators", " ".join(t["initiators"]))] if t.get("initiators") else []
            if t.get("incoming_user"):
                extra += [("incoming_username", t["incoming_user"]),
                          ("incoming_password", t.get("incoming_password", ""))]
                secrets.append((m.id, "incoming_password"))
            return replace(m, params=m.params + tuple(extra))
        if m.type == "iSCSILogicalUnit" and p.get("target_iqn") in by_iqn:
            lu = luns.get((p["target_iqn"], p.get("lun", "")), {})
            return replace(m, params=m.params + tuple((k, lu[k]) for k in ("scsi_sn", "scsi_id") if lu.get(k)))
        return m

    res = tuple(replace(r, members=tuple(more(m) for m in r.members)) if isinstance(r, Group) else r
                for r in c.resources)
    return replace(c, resources=res, secrets=tuple(secrets))
