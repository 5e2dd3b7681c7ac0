"""ocfkit's framework for writing OCF resource agents (stdlib only, imported on every action)."""
