"""IET's ietd.conf and initiators.allow, read into a description's [[target]] list (for --target lio|tgt).

ietd.conf (iscsitarget 1.4): `Target IQN` opens a target; below it `Lun N Path=P,Type=fileio|blockio
[,ScsiId=X][,ScsiSN=Y][,IOMode=...]`, `IncomingUser USER PASSWORD` (CHAP the initiators must answer),
`OutgoingUser` (mutual CHAP: not carried by ocfkit's agents, reported), and session parameters (Alias,
MaxConnections, digests...) that LIO and tgt set their own way (skipped, listed in the notes).
initiators.allow: `IQN|ALL address-or-initiator[, ...]`; `ALL` applies to every target.
"""

from __future__ import annotations

_LIMIT = 1 << 20


class IetdError(ValueError):
    """ietd.conf or initiators.allow says something that cannot be translated; names file:line."""


def parse(text: str, allow_text: str = "", *, path: str = "ietd.conf", allow_path: str = "initiators.allow"
          ) -> tuple[list[dict], list[str]]:
    """(targets as description tables, notes on what was not carried over)."""
    targets: list[dict] = []
    skipped: set[str] = set()
    for no, raw in enumerate(text[:_LIMIT].splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        key = word.lower()
        if key == "target":
            targets.append({"iqn": rest, "tid": len(targets) + 1, "lun": []})
            continue
        if not targets:
            if key in ("incominguser", "outgoinguser"):
                skipped.add(f"{word} outside a target (discovery CHAP)")
                continue
            raise IetdError(f"{path}:{no}: {word} before any Target")
        t = targets[-1]
        if key == "lun":
            num, _, opts = rest.partition(" ")
            if not num.isdigit():
                raise IetdError(f"{path}:{no}: Lun needs a number")
            lu: dict = {"lun": int(num)}
            for opt in filter(None, (o.strip() for o in opts.split(","))):
                k, _, v = opt.partition("=")
                k = k.lower()
                if k == "path":
                    lu["path"] = v
                elif k == "type":
                    lu["type"] = v.lower()
                elif k == "scsisn":
                    lu["scsi_sn"] = v
                elif k == "scsiid":
                    lu["scsi_id"] = v
                else:
                    skipped.add(f"Lun option {k}")
            if "path" not in lu:
                raise IetdError(f"{path}:{no}: Lun {num} has no Path=")
            t["lun"].append(lu)
        elif key == "incominguser":
            parts = rest.split()
            if len(parts) != 2:
                raise IetdError(f"{path}:{no}: IncomingUser USER PASSWORD")
            if "incoming_user" in t:
                skipped.add("a second IncomingUser of a target (the agents take one)")
                continue
            t["incoming_user"], t["incoming_password"] = parts
        else:
            skipped.add(word)
    by_name = {t["iqn"]: t for t in targets}
    for no, raw in enumerate(allow_text[:_LIMIT].splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, rest = line.partition(" ")
        addrs = [a.strip() for a in rest.split(",") if a.strip()]
        if not addrs:
            raise IetdError(f"{allow_path}:{no}: no initiator after {name}")
        if name != "ALL" and name not in by_name:
            raise IetdError(f"{allow_path}:{no}: {name} is no target of {path}")
        chosen = list(by_name.values()) if name == "ALL" else [by_name[name]]
        for t in chosen:
            t.setdefault("initiators", []).extend(a for a in addrs if a != "ALL")
    notes = [f"{path}: not carried over: {', '.join(sorted(skipped))}"] if skipped else []
    return targets, notes
