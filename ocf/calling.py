"""The environment of one action, as Pacemaker's executor gives it to an agent (OCF RA API 1.1).

For whatever runs an agent outside Pacemaker (`ocfkit run`, heartbeat's resource.d wrappers, the
lab, tests): the caller's environment without any OCF_RESKEY_ it carried, the OCF_* variables that
name the resource, its parameters as OCF_RESKEY_<name>, and the action's meta attributes in
milliseconds, as the executor passes them.

A heartbeat wrapper imports this on every call: no __future__ import (the annotations are valid at
run time).
"""


def action_env(base, ocf_type: str, instance: str, params: dict[str, str], *, provider: str | None = None,
               version: str = "1.1", timeout_ms: int | None = None, interval_ms: int | None = None) -> dict[str, str]:
    """The environment for one action of ocf_type's resource instance with params."""
    major, _, minor = version.partition(".")
    env = {k: v for k, v in base.items() if not k.startswith("OCF_RESKEY_")}
    env.update({"OCF_ROOT": env.get("OCF_ROOT", "/usr/lib/ocf"), "OCF_RA_VERSION_MAJOR": major,
                "OCF_RA_VERSION_MINOR": minor, "OCF_RESOURCE_TYPE": ocf_type, "OCF_RESOURCE_INSTANCE": instance})
    if provider is not None:
        env["OCF_RESOURCE_PROVIDER"] = provider
    env.update({"OCF_RESKEY_" + k: v for k, v in params.items()})
    if timeout_ms is not None:
        env["OCF_RESKEY_CRM_meta_timeout"] = str(timeout_ms)
    if interval_ms is not None:
        env["OCF_RESKEY_CRM_meta_interval"] = str(interval_ms)
    return env
