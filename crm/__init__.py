"""Pacemaker configuration: cluster model, crmsh/CIB/pcs renderers, migration from heartbeat, fencing, checks."""
