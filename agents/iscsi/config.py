"""Configuration rules of the iSCSI agents that every backend shares: iSCSI names, portals, initiators."""

from __future__ import annotations

from ocf.errors import ConfigError, OcfError, Rc
from ocf.params import Parser, canonical_ip, canonical_network

# RFC 3720 section 3.2.6.2: iSCSI names are letters, digits, '.', '-' and ':' ('_' as some targets
# accept it). Nothing else: the name becomes a configfs directory (LIO) and an ietadm Name= value.
IQN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:_")


class Iqn(Parser):
    """An iSCSI name (iqn., eui. or naa.) of the characters RFC 3720 allows."""

    def parse(self, text: str) -> str:
        t = text.strip()
        if not t.lower().startswith(("iqn.", "eui.", "naa.")) or len(t) > 223 or not set(t) <= IQN_CHARS:
            raise ValueError("expected an iSCSI name such as iqn.2024-01.com.example:target (letters, digits, "
                             "'.', '-', ':', at most 223 characters)")
        return t

    def hint(self) -> str:
        return "An iSCSI qualified name (iqn.YYYY-MM.reverse.domain:name)."


class KeyValues(Parser):
    """name=value pairs separated by spaces or commas."""

    def parse(self, text: str) -> dict[str, str]:
        out = {}
        for item in text.replace(",", " ").split():
            k, sep, v = item.partition("=")
            if not sep or not k or not v:
                raise ValueError(f"{item!r} is not name=value")
            out[k] = v
        return out

    def hint(self) -> str:
        return "Space-separated name=value pairs."


def is_initiator_name(text: str) -> bool:
    """Whether text is an iSCSI name (iqn./eui./naa.) rather than an address or network."""
    return text.lower().startswith(("iqn.", "eui.", "naa."))


def instance_name(instance: str) -> str:
    """The resource name without a clone suffix, made safe for a configfs directory name."""
    name = instance.split(":", 1)[0]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "lun"


def check_portal(portal: str) -> None:
    """portal is ip:port (IPv6 in brackets or bare), nothing else (it reaches tgtadm/tgtd --param portal=)."""
    host, sep, port = portal.rpartition(":")
    try:
        canonical_ip(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(f"portal {portal!r} is not ip:port") from None


def check_initiator(entry: str) -> None:
    """entry is an iSCSI name (a LIO ACL directory, a tgtadm -Q value), an address or network, or ALL."""
    if is_initiator_name(entry):
        if not set(entry) <= IQN_CHARS:
            raise ConfigError(f"allowed_initiators: {entry!r} is not an iSCSI name")
        return
    if entry == "ALL":
        return
    try:
        canonical_network(entry)
    except ValueError:
        raise ConfigError(f"allowed_initiators: {entry!r} is not an iSCSI name, an address, a network or ALL") from None


def lun_state(a, lun) -> int:
    """A LUN agent's monitor answer from the backend's LUN (None: absent): it must be on a.path."""
    if lun is None:
        return Rc.NOT_RUNNING
    if lun.path != a.path:
        raise OcfError(f"LUN {a.lun} of {a.target_iqn} is {lun.path}, not {a.path}")
    return Rc.SUCCESS


def lun_is_ours(a, target) -> bool:
    """Whether the backend's target (None: absent) holds this agent's LUN on its path, for a stop: a LUN
    of that number on another path is someone else's and is kept."""
    if target is None or a.lun not in target.luns:
        return False
    if target.luns[a.lun].path != a.path:
        a.log.warning(f"LUN {a.lun} of {a.target_iqn} is {target.luns[a.lun].path}: not ours, kept")
        return False
    return True


def target_missing(a) -> OcfError:
    """The failure of a LUN start whose target is not there."""
    return OcfError(f"target {a.target_iqn} does not exist (start the iSCSITarget first)")


def check_known(given: dict[str, str] | None, known, refusal: str) -> None:
    """additional_parameters names only what the implementation knows; refusal says who does not."""
    unknown = sorted(set(given or {}) - set(known))
    if unknown:
        raise ConfigError(f"additional_parameters: {refusal} " + ", ".join(unknown))
