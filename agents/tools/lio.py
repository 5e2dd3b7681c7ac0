"""LIO (the kernel target) through configfs: paths, and small file operations with errors as OcfError.

No targetcli (5-7 s per call) and no rtslib (not installed on the hosts, needs its own start-up):
configfs is a directory tree where mkdir creates an object (the kernel fills in its attribute files),
a write to an attribute configures it, a symlink links a LUN to its storage object, and rmdir
deletes (it fails with ENOTEMPTY while user-made children remain). The root is a parameter so that
unit tests run against a directory tree that mimics it.
"""

from __future__ import annotations

from ocf import system
from ocf.errors import OcfError
from ocf.params import ip_version

ROOT = "/sys/kernel/config"

# TPG attributes (tpgt_N/attrib) and iSCSI session parameters (tpgt_N/param) of the kernel's
# iscsi_target_mod; additional_parameters may set these. The four attributes the agent manages
# itself (authentication, generate_node_acls, cache_dynamic_acls, demo_mode_write_protect) are not
# among them.
TPG_ATTRIBS = {"default_cmdsn_depth", "default_erl", "demo_mode_discovery", "login_timeout", "netif_timeout",
               "prod_mode_write_protect", "t10_pi", "fabric_prot_type", "tpg_enabled_sendtargets",
               "login_keys_workaround"}
TPG_PARAMS = {"AuthMethod", "DataDigest", "DataPDUInOrder", "DataSequenceInOrder", "DefaultTime2Retain",
              "DefaultTime2Wait", "ErrorRecoveryLevel", "FirstBurstLength", "HeaderDigest", "IFMarkInt",
              "IFMarker", "ImmediateData", "InitialR2T", "MaxBurstLength", "MaxConnections", "MaxOutstandingR2T",
              "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength", "OFMarkInt", "OFMarker", "TargetAlias"}
# Storage object attributes (core/<hba>/<name>/attrib) a LUN may set through additional_parameters.
DEV_ATTRIBS = {"block_size", "emulate_3pc", "emulate_caw", "emulate_dpo", "emulate_fua_read", "emulate_fua_write",
               "emulate_model_alias", "emulate_rest_reord", "emulate_tas", "emulate_tpu", "emulate_tpws",
               "emulate_ua_intlck_ctrl", "emulate_write_cache", "enforce_pr_isids", "force_pr_aptpl",
               "is_nonrot", "max_unmap_block_desc_count", "max_unmap_lba_count", "max_write_same_len",
               "optimal_sectors", "pi_prot_type", "queue_depth", "unmap_granularity",
               "unmap_granularity_alignment", "unmap_zeroes_data"}


def target_dir(root: str, iqn: str) -> str:
    """The configfs directory of an iSCSI target."""
    return f"{root}/target/iscsi/{iqn}"


def is_loaded(root: str) -> bool:
    """Whether the target core is there (configfs mounted and target_core_mod loaded)."""
    return system.path.isdir(f"{root}/target")


def portal_name(portal: str) -> str:
    """The np/ directory name of an ip:port portal (IPv6 in brackets, as the kernel expects)."""
    if portal.startswith("["):
        return portal
    host, _, port = portal.rpartition(":")
    return f"[{host}]:{port}" if ip_version(host) == 6 else f"{host}:{port}"


def read(path: str) -> str:
    """An attribute's value without the trailing newline; '' when it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().rstrip("\n")
    except FileNotFoundError:
        return ""
    except OSError as e:
        raise OcfError(f"cannot read {path}: {e.strerror}") from None


def write(path: str, value: str, *, secret: bool = False) -> None:
    """Write an attribute in one write, without a newline: it must exist (the kernel made it), so a wrong
    name fails loudly. The iSCSI auth stores (userid, password) keep a trailing newline as part of the
    value, so `echo secret > password` makes CHAP fail (seen in the guest tier, kernel 6.1); the numeric
    and path stores accept the value either way.

    The error text names the path and the kernel's complaint, never the value when it is secret."""
    try:
        fd = system.open(path, system.O_WRONLY | system.O_TRUNC)
    except OSError as e:
        raise OcfError(f"cannot open {path}: {e.strerror}") from None
    try:
        system.write(fd, value.encode())
    except OSError as e:
        shown = "***" if secret else repr(value)
        raise OcfError(f"cannot write {shown} to {path}: {e.strerror}") from None
    finally:
        system.close(fd)


def _change(call, args: tuple[str, ...], already: type[OSError], failure: str) -> bool:
    """One configfs change; False when it was already made (already raised), OcfError when it fails."""
    try:
        call(*args)
    except already:
        return False
    except OSError as e:
        raise OcfError(f"{failure}: {e.strerror}") from None
    return True


def mkdir(path: str) -> bool:
    """Create a configfs object; False when it already existed."""
    return _change(system.mkdir, (path,), FileExistsError, f"cannot create {path}")


def rmdir(path: str) -> bool:
    """Delete a configfs object; False when it did not exist."""
    return _change(system.rmdir, (path,), FileNotFoundError, f"cannot remove {path}")


def link(target: str, path: str) -> bool:
    """Link path to the configfs object target; False when the link was there already."""
    return _change(system.symlink, (target, path), FileExistsError, f"cannot link {path} to {target}")


def unlink(path: str) -> bool:
    """Remove a link; False when it did not exist."""
    return _change(system.unlink, (path,), FileNotFoundError, f"cannot remove {path}")


def children(path: str) -> list[str]:
    """Names in a configfs directory, sorted; none when it does not exist."""
    try:
        return sorted(system.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def links_in(path: str) -> list[str]:
    """Full paths of the symlinks directly in a directory (a LUN's storage link, a mapped LUN's link)."""
    return [f"{path}/{n}" for n in children(path) if system.path.islink(f"{path}/{n}")]


def resolve(path: str) -> str:
    """Where a link points, as a normalised absolute path."""
    return system.path.realpath(path)


def _remove_linking_dir(d: str) -> bool:
    """Remove a configfs directory that holds links (the links, then the directory); False when absent."""
    if not system.path.isdir(d):
        return False
    for ln in links_in(d):
        unlink(ln)
    return rmdir(d)


def remove_mapped_lun(acl_dir: str, lun: str) -> bool:
    """Unmap acls/<initiator>/<lun> (its link, then the directory); False when it was not mapped."""
    return _remove_linking_dir(f"{acl_dir}/{lun}")


def remove_lun(tpg: str, lun: str) -> bool:
    """Remove tpgt_N/lun/<lun> (its storage link, then the directory)."""
    return _remove_linking_dir(f"{tpg}/lun/{lun}")


def remove_target(root: str, iqn: str) -> bool:
    """Remove a whole target in the order configfs demands: disable each TPG, unmap LUNs from the ACLs,
    remove the ACLs, the LUNs, the portals, the TPG, then the target. False when there was none."""
    tdir = target_dir(root, iqn)
    if not system.path.isdir(tdir):
        return False
    for tpg_name in children(tdir):
        if not tpg_name.startswith("tpgt_"):
            continue
        tpg = f"{tdir}/{tpg_name}"
        if read(f"{tpg}/enable") == "1":
            # Disabling closes the sessions, so a reconnecting initiator cannot log in meanwhile.
            write(f"{tpg}/enable", "0")
        for acl in children(f"{tpg}/acls"):
            for lun in children(f"{tpg}/acls/{acl}"):
                if lun.startswith("lun_"):
                    remove_mapped_lun(f"{tpg}/acls/{acl}", lun)
            rmdir(f"{tpg}/acls/{acl}")
        for lun in children(f"{tpg}/lun"):
            remove_lun(tpg, lun)
        for np in children(f"{tpg}/np"):
            rmdir(f"{tpg}/np/{np}")
        rmdir(tpg)
    rmdir(tdir)
    return True
