"""BatchingReceiveChannel: batches for speed, still trio-correct (no sockets)."""

from __future__ import annotations

import pytest
import trio

from trioaudit._trio.batching import BatchingReceiveChannel


async def test_async_for_receives_everything_in_order_then_ends() -> None:
    send, receive = trio.open_memory_channel[int](1000)
    channel = BatchingReceiveChannel(receive, batch=7)
    for i in range(100):
        send.send_nowait(i)
    send.close()
    assert [item async for item in channel] == list(range(100))


async def test_takes_a_batch_per_scheduler_round_not_one_item() -> None:
    # A competing task that is always runnable (like the socket reader under a
    # flood): count how many of its turns the consumer needs for 1,000 items.
    send, receive = trio.open_memory_channel[int](10_000)
    for i in range(1000):
        send.send_nowait(i)
    turns = 0
    async with trio.open_nursery() as nursery:

        async def busy() -> None:
            nonlocal turns
            while True:
                turns += 1
                await trio.lowlevel.checkpoint()

        nursery.start_soon(busy)
        channel = BatchingReceiveChannel(receive, batch=100)
        turns = 0
        for _ in range(1000):
            await channel.receive()
        batched_turns = turns
        for i in range(1000):
            send.send_nowait(i)
        turns = 0
        for _ in range(1000):
            await receive.receive()
        plain_turns = turns
        nursery.cancel_scope.cancel()
    assert plain_turns >= 900  # a memory channel yields on every item
    assert batched_turns <= 25


async def test_cancellation_is_checked_on_every_call_and_loses_nothing() -> None:
    send, receive = trio.open_memory_channel[int](100)
    channel = BatchingReceiveChannel(receive, batch=50)
    for i in range(10):
        send.send_nowait(i)
    assert await channel.receive() == 0  # the rest is buffered now
    assert channel.buffered == 9
    with trio.CancelScope() as scope:
        scope.cancel()
        with pytest.raises(trio.Cancelled):
            await channel.receive()
    assert channel.buffered == 9  # nothing was taken by the cancelled call
    assert [channel.receive_nowait() for _ in range(9)] == list(range(1, 10))
    with pytest.raises(trio.WouldBlock):
        channel.receive_nowait()


async def test_buffer_is_bounded_by_the_batch() -> None:
    send, receive = trio.open_memory_channel[int](1000)
    channel = BatchingReceiveChannel(receive, batch=16)
    for i in range(1000):
        send.send_nowait(i)
    await channel.receive()
    assert channel.buffered == 15
    assert receive.statistics().current_buffer_used == 1000 - 16


async def test_aclose_closes_the_inner_channel() -> None:
    send, receive = trio.open_memory_channel[int](10)
    channel = BatchingReceiveChannel(receive)
    send.send_nowait(1)
    await channel.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await channel.receive()
    with pytest.raises(trio.BrokenResourceError):
        send.send_nowait(2)


def test_batch_must_be_positive() -> None:
    _, receive = trio.open_memory_channel[int](1)
    with pytest.raises(ValueError):
        BatchingReceiveChannel(receive, batch=0)


async def test_receive_batch_takes_what_is_queued_up_to_the_limit() -> None:
    send, receive = trio.open_memory_channel[int](100)
    channel = BatchingReceiveChannel(receive, batch=8)
    for i in range(20):
        send.send_nowait(i)
    assert await channel.receive_batch(5) == [0, 1, 2, 3, 4]
    assert await channel.receive_batch(100) == list(range(5, 20))
    with trio.move_on_after(0.05) as scope:
        await channel.receive_batch(3)  # nothing queued: waits for the first item
    assert scope.cancelled_caught
