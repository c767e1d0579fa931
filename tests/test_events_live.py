"""client.events() against the live kernel: a rule, a real execve, the whole event."""

from __future__ import annotations

import subprocess

import pytest
import trio

from trioaudit import open_audit_client

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]


async def test_execve_event_is_reassembled_and_interpreted() -> None:
    async with open_audit_client("unicast") as client:
        await client.set_enabled(True)
        await client.add_rule("-a always,exit -F arch=b64 -S execve -F key=trioaudit-events")
        async with client.events() as events:
            await trio.to_thread.run_sync(subprocess.run, ["/bin/true"])
            with trio.fail_after(10):
                async for event in events:
                    if event.key == "trioaudit-events" and event.exe == "/usr/bin/true":
                        break
        names = [record.type_name for record in event.records]
        assert names[0] == "SYSCALL" and "EXECVE" in names and "EOE" not in names
        syscall = event.records[0]
        assert syscall.fields["syscall"] == "execve"
        assert syscall.fields["arch"] == "x86_64"
        assert syscall.raw_fields["syscall"] == "59"
        execve = event.record("EXECVE")
        assert execve is not None and execve.argv == ("/bin/true",)
        stats = client.event_statistics()
        assert stats is None  # the stream is closed again
        await client.delete_all_rules(key="trioaudit-events")


async def test_config_change_event_arrives_with_short_timeout() -> None:
    async with open_audit_client("unicast") as client:
        await client.set_enabled(True)
        async with client.events(end_of_event_timeout=0.2) as events:
            await client.set_rate_limit(321)
            with trio.fail_after(5):
                async for event in events:
                    if any("audit_rate_limit=321" in r.raw for r in event.records):
                        break
            reassembly, stream = client.event_statistics() or (None, None)
            assert reassembly is not None and stream is not None
            assert stream.unparsable == 0
