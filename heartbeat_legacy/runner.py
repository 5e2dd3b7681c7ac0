"""Running haresources resources on this node, the way heartbeat's ResourceManager does.

A resource with an ocfkit wrapper runs ocfkit's OCF agent directly (OCF exit codes). Any other
resource (an init script such as `iscsitarget`, a foreign resource.d script) runs as heartbeat runs
it: `SCRIPT ARG... ACTION` from /etc/ha.d/resource.d, then /etc/init.d, with status judged by the
words it prints.
"""

from __future__ import annotations

import os
import subprocess

from heartbeat_legacy.haresources import Resource as HaResource
from heartbeat_legacy.resource_d import WRAPPERS, ocf_call
from heartbeat_legacy.takeover import Resource
from ocf.calling import action_env


def script_path(name: str, *, resource_dir: str = "/etc/ha.d/resource.d", init_dir: str = "/etc/init.d") -> str | None:
    """heartbeat's scriptpath: the first executable file of that name in resource.d, then init.d."""
    for d in (resource_dir, init_dir):
        p = os.path.join(d, name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    return None


def held(text: str) -> bool:
    """ResourceManager's we_own_resource: 'not running' is not held; 'running' or 'OK' is."""
    low = text.lower()
    i = low.find("not ")
    if i >= 0 and "running" in low[i:]:
        return False
    return "running" in low or "OK" in text


class Runner:
    """Turns haresources resources into takeover Resources and runs their actions."""

    def __init__(self, *, provider: str = "ocfkit", ocf_root: str = "/usr/lib/ocf", env: dict | None = None,
                 resource_dir: str = "/etc/ha.d/resource.d", timeout: float = 120, log=None) -> None:
        self.provider, self.ocf_root, self.resource_dir = provider, ocf_root, resource_dir
        self.env = dict(os.environ if env is None else env)
        self.timeout = timeout
        self.log = log

    def resource(self, r: HaResource) -> Resource:
        """The takeover Resource for a haresources resource."""
        if r.name in WRAPPERS:
            agent, instance, params = ocf_call(r.name, list(r.args))
            res = Resource(agent, params, instance=instance)
            res.kind = "ocf"
        else:
            res = Resource(r.name, {str(i): a for i, a in enumerate(r.args)}, instance=r.token)
            res.kind = "script"
        res.args = r.args
        res.token = r.token
        return res

    def __call__(self, res: Resource, action: str) -> int:
        if res.kind == "ocf":
            # heartbeat v1 speaks OCF 1.0 to its resource agents.
            env = action_env({**self.env, "OCF_ROOT": self.ocf_root}, res.agent, res.instance, res.params,
                             provider=self.provider, version="1.0")
            argv = [f"{self.ocf_root}/resource.d/{self.provider}/{res.agent}", action]
            r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=self.timeout, check=False)
            self._log(res, action, r)
            return r.returncode
        path = script_path(res.agent, resource_dir=self.resource_dir)
        if path is None:
            if self.log:
                self.log(f"{res.token}: cannot locate resource script {res.agent}")
            return 5
        r = subprocess.run([path, *res.args, "status" if action == "monitor" else action], env=self.env,
                           capture_output=True, text=True, timeout=self.timeout, check=False)
        self._log(res, action, r)
        if action == "monitor":
            return 0 if held(r.stdout) else 7
        return r.returncode

    def _log(self, res: Resource, action: str, r) -> None:
        if self.log:
            text = (r.stdout + r.stderr).strip().replace("\n", " | ")
            self.log(f"{res.token} {action}: rc {r.returncode}" + (f": {text}" if text else ""))
