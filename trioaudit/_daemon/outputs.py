"""One bounded queue per output, the disk spool behind it, replay in order, counted drops.

The daemon's reader task hands every output the messages of each event with
:meth:`~NetworkOutput.offer`, which never waits: the kernel drops audit events when
its socket is not drained (the ``lost`` counter), so a slow or dead destination must
cost that destination messages -- counted -- and never the reader its pace.

**Where messages wait.** An output's pending messages form one FIFO::

    spool (oldest, on disk)  ++  queue (newest, in memory, at most queue_size)

:meth:`~NetworkOutput.offer` appends to the queue. When the queue is full, its
*oldest* messages are moved to the end of the spool (a ``batch`` at a time, so the
disk sees few, large writes) to make room; only when the spool is absent, full or
failing is a message dropped, and then it is the newest (the one being offered). The
delivery task sends from the head: the spool while it holds anything, then the queue.
So the order delivered is the order offered, whatever overflowed, and a restarted
daemon -- whose spool holds what the last one left -- sends that before anything new.

**Nothing is removed before it is delivered.** A batch is peeked (from the spool or
the queue), sent, and only the ``delivered`` leading messages (all of them, or
:attr:`SendFailed.delivered <trioaudit._daemon.senders.SendFailed.delivered>`) are
removed; the rest stays at the head, in place, for the next connection. A batch taken
from the queue may be moved to the spool while it is being sent (the queue overflowed
meanwhile): it is then at the spool's head, and its delivered part is consumed there.
The output itself never sends a message twice; a message can be received twice only
when the sender could not know it was delivered: a send cancelled or timed out
mid-way, or the daemon killed between a delivery and its removal from the spool.

**Disconnected.** Connection attempts back off exponentially (``backoff_initial``
doubling to ``backoff_max``, each wait drawn from its upper half for jitter), reset
once a connection delivers something or stays up ``backoff_max`` seconds (a
destination that accepts connections and drops them at once keeps backing off). Once
disconnected for ``spill_after`` seconds, each attempt first moves the whole queue to
the spool, so that a long outage keeps the backlog on disk (surviving a crash) rather
than in memory.

**Stopping.** :meth:`~NetworkOutput.aclose_and_drain` lets delivery continue for at
most ``timeout`` seconds, then stops it and moves what is still queued to the spool,
for the next start; what cannot go there (no spool, or a full one) is counted as
dropped and logged. Nothing is dropped without being counted in :class:`OutputStatistics`.

:class:`LocalOutput` is the same queue for files and stdout, without a spool: it
writes batches from a worker thread (a stalled pipe or disk stalls the thread, not
the trio loop) and counts what it cannot write.
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice

import trio

from .._output.spool import DiskSpool
from .senders import Sender, SendFailed

__all__ = ["LocalOutput", "NetworkOutput", "OutputStatistics"]

log = logging.getLogger("trioaudit")

#: After the spool accepted nothing (full, or failing), how long offers drop without
#: asking it again (unless a delivery frees room first): a failing disk write per offer
#: would slow the reader down to the disk's error path.
SPILL_RETRY_SECONDS = 1.0
#: How long closing a connection may take before it is abandoned.
CLOSE_TIMEOUT = 5.0

_FAILURES = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError)


@dataclass(frozen=True)
class OutputStatistics:
    """A snapshot of one output's counters (for ``/metrics`` and the status report)."""

    #: Messages the destination took (acknowledged, written, sent).
    delivered: int
    #: Messages given up: queue and spool full, a failed local write, or left at stop.
    dropped: int
    #: Bytes the spool's files hold on disk.
    spooled_bytes: int
    #: Messages in the spool.
    spooled_messages: int
    #: Messages in the in-memory queue (including a batch being sent).
    queue_depth: int
    #: Whether a connection is up (local outputs: whether the last write worked).
    connected: bool
    #: Connections made after the first one (each one follows a failure).
    reconnects: int
    #: The most recent failure, for humans; ``None`` until one happens.
    last_error: str | None
    #: Failed writes: the spool's (disk full, I/O errors) and a local output's.
    write_errors: int = 0
    #: Damaged spool records skipped (torn writes after a crash, disk damage).
    corrupt_skipped: int = 0


class _QueuedOutput:
    """The queue, spool and counters both kinds of output share."""

    def __init__(self, name: str, *, queue_size: int, batch: int, spool: DiskSpool | None) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {queue_size}")
        if batch < 1:
            raise ValueError(f"batch must be at least 1, not {batch}")
        self.name = name
        self._queue: deque[bytes] = deque()
        self._queue_size = queue_size
        self._batch = batch
        self._spool = spool
        self._delivered = 0
        self._dropped = 0
        self._write_errors = 0
        self._last_error: str | None = None
        self._closed = False
        self._dropping = False
        self._spill_retry_at = -math.inf
        # The batch being sent: where it came from, how long, how much of it has been
        # moved to the spool since (only for a batch from the queue).
        self._in_flight = 0
        self._in_flight_from_spool = False
        self._in_flight_spilled = 0
        self._wakeup = trio.Event()  # set by offer: work for the delivery task
        self._progress = trio.Event()  # set (and replaced) when something was settled
        self._run_scope: trio.CancelScope | None = None
        self._run_done: trio.Event | None = None

    # -- the reader's side: never waits ---------------------------------------------------

    def offer(self, messages: Sequence[bytes]) -> None:
        """Queue ``messages`` for delivery, in order; never blocks, never raises for a
        full queue or disk (what cannot be kept is counted in ``dropped``)."""
        if not messages:
            return
        if self._closed:
            self._drop(len(messages), "the output is closed")
            return
        if len(self._queue) + len(messages) <= self._queue_size:
            self._queue.extend(messages)
            self._stop_dropping()
        else:
            self._overflow(messages)
        self._wakeup.set()

    def _overflow(self, messages: Sequence[bytes]) -> None:
        """Make room by moving the oldest of queue ++ messages to the spool; keep what
        fits in the queue; drop the newest of the rest."""
        newer: Sequence[bytes] = messages
        if self._spool is not None and _now() >= self._spill_retry_at:
            wanted = max(len(self._queue) + len(newer) - self._queue_size, self._batch)
            moved = self._spill(wanted)
            # Offered messages may follow the queue into the spool only once all of the
            # queue is there: the spool's end must stay older than the queue's head.
            if not self._queue and moved < wanted:
                accepted = self._spool_append(newer[: wanted - moved])
                newer = newer[accepted:]
        room = self._queue_size - len(self._queue)
        self._queue.extend(newer[:room])
        if len(newer) > room:
            self._drop(len(newer) - room, self._why_dropping())
        else:
            self._stop_dropping()

    def _spill(self, count: int) -> int:
        """Move up to ``count`` of the queue's oldest messages to the spool's end;
        return how many moved."""
        assert self._spool is not None
        wanted = min(count, len(self._queue))
        if not wanted:
            return 0
        moved = self._spool_append(list(islice(self._queue, wanted)))
        for _ in range(moved):
            self._queue.popleft()
        if not self._in_flight_from_spool:
            in_queue = self._in_flight - self._in_flight_spilled
            self._in_flight_spilled += min(moved, in_queue)
        return moved

    def _spool_append(self, messages: Sequence[bytes]) -> int:
        assert self._spool is not None
        if not messages or self._spool.closed:
            return 0
        accepted = self._spool.append(messages)
        if accepted == 0:
            self._spill_retry_at = _now() + SPILL_RETRY_SECONDS
        return accepted

    def _why_dropping(self) -> str:
        if self._spool is None:
            return f"the queue is full ({self._queue_size} messages) and there is no spool"
        return (
            f"the queue is full ({self._queue_size} messages) and the spool "
            f"({self._spool.max_bytes} bytes) is full or cannot be written"
        )

    def _drop(self, count: int, reason: str) -> None:
        self._dropped += count
        if not self._dropping:
            self._dropping = True
            log.warning("output %s: dropping messages: %s", self.name, reason)

    def _stop_dropping(self) -> None:
        if self._dropping:
            self._dropping = False
            log.info(
                "output %s: accepting messages again (%d dropped in all)", self.name, self._dropped
            )

    # -- the delivery task's side ---------------------------------------------------------

    def _pending(self) -> int:
        spooled = self._spool.messages if self._spool is not None else 0
        return len(self._queue) + spooled

    def _take_batch(self) -> list[bytes]:
        """The next messages to send, from the head, without removing them."""
        spool = self._spool
        if spool is not None and not spool.closed and spool.messages:
            batch = spool.peek(self._batch)
            if batch:
                self._start_batch(len(batch), from_spool=True)
                return batch
        batch = list(islice(self._queue, self._batch))
        self._start_batch(len(batch), from_spool=False)
        return batch

    def _start_batch(self, size: int, *, from_spool: bool) -> None:
        self._in_flight = size
        self._in_flight_from_spool = from_spool
        self._in_flight_spilled = 0

    def _settle(self, delivered: int) -> None:
        """Remove the delivered head of the batch in flight, wherever it is now."""
        delivered = max(0, min(delivered, self._in_flight))
        if self._in_flight_from_spool:
            from_spool = delivered
        else:  # its head may have been moved to the spool while it was being sent
            from_spool = min(delivered, self._in_flight_spilled)
        if from_spool:
            assert self._spool is not None
            self._spool.consume(from_spool)
            self._spill_retry_at = -math.inf  # room was made
        for _ in range(delivered - from_spool):
            self._queue.popleft()
        self._delivered += delivered
        self._start_batch(0, from_spool=False)
        self._notify_progress()

    def _notify_progress(self) -> None:
        self._progress.set()
        self._progress = trio.Event()

    async def _wait_for_work(self) -> None:
        await self._wakeup.wait()
        self._wakeup = trio.Event()

    def _persist_queue(self) -> None:
        """Move everything queued to the spool (its end), as far as it takes it."""
        if self._spool is not None and not self._spool.closed and self._queue:
            self._spill_retry_at = -math.inf
            self._spill(len(self._queue))

    # -- lifecycle --------------------------------------------------------------------------

    def _enter_run(self) -> trio.Event:
        if self._run_scope is not None:
            raise RuntimeError(f"output {self.name} is already running")
        done = trio.Event()
        self._run_done = done
        return done

    async def _stop_within(self, seconds: float) -> None:
        """Let the delivery task empty the output for up to ``seconds``, then cancel it
        and wait until it has finished."""
        with trio.move_on_after(seconds):
            while self._pending() and self._run_scope is not None:
                await self._progress.wait()
        scope, done = self._run_scope, self._run_done
        if scope is not None and done is not None:
            scope.cancel()
            await done.wait()

    def _statistics(self, *, connected: bool, reconnects: int) -> OutputStatistics:
        spool = self._spool
        return OutputStatistics(
            delivered=self._delivered,
            dropped=self._dropped,
            spooled_bytes=spool.bytes_used if spool is not None else 0,
            spooled_messages=spool.messages if spool is not None else 0,
            queue_depth=len(self._queue),
            connected=connected,
            reconnects=reconnects,
            last_error=self._last_error,
            write_errors=self._write_errors + (spool.write_errors if spool is not None else 0),
            corrupt_skipped=spool.corrupt_skipped if spool is not None else 0,
        )


class NetworkOutput(_QueuedOutput):
    """A network destination behind a bounded queue and an optional disk spool.

    Args:
        name: For logs and metrics labels.
        sender_factory: Makes a new, unconnected :class:`Sender` for each connection.
        queue_size: The most messages held in memory.
        spool: Where the overflow and the leftovers at stop go; the output owns it from
            here on and closes it in :meth:`aclose_and_drain`. ``None``: overflow is
            dropped (counted).
        batch: The most messages handed to one :meth:`Sender.send`.
        backoff_initial, backoff_max: The reconnect backoff's first and largest wait.
        connect_timeout, send_timeout: How long a connect or a send may take before the
            connection is deemed dead (a send timed out is resent whole: at least once).
        spill_after: Disconnected this long, the queue is moved to the spool at each
            attempt; ``None`` never does.

    See the module docstring for the ordering and accounting guarantees.
    """

    def __init__(
        self,
        name: str,
        sender_factory: Callable[[], Sender],
        *,
        queue_size: int = 10_000,
        spool: DiskSpool | None,
        batch: int = 512,
        backoff_initial: float = 0.1,
        backoff_max: float = 30.0,
        connect_timeout: float = 30.0,
        send_timeout: float = 60.0,
        spill_after: float | None = 5.0,
    ) -> None:
        super().__init__(name, queue_size=queue_size, batch=batch, spool=spool)
        if not 0 < backoff_initial <= backoff_max:
            raise ValueError("backoff needs 0 < backoff_initial <= backoff_max")
        self._sender_factory = sender_factory
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._backoff = backoff_initial
        self._connect_timeout = connect_timeout
        self._send_timeout = send_timeout
        self._spill_after = spill_after
        self._random = random.Random()
        self._connected = False
        self._connections = 0
        self._failing = False
        self._disconnected_since = -math.inf

    def statistics(self) -> OutputStatistics:
        return self._statistics(connected=self._connected, reconnects=max(self._connections - 1, 0))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect and deliver until cancelled (or stopped by :meth:`aclose_and_drain`).

        Never returns otherwise (except at once, for an output already closed: a task
        started just before the stop) and raises nothing for a failing destination (it
        reconnects). When cancelled, the batch in flight stays pending (it is resent)
        and the queue is moved to the spool.

        Raises:
            RuntimeError: The output is already running.
        """
        done = self._enter_run()
        try:
            with trio.CancelScope() as scope:
                self._run_scope = scope
                self._disconnected_since = trio.current_time()
                task_status.started()
                if not self._closed:
                    await self._connect_and_deliver()
        finally:
            self._run_scope = None
            self._connected = False
            self._persist_queue()
            self._notify_progress()
            done.set()

    # The timeout bounds the delivering only: what is left must still be persisted or
    # counted after it, which a caller's cancel scope would cut short.
    async def aclose_and_drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Stop: deliver for at most ``timeout`` seconds, then persist or count the rest.

        What is still pending when the time is up stays in the spool (the queue is moved
        there) for the next start; what the spool cannot take, or everything without a
        spool, is counted as dropped and logged. The spool is closed. Later offers are
        dropped (counted). Idempotent.
        """
        if self._closed:
            return
        await self._stop_within(timeout)
        self._closed = True
        self._persist_queue()
        if self._queue:
            left = len(self._queue)
            self._queue.clear()
            self._dropped += left
            log.warning(
                "output %s: %d undelivered messages dropped at stop (%s)",
                self.name,
                left,
                "no spool" if self._spool is None else "the spool is full",
            )
        if self._spool is not None:
            if self._spool.messages:
                log.info(
                    "output %s: %d messages kept in the spool %s for the next start",
                    self.name,
                    self._spool.messages,
                    self._spool.directory,
                )
            self._spool.close()

    async def _connect_and_deliver(self) -> None:
        while True:
            sender = self._sender_factory()
            try:
                with trio.fail_after(self._connect_timeout):
                    await sender.connect()
            except _FAILURES as exc:
                self._note_failure(sender, "connect", exc)
                await _close(sender)
                await self._back_off()
                continue
            self._note_connected(sender)
            connected_at = trio.current_time()
            try:
                await self._deliver(sender)
            except _FAILURES as exc:
                self._note_failure(sender, "send", exc)
            finally:
                self._connected = False
                self._disconnected_since = trio.current_time()
                await _close(sender)
            if self._disconnected_since - connected_at >= self._backoff_max:
                self._backoff = self._backoff_initial  # it was up a good while: not flapping
            await self._back_off()

    async def _deliver(self, sender: Sender) -> None:
        """Send from the head until the connection fails (raises) or is cancelled."""
        while True:
            batch = self._take_batch()
            if not batch:
                self._notify_progress()
                await self._wait_for_work()
                continue
            delivered = 0
            try:
                with trio.fail_after(self._send_timeout):
                    await sender.send(batch)
                delivered = len(batch)
            except SendFailed as exc:
                delivered = exc.delivered
                raise
            finally:
                self._settle(delivered)
                if delivered > 0:
                    self._backoff = self._backoff_initial

    async def _back_off(self) -> None:
        delay = self._backoff * (0.5 + 0.5 * self._random.random())
        self._backoff = min(self._backoff * 2, self._backoff_max)
        disconnected_for = trio.current_time() - self._disconnected_since
        if self._spill_after is not None and disconnected_for >= self._spill_after:
            self._persist_queue()
        await trio.sleep(delay)

    def _note_connected(self, sender: Sender) -> None:
        self._connected = True
        self._connections += 1
        if self._failing or self._connections > 1:
            log.info("output %s: connected to %s", self.name, sender.url)
        self._failing = False

    def _note_failure(self, sender: Sender, what: str, exc: BaseException) -> None:
        if isinstance(exc, SendFailed) and str(exc).startswith(sender.url):
            text = str(exc)  # the sender named itself and what failed
        elif isinstance(exc, trio.TooSlowError):
            text = f"{sender.url}: {what} timed out"
        else:
            reason = str(exc) or type(exc).__name__
            text = f"{sender.url}: {what} failed: {reason}"
        self._last_error = text
        if not self._failing:
            self._failing = True
            log.warning("output %s; retrying with backoff (up to %gs)", text, self._backoff_max)
        else:
            log.debug("output %s", text)


class LocalOutput(_QueuedOutput):
    """A file or stdout behind a bounded queue, written from a worker thread.

    Args:
        name: For logs and metrics labels.
        write: Writes a batch of messages (framing them: newlines, ...) and raises
            ``OSError`` when it cannot; runs in a worker thread, one call at a time.
        queue_size: The most messages held; beyond it, offers are dropped (counted).
        batch: The most messages handed to one ``write``.
        inline: Call ``write`` on trio's thread instead: for a regular file on a
            local disk, where a write lands in the page cache, the thread hop per
            batch (a wake-up, two GIL hand-overs, a scheduler round) costs more CPU
            than the write -- 4x the daemon's CPU at 1,000 exec/s, measured. auditd
            writes its log from its event loop too; its fsyncs, like ours
            (:class:`~trioaudit._output.auditlog.RotatingFile`), run in a thread.

    A batch whose ``write`` raised is counted as dropped (the writer may have written
    part of it; resending would duplicate that part) and the next batch is tried: a
    full disk costs the messages offered while it is full, and writing resumes by
    itself once there is room.
    """

    def __init__(
        self,
        name: str,
        write: Callable[[list[bytes]], object],
        *,
        queue_size: int = 10_000,
        batch: int = 512,
        inline: bool = False,
    ) -> None:
        super().__init__(name, queue_size=queue_size, batch=batch, spool=None)
        self._write = write
        self._inline = inline
        self._failing = False
        self._running = False

    def statistics(self) -> OutputStatistics:
        return self._statistics(connected=self._running and not self._failing, reconnects=0)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write batches until cancelled (or stopped by :meth:`aclose_and_drain`).

        A write still running in its thread when this is cancelled is abandoned (it may
        complete or not); its batch is counted as dropped at :meth:`aclose_and_drain`.
        Returns at once for an output already closed.

        Raises:
            RuntimeError: The output is already running.
        """
        done = self._enter_run()
        try:
            with trio.CancelScope() as scope:
                self._run_scope = scope
                self._running = True
                task_status.started()
                while not self._closed:
                    batch = self._take_batch()
                    if not batch:
                        self._notify_progress()
                        await self._wait_for_work()
                        continue
                    await self._write_batch(batch)
        finally:
            self._run_scope = None
            self._running = False
            self._notify_progress()
            done.set()

    async def _write_batch(self, batch: list[bytes]) -> None:
        try:
            if self._inline:
                self._write(batch)
                await trio.lowlevel.checkpoint()
            else:
                await trio.to_thread.run_sync(self._write, batch, abandon_on_cancel=True)
        except (OSError, ValueError) as exc:  # ValueError: a closed file
            self._write_errors += 1
            self._last_error = f"write failed: {exc}"
            if not self._failing:
                self._failing = True
                log.warning("output %s: %s; dropping what cannot be written", self.name, exc)
            self._settle(0)
            for _ in range(len(batch)):
                self._queue.popleft()
            self._dropped += len(batch)
            return
        except BaseException:
            self._settle(0)
            raise
        self._settle(len(batch))
        if self._failing:
            self._failing = False
            log.info("output %s: writing again", self.name)

    # The timeout bounds the delivering only: what is left must still be persisted or
    # counted after it, which a caller's cancel scope would cut short.
    async def aclose_and_drain(self, timeout: float) -> None:  # noqa: ASYNC109
        """Stop: write for at most ``timeout`` seconds; count and log what is left.
        Later offers are dropped (counted). Idempotent."""
        if self._closed:
            return
        await self._stop_within(timeout)
        self._closed = True
        if self._queue:
            left = len(self._queue)
            self._queue.clear()
            self._dropped += left
            log.warning("output %s: %d unwritten messages dropped at stop", self.name, left)


async def _close(sender: Sender) -> None:
    """Close a sender even while being cancelled, but not forever."""
    with trio.move_on_after(CLOSE_TIMEOUT, shield=True):
        await sender.aclose()


def _now() -> float:
    try:
        return trio.current_time()
    except RuntimeError:  # outside trio.run (a synchronous caller): no retry pacing
        return -math.inf
