"""One module per system tool: functions of (run, ...) that return parsed values, no agent logic."""
