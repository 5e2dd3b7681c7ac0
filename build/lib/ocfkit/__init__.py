"""The ocfkit command: ties ocf, agents, heartbeat_legacy and crm together; nothing imports it."""

__version__ = "0.1.0"
