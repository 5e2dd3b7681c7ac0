"""heartbeat v1 configuration (haresources, ha.cf, authkeys), resource.d wrappers, group takeover."""
