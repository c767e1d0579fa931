"""``trioaudit tail``: stream live audit events (JSON lines by default).

Records are parsed, interpreted (like ``ausearch -i``) and reassembled into
events by ``client.open_events()``; ``--format``, ``--raw`` and ``--filter`` are
shared with ``trioaudit parse`` (see docs/events.md and docs/filter.md).

The reader task never waits for stdout: records queue in the client's bounded
channel, and this command writes them in batches (what is queued, at most
EVENTS_PER_TURN, then one flush from a worker thread), so a slow terminal or a
flood costs counted drops in our queue, not kernel-side loss: every stage yields
often enough for the reader to keep the socket drained.

SIGINT, SIGTERM and SIGHUP all stop it the same way (see
:mod:`trioaudit._trio.signals`): the pid is unregistered, ``--enable`` is
undone, and the exit code is 128 + the signal. Once listening, one line on
stderr says how (unicast or beside which daemon) and how many rules are
loaded, with a hint when there are none: a newcomer's first run with no rules
would otherwise print nothing and look hung (``--quiet`` moves the line to
``-v``).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import logging
import math
import os
import re
import stat
import sys
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, TextIO

import trio

from .._context import ProcessTable, procfs
from .._output.filter import Predicate, compile_filter
from .._output.formats import events_text
from .._records.model import KernelRecord
from .._tables.msgtypes import AuditMessageType
from .._trio.client import (
    LOG_WAKEUP_DELAY,
    AuditClient,
    ClientMode,
    open_audit_client,
    process_name,
)
from .._trio.signals import UnfinishedCleanup, registration_left, run_until_signalled
from .._trio.streams import EventStream
from . import parallel
from .parse import add_output_options, check_output_options, context_for

log = logging.getLogger("trioaudit")

#: Most events rendered per write. Trio gives each runnable task one step per round,
#: and the reader queues up to a whole batch of datagrams' events per step (2048
#: datagrams, some 700 events); a writer taking fewer per step falls behind under a
#: flood however fast it renders (at 128, unpaced: 19k records/s delivered, the rest
#: dropped in our queue; at 2048: 162k/s). Between two steps the reader still runs.
EVENTS_PER_TURN = 2048

#: Seconds ``--jobs`` waits for its worker processes to stop on the way out.
POOL_SHUTDOWN_TIMEOUT = 5.0

#: The rule the start-up line suggests when none is loaded: every program started.
EXAMPLE_RULE = "-a always,exit -F arch=b64 -S execve -k exec"

_HEADER = re.compile(r"audit\((\d+)\.(\d+):(\d+)\)")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``tail`` subcommand."""
    parser = subparsers.add_parser(
        "tail",
        help="stream live audit events as JSON lines",
        description="Stream live audit events on stdout (one JSON event per line by default, "
        "interpreted like ausearch -i). Unicast (we become the audit daemon) when none runs, "
        "else multicast beside it.",
    )
    add_source_options(parser)
    add_output_options(parser)
    parallel.add_jobs_option(parser, "this process then only reads and groups records")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no start-up line on stderr (what we listen to, how many rules are loaded); "
        "-v still shows it",
    )
    parser.set_defaults(func=run_tail)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that reads live records."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--unicast",
        dest="mode",
        action="store_const",
        const="unicast",
        help="register as the audit daemon (fails if another one runs)",
    )
    mode.add_argument(
        "--multicast",
        dest="mode",
        action="store_const",
        const="multicast",
        help="listen beside the audit daemon (read-only copy, best effort)",
    )
    parser.set_defaults(mode="auto")
    parser.add_argument("--count", type=int, metavar="N", help="stop after N items")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument(
        "--enable",
        action="store_true",
        help="enable auditing while running and restore the previous setting on exit",
    )
    parser.add_argument(
        "--queue-size",
        type=int,
        default=65536,
        metavar="N",
        help="records buffered before drops are counted (default: %(default)s)",
    )


def record_header(text: str) -> tuple[str | None, int | None]:
    """Return (ISO-8601 UTC timestamp, serial) from ``audit(sec.ms:serial)``, or Nones."""
    match = _HEADER.match(text)
    if match is None:
        return None, None
    seconds, millis, serial = match.groups()
    stamp = datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{millis[:3]:0<3}Z", int(serial)


def record_json(record: KernelRecord) -> str:
    """One raw record as a JSON line (no parsing beyond the header)."""
    timestamp, serial = record_header(record.text)
    data: dict[str, Any] = {
        "type": record.type_name,
        "type_number": record.type,
        "sequence": serial,
        "timestamp": timestamp,
        "text": record.text,
    }
    return json.dumps(data, ensure_ascii=False).encode("utf-8", "backslashreplace").decode()


async def open_tail_client(args: argparse.Namespace) -> Any:
    """Open the client the way the source options ask (kept for reuse by other commands)."""
    mode: ClientMode = args.mode
    return open_audit_client(mode, queue_size=args.queue_size, wakeup_delay=LOG_WAKEUP_DELAY)


class _EnableWhileRunning:
    """Turn auditing on for the command's lifetime when ``--enable`` was given."""

    def __init__(self, client: AuditClient, wanted: bool, unfinished: UnfinishedCleanup) -> None:
        self.client = client
        self.wanted = wanted
        #: The setting to put back, while it is not back yet.
        self.previous: int | None = None
        unfinished.add(self.left_enabled)

    def left_enabled(self) -> str | None:
        """What a forced exit now would leave changed (None: nothing)."""
        if self.previous is None:
            return None
        return f"audit left enabled=1 (it was {self.previous} before --enable)"

    async def __aenter__(self) -> None:
        status = await self.client.get_status()
        if self.wanted and status.enabled == 0:
            self.previous = status.enabled
            # Shielded: cancelled while in flight, the kernel may have applied it
            # and __aexit__ would not run to undo it. Finished, it is undone there.
            with trio.CancelScope(shield=True):
                await self.client.set_enabled(True)
        elif status.enabled == 0:
            log.warning("auditing is disabled (enabled=0): no events will arrive; use --enable")

    async def __aexit__(self, *exc: object) -> None:
        if self.previous is not None:
            with trio.CancelScope(shield=True):
                await self.client.set_enabled(bool(self.previous))
            self.previous = None


def listening_line(
    mode: str, *, pid: int, daemon_pid: int, daemon_name: str | None, rules: int
) -> str:
    """The start-up line: how we listen, and how many rules can produce events.

    Args:
        mode: The client's resolved mode, ``"unicast"`` or ``"multicast"``.
        pid: Our pid (the audit daemon's, in unicast).
        daemon_pid: The registered audit daemon's pid (0: none).
        daemon_name: Its process name, if known.
        rules: How many rules the kernel holds.
    """
    if mode == "unicast":
        source = f"listening as the audit daemon (unicast, pid {pid})"
    elif daemon_pid:
        daemon = f"pid {daemon_pid}, {daemon_name}" if daemon_name else f"pid {daemon_pid}"
        source = f"listening on multicast beside the audit daemon ({daemon})"
    else:
        source = "listening on multicast (no audit daemon registered)"
    if rules == 0:
        loaded = (
            "no rules loaded, so only records that need none (config changes, logins) will "
            f"arrive; add one with: trioaudit rules add '{EXAMPLE_RULE}'"
        )
    else:
        loaded = f"{rules} rule{'s' if rules != 1 else ''} loaded"
    return f"{source}; {loaded}"


async def _announce(client: AuditClient, quiet: bool) -> None:
    """Say on stderr what we listen to (at ``-v`` level with ``--quiet``)."""
    status = await client.get_status()
    # Counted, not decoded: a rule this version cannot render must not stop tail.
    rules = await client.request_dump(AuditMessageType.LIST_RULES, operation="count rules")
    line = listening_line(
        client.mode,
        pid=os.getpid(),
        daemon_pid=status.pid,
        daemon_name=process_name(status.pid) if status.pid else None,
        rules=len(rules),
    )
    if quiet:
        log.info("%s", line)
    else:
        print(f"trioaudit: {line}", file=sys.stderr, flush=True)


async def _tail(
    args: argparse.Namespace,
    out: TextIO,
    predicate: Predicate | None,
    table: ProcessTable | None,
    unfinished: UnfinishedCleanup,
) -> None:
    remaining = args.count if args.count is not None else math.inf
    with trio.move_on_after(args.duration if args.duration is not None else math.inf):
        async with await open_tail_client(args) as client:
            unfinished.add(functools.partial(registration_left, client))
            async with (
                _EnableWhileRunning(client, args.enable, unfinished),
                client.open_events(parse_fields=args.jobs == 1) as events,
            ):
                await _announce(client, args.quiet)
                await _stream(args, out, predicate, table, client, events, remaining)


async def _stream(
    args: argparse.Namespace,
    out: TextIO,
    predicate: Predicate | None,
    table: ProcessTable | None,
    client: AuditClient,
    events: EventStream,
    remaining: float,
) -> None:
    """Write events until *remaining* are written, then report losses (also when cancelled)."""
    jobs: int = args.jobs
    inline = _never_blocks(out)
    ancestry = context_for(args, table)
    try:
        if jobs > 1:
            await _render_in_workers(args, out, events, jobs, remaining)
            return
        while remaining > 0:
            batch = await events.receive_batch(EVENTS_PER_TURN)
            if table is not None:
                for event in batch:  # every event teaches the tree, kept or not
                    table.observe(event)
            if predicate is not None:
                batch = [event for event in batch if predicate(event)]
            if len(batch) > remaining:
                batch = batch[: int(remaining)]
            if not batch:
                continue
            text = events_text(
                batch, args.format, raw=args.raw, normalize=args.normalize, ancestry=ancestry
            )
            if inline:
                # No checkpoint here: the socket reader (same thread) must get its turn
                # after each batch, or under a flood the kernel's backlog fills -- and it
                # does, because receive_batch starts with the memory channel's receive(),
                # which yields even when events are queued (and the batch leaves
                # nothing in the local buffer). One scheduler round per batch fewer.
                _write(out, text)
            else:
                # A stalled stdout (a pipe nobody reads) must stall only this
                # loop, never the reader task: write from a worker thread.
                await trio.to_thread.run_sync(_write, out, text, abandon_on_cancel=True)
            remaining -= len(batch)
    finally:
        # Also on --duration and Ctrl-C: losses are never silent.
        stats = client.statistics()
        if stats.records_dropped or stats.overflows:
            log.warning(
                "%d records dropped (consumer too slow), %d socket overflows",
                stats.records_dropped,
                stats.overflows,
            )
        reassembly = events.statistics().reassembly
        if reassembly.evicted or reassembly.lost_estimate:
            log.info(
                "%d events completed early (open-event bound), "
                "%d serials never seen (gaps: a hint, see docs/events.md)",
                reassembly.evicted,
                reassembly.lost_estimate,
            )


async def _render_in_workers(
    args: argparse.Namespace,
    out: TextIO,
    events: EventStream,
    jobs: int,
    remaining: float,
) -> None:
    """``--jobs``: this process reads and groups; worker processes parse and render.

    Batches go to the pool as they are taken off the event channel; a writer
    task writes their results in submission order. At most ``2 x jobs`` batches
    are in flight: beyond that this task waits, the event and record queues
    fill, and drops are counted there -- the socket reader still never waits.
    """
    pool = parallel.open_pool(jobs, args.filter, args.format, args.raw, method="spawn")
    send, receive = trio.open_memory_channel[Future[list[str]]](2 * jobs)

    async def write_in_order(cancel: trio.CancelScope) -> None:
        nonlocal remaining
        async with receive:
            async for future in receive:
                rendered = await trio.to_thread.run_sync(future.result, abandon_on_cancel=True)
                if len(rendered) > remaining:
                    rendered = rendered[: int(remaining)]
                if rendered:
                    text = "\n".join(rendered) + "\n"
                    await trio.to_thread.run_sync(_write, out, text, abandon_on_cancel=True)
                    remaining -= len(rendered)
                if remaining <= 0:
                    cancel.cancel()
                    return

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(write_in_order, nursery.cancel_scope)
            async with send:
                while True:
                    batch = await events.receive_batch(parallel.EVENTS_PER_BATCH)
                    shipped = parallel.ship_kernel_events(batch)
                    await send.send(pool.submit(parallel.render_kernel_batch, shipped))
    finally:
        # Wait (shielded, bounded) for the pool's manager thread to finish: left running,
        # it closes its wake-up pipe while CPython 3.11's exit hook writes to it -- a race
        # that ends the process with "OSError: [Errno 9] Bad file descriptor" on stderr.
        with trio.move_on_after(POOL_SHUTDOWN_TIMEOUT) as scope:
            scope.shield = True
            await trio.to_thread.run_sync(
                functools.partial(pool.shutdown, wait=True, cancel_futures=True),
                abandon_on_cancel=True,
            )
        if scope.cancelled_caught:
            log.warning("worker processes did not stop within %ss", POOL_SHUTDOWN_TIMEOUT)


#: Character devices a write to never waits for: /dev/null and /dev/zero.
_SINKS = frozenset({(1, 3), (1, 5)})


def _never_blocks(out: TextIO) -> bool:
    """Whether a write to *out* cannot stall the trio thread: a regular file or a sink
    like ``/dev/null``, not a pipe, socket or terminal (a reader that stops reading, or
    Ctrl-S). Those are written inline; the others from a worker thread, whose hand-off
    per batch is the largest fixed cost of ``tail`` at low event rates."""
    try:
        info = os.fstat(out.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    if stat.S_ISREG(info.st_mode):
        return True
    return stat.S_ISCHR(info.st_mode) and (os.major(info.st_rdev), os.minor(info.st_rdev)) in _SINKS


def _live_process_table() -> ProcessTable:
    """--context live: the processes running now (from /proc), and each process first
    seen in the stream classified by its cgroup while it still runs."""
    table = ProcessTable(cgroup_of=procfs.read_cgroup)
    table.seed(procfs.snapshot())
    return table


def _write(out: TextIO, text: str) -> None:
    out.write(text)
    out.flush()


def run_tail(args: argparse.Namespace) -> int:
    """Run ``tail`` until --count, --duration, or SIGINT/SIGTERM/SIGHUP (``StoppedBySignal``)."""
    # Check first: a bad filter or option is a usage error before any kernel traffic.
    check_output_options(args)
    table = _live_process_table() if args.context else None
    ancestry = table.event_ancestry if table is not None else None
    predicate = compile_filter(args.filter, ancestry=ancestry) if args.filter else None
    run_until_signalled(functools.partial(_tail, args, sys.stdout, predicate, table))
    return 0
