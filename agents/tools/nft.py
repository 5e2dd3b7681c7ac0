"""nftables: rules in a table that only ocfkit owns, identified by an exact comment."""

from __future__ import annotations


def chain_rules(run, table: str, chain: str, *, family: str = "inet") -> list[tuple[str, int]]:
    """(rule text, handle) of every rule in the chain; [] when the table or chain does not exist."""
    r = run(["nft", "-a", "list", "chain", family, table, chain], ok=(0, 1))
    if r.returncode != 0:
        return []
    rules = []
    for line in r.stdout.splitlines():
        text, sep, handle = line.strip().rpartition(" # handle ")
        if sep and handle.isdigit() and not text.startswith(("chain ", "type ", "table ")):
            rules.append((text, int(handle)))
    return rules


def find_comment(rules: list[tuple[str, int]], comment: str) -> list[int]:
    """Handles of the rules whose comment is exactly comment."""
    token = f'comment "{comment}"'
    return [h for text, h in rules if text.endswith(token)]


def apply(run, script: str) -> None:
    """Apply an nft script atomically (nft -f -)."""
    run(["nft", "-f", "-"], input=script)


def delete_rule(run, table: str, chain: str, handle: int, *, family: str = "inet") -> None:
    """Delete one rule by handle."""
    run(["nft", "delete", "rule", family, table, chain, "handle", str(handle)])


def delete_table(run, table: str, *, family: str = "inet") -> None:
    """Delete the table (missing is fine)."""
    run(["nft", "delete", "table", family, table], ok=(0, 1))
