"""records() and open_events() over the fake kernel: delivery, drops, overflows, statistics."""

from __future__ import annotations

import logging
import struct

import pytest
import trio

from tests.support.fake_kernel import FakeKernel
from tests.support.fake_transport import FakeConnector, open_fake_client
from trioaudit import (
    AuditUsageError,
    EventStream,
    EventStreamStatistics,
    KernelRecord,
    RecordStream,
    RecordStreamStatistics,
)
from trioaudit._tables.msgtypes import AuditMessageType as T
from trioaudit._trio import client as client_module
from trioaudit._wire.netlink import NLMSG_HDRLEN, encode_message
from trioaudit._wire.status import StatusMask, encode_status_request

SYSCALL = 'arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="ls" exe="/usr/bin/ls" key=(null)'  # noqa: E501
PATH = 'item=0 name="/usr/bin/ls" inode=1 dev=00:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0'  # noqa: E501


async def _take(records: RecordStream, count: int) -> list[KernelRecord]:
    with trio.fail_after(5):
        return [await records.receive() for _ in range(count)]


def _skip_own_registration(records: list[KernelRecord]) -> list[KernelRecord]:
    return [r for r in records if "audit_pid=" not in r.text]


async def test_unicast_records_arrive_in_order_whole_despite_the_length_quirk() -> None:
    kernel = FakeKernel()
    connect = FakeConnector(kernel)
    async with (
        open_fake_client(kernel, "unicast", connector=connect) as client,
        client.records() as records,
    ):
        assert isinstance(records, RecordStream)
        first = await records.receive()
        assert first.type == T.CONFIG_CHANGE and "audit_pid=" in first.text
        texts = [kernel.emit(T.SYSCALL, SYSCALL, serial=7), kernel.emit(T.EOE, "", serial=7)]
        texts.append(kernel.emit(3000, "an unknown type"))
        got = await _take(records, 3)
    assert [r.text for r in got] == texts
    assert [r.type_name for r in got] == ["SYSCALL", "EOE", "UNKNOWN[3000]"]


def test_the_fake_kernel_has_the_unicast_length_quirk() -> None:
    kernel = FakeKernel()
    daemon = kernel.add_daemon(1)
    listener = kernel.open_port()
    listener.join_multicast()
    text = kernel.emit(T.USER, "msg='x'")
    ((unicast, _),) = daemon.take(10)
    ((multicast, _),) = listener.take(10)
    assert unicast[NLMSG_HDRLEN:] == multicast[NLMSG_HDRLEN:] == text.encode()
    assert struct.unpack_from("=I", unicast)[0] == len(text)  # header excluded
    assert struct.unpack_from("=I", multicast)[0] == NLMSG_HDRLEN + len(text)  # honest


async def test_records_from_before_opening_wait_in_the_queue() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, "unicast") as client:
        kernel.emit(T.USER, "msg='early'")
        await client.get_status()  # the reader has run
        async with client.records() as records:
            got = _skip_own_registration(await _take(records, 2))
    assert got[0].text.endswith("msg='early'")


async def test_replace_probes_are_not_records() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, "unicast") as client, client.records() as records:
        other = kernel.open_port(pid=1)
        other.send(_set_pid_request(1))  # probes us, then EEXIST
        kernel.emit(T.USER, "msg='after the probe'")
        got = await _take(records, 3)
    assert [r.type for r in got] == [T.CONFIG_CHANGE, T.CONFIG_CHANGE, T.USER]
    assert "res=0" in got[1].text  # the refused registration, logged to us
    assert client.statistics().records_received == 3


def _set_pid_request(pid: int) -> bytes:
    return encode_message(T.SET, encode_status_request(StatusMask.PID, pid=pid), seq=9)


async def test_a_full_queue_drops_and_counts() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, "unicast", queue_size=4) as client:
        async with client.records() as records:
            for n in range(10):
                kernel.emit(T.USER, f"msg='n={n}'")
            await client.get_status()  # the reader has applied everything
            stats = records.statistics()
            assert stats == RecordStreamStatistics(received=11, dropped=7, queued=4, queue_size=4)
            got = await _take(records, 4)
            assert records.statistics().queued == 0
        client_stats = client.statistics()
    assert [r.text.rsplit(" ", 1)[-1] for r in got[1:]] == ["msg='n=0'", "msg='n=1'", "msg='n=2'"]
    assert (client_stats.records_received, client_stats.records_dropped) == (11, 7)
    assert (client_stats.queue_used, client_stats.queue_size) == (0, 4)


async def test_enobufs_is_counted_and_the_stream_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    kernel = FakeKernel()
    connect = FakeConnector(kernel)
    with caplog.at_level(logging.WARNING, "trioaudit"):
        async with open_fake_client(kernel, "unicast", connector=connect) as client:
            async with client.records() as records:
                kernel.overflow(connect.transport.port)
                kernel.emit(T.USER, "msg='after the overflow'")
                got = _skip_own_registration(await _take(records, 2))
            assert client.statistics().overflows == 1
    assert got[0].text.endswith("msg='after the overflow'")
    assert "ENOBUFS" in caplog.text


async def test_a_multicast_listener_with_a_tiny_buffer_overflows() -> None:
    kernel = FakeKernel()
    kernel.add_daemon(1)
    connect = FakeConnector(kernel)
    async with (
        open_fake_client(kernel, "multicast", connector=connect, rcvbuf=500) as client,
        client.records() as records,
    ):
        for n in range(40):
            kernel.emit(T.USER, f"msg='storm {n}'")  # no reader turn in between
        kernel_side = connect.transport.port.queued
        got = await _take(records, kernel_side)
        await client.get_status()
        stats = client.statistics()
    assert 0 < kernel_side < 40
    assert stats.overflows == 1
    assert stats.records_received == len(got) == kernel_side
    assert kernel.lost == 0  # multicast drops are never the kernel's lost


async def test_a_daemon_socket_that_is_full_makes_the_kernel_hold_records() -> None:
    kernel = FakeKernel(backlog_limit=10)
    connect = FakeConnector(kernel)
    async with (
        open_fake_client(kernel, "unicast", connector=connect, rcvbuf=300) as client,
        client.records() as records,
    ):
        for n in range(30):
            kernel.emit(T.USER, f"msg='n={n}'")
        assert kernel.status().backlog == 10  # held for us, up to backlog_limit
        assert kernel.lost > 0
        got = _skip_own_registration(await _take(records, 30 - kernel.lost + 1))
    assert client.statistics().overflows == 0  # unicast: held, not overflowed
    assert got[-1].text.endswith(f"msg='n={29 - kernel.lost}'")


async def test_records_is_for_one_consumer_and_not_in_control_mode() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, "control") as client:
        with pytest.raises(AuditUsageError, match="control"):
            async with client.records():
                pass
        with pytest.raises(AuditUsageError, match="control"):
            async with client.open_events():
                pass
    async with open_fake_client(kernel, "unicast") as client:
        async with client.records():
            with pytest.raises(AuditUsageError, match="already open"):
                async with client.records():
                    pass
            with pytest.raises(AuditUsageError, match="already open"):
                async with client.open_events():
                    pass
        async with client.records():  # free again
            pass


async def test_events_are_parsed_and_grouped(autojump_clock: trio.testing.MockClock) -> None:
    kernel = FakeKernel()
    async with (
        open_fake_client(kernel, "unicast") as client,
        client.open_events(end_of_event_timeout=1.0) as events,
    ):
        assert isinstance(events, EventStream)
        kernel.emit(T.SYSCALL, SYSCALL, serial=50, stamp=1700000000.5)
        kernel.emit(T.PATH, PATH, serial=50, stamp=1700000000.5)
        kernel.emit(T.EOE, "", serial=50, stamp=1700000000.5)
        kernel.emit(T.USER_CMD, "pid=1 uid=0 auid=0 ses=1 msg='single'", serial=51)
        kernel.emit_raw(T.SYSCALL, "no audit(...) header")
        with trio.fail_after(5):
            batch = await events.receive_batch(10)
            while len(batch) < 3:
                batch += await events.receive_batch(10)
        by_serial = {event.sequence: event for event in batch}
        syscall = by_serial[50]
        assert syscall.type_names == ("SYSCALL", "PATH")  # ended by its EOE
        assert (syscall.syscall, syscall.comm, syscall.timestamp) == ("execve", "ls", 1700000000.5)
        assert by_serial[51].type_name == "USER_CMD"  # a single-record type: at once
        stats = events.statistics()
    assert isinstance(stats, EventStreamStatistics)
    assert (stats.records, stats.unparsable, stats.events, stats.queued) == (6, 1, 3, 0)
    assert stats.reassembly.by_eoe == 1
    assert events.statistics() == stats  # still readable, unchanged, after closing


async def test_an_event_without_eoe_comes_out_after_the_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kernel = FakeKernel()
    async with (
        open_fake_client(kernel, "unicast") as client,
        client.open_events(end_of_event_timeout=2.0, parse_fields=False) as events,
    ):
        with trio.fail_after(5):
            await events.receive()  # our own registration's CONFIG_CHANGE
        kernel.emit(T.SYSCALL, SYSCALL, serial=60)
        start = trio.current_time()
        with trio.fail_after(5):
            event = await events.receive()
        assert trio.current_time() - start == pytest.approx(2.0, abs=0.1)
        assert event.sequence == 60 and event.records[0].items == ()  # not split
        assert events.statistics().reassembly.timed_out >= 1


async def test_a_slow_event_consumer_backs_up_into_counted_record_drops(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kernel = FakeKernel()
    async with (
        open_fake_client(kernel, "unicast", queue_size=5) as client,
        client.open_events(queue_size=2) as events,
    ):
        for n in range(50):
            kernel.emit(T.USER_CMD, f"msg='n={n}'")
            await trio.lowlevel.checkpoint()
        for _ in range(10):
            await client.get_status()
        assert events.statistics().queued == 2
        dropped = client.statistics().records_dropped
        assert dropped > 0
        with trio.fail_after(5):
            got = [await events.receive() for _ in range(51 - dropped)]
    assert len(got) == 51 - dropped


@pytest.mark.parametrize("timer", ["core", "reference"])
@pytest.mark.parametrize("delay", [0.0, 0.25])
async def test_the_wakeup_delay_batches_records_and_never_holds_back_a_reply(
    delay: float, timer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The delay is a timerfd on the compiled core and a cancel scope's deadline on the
    # reference path: both must batch, and both must give way to a request.
    if timer == "reference":
        monkeypatch.setattr(client_module, "_core", None)
    elif client_module._core is None:
        pytest.skip("the compiled core is not built")
    kernel = FakeKernel()
    connect = FakeConnector(kernel)
    async with (
        open_fake_client(kernel, "unicast", connector=connect, wakeup_delay=delay) as client,
        client.records() as records,
    ):
        await records.receive()  # the CONFIG_CHANGE of our registration
        # A request is answered at once, although the reader may be in its delay.
        started = trio.current_time()
        await client.get_status()
        assert trio.current_time() - started < 0.1
        before = connect.transport.batches_returned
        # Ten records 10 ms apart: one wake-up each without a delay, a few with one.
        texts = []
        for i in range(10):
            texts.append(kernel.emit(T.USER, f"msg='n={i}'"))
            await trio.sleep(0.01)
        with trio.fail_after(5):
            got = await _take(records, 10)
        assert [r.text for r in got] == texts
        wakeups = connect.transport.batches_returned - before
        assert wakeups <= 2 if delay else wakeups >= 8, wakeups
