"""ocfkit's resource agents. AGENTS maps each OCF type to "module:Class" (imported on demand)."""

AGENTS = {
    "Dummy": "agents.dummy:Dummy",
    "Filesystem": "agents.filesystem:Filesystem",
    "drbd": "agents.drbd:drbd",
    "drbddisk": "agents.drbddisk:drbddisk",
    "IPaddr2": "agents.ipaddr2:IPaddr2",
    "LVM": "agents.lvm:LVM",
    "LVM-activate": "agents.lvm:LVMActivate",
    "iSCSILogicalUnit": "agents.iet:iSCSILogicalUnit",
    "iSCSITarget": "agents.iet:iSCSITarget",
    "iscsitarget": "agents.iet:iscsitarget",
    "portblock": "agents.portblock:portblock",
}
