"""Reports how much the campaign ran: in-process agent actions and the commands they issued."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter):
    from tests.campaign.harness import RUNS

    if RUNS["actions"]:
        terminalreporter.write_line(f"campaign: {RUNS['actions']} agent actions in-process, "
                                    f"{RUNS['commands']} commands answered by fake worlds")
