"""Where the TUI's events come from: the live kernel (trio guest) or a log file.

Theory of operation
===================

Textual owns the thread and runs asyncio. All audit I/O stays in trio: the
:class:`LiveSource` starts trio as a *guest* on Textual's loop
(``trio.lowlevel.start_guest_run`` with the loop's ``call_soon_threadsafe``
and ``call_soon``), so trio tasks and Textual handlers take turns on one
thread and may call each other's synchronous functions directly:

* trio -> UI: ``app.post_message(...)`` (batched events, replaceable status).
* UI -> trio: :meth:`AuditSource.command` puts a :class:`Command` into a
  bounded trio memory channel with ``send_nowait`` (never awaits trio from
  asyncio, never spawns trio tasks from host code: trio#2183).
* Shutdown: the UI calls :meth:`AuditSource.stop`, which cancels trio's root
  scope and waits for trio's ``done_callback`` before Textual exits, so the
  client unregisters its pid cleanly.
* Signals: SIGINT, SIGTERM and SIGHUP are taken on the host loop
  (:mod:`trioaudit.tui.main`), where they reach a replay too and Textual's
  terminal can be restored; they end the app like ``q``, so the same
  :meth:`AuditSource.stop` releases the pid. While it runs,
  :attr:`AuditSource.unfinished` says what a forced exit would leave behind.

The :class:`ReplaySource` is plain asyncio: it feeds events parsed from an
audit.log (with the same parser and reassembler) at a chosen speed, so the
app, its screenshots and its snapshot tests need neither root nor a kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import trio
from textual.app import App

from .._records.logread import LogParser, open_log
from .._records.model import AuditEvent
from .._trio.client import AuditClient, ClientMode, open_audit_client, process_name
from .._trio.signals import UnfinishedCleanup, registration_left
from .messages import CommandFinished, EventsArrived, SourceFailed, StatusUpdated
from .model import Command, StatusSnapshot

#: Longest a batch of events waits before it is posted (seconds).
BATCH_DELAY = 0.05
#: Most events in one posted batch.
MAX_BATCH = 2000
#: A replay parses on Textual's own loop: it lets the UI run after this many events, so
#: keys and repaints wait for a few milliseconds of parsing, not for a whole batch.
REPLAY_YIELD_EVERY = 50
#: Seconds between status refreshes.
STATUS_INTERVAL = 1.0
#: Commands queued from the UI before it is told to wait.
COMMAND_QUEUE = 16


class AuditSource(Protocol):
    """What the app needs from an event source."""

    mode: str
    can_control: bool
    #: What the source changed in the kernel and has not put back yet.
    unfinished: UnfinishedCleanup

    def start(self, app: App[Any]) -> None:
        """Begin delivering messages to *app* (called from ``on_mount``)."""

    async def stop(self) -> None:
        """Stop and wait until everything is closed."""

    def command(self, command: Command) -> bool:
        """Queue *command*; False if it cannot be queued right now."""


class LiveSource:
    """Audit events and status from the kernel, with trio running as a guest."""

    can_control = True

    def __init__(self, mode: ClientMode = "auto") -> None:
        self.mode: str = mode
        self._requested_mode = mode
        self._done: asyncio.Future[Any] | None = None
        self._scope = trio.CancelScope()
        self._token: trio.lowlevel.TrioToken | None = None
        self._commands_send, self._commands_receive = trio.open_memory_channel[Command](
            COMMAND_QUEUE
        )
        self._refresh = trio.Event()
        self.unfinished = UnfinishedCleanup()

    # ---- host (asyncio) side -------------------------------------------------------
    def start(self, app: App[Any]) -> None:
        loop = asyncio.get_running_loop()
        done = self._done = loop.create_future()

        def finished(outcome: Any) -> None:
            if not done.done():
                done.set_result(outcome)

        trio.lowlevel.start_guest_run(
            self._main,
            app,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=finished,
            host_uses_signal_set_wakeup_fd=True,
        )

    async def stop(self) -> None:
        if self._done is None:
            return
        if not self._done.done():
            if self._token is None:
                # Stopped before trio ran _main (a signal at start-up): the scope
                # is not entered yet, so cancelling it here makes it start cancelled.
                self._scope.cancel()
            else:
                self._token.run_sync_soon(self._scope.cancel)
        outcome = await self._done
        with contextlib.suppress(trio.Cancelled, BaseException):
            outcome.unwrap()

    def command(self, command: Command) -> bool:
        try:
            self._commands_send.send_nowait(command)
        except (trio.WouldBlock, trio.ClosedResourceError):
            return False
        return True

    # ---- guest (trio) side ---------------------------------------------------------
    async def _main(self, app: App[Any]) -> None:
        self._token = trio.lowlevel.current_trio_token()
        with self._scope:
            try:
                async with open_audit_client(self._requested_mode) as client:
                    self.unfinished.add(functools.partial(registration_left, client))
                    self.mode = client.mode
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(self._pump_events, client, app)
                        nursery.start_soon(self._poll_status, client, app)
                        nursery.start_soon(self._serve_commands, client, app)
            except Exception as exc:  # shown in the UI, never a crash
                denied = _is_denial(exc)
                app.post_message(SourceFailed(f"{type(exc).__name__}: {exc}", denied=denied))

    async def _pump_events(self, client: AuditClient, app: App[Any]) -> None:
        async with client.open_events() as events:
            while True:
                try:
                    batch = [await events.receive()]
                except trio.EndOfChannel:
                    return
                with trio.move_on_after(BATCH_DELAY):
                    with contextlib.suppress(trio.EndOfChannel):
                        while len(batch) < MAX_BATCH:
                            batch.append(await events.receive())
                self._delivered_events += len(batch)
                self._delivered_records += sum(len(event.records) for event in batch)
                if any(
                    record.type_name == "CONFIG_CHANGE"
                    for event in batch
                    for record in event.records
                ):
                    self._refresh.set()
                consumed = trio.Event()
                app.post_message(EventsArrived(tuple(batch), consumed.set))
                # Backpressure: one batch in Textual's queue at a time; a flood
                # waits in the client's bounded queues, where drops are counted.
                await consumed.wait()

    _delivered_events = 0
    _delivered_records = 0

    async def _poll_status(self, client: AuditClient, app: App[Any]) -> None:
        last_time = trio.current_time()
        last_events = last_records = 0
        last_lost: int | None = None
        while True:
            status = await client.get_status()
            now = trio.current_time()
            elapsed = max(now - last_time, 1e-6)
            lost_rate = 0.0 if last_lost is None else max(status.lost - last_lost, 0) / elapsed
            snapshot = StatusSnapshot(
                mode=client.mode,
                status=status,
                daemon_name=process_name(status.pid) if status.pid else None,
                daemon_is_us=status.pid == os.getpid(),
                client=client.statistics(),
                events_per_second=(self._delivered_events - last_events) / elapsed,
                records_per_second=(self._delivered_records - last_records) / elapsed,
                lost_per_second=lost_rate,
            )
            app.post_message(StatusUpdated(snapshot))
            last_time, last_lost = now, status.lost
            last_events, last_records = self._delivered_events, self._delivered_records
            with trio.move_on_after(STATUS_INTERVAL):
                await self._refresh.wait()
            self._refresh = trio.Event()

    async def _serve_commands(self, client: AuditClient, app: App[Any]) -> None:
        async for command in self._commands_receive:
            try:
                result = await _run_command(client, command)
            except Exception as exc:  # the kernel's refusal goes to a notification
                app.post_message(CommandFinished(command, error=str(exc)))
            else:
                app.post_message(CommandFinished(command, result=result))
            self._refresh.set()


def _is_denial(exc: BaseException) -> bool:
    """Whether *exc* (or any exception in its group) is the kernel refusing our privileges."""
    if isinstance(exc, BaseExceptionGroup):
        return exc.subgroup(PermissionError) is not None
    return isinstance(exc, PermissionError)  # AuditPermissionError is one


async def _run_command(client: AuditClient, command: Command) -> object:
    handlers: dict[str, Callable[[], Any]] = {
        "set_enabled": lambda: client.set_enabled(bool(command.value)),
        "set_rate_limit": lambda: client.set_rate_limit(int(command.value)),
        "set_backlog_limit": lambda: client.set_backlog_limit(int(command.value)),
        "list_rules": client.list_rules,
        "add_rule": lambda: client.add_rule(str(command.value)),
        "delete_rule": lambda: client.delete_rule(command.value),
    }
    handler = handlers.get(command.action)
    if handler is None:
        raise ValueError(f"unknown command {command.action!r}")
    return await handler()


class ReplaySource:
    """Events from an audit.log file, paced by their own timestamps.

    Args:
        path: The log (plain or ``.gz``).
        speed: 1.0 replays in real time, 10 ten times faster, 0 as fast as possible.
        loop_forever: Start again at the end (for demos).
    """

    can_control = False

    def __init__(self, path: str, *, speed: float = 1.0, loop_forever: bool = False) -> None:
        self.mode = "replay"
        self.path = path
        self.speed = speed
        self.loop_forever = loop_forever
        self._task: asyncio.Task[None] | None = None
        #: Set when the whole file has been delivered once (for tests).
        self.finished = asyncio.Event()
        self.unfinished = UnfinishedCleanup()  # a replay changes nothing

    def start(self, app: App[Any]) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(app))

    async def _post(self, app: App[Any], batch: list[AuditEvent]) -> None:
        """Post *batch* and wait until the app has handled it (backpressure)."""
        consumed = asyncio.Event()
        app.post_message(EventsArrived(tuple(batch), consumed.set))
        await consumed.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def command(self, command: Command) -> bool:
        return False

    def _events(self) -> Iterator[AuditEvent]:
        parser = LogParser()
        with open_log(self.path) as lines:
            for line in lines:
                yield from parser.feed_line(line)
        yield from parser.finish()

    async def _run(self, app: App[Any]) -> None:
        try:
            while True:
                await self._replay_once(app)
                self.finished.set()
                if not self.loop_forever:
                    return
        except OSError as exc:
            app.post_message(SourceFailed(f"cannot replay {self.path}: {exc}"))

    async def _replay_once(self, app: App[Any]) -> None:
        started = time.monotonic()
        first: float | None = None
        batch: list[AuditEvent] = []
        delivered_events = delivered_records = total = 0
        last_report = started
        for event in self._events():
            if first is None:
                first = event.timestamp
            if self.speed > 0:
                due = started + (event.timestamp - first) / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    if batch:
                        await self._post(app, batch)
                        batch = []
                    await asyncio.sleep(min(delay, 1.0))
            batch.append(event)
            if len(batch) % REPLAY_YIELD_EVERY == 0:
                await asyncio.sleep(0)
            delivered_events += 1
            total += 1
            delivered_records += len(event.records)
            if len(batch) >= MAX_BATCH:
                await self._post(app, batch)
                batch = []
            now = time.monotonic()
            if now - last_report >= STATUS_INTERVAL:
                app.post_message(
                    StatusUpdated(
                        StatusSnapshot(
                            mode="replay",
                            source=os.path.basename(self.path),
                            replayed=total,
                            events_per_second=delivered_events / (now - last_report),
                            records_per_second=delivered_records / (now - last_report),
                        )
                    )
                )
                delivered_events = delivered_records = 0
                last_report = now
        if batch:
            await self._post(app, batch)
        app.post_message(
            StatusUpdated(
                StatusSnapshot(
                    mode="replay",
                    source=os.path.basename(self.path),
                    replayed=total,
                    replay_done=True,
                )
            )
        )
