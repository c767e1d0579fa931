"""Fuzz the rules language: text parser, rules files and the wire decoder.

Invariants: arbitrary text raises nothing but RuleSyntaxError (in both the
shell and the rules-file dialect); a rule that parses encodes, decodes to
itself and renders; arbitrary bytes given to the rule decoder raise nothing
but AuditProtocolError; a rules file of arbitrary lines raises nothing but
RuleSyntaxError.

Run: ``.venv/bin/python fuzz/fuzz_rules.py -atheris_runs=1000000``
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["trioaudit"]):
    from trioaudit._errors import AuditProtocolError
    from trioaudit.rules import (
        AuditRule,
        RuleSyntaxError,
        parse_command,
        parse_rules_file,
        render_rule,
    )

import contextlib

from _common import run


def test_one_input(data: bytes) -> None:
    mode = data[0] % 3 if data else 0
    body = data[1:]
    if mode == 2:
        try:
            rule = AuditRule.from_bytes(body)
        except AuditProtocolError:
            return
        render_rule(rule)
        rule.to_bytes()
        return
    text = body.decode("utf-8", "replace")
    if mode == 1:
        with contextlib.suppress(RuleSyntaxError):
            parse_rules_file(text)
        return
    for dialect in ("shell", "auditctl"):
        try:
            command = parse_command(text, dialect=dialect)  # type: ignore[arg-type]
        except RuleSyntaxError:
            continue
        if command.rule is not None:
            assert AuditRule.from_bytes(command.rule.to_bytes()) == command.rule
            render_rule(command.rule)


SEEDS = [
    b"\x00-a always,exit -F arch=b64 -S openat -F exit=-EACCES -F auid>=1000 -k access",
    b"\x00-w /etc/shadow -p wa -k shadow",
    b"\x00-a never,exclude -F msgtype=CWD",
    b"\x01-D\n-b 8192\n-f 1\n-a always,exit -F arch=b32 -S all -C auid!=obj_uid\n",
    b"\x00-a always,exit -F arch=b64 -S execve -F path=/bin/sh -F perm=x -F key=a\\x01",
]

if __name__ == "__main__":
    run("rules", test_one_input, SEEDS)
