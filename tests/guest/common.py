"""The guest tier's topology and helpers live in the lab package (ocfkit.lab.guests.topology)."""

from ocfkit.lab.guests.topology import FILTER, LAN, PREPARE, REPL, RESET, SWITCH, VIP, Cluster, agent, lvm_local

__all__ = ["FILTER", "LAN", "PREPARE", "REPL", "RESET", "SWITCH", "VIP", "Cluster", "agent", "lvm_local"]
