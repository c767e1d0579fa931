"""A receive channel that hands over what is queued without a scheduler round per item.

Why this exists
===============

``async for record in channel`` over a trio memory channel costs one trip
through the scheduler per item: ``receive()`` always yields. Under a flood the
socket reader is runnable on every scheduler round and drains up to thousands
of datagrams per turn, so a consumer taking *one* item per round falls behind
at once, however little it does with each item (measured in
docs/benchmarks.md: a counting loop written with ``async for`` kept up with
under 10,000 records/s while the same loop draining with ``receive_nowait``
kept up with 180,000).

:class:`BatchingReceiveChannel` wraps the client's memory channel. When its
local buffer is empty, ``receive()`` waits once on the inner channel and then
moves up to ``batch`` queued items into the buffer; the following calls return
from the buffer with only a cancellation check, and a real scheduler yield every
``batch`` items, so other tasks still run and the consumer stays cancellable at
every call. The buffer holds at most ``batch`` items: memory stays bounded by
the inner channel's size plus ``batch``.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import trio

__all__ = ["DEFAULT_BATCH", "BatchingReceiveChannel"]

T = TypeVar("T")

#: Items moved per wake-up, and between two scheduler yields.
DEFAULT_BATCH = 256


class BatchingReceiveChannel(trio.abc.ReceiveChannel[T], Generic[T]):
    """A :class:`trio.abc.ReceiveChannel` over a memory channel, drained in batches.

    ``receive()`` is still a cancellation point on every call and a scheduling
    point at least every ``batch`` calls. ``receive_nowait()`` and
    :meth:`buffered` are there for consumers that drain explicitly.
    """

    def __init__(self, inner: trio.MemoryReceiveChannel[T], batch: int = DEFAULT_BATCH) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._inner = inner
        self._batch = batch
        self._buffer: deque[T] = deque()
        self._since_yield = 0

    @property
    def buffered(self) -> int:
        """Items taken off the inner channel and not yet returned."""
        return len(self._buffer)

    def _queue_state(self) -> tuple[int, int]:
        """``(items waiting, capacity)``: the inner channel's queue plus this buffer."""
        inner = self._inner.statistics()
        return inner.current_buffer_used + len(self._buffer), int(inner.max_buffer_size)

    def receive_nowait(self) -> T:
        """The next item without waiting.

        Raises:
            trio.WouldBlock: Nothing is queued.
            trio.EndOfChannel: The sender closed and everything was received.
        """
        if self._buffer:
            return self._buffer.popleft()
        return self._inner.receive_nowait()

    async def receive(self) -> T:
        """The next item; waits when nothing is queued."""
        if self._buffer:
            await trio.lowlevel.checkpoint_if_cancelled()
            self._since_yield += 1
            if self._since_yield >= self._batch:
                self._since_yield = 0
                await trio.lowlevel.cancel_shielded_checkpoint()
            return self._buffer.popleft()
        value = await self._inner.receive()  # a full checkpoint
        self._since_yield = 0
        append = self._buffer.append
        take = self._inner.receive_nowait
        for _ in range(self._batch - 1):
            try:
                append(take())
            except (trio.WouldBlock, trio.EndOfChannel):
                break
        return value

    async def receive_batch(self, limit: int) -> list[T]:
        """Wait for one item, then take what else is queued: at most *limit* in all.

        The idiom for consumers that handle items in bulk (``trioaudit tail``).
        """
        batch = [await self.receive()]
        while len(batch) < limit:
            try:
                batch.append(self.receive_nowait())
            except trio.WouldBlock:
                break
        return batch

    async def aclose(self) -> None:
        """Close the inner channel; items still buffered are discarded."""
        self._buffer.clear()
        await self._inner.aclose()
