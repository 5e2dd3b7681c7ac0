"""The offline pipeline for a generated CIB: well-formed, schema, crm_verify, crm_simulate.

No cluster is needed. crm_verify exits 78 for warnings and errors alike, so its text decides which it
was. crm_simulate runs no agents, so the promotion scores DRBD's agent would set are injected.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

SCHEMA = "/usr/share/pacemaker/pacemaker-3.9.rng"


class Report:
    """Each step's verdict: (step, "ok" | "warning" | "error", detail)."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, str, str]] = []
        self.placement: dict[str, str] = {}
        self.after_failure: dict[str, str] = {}

    def add(self, step: str, verdict: str, detail: str = "") -> None:
        self.steps.append((step, verdict, detail.strip()))

    @property
    def ok(self) -> bool:
        """No step found an error."""
        return all(v != "error" for _s, v, _d in self.steps)

    def text(self) -> str:
        """A report a human can read."""
        out = []
        for step, verdict, detail in self.steps:
            out.append(f"{verdict.upper():8} {step}")
            out += [f"         {ln}" for ln in detail.splitlines()[:12]]
        if self.placement:
            out.append("cold start places:")
            out += [f"  {r}: {n}" for r, n in sorted(self.placement.items())]
        if self.after_failure:
            out.append("after the failure:")
            out += [f"  {r}: {n}" for r, n in sorted(self.after_failure.items())]
        out.append("verdict: " + ("OK" if self.ok else "ERRORS FOUND"))
        return "\n".join(out) + "\n"


def _run(argv: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)


def _nodes(path: str) -> list[str]:
    import xml.etree.ElementTree as ET

    return [n.get("uname", "") for n in ET.parse(path).getroot().iter("node") if n.get("uname")]


def _promotables(path: str) -> list[str]:
    import xml.etree.ElementTree as ET

    out = []
    for clone in ET.parse(path).getroot().iter("clone"):
        if any(nv.get("name") == "promotable" and nv.get("value") == "true" for nv in clone.iter("nvpair")):
            out += [p.get("id", "") for p in clone.iter("primitive")]
    return out


def locate(path: str) -> dict[str, str]:
    """resource id -> "node[, node...]" (with roles) from crm_resource --locate on a file CIB."""
    import xml.etree.ElementTree as ET

    out = {}
    root = ET.parse(path).getroot()
    found = root.find("configuration/resources")
    ids = [e.get("id", "") for e in (found if found is not None else []) if e.get("id")]
    env = dict(os.environ, CIB_file=path)
    for rid in ids:
        r = _run(["crm_resource", "--locate", "-r", rid], env=env)
        nodes = re.findall(r"running on: (\S+)(?: (Promoted|Master))?", r.stdout)
        out[rid] = ", ".join(n + (" (Promoted)" if role else "") for n, role in nodes) or "stopped"
    return out


def check(path: str, *, fail_node: str | None = None) -> Report:
    """Run the pipeline on a CIB file."""
    rep = Report()
    r = _run(["xmllint", "--noout", path])
    if r.returncode != 0:
        rep.add("well-formed XML", "error", r.stderr)
        return rep
    rep.add("well-formed XML", "ok")
    with open(path, encoding="utf-8") as f:
        head = f.read(2000)
    if "validate-with" not in head:
        rep.add("schema", "error", "no validate-with: Pacemaker would skip schema validation entirely")
    else:
        r = _run(["xmllint", "--noout", "--relaxng", SCHEMA, path])
        rep.add(f"schema ({os.path.basename(SCHEMA)})", "ok" if r.returncode == 0 else "error",
                "" if r.returncode == 0 else r.stderr)
    r = _run(["crm_verify", "-x", path, "-V"])
    text = r.stdout + r.stderr
    if r.returncode == 0:
        rep.add("crm_verify", "ok")
    elif "Errors found" in text or "error" in text.lower() and "warning" not in text.lower():
        rep.add("crm_verify", "error", text)
    else:
        rep.add("crm_verify", "warning", text)
    nodes = _nodes(path)
    if not nodes:
        rep.add("crm_simulate", "error", "no nodes in the configuration")
        return rep
    work = tempfile.mkdtemp(prefix="ocfkit-crm-check-")
    try:
        sim1, sim2, sim3 = (os.path.join(work, f"sim{i}.xml") for i in (1, 2, 3))
        up = [a for n in nodes for a in ("-u", n)]
        r = _run(["crm_simulate", "-x", path, "-S", *up, "-q", "1", "-O", sim1])
        if r.returncode != 0:
            rep.add("crm_simulate (cold start)", "error", r.stdout + r.stderr)
            return rep
        for rid in _promotables(sim1):
            for n in nodes:
                # What DRBD's agent does on UpToDate disks; the scheduler never runs agents.
                _run(["crm_attribute", "-N", n, "-n", f"master-{rid}", "-v", "1000", "-l", "reboot"],
                     env=dict(os.environ, CIB_file=sim1))
        r = _run(["crm_simulate", "-x", sim1, "-S", "-q", "1", "-O", sim2])
        rep.placement = locate(sim2)
        stopped = [k for k, v in rep.placement.items() if v == "stopped" and not k.startswith("st")]
        rep.add("crm_simulate (cold start, promotion scores injected)", "ok" if not stopped else "warning",
                ("stays stopped: " + ", ".join(stopped)) if stopped else "")
        # Fail the node that runs the services: where a single-instance resource (a group) runs.
        running = [v for v in rep.placement.values() if v != "stopped" and "," not in v]
        target = fail_node or (running[0].split()[0] if running else nodes[0])
        r = _run(["crm_simulate", "-x", sim2, "-S", "-f", target, "-q", "1", "-O", sim3])
        rep.after_failure = locate(sim3)
        still = [k for k, v in rep.after_failure.items() if target in v.split(", ")[0]]
        rep.add(f"crm_simulate (failure of {target})", "ok" if not still else "error",
                ("still on the failed node: " + ", ".join(still)) if still else "")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rep
