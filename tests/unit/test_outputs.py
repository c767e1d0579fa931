"""Outputs: offer never waits, delivery keeps the offered order across failures, the
spool and restarts, and every message not delivered is counted."""

from __future__ import annotations

import errno
import itertools
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.fake_sender import FakeDestination
from trioaudit._daemon.outputs import LocalOutput, NetworkOutput, OutputStatistics
from trioaudit._output.spool import RECORD_OVERHEAD, DiskSpool


def _messages(count: int, start: int = 0) -> list[bytes]:
    return [b"m%06d" % i for i in range(start, start + count)]


MESSAGE_RECORD = RECORD_OVERHEAD + len(_messages(1)[0])


def _network(
    destination: FakeDestination, spool: DiskSpool | None, **options: float | int | None
) -> NetworkOutput:
    return NetworkOutput("test", destination.factory, spool=spool, **options)  # type: ignore[arg-type]


async def _until(
    condition: Callable[[], bool], *, poll: float = 0.001, within: float = 10.0
) -> None:
    """Wait until ``condition()`` holds (for state with no event to wait on), failing
    after ``within`` trio seconds."""
    with trio.fail_after(within):
        while not condition():  # noqa: ASYNC110 -- counters and threads have no event
            await trio.sleep(poll)


# -- delivery and order --------------------------------------------------------------------


async def test_offered_messages_are_delivered_in_order_in_batches(
    autojump_clock: trio.testing.MockClock,
) -> None:
    destination = FakeDestination()
    output = _network(destination, None, batch=100)
    sent = _messages(1000)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        for start in range(0, 1000, 7):
            output.offer(sent[start : start + 7])
        output.offer([])
        await destination.wait_received(1000)
        statistics = output.statistics()
        await output.aclose_and_drain(1)
    assert destination.received == sent
    assert max(destination.batch_sizes) <= 100
    assert statistics == OutputStatistics(
        delivered=1000,
        dropped=0,
        spooled_bytes=0,
        spooled_messages=0,
        queue_depth=0,
        connected=True,
        reconnects=0,
        last_error=None,
    )
    assert destination.open_senders == 0  # closed at stop


async def test_a_partial_send_resends_exactly_the_undelivered_rest_in_place(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    destination = FakeDestination()
    for delivered in (3, 0, 7, 1, 10):
        destination.fail_send(delivered)
    output = _network(destination, DiskSpool(tmp_path / "s", 1_000_000), batch=10, queue_size=25)
    sent = _messages(400)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        for start in range(0, 400, 20):
            output.offer(sent[start : start + 20])
            await trio.sleep(0.05)
        await destination.wait_received(400)
        statistics = output.statistics()
        await output.aclose_and_drain(1)
    assert destination.received == sent  # nothing twice, nothing missing, in order
    assert statistics.delivered == 400
    assert statistics.dropped == 0
    assert statistics.reconnects == 5
    assert statistics.last_error == "fake://destination: send failed: connection reset"


async def test_a_batch_moved_to_the_spool_while_in_flight_is_settled_there(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    # The queue overflows while its head is being sent: the head goes to the spool,
    # then the send delivers part of it and fails. The delivered part must leave the
    # spool's head, the rest go first on the next connection.
    destination = FakeDestination()
    spool = DiskSpool(tmp_path / "s", 1_000_000)
    output = _network(destination, spool, batch=8, queue_size=10)
    sent = _messages(60)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        destination.stall()
        output.offer(sent[:8])
        await destination.wait_sends(1)
        output.offer(sent[8:60])
        assert spool.messages >= 8  # the batch in flight is on disk now
        assert output.statistics().queue_depth == 10
        destination.fail_send(3)
        destination.unstall()
        await destination.wait_received(60)
        await output.aclose_and_drain(1)
    assert destination.received == sent
    assert output.statistics().dropped == 0


async def test_a_spool_left_by_the_last_run_goes_before_anything_new(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    with DiskSpool(tmp_path / "s", 1_000_000) as spool:
        spool.append(_messages(30))
    destination = FakeDestination()
    output = _network(destination, DiskSpool(tmp_path / "s", 1_000_000), batch=7)
    async with trio.open_nursery() as nursery:
        output.offer(_messages(5, start=30))  # offered before the task even runs
        await nursery.start(output.run)
        output.offer(_messages(5, start=35))
        await destination.wait_received(40)
        await output.aclose_and_drain(1)
    assert destination.received == _messages(40)


# -- full queue, full spool: exact drop counts -------------------------------------------


async def test_a_full_queue_without_spool_drops_exactly_the_newest(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    destination = FakeDestination()
    destination.refuse_connects_forever = True
    output = _network(destination, None, queue_size=100)
    sent = _messages(1000)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        with caplog.at_level(logging.WARNING, "trioaudit"):
            for message in sent[:600]:
                output.offer([message])
            output.offer(sent[600:])
        assert caplog.text.count("dropping messages") == 1
        statistics = output.statistics()
        assert (statistics.dropped, statistics.queue_depth) == (900, 100)
        assert not statistics.connected
        destination.refuse_connects_forever = False
        await destination.wait_received(100)
        await output.aclose_and_drain(1)
    assert destination.received == sent[:100]
    assert output.statistics().dropped == 900


async def test_a_full_spool_drops_exactly_what_neither_queue_nor_spool_can_hold(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    destination = FakeDestination()
    destination.refuse_connects_forever = True
    spool = DiskSpool(tmp_path / "s", 37 * MESSAGE_RECORD + MESSAGE_RECORD - 1)
    output = _network(destination, spool, queue_size=10, batch=4)
    sent = _messages(200)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        for message in sent:
            output.offer([message])
        statistics = output.statistics()
        assert statistics.spooled_messages == 37
        assert statistics.spooled_bytes == 37 * MESSAGE_RECORD
        assert statistics.queue_depth == 10
        assert statistics.dropped == 200 - 37 - 10
        destination.refuse_connects_forever = False
        await destination.wait_received(47)
        await output.aclose_and_drain(1)
    assert destination.received == sent[:47]
    assert output.statistics().delivered == 47
    assert output.statistics().dropped == 153


async def test_newer_messages_never_overtake_a_queue_the_spool_cannot_take(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    # The queue's head is too big for the spool's room, the newest message is not: it
    # must be dropped, not spooled ahead of the queue.
    destination = FakeDestination()
    destination.refuse_connects_forever = True
    spool = DiskSpool(tmp_path / "s", RECORD_OVERHEAD + 10)
    output = _network(destination, spool, queue_size=2, batch=1)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        output.offer([b"big" * 10])
        output.offer([b"small1"])
        output.offer([b"small2"])
        assert output.statistics().dropped == 1
        assert spool.messages == 0
        destination.refuse_connects_forever = False
        await destination.wait_received(2)
        await output.aclose_and_drain(1)
    assert destination.received == [b"big" * 10, b"small1"]


async def test_offer_never_waits_and_memory_stays_bounded_while_the_sender_is_stalled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    destination = FakeDestination()
    output = _network(destination, None, queue_size=1000, batch=50)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        destination.stall()
        output.offer([b"first"])
        await destination.wait_sends(1)
        before = trio.current_time()
        for index in range(100_000):  # no checkpoint in here: offer is synchronous
            output.offer([b"%d" % index])
        assert trio.current_time() == before
        statistics = output.statistics()
        assert statistics.queue_depth == 1000
        assert statistics.dropped == 100_001 - 1000
        destination.unstall()
        await destination.wait_received(1000)
        await output.aclose_and_drain(1)
    assert destination.received == [b"first", *(b"%d" % i for i in range(999))]


# -- connecting ------------------------------------------------------------------------------


async def test_reconnect_backoff_doubles_with_jitter_is_capped_and_resets_after_delivery(
    autojump_clock: trio.testing.MockClock,
) -> None:
    destination = FakeDestination()
    destination.refuse_connects = 10
    output = _network(destination, None, backoff_initial=0.1, backoff_max=2.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        output.offer([b"one"])
        await destination.wait_received(1)
        attempts = destination.connect_attempts
        gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
        assert len(gaps) == 10
        for number, gap in enumerate(gaps):
            ceiling = min(0.1 * 2**number, 2.0)
            assert ceiling / 2 <= gap <= ceiling, (number, gap)
        assert sum(gaps[-4:]) >= 4 * 1.0  # capped, still waiting at least half of it
        assert output.statistics().connected
        assert (
            output.statistics().last_error
            == "fake://destination: connect failed: connection refused"
        )
        # Delivered since: the next failure starts from the first wait again.
        destination.fail_send(0)
        destination.refuse_connects = 1
        output.offer([b"two"])
        await destination.wait_received(2)
        retry = destination.connect_attempts[-3:]
        assert 0.05 <= retry[1] - retry[0] <= 0.1
        assert 0.1 <= retry[2] - retry[1] <= 0.2
        await output.aclose_and_drain(1)
    assert destination.received == [b"one", b"two"]
    assert output.statistics().reconnects == 1


async def test_a_stalled_send_times_out_and_is_resent_on_a_new_connection(
    autojump_clock: trio.testing.MockClock,
) -> None:
    destination = FakeDestination()
    output = _network(destination, None, send_timeout=5.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        destination.stall()
        output.offer(_messages(3))
        await destination.wait_sends(1)
        await trio.sleep(5.5)
        statistics = output.statistics()
        assert statistics.last_error == "fake://destination: send timed out"
        assert statistics.queue_depth == 3  # nothing lost to the timeout
        destination.unstall()
        await destination.wait_received(3)
        await output.aclose_and_drain(1)
    assert destination.received == _messages(3)
    assert destination.connections == 2


async def test_a_long_outage_moves_the_queue_to_disk(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    destination = FakeDestination()
    destination.refuse_connects_forever = True
    spool = DiskSpool(tmp_path / "s", 1_000_000)
    output = _network(destination, spool, spill_after=5.0, backoff_max=1.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        output.offer(_messages(20))
        await trio.sleep(2)
        assert output.statistics().queue_depth == 20  # a short outage: in memory
        await trio.sleep(5)
        assert output.statistics().queue_depth == 0
        assert output.statistics().spooled_messages == 20
        output.offer(_messages(5, start=20))
        destination.refuse_connects_forever = False
        await destination.wait_received(25)
        await output.aclose_and_drain(1)
    assert destination.received == _messages(25)


# -- stopping and starting again ------------------------------------------------------------


async def test_stopping_persists_the_rest_and_the_next_start_delivers_it_first(
    autojump_clock: trio.testing.MockClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down = FakeDestination()
    down.refuse_connects_forever = True
    output = _network(down, DiskSpool(tmp_path / "s", 1_000_000), spill_after=None)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        output.offer(_messages(50))
        started = trio.current_time()
        with caplog.at_level(logging.INFO, "trioaudit"):
            await output.aclose_and_drain(3)
        assert 3 <= trio.current_time() - started < 4
    assert "50 messages kept in the spool" in caplog.text
    statistics = output.statistics()
    assert (statistics.spooled_messages, statistics.queue_depth, statistics.dropped) == (50, 0, 0)
    output.offer([b"late"])
    assert output.statistics().dropped == 1  # closed: counted, not lost silently
    await output.aclose_and_drain(3)  # idempotent

    up = FakeDestination()
    restarted = _network(up, DiskSpool(tmp_path / "s", 1_000_000))
    async with trio.open_nursery() as nursery:
        await nursery.start(restarted.run)
        restarted.offer(_messages(5, start=50))
        await up.wait_received(55)
        await restarted.aclose_and_drain(1)
    assert up.received == _messages(55)
    assert restarted.statistics().spooled_messages == 0


async def test_stopping_delivers_what_it_can_within_the_time_allowed(
    autojump_clock: trio.testing.MockClock, tmp_path: Path
) -> None:
    destination = FakeDestination()
    destination.send_delay = 0.1
    output = _network(destination, DiskSpool(tmp_path / "s", 1_000_000), batch=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        output.offer(_messages(100))  # ten sends: one second
        started = trio.current_time()
        await output.aclose_and_drain(0.55)
        assert trio.current_time() - started == pytest.approx(0.55)
    delivered = len(destination.received)
    assert 40 <= delivered <= 60
    statistics = output.statistics()
    assert statistics.delivered == delivered
    assert statistics.spooled_messages == 100 - delivered
    with DiskSpool(tmp_path / "s", 1_000_000) as spool:
        assert destination.received + spool.peek(100) == _messages(100)


async def test_stopping_without_a_spool_counts_and_logs_what_is_left(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    destination = FakeDestination()
    destination.refuse_connects_forever = True
    output = _network(destination, None)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        output.offer(_messages(12))
        with caplog.at_level(logging.WARNING, "trioaudit"):
            await output.aclose_and_drain(1)
    assert output.statistics().dropped == 12
    assert "12 undelivered messages dropped at stop (no spool)" in caplog.text


async def test_stopping_an_output_that_never_ran_keeps_its_queue(tmp_path: Path) -> None:
    output = _network(FakeDestination(), DiskSpool(tmp_path / "s", 1_000_000))
    output.offer(_messages(3))
    await output.aclose_and_drain(1)
    with DiskSpool(tmp_path / "s", 1_000_000) as spool:
        assert spool.peek(10) == _messages(3)


async def test_running_twice_is_refused_and_running_after_close_returns(
    autojump_clock: trio.testing.MockClock,
) -> None:
    output = _network(FakeDestination(), None)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        with pytest.raises(RuntimeError, match="already running"):
            await output.run()
        await output.aclose_and_drain(1)
    await output.run()  # a task started just before the stop: returns at once
    local = LocalOutput("file", lambda batch: None)
    await local.aclose_and_drain(1)
    await local.run()
    with pytest.raises(ValueError):
        _network(FakeDestination(), None, queue_size=0)


# -- any script of failures ---------------------------------------------------------------

_STEP = st.one_of(
    st.tuples(st.just("offer"), st.integers(1, 40)),
    st.tuples(st.just("fail"), st.integers(0, 9)),
    st.tuples(st.just("refuse"), st.integers(1, 4)),
    st.tuples(st.just("stall"), st.floats(0.0, 3.0)),
    st.tuples(st.just("wait"), st.floats(0.0, 2.0)),
)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(_STEP, max_size=25), spool_records=st.sampled_from([0, 15, 10_000]))
def test_any_script_of_failures_keeps_order_and_accounts_for_every_message(
    tmp_path_factory: pytest.TempPathFactory,
    steps: Sequence[tuple[str, float]],
    spool_records: int,
) -> None:
    directory = tmp_path_factory.mktemp("spool")

    async def scenario() -> tuple[list[bytes], list[bytes], OutputStatistics]:
        destination = FakeDestination()
        spool = DiskSpool(directory, spool_records * MESSAGE_RECORD) if spool_records else None
        output = _network(destination, spool, queue_size=12, batch=5, spill_after=1.0)
        offered: list[bytes] = []
        async with trio.open_nursery() as nursery:
            await nursery.start(output.run)
            for action, value in steps:
                if action == "offer":  # of varied sizes: some fit the spool's rest, some not
                    fresh = [
                        message + b"." * (len(offered) * 7 % 23)
                        for message in _messages(int(value), start=len(offered))
                    ]
                    offered += fresh
                    output.offer(fresh)
                elif action == "fail":
                    destination.fail_send(int(value))
                elif action == "refuse":
                    destination.refuse_connects += int(value)
                elif action == "stall":
                    destination.stall()
                    await trio.sleep(value)
                    destination.unstall()
                else:
                    await trio.sleep(value)
            await _until(
                lambda: (
                    not (output.statistics().queue_depth or output.statistics().spooled_messages)
                ),
                poll=0.5,
                within=600,  # trio time: backoff reaches 30 s waits
            )
            statistics = output.statistics()
            await output.aclose_and_drain(1)
        return offered, destination.received, statistics

    offered, received, statistics = trio.run(
        scenario, clock=trio.testing.MockClock(autojump_threshold=0)
    )
    assert len(set(received)) == len(received)  # nothing twice
    positions = {message: index for index, message in enumerate(offered)}
    order = [positions[message] for message in received]
    assert order == sorted(order)  # delivered in the order offered
    assert statistics.delivered == len(received)
    assert statistics.delivered + statistics.dropped == len(offered)
    if spool_records == 10_000:
        assert received == offered


# -- local outputs -----------------------------------------------------------------------------


async def test_a_local_output_counts_failed_writes_and_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    written: list[bytes] = []
    failures = [3]

    def write(batch: list[bytes]) -> None:
        if failures[0]:
            failures[0] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        written.extend(batch)

    output = LocalOutput("file", write, queue_size=100, batch=10)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        with caplog.at_level(logging.WARNING, "trioaudit"):
            for start in range(0, 50, 10):
                output.offer(_messages(10, start=start))
                await _until(lambda: not output.statistics().queue_depth)
        statistics = output.statistics()
        await output.aclose_and_drain(1)
    assert caplog.text.count("No space left on device") == 1
    assert written == _messages(20, start=30)
    assert statistics.write_errors == 3
    assert statistics.dropped == 30
    assert statistics.delivered == 20
    assert statistics.connected
    assert statistics.last_error == "write failed: [Errno 28] No space left on device"


async def test_a_stalled_local_writer_stalls_a_thread_not_the_loop() -> None:
    release = threading.Event()
    written: list[bytes] = []

    def write(batch: list[bytes]) -> None:
        release.wait(10)
        written.extend(batch)

    output = LocalOutput("stdout", write, queue_size=20, batch=5)
    async with trio.open_nursery() as nursery:
        await nursery.start(output.run)
        output.offer(_messages(5))
        with trio.fail_after(5):
            await trio.sleep(0.05)  # the loop runs on while the writer is stuck
        output.offer(_messages(30, start=5))
        assert output.statistics().queue_depth == 20
        assert output.statistics().dropped == 15
        release.set()
        await _until(lambda: len(written) >= 20)
        await output.aclose_and_drain(1)
    assert written == _messages(20)


async def test_stopping_a_stuck_local_output_abandons_the_write_and_counts_the_rest() -> None:
    release = threading.Event()

    def write(batch: list[bytes]) -> None:
        release.wait(10)

    output = LocalOutput("stdout", write, queue_size=50, batch=5)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(output.run)
            output.offer(_messages(12))
            with trio.fail_after(5):
                await output.aclose_and_drain(0.1)
    finally:
        release.set()
    statistics = output.statistics()
    assert statistics.dropped == 12
    assert statistics.delivered == 0
    assert not statistics.connected
