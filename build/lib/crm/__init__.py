"""Pacemaker configuration: cluster model, crmsh/CIB/pcs renderers, description files, migration."""
