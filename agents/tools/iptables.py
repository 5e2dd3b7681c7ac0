"""iptables/ip6tables: exact rule checks with -C, always with -w (wait for the xtables lock)."""

from __future__ import annotations


def binary(family: int) -> str:
    """iptables or ip6tables."""
    return "ip6tables" if family == 6 else "iptables"


def has_rule(run, family: int, chain: str, spec: list[str]) -> bool:
    """Whether exactly this rule is in chain (iptables -C: 0 present, 1 absent)."""
    r = run([binary(family), "-w", "-C", chain, *spec], ok=(0, 1))
    return r.returncode == 0


def insert_rule(run, family: int, chain: str, spec: list[str]) -> None:
    """Insert the rule at the top of chain."""
    run([binary(family), "-w", "-I", chain, *spec])


def delete_rule(run, family: int, chain: str, spec: list[str]) -> bool:
    """Delete one copy of the rule; False when there was none."""
    r = run([binary(family), "-w", "-D", chain, *spec], ok=(0, 1))
    return r.returncode == 0
