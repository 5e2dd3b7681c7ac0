"""Undo steps of a start that builds an iSCSI object step by step (every backend uses it)."""

from __future__ import annotations

from ocf.errors import OcfError


class Rollback:
    """Undo steps recorded while a start builds something; run in reverse when a later step fails.

    Used as `with Rollback(log) as undo:` the steps run when the block raises an OcfError, which then
    goes on up."""

    def __init__(self, log) -> None:
        self.log = log
        self.steps: list[tuple] = []

    def add(self, func, *args) -> None:
        """Remember how to undo what was just done."""
        self.steps.append((func, args))

    def run(self) -> None:
        """Undo everything recorded, newest first; an undo that fails is logged, not raised."""
        for func, args in reversed(self.steps):
            try:
                func(*args)
            except (OcfError, OSError) as e:
                self.log.warning(f"undo after a failed start: {e}")
        self.steps.clear()

    def __enter__(self) -> Rollback:
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None and issubclass(kind, OcfError):
            self.run()
