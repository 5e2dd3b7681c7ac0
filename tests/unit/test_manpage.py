"""Man pages generated from the meta-data and the command's parser."""

from __future__ import annotations

import re

from agents import AGENTS
from ocfkit import manpage
from ocfkit.cli import build_parser


def test_every_agent_has_a_page_named_as_resource_agents_names_them():
    pages = manpage.agent_pages()
    assert sorted(pages) == sorted(f"ocf_ocfkit_{a}.7" for a in AGENTS)
    page = pages["ocf_ocfkit_IPaddr2.7"]
    assert '.TH "OCF_OCFKIT_IPADDR2" "7"' in page
    assert "ocf_ocfkit_IPaddr2 \\- " in page
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", '"SUPPORTED PARAMETERS"', '"SUPPORTED ACTIONS"',
                    '"EXAMPLE CRM SHELL"', '"EXAMPLE PCS"', '"SEE ALSO"'):
        assert f".SH {section}\n" in page


def test_a_page_lists_every_parameter_with_its_type_and_default():
    xml = ('<?xml version="1.0"?>\n<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">\n'
           '<resource-agent name="X" version="1.0"><version>1.0</version>'
           '<longdesc lang="en">Long.</longdesc><shortdesc lang="en">Short</shortdesc><parameters>'
           '<parameter name="ip" required="1" unique="1"><longdesc lang="en">The address.</longdesc>'
           '<shortdesc lang="en">a</shortdesc><content type="string"/></parameter>'
           '<parameter name="count" required="0" unique="0"><longdesc lang="en">.starts with a dot - and \\ a '
           'backslash</longdesc><shortdesc lang="en">c</shortdesc><content type="integer" default="3"/></parameter>'
           '</parameters><actions><action name="start" timeout="20s"/>'
           '<action name="monitor" timeout="20s" interval="10s" depth="0"/></actions></resource-agent>')
    page = manpage.agent_page(xml)
    assert "\\fBip\\fR\n.RS 4\nThe address.\n.sp\n(unique, required, string, no default)" in page
    assert '(optional, integer, default "3")' in page
    # Text never becomes a roff request, hyphens and backslashes are escaped.
    assert "\\&.starts with a dot \\- and \\e a backslash" in page
    assert "Starts the resource. Suggested minimum timeout: 20s." in page
    assert "Suggested interval: 10s." in page
    assert "primitive p_X ocf:ocfkit:X \\e\n  params \\e\n    ip=\\fIstring\\fR \\e" in page


def test_the_command_page_documents_every_subcommand_and_option():
    page = manpage.command_page()
    assert '.TH "OCFKIT" "8"' in page
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        assert f'.SS "{name}"'.replace("-", "\\-") in page
        for action in p._actions:
            for opt in action.option_strings:
                if opt not in ("-h", "--help"):
                    assert "\\fB" + opt.replace("-", "\\-") in page, (name, opt)
    assert '.SS "heartbeat takeover"' in page and '.SS "crm check"' in page


def test_the_date_comes_from_source_date_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert re.search(r'\.TH "OCFKIT" "8" "2023-11-14"', manpage.command_page())
