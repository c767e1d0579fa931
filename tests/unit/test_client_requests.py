"""AuditClient requests over the fake kernel: matching, time-outs, errors (no root, no socket)."""

from __future__ import annotations

import errno
import os
import struct

import pytest
import trio

from tests.support.fake_kernel import Capability, FakeKernel
from tests.support.fake_transport import FakeConnector, open_fake_client
from trioaudit import (
    AuditError,
    AuditReplyTimeout,
    AuditUnsupported,
    AuditUsageError,
    FailureMode,
    NetlinkError,
    NetlinkPermissionError,
    StatusMask,
    TtyAuditStatus,
)
from trioaudit._tables.msgtypes import AuditMessageType as T
from trioaudit._wire.control import encode_feature_request
from trioaudit._wire.netlink import encode_message
from trioaudit._wire.status import encode_status_request
from trioaudit.rules import render_rule


async def test_many_tasks_get_their_own_answers() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        answers: dict[int, int] = {}

        async def set_and_read(limit: int) -> None:
            await client.set_rate_limit(limit)
            answers[limit] = (await client.get_status()).rate_limit

        async with trio.open_nursery() as nursery:
            for limit in range(1, 51):
                nursery.start_soon(set_and_read, limit)
        assert sorted(answers) == list(range(1, 51))
        # Each task read back *a* value some task set; the last write wins in the kernel.
        assert set(answers.values()) <= set(range(1, 51))
        assert client.statistics().unmatched_replies == 0
        assert not client._waiters and not client._protocol.pending
    seqs = [message.seq for message in kernel.requests]
    assert len(seqs) == len(set(seqs)) == 100


@pytest.mark.parametrize("layout", ["ack first", "reply first", "one datagram"])
async def test_replies_match_in_any_order_and_packing(layout: str) -> None:
    kernel = FakeKernel()
    kernel.reply_before_ack = layout == "reply first"
    kernel.one_datagram_per_answer = layout == "one datagram"
    async with open_fake_client(kernel) as client:
        await client.add_rule("-w /etc/passwd -p wa -k ident")
        await client.add_rule("-a always,exit -F arch=b64 -S openat -k open")
        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(client.get_status)
                nursery.start_soon(client.list_rules)
        assert [render_rule(rule) for rule in await client.list_rules()] == [
            "-w /etc/passwd -p wa -k ident",
            "-a always,exit -F arch=b64 -S openat -F key=open",
        ]
        assert (await client.get_status()).backlog_limit == 64


async def test_datagrams_from_other_senders_and_malformed_ones_are_skipped() -> None:
    kernel = FakeKernel()
    connect = FakeConnector(kernel)
    async with open_fake_client(kernel, connector=connect) as client:
        port = connect.transport.port
        # A spoofed "ACK" for the next request, from a user-space sender: ignored.
        spoof = encode_message(2, struct.pack("=i", 0) + bytes(16), seq=0, flags=0)
        kernel.inject(port, spoof, sender=4242)
        kernel.inject(port, b"\x01\x02\x03")  # a runt
        kernel.inject(port, struct.pack("=IHHII", 99, 1000, 0, 0, 0))  # length past the end
        assert (await client.get_status()).enabled == 1
        stats = client.statistics()
    assert (stats.foreign_senders, stats.malformed) == (1, 2)


async def test_reply_timeout(autojump_clock: trio.testing.MockClock) -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, reply_timeout=3.0) as client:
        kernel.drop_next(T.GET)
        start = trio.current_time()
        with pytest.raises(
            AuditReplyTimeout, match=r"get status: no answer from the kernel in 3\.0s"
        ):
            await client.get_status()
        assert trio.current_time() - start == pytest.approx(3.0)
        assert not client._waiters and not client._protocol.pending
        kernel.drop_next(T.TRIM)
        with pytest.raises(AuditReplyTimeout, match=r"^TRIM: "):  # no operation words: the type
            await client.request(T.TRIM)
        assert isinstance(AuditReplyTimeout("x"), TimeoutError)
        assert (await client.get_status()).enabled == 1  # still usable


async def test_a_late_answer_is_counted_unmatched(autojump_clock: trio.testing.MockClock) -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, reply_timeout=1.0) as client:
        kernel.hold_next(T.GET)
        with pytest.raises(AuditReplyTimeout):
            await client.get_status()
        assert kernel.release() == 2  # the ACK and the status, after the caller left
        await client.get_status()
        assert client.statistics().unmatched_replies == 2


async def test_requests_without_waiting_are_collected_later() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        await client.set_rate_limit(11, wait=False)
        await client.set_backlog_limit(222, wait=False)
        await client.set_enabled(False, wait=False)
        await client.wait_for_pending_acks()
        assert (kernel.rate_limit, kernel.backlog_limit, kernel.enabled) == (11, 222, 0)
        await client.wait_for_pending_acks()  # nothing pending: returns at once


async def test_refusals_of_unawaited_requests_come_back_together(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, reply_timeout=1.0) as client:
        kernel.fail_next(T.SET, errno.EINVAL)
        await client.set_rate_limit(1, wait=False)
        kernel.drop_next(T.SET)
        await client.set_failure(FailureMode.SILENT, wait=False)
        await client.set_backlog_wait_time(5, wait=False)
        with pytest.raises(NetlinkError) as info:
            await client.wait_for_pending_acks()
        assert info.value.errno_name == "EINVAL"
        assert info.value.__notes__ == [
            "also: set failure: no answer from the kernel in 1.0s",
        ]
        assert kernel.backlog_wait_time == 5


@pytest.mark.parametrize(
    ("code", "name", "permission"),
    [
        (errno.EINVAL, "EINVAL", False),
        (errno.EPERM, "EPERM", True),
        (errno.EACCES, "EACCES", True),
        (errno.ENOMEM, "ENOMEM", False),
        (errno.ECONNREFUSED, "ECONNREFUSED", False),
    ],
)
async def test_kernel_errnos_map_to_exceptions(code: int, name: str, permission: bool) -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        kernel.fail_next(T.SET, code)
        with pytest.raises(NetlinkError) as info:
            await client.set_rate_limit(5)
    error = info.value
    assert (error.errno, error.errno_name, error.request_type) == (code, name, T.SET)
    assert isinstance(error, NetlinkPermissionError) is permission
    assert isinstance(error, PermissionError) is permission
    assert isinstance(error, OSError)
    assert str(error).startswith(f"set rate_limit: kernel said {name} (")
    notes = getattr(error, "__notes__", [])
    if code == errno.EPERM:
        assert any("CAP_AUDIT_CONTROL" in note for note in notes)
    elif code == errno.EACCES:
        assert notes == ["only the registered audit daemon may do this"]
    elif code == errno.ECONNREFUSED:
        assert notes == ["audit is not available inside a user namespace"]
    else:
        assert notes == []
    assert kernel.rate_limit == 0


async def test_an_unprivileged_process_gets_eperm_with_the_capability_named() -> None:
    kernel = FakeKernel()
    connect = FakeConnector(kernel, capabilities=Capability.NONE)
    async with open_fake_client(kernel, connector=connect) as client:
        with pytest.raises(NetlinkPermissionError) as status:
            await client.get_status()
        with pytest.raises(NetlinkPermissionError) as message:
            await client.send_user_message("hello")
    assert status.value.errno_name == "EPERM"
    assert "CAP_AUDIT_CONTROL" in status.value.__notes__[0]
    # The operation's own hint replaces the generic CAP_AUDIT_CONTROL one.
    assert message.value.__notes__ == ["needs CAP_AUDIT_WRITE"]


async def test_the_kernels_own_refusals() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        with pytest.raises(NetlinkError) as too_long:
            await client.set_backlog_wait_time(0xFFFFFFF)  # above 10*60*HZ
        with pytest.raises(NetlinkError) as not_ours:
            await client.set_pid(1)
        with pytest.raises(NetlinkError) as tty:
            await client.request(T.TTY_SET, struct.pack("=2I", 2, 0), operation="set tty auditing")
        with pytest.raises(NetlinkError) as deprecated:
            await client.request(1003)
        with pytest.raises(NetlinkError) as unknown:
            await client.request(999)
    assert too_long.value.errno_name == "EINVAL" and "backlog_wait_time" in str(too_long.value)
    assert not_ours.value.errno_name == "EINVAL" and "set pid" in str(not_ours.value)
    assert str(tty.value).startswith("set tty auditing: kernel said EINVAL")
    assert deprecated.value.errno == errno.EOPNOTSUPP
    assert unknown.value.errno_name == "EINVAL"
    assert not client.registered


async def test_each_setter_reaches_the_kernel() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        await client.set_rate_limit(777)
        await client.set_backlog_limit(4321)
        await client.set_backlog_wait_time(1234)
        await client.set_failure(FailureMode.SILENT)
        await client.set_enabled(False)
        status = await client.get_status()
    assert (status.rate_limit, status.backlog_limit, status.backlog_wait_time) == (777, 4321, 1234)
    assert (status.failure, status.enabled) == (0, 0)
    assert status == kernel.status()


async def test_values_out_of_range_are_refused_before_sending() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        with pytest.raises(AuditUsageError, match="out of range"):
            await client.set_rate_limit(-1)
        with pytest.raises(AuditUsageError, match="out of range"):
            await client.set_backlog_limit(1 << 32)
        with pytest.raises(AuditUsageError, match="unknown failure mode"):
            await client.set_failure(7)
    assert kernel.requests == []


async def test_dangerous_settings_refuse_without_confirmation() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        with pytest.raises(AuditUsageError, match="confirm=True"):
            await client.set_failure(FailureMode.PANIC)
        with pytest.raises(AuditUsageError, match="confirm=True"):
            await client.set_immutable()
        with pytest.raises(AuditUsageError):
            await client.set_immutable(confirm="yes")  # type: ignore[arg-type]
        with pytest.raises(AuditUsageError, match="confirm=True"):
            await client.set_feature("loginuid_immutable", True, lock=True)
        # The raw request() refuses them too, whatever the payload looks like.
        lock = encode_status_request(StatusMask.ENABLED, enabled=2)
        panic = encode_status_request(StatusMask.FAILURE | StatusMask.PID, failure=2, pid=0)
        feature_lock = encode_feature_request("loginuid_immutable", True, lock=True)
        for msg_type, payload in [
            (T.SET, lock),
            (T.SET, panic[:12]),
            (T.SET_FEATURE, feature_lock),
        ]:
            with pytest.raises(AuditUsageError, match="cannot be undone"):
                await client.request(msg_type, payload)
        assert kernel.requests == []
        # With confirmation they go through (to the fake kernel only).
        await client.set_failure(FailureMode.PANIC, confirm=True)
        state = await client.set_feature("loginuid_immutable", True, lock=True, confirm=True)
        assert (state.value, state.locked) == (True, True)
        await client.set_immutable(confirm=True)
        assert (kernel.failure, kernel.enabled) == (2, 2)
        # Locked: every change fails with EPERM, the feature too.
        with pytest.raises(NetlinkPermissionError):
            await client.set_rate_limit(1)
        with pytest.raises(NetlinkPermissionError):
            await client.add_rule("-w /tmp -p w")
        with pytest.raises(NetlinkPermissionError, match="set feature"):
            await client.set_feature("loginuid_immutable", False)


async def test_reset_lost_returns_the_old_value_as_the_kernel_does() -> None:
    kernel = FakeKernel()
    kernel.lost = 1234
    kernel.backlog_wait_time_actual = 99
    async with open_fake_client(kernel) as client:
        assert await client.reset_lost() == 1234
        assert (await client.get_status()).lost == 0
        assert await client.reset_lost() == 0
        kernel.lost = 3_000_000_000  # past 2**31: negative as a C int, still a counter
        assert await client.reset_lost() == 3_000_000_000
        assert await client.reset_backlog_wait_time_actual() == 99
        assert kernel.backlog_wait_time_actual == 0


async def test_resets_refused_on_kernels_without_them() -> None:
    kernel = FakeKernel()
    kernel.feature_bitmap = 0x1F  # no LOST_RESET
    async with open_fake_client(kernel) as client:
        with pytest.raises(AuditUnsupported, match="LOST_RESET"):
            await client.reset_lost()
        kernel.status_size = 40  # a kernel before 5.10: no backlog_wait_time_actual
        assert (await client.get_status()).backlog_wait_time_actual is None
        with pytest.raises(AuditUnsupported, match=r"5\.10"):
            await client.reset_backlog_wait_time_actual()


async def test_control_plane_round_trips() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        features = await client.get_features()
        assert features.state("loginuid_immutable") is not None
        state = await client.set_feature("only_unset_loginuid", True)
        assert (state.name, state.value, state.locked) == ("only_unset_loginuid", True, False)
        assert kernel.features == 1
        info = await client.get_signal_info()
        assert (info.uid, info.pid) == (0xFFFFFFFF, -1)  # the kernel's initial values
        assert await client.get_tty_audit() == TtyAuditStatus(False, False)
        assert await client.set_tty_audit(True, True) == TtyAuditStatus(False, False)
        assert await client.get_tty_audit() == TtyAuditStatus(True, True)
        await client.trim()
        await client.send_user_message("hello", type="USER_CMD", wait=False)
        await client.wait_for_pending_acks()
        with pytest.raises(AuditUsageError):
            await client.send_user_message("x", type=T.SYSCALL)
    assert kernel.printk[-1].endswith(
        f"pid={os.getpid()} uid={os.getuid()} auid=4294967295 ses=4294967295 msg='hello'"
    )


async def test_signal_daemon() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel) as client:
        with pytest.raises(AuditError, match="no audit daemon is registered"):
            await client.signal_daemon("HUP")
        with pytest.raises(AuditUsageError):
            await client.signal_daemon("KILL")
        # SIGCONT to a running process changes nothing: let the "daemon" be us.
        kernel.add_daemon(os.getpid())
        assert await client.signal_daemon("CONT") == os.getpid()
