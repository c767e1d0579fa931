"""Rules through the client, and auditctl's ``-k`` selection (``AuditRule.matches_key``)."""

from __future__ import annotations

import pytest

from trioaudit import parse_rule

TWO_KEYS = parse_rule("-w /etc/passwd -p wa -k identity -k passwd-watch")
ONE_KEY = parse_rule("-a always,exit -F arch=b64 -S openat -k access")
NO_KEY = parse_rule("-w /etc/shadow -p wa")


@pytest.mark.parametrize(
    ("key", "selected"),
    [
        ("identity", {"two"}),
        ("passwd-watch", {"two"}),
        ("dent", {"two"}),  # strstr: a substring of one key
        ("ty\x01pas", {"two"}),  # ...or of the joined field, across the separator
        ("access", {"one"}),
        ("cces", {"one"}),
        ("", {"two", "one"}),  # every rule that has a key field at all
        ("nothing", set()),
        ("identity\x01", {"two"}),
        ("identitypasswd", set()),  # the separator is part of the field
    ],
)
def test_matches_key_is_auditctls_strstr_over_the_joined_key_field(
    key: str, selected: set[str]
) -> None:
    rules = {"two": TWO_KEYS, "one": ONE_KEY, "none": NO_KEY}
    assert {name for name, rule in rules.items() if rule.matches_key(key)} == selected
