"""ocfkit's resource agents. AGENTS maps each OCF type to "module:Class" (imported on demand)."""

from __future__ import annotations

from ocf import load

TYPE_CHECKING = False  # typing costs ~4 ms per agent start; mypy treats the name as true
if TYPE_CHECKING:
    from ocf.agent import Agent

AGENTS = {
    "Dummy": "agents.dummy:Dummy",
    "Filesystem": "agents.filesystem:Filesystem",
    "drbd": "agents.drbd:drbd",
    "drbddisk": "agents.drbddisk:drbddisk",
    "IPaddr2": "agents.ipaddr2:IPaddr2",
    "LVM": "agents.lvm:LVM",
    "LVM-activate": "agents.lvm:LVMActivate",
    "iSCSILogicalUnit": "agents.iscsi.logical_unit:iSCSILogicalUnit",
    "iSCSITarget": "agents.iscsi.target:iSCSITarget",
    "iscsitarget": "agents.iscsi.daemon:iscsitarget",
    "portblock": "agents.portblock:portblock",
}


def agent_class(ocf_type: str) -> type[Agent]:
    """The agent class of an OCF type (KeyError when ocfkit has none), its module imported now."""
    return load(AGENTS[ocf_type])
