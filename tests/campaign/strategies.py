"""hypothesis strategies: parameter values (valid-looking and hostile) and command behaviours."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.campaign.harness import SECRET_MARK, Behaviour

# Values that look right for a parameter of that name (taken from the reference SAN).
VALID = {
    "ip": ["192.0.2.10", "10.0.0.5", "2001:db8::10", "0.0.0.0/0", "192.0.2.0/24"],
    "nic": ["eth0", "bond0", "eth0.100"], "cidr_netmask": ["24", "32", "64"], "netmask": ["24"],
    "broadcast": ["192.0.2.255"], "iflabel": ["vip"], "device": ["/dev/sdb1", "/dev/drbd0", "UUID=1234-abcd",
                                                                  "LABEL=data", "server:/export"],
    "fstype": ["ext4", "xfs", "nfs", "bind"], "options": ["noatime", "ro,noexec", "bind"],
    "volgrpname": ["vg0drbd", "vg0"], "vgname": ["vg0drbd", "vg0"], "lvname": ["lv0", "filer"],
    "tag": ["pacemaker", "cluster1"], "iqn": ["iqn.2015-12.cl.caschile:lun.filer", "iqn.2024-01.com.example:t"],
    "target_iqn": ["iqn.2015-12.cl.caschile:lun.filer"], "lun": ["0", "1", "255"],
    "path": ["/dev/vg0drbd/filer", "/dev/sdb"], "portals": ["0.0.0.0:3260", "192.0.2.10:3260"],
    "allowed_initiators": ["iqn.1993-08.org.debian:01:abc", "ALL"], "incoming_username": ["filer", "chapuser"],
    "portno": ["3260", "3260,860", "1000:2000"], "drbd_resource": ["r0", "iscsi.config", "all"],
    "tid": ["1", "2"], "scsi_id": ["filer0"], "scsi_sn": ["1234abcd"], "vendor_id": ["OCFKIT"],
    "product_id": ["filer"], "additional_parameters": ["MaxConnections=1", "a=b c=d"],
    "tgt_bstype": ["rdwr", "aio"], "tgt_bsoflags": ["direct"], "tgt_device_type": ["disk"],
    "portal": ["192.0.2.10:3260"], "fake": ["dummy"], "fail_start_on": ["node1"],
    "term_signals": ["TERM", "TERM,INT"], "kill_signals": ["KILL"], "signal_delay": ["1", "500ms"],
    "statusfile_prefix": [".Filesystem_status/"], "arp_interval": ["200"], "arp_count": ["5"],
    "arp_count_refresh": ["0"], "preferred_lft": ["forever", "0"], "network_namespace": ["ns1"],
    "op_sleep": ["0", "1s"], "lio_hba": ["0"],
}

# Hostile values: options, newlines, quotes, braces, NULs, huge, unicode, shell metacharacters.
HOSTILE = [
    "-v", "--help", "-", "--", "-rf", "-o remount", "-ay", "--all", "-1", "-L", " -v", "-v ",
    "a\nb", "x\n-v", "\n", "'", '"', "`id`", "$(id)", "${IFS}", "a;b", "a|b", "a&b", "a>b", "<a", "*", "?", "~",
    "{", "}", "{}", "[]", "a b", "\t", "\\", "\\n", "%s%n", "..", "../..", "/../../etc", "//", "/",
    "\x00", "a\x00b", "\x7f", "\x1b[31m", "\u2028", "\u00e9t\u00e9", "\U0001f600", "\ufeff", "\u202e", "\u00b2",
    "0", "-0", "00", "1e400", "nan", "inf", "0x10", "99999999999999999999", "9" * 5000, "1" * 300,
    "A" * 70000, "yes", "no", "true", "TRUE ", "auto", "none", "all", "ALL", "lo", "127.0.0.1", "::1", "::/0",
    "0.0.0.0", "255.255.255.255", "192.0.2.10/33", "fe80::1%eth0", "iqn.", "iqn.x y", "a=", "=b", "=",
]

_PRINTABLE = st.characters(blacklist_categories=("Cs",))
_META = st.sampled_from(list(" -\n\t'\"`$;|&<>(){}[]*?~\\%\x00=,:/."))


def hostile() -> st.SearchStrategy[str]:
    """A hostile text: from the hand-picked list, generated, or a valid-looking one twisted."""
    return st.one_of(
        st.sampled_from(HOSTILE),
        st.text(_PRINTABLE, max_size=40),
        st.lists(st.one_of(_META, st.sampled_from(["a", "0", "x", "eth0", "vg"])), max_size=12).map("".join),
    )


def twisted(valid: list[str]) -> st.SearchStrategy[str]:
    """A valid-looking value with an option prefix, a newline tail, a quote or padding."""
    v = st.sampled_from(valid)
    return st.one_of(v.map(lambda s: "-" + s), v.map(lambda s: s + "\n-v"), v.map(lambda s: s + "'\""),
                     v.map(lambda s: f"  {s}  "), v.map(lambda s: s + ";reboot"), v.map(lambda s: s * 50))


def generic_valid(param) -> list[str]:
    """Valid-looking values from the parser: its options, a boolean, a number, a time or a path."""
    parser = param.parser
    kind = type(parser).__name__
    if getattr(parser, "options", ()):
        return list(parser.options)
    if kind == "_Boolean":
        return ["yes", "no", "true", "0"]
    if kind == "_Integer":
        low = parser.low if parser.low is not None else 0
        return [str(low), str(low + 1)]
    if kind == "_Duration":
        return ["1", "10s", "500ms"]
    return [param.default] if param.default else ["value"]


def param_value(agent: str, param, tmp: str) -> st.SearchStrategy[str | None]:
    """Unset, valid-looking, twisted or hostile; paths stay below tmp when they look valid."""
    if param.secret:
        return st.one_of(st.none(), st.text(_PRINTABLE, max_size=12).map(lambda s: SECRET_MARK + s),
                         st.sampled_from(["\n", "'\"", "-v", "\x00", " x "]).map(lambda s: SECRET_MARK + s))
    kind = type(param.parser).__name__
    valid = VALID.get(param.name) or generic_valid(param)
    if kind == "_Path" or param.name in ("directory", "state", "envfile", "config", "tickle_dir", "sync_script",
                                          "drbdconf"):
        valid = [f"{tmp}/{param.name}", f"{tmp}/d/{param.name}.x"]
        # Below tmp and staying there: a path the user chose outside is theirs to write, not an escape.
        under = st.one_of(st.sampled_from(HOSTILE[:40]), st.text(_PRINTABLE, max_size=20)).filter(
            lambda s: ".." not in s).map(lambda s: f"{tmp}/{s}")
        return st.one_of(st.none(), st.sampled_from(valid), under, hostile().filter(lambda s: not s.startswith("/")))
    return st.one_of(st.none(), st.sampled_from(valid), twisted(valid), hostile())


def valid_value(agent: str, param, tmp: str) -> st.SearchStrategy[str | None]:
    """Unset (when optional) or a valid-looking value."""
    if param.secret:
        return st.one_of(st.none(), st.text(_PRINTABLE, max_size=12).map(lambda s: SECRET_MARK + s))
    kind = type(param.parser).__name__
    if kind == "_Path" or param.name in ("directory", "state", "envfile", "config", "tickle_dir", "sync_script",
                                          "drbdconf"):
        v = st.sampled_from([f"{tmp}/{param.name}", f"{tmp}/d/{param.name}.x"])
    else:
        v = st.sampled_from(VALID.get(param.name) or generic_valid(param))
    return v if param.required else st.one_of(st.none(), v)


@st.composite
def params_for(draw, agent: str, cls, tmp: str) -> dict[str, str | None]:
    """Every declared parameter: valid-looking, with zero to three of them drawn from the hostile space."""
    names = list(cls._params)
    out = {name: draw(valid_value(agent, cls._params[name], tmp), label=name) for name in names}
    for name in draw(st.lists(st.sampled_from(names), max_size=3, unique=True), label="hostile"):
        out[name] = draw(param_value(agent, cls._params[name], tmp), label=f"hostile {name}")
    return out


def behaviour(*, faults: bool = True) -> st.SearchStrategy[Behaviour]:
    """How a command answers: plausible (or empty) output, garbage, a status, missing, hang, killed."""
    garbage = st.one_of(st.text(_PRINTABLE, max_size=200), st.binary(max_size=64).map(
        lambda b: b.decode("utf-8", "replace")), st.sampled_from(["{", "[", "null", '{"report": 5}', "\x00" * 8,
                                                                   "running\nnot running", "OK", "x" * 5000]))
    kinds = [st.just(Behaviour("ok")), garbage.map(lambda t: Behaviour("ok", t))]
    if faults:
        kinds += [st.builds(Behaviour, st.just("garbage"), garbage, st.sampled_from([0, 1, 2, 5, 127, 255])),
                  st.builds(Behaviour, st.just("status"), garbage, st.integers(1, 255)),
                  st.just(Behaviour("missing")), st.just(Behaviour("hang")),
                  st.builds(Behaviour, st.just("killed"), st.just(""), st.sampled_from([9, 15, 6]))]
    return st.one_of(*kinds)


def valid_params(cls, tmp: str) -> dict[str, str]:
    """A plausible configuration: every required parameter with a valid-looking value."""
    out = {}
    for name, p in cls._params.items():
        if not p.required:
            continue
        kind = type(p.parser).__name__
        if kind == "_Path" or name == "directory":
            out[name] = f"{tmp}/{name}"
        else:
            out[name] = (VALID.get(name) or generic_valid(p))[0]
    # Deeper than the bare minimum: what the reference SAN sets, so actions get past their checks.
    from tests.campaign.worlds import IQN, block_device

    out.update({"IPaddr2": {"nic": "eth0", "cidr_netmask": "24"},
                "Filesystem": {"device": block_device()[0]},
                "iSCSITarget": {"implementation": "tgt", "tid": "1", "incoming_username": "filer",
                                "incoming_password": "S3cr3tMarkChap"},
                "iSCSILogicalUnit": {"implementation": "tgt", "target_iqn": IQN, "lun": "1",
                                     "path": block_device()[0]},
                "iscsitarget": {"implementation": "tgt"},
                "Dummy": {"passwd": "S3cr3tMarkDummy"}}.get(cls.type_name(), {}))
    return out
