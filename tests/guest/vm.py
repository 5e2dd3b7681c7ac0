"""qemu driving lives in the lab package (ocfkit.lab.guests.vm); re-exported for older callers."""

from ocfkit.lab.guests.vm import (
    CACHE_RUNS,
    REPO,
    Guest,
    GuestError,
    Link,
    Result,
    accelerator,
    accelerator_name,
    free_udp_base,
    link_pair,
)

__all__ = ["CACHE_RUNS", "REPO", "Guest", "GuestError", "Link", "Result", "accelerator", "accelerator_name",
           "free_udp_base", "link_pair"]
