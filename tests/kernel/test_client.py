"""AuditClient against the live kernel (root; state saved and restored around each test)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

import trioaudit
from tests.support.kernelstate import RawAudit
from trioaudit import (
    AuditDaemonRunning,
    AuditUsageError,
    FailureMode,
    NetlinkError,
    open_audit_client,
)

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

HOLDER = Path(__file__).parents[1] / "support" / "daemon_holder.py"


@pytest.fixture
def foreign_daemon() -> Iterator[int]:
    """Another live process registered as the audit daemon; killed afterwards."""
    proc = subprocess.Popen([sys.executable, str(HOLDER)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


async def test_status_matches_independent_reader(raw_audit: RawAudit) -> None:
    async with open_audit_client("control") as client:
        status = await client.get_status()
    raw = raw_audit.status()
    for name in ("enabled", "failure", "pid", "rate_limit", "backlog_limit", "backlog_wait_time"):
        assert getattr(status, name) == raw[name], name
    assert status.feature_bitmap is not None


@pytest.mark.parametrize(
    ("setter", "field", "value"),
    [
        ("set_rate_limit", "rate_limit", 777),
        ("set_backlog_limit", "backlog_limit", 4321),
        ("set_backlog_wait_time", "backlog_wait_time", 1234),
        ("set_failure", "failure", FailureMode.SILENT),
        ("set_enabled", "enabled", True),
    ],
)
async def test_each_setter_changes_the_kernel(
    raw_audit: RawAudit, setter: str, field: str, value: int
) -> None:
    async with open_audit_client("control") as client:
        await getattr(client, setter)(value)
        assert getattr(await client.get_status(), field) == int(value)
    assert raw_audit.status()[field] == int(value)


async def test_fifty_concurrent_status_requests() -> None:
    async with open_audit_client("control") as client:
        results: list[trioaudit.AuditStatus] = []

        async def ask() -> None:
            results.append(await client.get_status())

        async with trio.open_nursery() as nursery:
            for _ in range(50):
                nursery.start_soon(ask)
        assert len(results) == 50
        assert client.statistics().unmatched_replies == 0


async def test_no_wait_requests_are_collected_later(raw_audit: RawAudit) -> None:
    async with open_audit_client("control") as client:
        await client.set_rate_limit(11, wait=False)
        await client.set_backlog_limit(222, wait=False)
        await client.wait_for_pending_acks()
    status = raw_audit.status()
    assert (status["rate_limit"], status["backlog_limit"]) == (11, 222)


async def test_kernel_errno_surfaces_with_its_name() -> None:
    async with open_audit_client("control") as client:
        with pytest.raises(NetlinkError) as info:
            await client.set_backlog_wait_time(0xFFFFFFF)  # above 10*60*HZ: EINVAL
        assert info.value.errno_name == "EINVAL"
        assert "backlog_wait_time" in str(info.value)
        await client.get_status()  # still usable


async def test_unicast_receives_config_change_naming_the_new_value() -> None:
    async with open_audit_client("unicast") as client:
        assert client.mode == "unicast" and client.registered
        assert (await client.get_status()).pid == os.getpid()
        await client.set_enabled(True)
        async with client.records() as records:
            await client.set_rate_limit(4242)
            with trio.fail_after(5):
                async for record in records:
                    if record.type == trioaudit.AuditMessageType.CONFIG_CHANGE and (
                        "audit_rate_limit=4242" in record.text
                    ):
                        break
        await client.set_enabled(False)


async def test_leaving_the_block_unregisters_the_pid(raw_audit: RawAudit) -> None:
    async with open_audit_client("unicast") as client:
        assert raw_audit.status()["pid"] == os.getpid()
        assert client.registered
    assert raw_audit.status()["pid"] == 0


async def test_second_unicast_client_gets_daemon_running(raw_audit: RawAudit) -> None:
    async with open_audit_client("unicast"):
        with pytest.raises(AuditDaemonRunning, match=str(os.getpid())):
            async with open_audit_client("unicast"):
                pass
        assert raw_audit.status()["pid"] == os.getpid()
    assert raw_audit.status()["pid"] == 0


async def test_unicast_refuses_to_displace_a_live_daemon(foreign_daemon: int) -> None:
    with pytest.raises(AuditDaemonRunning) as info:
        async with open_audit_client("unicast"):
            pass
    assert info.value.pid == foreign_daemon


async def test_multicast_and_auto_listen_beside_a_live_daemon(
    foreign_daemon: int, raw_audit: RawAudit
) -> None:
    raw_audit.set_status(1, enabled=1)
    async with open_audit_client("auto") as client:
        assert client.mode == "multicast" and not client.registered
        async with client.records() as records:
            await client.set_rate_limit(999)
            with trio.fail_after(5):
                async for record in records:
                    if "audit_rate_limit=999" in record.text:
                        break
    assert raw_audit.status()["pid"] == foreign_daemon


async def test_cancelled_request_leaves_client_usable() -> None:
    async with open_audit_client("control") as client:
        for _ in range(20):
            with trio.CancelScope() as scope:
                scope.cancel()
                await client.get_status()
            with trio.move_on_after(0):
                await client.get_status()
        status = await client.get_status()
        assert status.failure in (0, 1)
        assert not client._waiters


async def test_panic_and_immutable_refused_without_confirmation(raw_audit: RawAudit) -> None:
    before = raw_audit.status()
    async with open_audit_client("control") as client:
        with pytest.raises(AuditUsageError):
            await client.set_failure(FailureMode.PANIC)
        with pytest.raises(AuditUsageError):
            await client.set_immutable()
        with pytest.raises(AuditUsageError):
            await client.set_immutable(confirm="yes")  # type: ignore[arg-type]
    after = raw_audit.status()
    assert (after["failure"], after["enabled"]) == (before["failure"], before["enabled"])


async def test_records_raises_in_control_mode() -> None:
    async with open_audit_client("control") as client:
        with pytest.raises(AuditUsageError):
            async with client.records():
                pass


async def test_exception_in_block_propagates_unwrapped() -> None:
    with pytest.raises(KeyError):
        async with open_audit_client("control"):
            raise KeyError("mine")
