"""Rules through the client, and auditctl's ``-k`` selection (``AuditRule.matches_key``)."""

from __future__ import annotations

import errno

import pytest

from tests.support.fake_kernel import FakeKernel
from tests.support.fake_transport import open_fake_client
from trioaudit import NetlinkError, RuleSyntaxError, parse_rule
from trioaudit._tables.msgtypes import AuditMessageType as T
from trioaudit.rules import render_rule

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


async def test_rules_round_trip_through_the_kernel() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        await client.add_rule("-w /etc/passwd -p wa -k identity")
        await client.add_rule(ONE_KEY)
        await client.add_rule("-A always,exit -F arch=b64 -S getppid")  # prepended
        listed = [render_rule(rule) for rule in await client.list_rules()]
        assert listed == [
            "-a always,exit -F arch=b64 -S getppid",
            "-w /etc/passwd -p wa -k identity",
            "-a always,exit -F arch=b64 -S openat -F key=access",
        ]
        with pytest.raises(NetlinkError) as exists:
            await client.add_rule(ONE_KEY)
        await client.delete_rule("-A always,exit -F arch=b64 -S getppid")  # prepend bit dropped
        with pytest.raises(NetlinkError) as missing:
            await client.delete_rule("-A always,exit -F arch=b64 -S getppid")
        with pytest.raises(RuleSyntaxError):
            await client.add_rule("-a always,exit -S no_such_call")
    assert (exists.value.errno_name, missing.value.errno_name) == ("EEXIST", "ENOENT")
    assert len(kernel.rules) == 2


async def test_delete_all_rules_selects_by_key_like_auditctl() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        for rule in (TWO_KEYS, ONE_KEY, NO_KEY):
            await client.add_rule(rule)
        assert await client.delete_all_rules(key="ty\x01pas") == 1
        assert [render_rule(r) for r in await client.list_rules()] == [
            render_rule(ONE_KEY),
            render_rule(NO_KEY),
        ]
        assert await client.delete_all_rules(key="") == 1  # every rule with a key
        assert await client.delete_all_rules() == 1
        assert await client.list_rules() == []


async def test_a_refused_delete_names_its_rule() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        await client.add_rule(ONE_KEY)
        await client.add_rule(NO_KEY)
        kernel.fail_next(T.DEL_RULE, errno.EPERM)
        with pytest.raises(NetlinkError) as info:
            await client.delete_all_rules()
    assert info.value.__notes__[-1] == f"rule: {render_rule(ONE_KEY)}"
    assert len(kernel.rules) == 2
