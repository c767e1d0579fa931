"""A scriptable destination for :mod:`trioaudit._daemon.outputs`, in memory.

:class:`FakeDestination` plays the far end of every connection an output makes: its
:meth:`~FakeDestination.factory` is the output's ``sender_factory`` (one
:class:`FakeSender` per connection, as the real senders are), and it records every
message delivered, in order, and every connection attempt with its trio time (so that
backoff can be checked under a :class:`trio.testing.MockClock`).

Scripting:

* ``refuse_connects = n``: the next ``n`` connects raise :class:`SendFailed`;
* ``refuse_connects_forever = True``: every connect does;
* :meth:`fail_send`: a coming ``send`` delivers only its first ``delivered`` messages,
  then raises ``SendFailed(delivered=...)`` (queued: one failure per call);
* :meth:`stall` / :meth:`unstall`: ``send`` waits (a peer that stopped reading) until
  unstalled or cancelled; a cancelled send delivers nothing;
* ``send_delay``: every ``send`` sleeps this long first (a slow link).

It keeps the :class:`~trioaudit._daemon.senders.Sender` contract where an output can
tell: ``send`` checkpoints, a failed send's ``delivered`` leading messages are exactly
those recorded, ``aclose`` never raises.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import trio

from trioaudit._daemon.senders import SendFailed

__all__ = ["FakeDestination", "FakeSender"]


class FakeDestination:
    """The far end: the script, and the record of what arrived."""

    url = "fake://destination"

    def __init__(self) -> None:
        #: Every message delivered, in the order delivered.
        self.received: list[bytes] = []
        #: The trio time of every connect attempt.
        self.connect_attempts: list[float] = []
        #: Connects that succeeded.
        self.connections = 0
        #: The sizes of the batches ``send`` was called with.
        self.batch_sizes: list[int] = []
        self.refuse_connects = 0
        self.refuse_connects_forever = False
        self.send_delay = 0.0
        self._send_failures: deque[int] = deque()
        self._stalled = False
        self._unstalled = trio.Event()
        #: Connections currently open.
        self.open_senders = 0
        self._changed = trio.Event()  # set (and replaced) when a send starts or delivers

    def factory(self) -> FakeSender:
        return FakeSender(self)

    def fail_send(self, delivered: int) -> None:
        """Make a coming send deliver ``delivered`` messages, then fail."""
        self._send_failures.append(delivered)

    def stall(self) -> None:
        self._stalled = True
        self._unstalled = trio.Event()

    def unstall(self) -> None:
        self._stalled = False
        self._unstalled.set()

    async def wait_received(self, count: int) -> None:
        """Wait until ``count`` messages arrived (fails after 60 trio seconds)."""
        with trio.fail_after(60):
            while len(self.received) < count:
                await self._changed.wait()

    async def wait_sends(self, count: int) -> None:
        """Wait until ``send`` was called ``count`` times (fails after 60 trio seconds)."""
        with trio.fail_after(60):
            while len(self.batch_sizes) < count:
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


class FakeSender:
    """One connection to a :class:`FakeDestination`."""

    def __init__(self, destination: FakeDestination) -> None:
        self.destination = destination
        self.url = destination.url
        self._open = False

    async def connect(self) -> None:
        destination = self.destination
        destination.connect_attempts.append(trio.current_time())
        await trio.lowlevel.checkpoint()
        if destination.refuse_connects_forever or destination.refuse_connects > 0:
            destination.refuse_connects = max(destination.refuse_connects - 1, 0)
            raise SendFailed("connection refused")
        self._open = True
        destination.connections += 1
        destination.open_senders += 1

    async def send(self, messages: Sequence[bytes]) -> None:
        destination = self.destination
        assert self._open, "send on a sender that is not connected"
        destination.batch_sizes.append(len(messages))
        destination._notify()
        await trio.lowlevel.checkpoint()
        if destination.send_delay:
            await trio.sleep(destination.send_delay)
        while destination._stalled:
            await destination._unstalled.wait()
        if destination._send_failures:
            delivered = min(destination._send_failures.popleft(), len(messages))
            destination.received.extend(messages[:delivered])
            destination._notify()
            raise SendFailed("connection reset", delivered=delivered)
        destination.received.extend(messages)
        destination._notify()

    async def aclose(self) -> None:
        if self._open:
            self._open = False
            self.destination.open_senders -= 1
        await trio.lowlevel.checkpoint()
