"""AuditClient's rule methods (thin wrappers over trioaudit.rules) on the live kernel."""

from __future__ import annotations

import pytest

from tests.support import kernelstate
from trioaudit._errors import NetlinkError
from trioaudit._trio.client import open_audit_client
from trioaudit.rules import AuditRule, RuleSyntaxError, parse_rule

pytestmark = pytest.mark.kernel

RULES = [
    "-a always,exit -F arch=b64 -S openat -F exit=-EACCES -F auid>=1000 -F auid!=unset -k c-one",
    "-w /etc/hosts -p wa -k c-two",
    "-A always,exit -F arch=b32 -S all -k c-three",
    "-a never,exclude -F msgtype=CWD",
]


async def test_add_list_delete_rules(
    audit_state: kernelstate.KernelState, raw_audit: kernelstate.RawAudit
) -> None:
    raw_audit.delete_all_rules()
    async with open_audit_client(mode="control") as client:
        for text in RULES:
            await client.add_rule(text)
        listed = await client.list_rules()
        # the kernel's own bytes, read independently, decode to the same rules
        assert listed == [AuditRule.from_bytes(blob) for blob in raw_audit.rules()]
        expected = [parse_rule(t).as_listed() for t in RULES]
        assert listed == [expected[2], expected[0], expected[1], expected[3]]  # -A went first

        with pytest.raises(NetlinkError) as info:
            await client.add_rule(RULES[1])
        assert info.value.errno_name == "EEXIST"
        with pytest.raises(RuleSyntaxError):
            await client.add_rule("-a always,exit -S opnat")

        await client.delete_rule(RULES[1].replace("-w", "-W", 1))
        await client.delete_rule(parse_rule(RULES[0]))
        assert len(await client.list_rules()) == 2
        with pytest.raises(NetlinkError) as info:
            await client.delete_rule(RULES[0])
        assert info.value.errno_name == "ENOENT"

        assert await client.delete_all_rules() == 2
        assert await client.list_rules() == []
