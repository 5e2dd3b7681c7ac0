"""Promotion scores (the transient node attribute master-<instance>) for promotable clones."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~4 ms per agent start; mypy treats the name as true
if TYPE_CHECKING:
    from ocf.exec import Runner


def _use_crm_attribute(env) -> bool:
    # ocf_promotion_score: crm_attribute --promotion from crm_feature_set 3.10.0 (Pacemaker 2.1)
    # or when the deprecated crm_master wrapper is gone.
    from ocf.exec import which

    fs = env.get("OCF_RESKEY_crm_feature_set", "")
    try:
        if tuple(int(x) for x in fs.split(".")) >= (3, 10, 0):
            return True
    except ValueError:
        pass
    return which("crm_master") is None


def _base(env) -> list[str]:
    inst = env.get("OCF_RESOURCE_INSTANCE", "")
    if _use_crm_attribute(env):
        # --promotion without a value reads OCF_RESOURCE_INSTANCE, which the seam passes through.
        return ["crm_attribute", "--promotion" + (f"={inst}" if inst else ""), "-l", "reboot"]
    return ["crm_master", "-l", "reboot"]


def set_score(run: Runner, env, score: int) -> None:
    """Set this node's promotion score for the instance."""
    run(_base(env) + ["-v", str(int(score))])


def delete_score(run: Runner, env) -> None:
    """Remove this node's promotion score (the instance must not be promoted here)."""
    run(_base(env) + ["-D"], ok=(0, 6))  # 6: no such attribute


def get_score(run: Runner, env) -> int | None:
    """This node's current promotion score, or None when unset."""
    r = run(_base(env) + ["-G", "-q"], ok=(0, 6, 105))
    text = r.stdout.strip()
    if r.returncode != 0 or not text:
        return None
    try:
        return int(text)
    except ValueError:
        return None
