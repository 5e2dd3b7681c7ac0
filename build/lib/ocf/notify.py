"""Clone notification variables (OCF_RESKEY_CRM_meta_notify_*) parsed into data."""

from __future__ import annotations

_LISTS = ("start", "stop", "active", "inactive", "promote", "demote", "promoted", "unpromoted",
          "master", "slave", "available", "all")


class Notification:
    """One notify call: its type (pre/post), operation and the node lists Pacemaker passed."""

    def __init__(self, env) -> None:
        self.type = env.get("OCF_RESKEY_CRM_meta_notify_type", "")
        self.operation = env.get("OCF_RESKEY_CRM_meta_notify_operation", "")
        self.resources: dict[str, list[str]] = {}
        self.unames: dict[str, list[str]] = {}
        for key in _LISTS:
            self.resources[key] = env.get(f"OCF_RESKEY_CRM_meta_notify_{key}_resource", "").split()
            self.unames[key] = env.get(f"OCF_RESKEY_CRM_meta_notify_{key}_uname", "").split()
        # Pacemaker 2.1 passes both the new and the deprecated role names; older ones only the old.
        for new, old in (("promoted", "master"), ("unpromoted", "slave")):
            if not self.unames[new] and self.unames[old]:
                self.unames[new] = self.unames[old]
                self.resources[new] = self.resources[old]

    def pairs(self, key: str) -> list[tuple[str, str]]:
        """(resource, node) pairs of one list, index by index."""
        res, names = self.resources.get(key, []), self.unames.get(key, [])
        return [(r, names[i] if i < len(names) else "") for i, r in enumerate(res)]

    def nodes(self, key: str) -> list[str]:
        """The node names of one list (start, stop, promote, promoted, active, ...)."""
        return list(self.unames.get(key, []))

    @property
    def key(self) -> str:
        """'pre-start', 'post-promote', ..."""
        return f"{self.type}-{self.operation}"
