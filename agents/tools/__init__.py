"""One module per system tool: functions of (run, ...) that return parsed values, no agent logic."""

# Where the kernel and the system keep state the agents read directly. The environment can move
# them, for tests that run against a directory tree mimicking the real one (never needed on a real
# host).
ROOT_VARS = {"configfs": ("OCFKIT_CONFIGFS_ROOT", "/sys/kernel/config"), "sysfs": ("OCFKIT_SYSFS_ROOT", "/sys"),
             "proc": ("OCFKIT_PROC_ROOT", "/proc"), "etc": ("OCFKIT_ETC_ROOT", "/etc")}


def system_path(env, which: str) -> str:
    """A system directory (configfs, sysfs, proc, etc), moved by its OCFKIT_*_ROOT variable if set."""
    var, default = ROOT_VARS[which]
    return (env.get(var) or default).rstrip("/") or "/"
