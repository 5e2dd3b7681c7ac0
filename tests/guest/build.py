"""The guest image build lives in the lab package (ocfkit.lab.guests.image); kept for callers of
`tests.guest.build.build()` (the storage tier's Debian 12 image)."""

from ocfkit.lab.guests.image import build

__all__ = ["build"]
