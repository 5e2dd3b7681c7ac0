"""Labs that run ocfkit for real: cluster nodes made of Linux namespaces (a real two-node cluster on one
machine, see docs/lab.md) and qemu guests (ocfkit.lab.guests, see docs/guests.md).

``Lab`` builds the namespace nodes, their switch and their power switch; ``Node`` is one namespace
node; ``fence_ocfkit_netns`` is the fence agent that powers nodes off and on through the lab's switch.
"""

from ocfkit.lab.lab import Lab, host_cluster
from ocfkit.lab.node import LabError, Node

__all__ = ["Lab", "LabError", "Node", "host_cluster"]
