"""Hostile strings in a cluster description: `ocfkit generate` refuses them or writes files that mean
exactly what the description said (no option in pcs.sh, no extra haresources word, no other key).
"""

from __future__ import annotations

import json
import os
import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.campaign.profile import PROFILE, examples
from tests.campaign.strategies import HOSTILE

SEED = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "seed-san.toml")
# The Pacemaker dialect is given: generate would otherwise ask `pacemakerd --version`, a process that the
# unit-test guard refuses, and every case would end in a refusal that proves nothing.
DIALECT = ["--pacemaker", "2.1"]


def _val(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
    return json.dumps(str(v), ensure_ascii=False).replace("\x7f", "\\u007f")


def _table(lines: list[str], prefix: str, d: dict, *, array: bool) -> None:
    lines.append(f"[[{prefix}]]" if array else f"[{prefix}]")
    nested = []
    for k, v in d.items():
        if isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)):
            nested.append((k, v))
        else:
            lines.append(f"{k} = {_val(v)}")
    for k, v in nested:
        for item in (v if isinstance(v, list) else [v]):
            _table(lines, f"{prefix}.{k}", item, array=isinstance(v, list))


def dump_toml(desc: dict) -> str:
    """TOML text for a description (tables, arrays of tables, strings, numbers, booleans, lists)."""
    lines: list[str] = []
    for k, v in desc.items():
        for item in (v if isinstance(v, list) else [v]):
            _table(lines, k, item, array=isinstance(v, list))
    return "\n".join(lines) + "\n"


def seed(**changes) -> dict:
    """The reference SAN's description, with changes: {"service.volume_group": value, "node.0.name": ...}."""
    import tomllib

    with open(SEED, "rb") as f:
        desc = tomllib.load(f)
    for path, value in changes.items():
        *parents, last = path.split(".")
        d = desc
        for p in parents:
            d = d[int(p)] if p.isdigit() else d[p]
        d[int(last) if last.isdigit() else last] = value
    return desc


def seed_with(tmp, overrides: dict, *, drbd_secret: str | None = None) -> str:
    """Write the seed description with table overrides (and a DRBD shared secret); returns its path."""
    desc = seed()
    for table, values in overrides.items():
        desc[table].update(values)
    if drbd_secret is not None:
        desc["drbd"][0]["shared_secret"] = drbd_secret
    path = os.path.join(str(tmp), "description.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(dump_toml(desc))
    return path


def test_the_writer_round_trips_the_seed(tmp_path):
    import tomllib

    assert tomllib.loads(dump_toml(seed())) == seed()


FIELDS = ["service.volume_group", "service.vip", "service.nic", "filesystem.0.directory", "filesystem.0.fstype",
          "target.0.iqn", "target.0.lun.0.path", "node.0.name", "drbd.0.name", "drbd.0.disk", "cluster.name",
          "heartbeat.auth_key", "heartbeat.media.0", "drbd.0.device"]


# Names that end up as agent parameters or tool arguments (a leading '-' is an option there).
NAMES = {"service.volume_group", "service.nic", "filesystem.0.fstype", "drbd.0.name", "node.0.name", "cluster.name",
         "target.0.iqn"}


def _generate(tmp, desc: dict):
    from ocfkit.cli import main

    path = os.path.join(str(tmp), "d.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(dump_toml(desc))
    out = os.path.join(str(tmp), "out")
    return main(["generate", path, "--out", out, *DIALECT]), out


def _problems(value: str, field: str, out: str) -> list[str]:
    """What a generated set of files got wrong about value (put into field)."""
    from heartbeat_legacy import authkeys, haresources

    bad = []
    with open(os.path.join(out, "pcs.sh"), encoding="utf-8") as f:
        pcs = f.read()
    if value.strip().startswith("-") and field in NAMES:
        bad.append(f"{field}={value!r} starts with '-': the agents refuse it, generate should too")
    if value.startswith("-"):
        for line in pcs.splitlines():
            try:
                words = shlex.split(line, comments=True)
            except ValueError:
                bad.append(f"pcs.sh line does not parse as shell: {line[:80]!r}")
                continue
            if value in words and "--" not in words[:words.index(value)]:
                bad.append(f"pcs.sh passes {value!r} where pcs reads options: {line[:120]!r}")
    with open(os.path.join(out, "haresources"), encoding="utf-8") as f:
        try:
            groups = haresources.parse(f.read())
            if len(groups) != 2:
                bad.append(f"haresources has {len(groups)} groups instead of 2")
        except haresources.HaresourcesError as e:
            bad.append(f"haresources does not parse: {e}")
    with open(os.path.join(out, "authkeys"), encoding="utf-8") as f:
        ak = authkeys.parse(f.read())
    if field == "heartbeat.auth_key" and ak.keys.get(ak.active) != ("md5", value):
        bad.append(f"authkeys holds {ak.keys} instead of the description's key")
    return bad


def test_the_seed_generates_so_that_a_refusal_means_a_hostile_value(tmp_path):
    rc, out = _generate(tmp_path, seed())
    assert rc == 0 and {"authkeys", "drbd.conf", "haresources"} <= set(os.listdir(out))


@pytest.mark.parametrize(("field", "value"), [
    pytest.param("service.volume_group", "-v", id="volume_group-option"),
    pytest.param("heartbeat.auth_key", "secret\n1 crc", id="auth_key-newline"),
    pytest.param("service.vip", "192.0.2.10\ncastor Dummy::x", id="vip-newline"),
])
def test_a_hostile_description_string_is_refused_or_kept_intact(field, value, tmp_path):
    rc, out = _generate(tmp_path, seed(**{field: value}))
    problems = _problems(value, field, out) if rc == 0 else []
    assert not problems, problems


@settings(PROFILE, max_examples=examples(60))
@given(field=st.sampled_from(FIELDS), value=st.one_of(st.sampled_from(HOSTILE[:60]), st.text(
    st.characters(blacklist_categories=("Cs",)), max_size=30)))
def test_generate_refuses_or_writes_what_the_description_says(field, value, tmp_path_factory):
    rc, out = _generate(tmp_path_factory.mktemp("g"), seed(**{field: value}))
    assert rc in (0, 1, 2)
    if rc == 0:
        assert not _problems(value, field, out)


# ----- install: one provider's files are not another's --------------------------------------------

def test_installing_and_removing_a_second_provider_leaves_the_first_ones_wrappers(tmp_path):
    from ocfkit.install import install, uninstall

    root = str(tmp_path)
    install(destdir=root, provider="campaigna", python="/usr/bin/python3")
    wrappers = tmp_path / "etc" / "ha.d" / "resource.d"
    before = {p.name: p.read_bytes() for p in wrappers.iterdir()}
    assert before, "install wrote no resource.d wrappers"
    install(destdir=root, provider="campaignb", python="/usr/bin/python3")
    uninstall(destdir=root, provider="campaignb")
    after = {p.name: p.read_bytes() for p in wrappers.iterdir()} if wrappers.exists() else {}
    assert after == before
