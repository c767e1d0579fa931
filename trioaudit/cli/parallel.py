"""``trioaudit parse --jobs N`` / ``tail --jobs N``: parse and render on several CPUs.

Why and how
===========

Parsing fields, interpreting them and rendering JSON costs ~15 us per record
in CPython; grouping records into events costs ~3. So this process only reads
lines, checks each one's header (every check a full parse makes, so bad lines
are counted exactly as without ``--jobs``) and groups them with the same
:class:`~trioaudit._records.reassembly.Reassembler`; complete events go as lists of
lines, in batches, to worker processes that parse, filter and render them.
Results are written in submission order, so the output is byte for byte what
one process writes (``tests/unit/test_parse_jobs.py``).

Memory stays bounded: at most ``2 x jobs`` batches are in flight; the reader
waits for the oldest before submitting more.

``tail --jobs`` does the same with live records: the trio process reads the
socket and groups records (``client.open_events(parse_fields=False)``), workers
parse and render (:func:`render_kernel_batch`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager
from typing import TextIO

from .._output.filter import Predicate, compile_filter
from .._output.formats import OutputFormat, render_event
from .._records.logread import LogParser, open_log
from .._records.model import AuditEvent
from .._records.parse import parse_kernel_record, parse_log_line

__all__ = [
    "EVENTS_PER_BATCH",
    "add_jobs_option",
    "open_pool",
    "render_in_workers",
    "render_kernel_batch",
    "ship_kernel_events",
]

#: Events per task: large enough that pickling and scheduling are noise.
EVENTS_PER_BATCH = 512

#: One event on its way to a worker: sequence, timestamp, node, its lines, ended by EOE.
_Shipped = tuple[int, float, str | None, list[str], bool]

_worker: tuple[Predicate | None, OutputFormat, bool] | None = None


def _init_worker(filter_text: str | None, fmt: OutputFormat, raw: bool) -> None:
    global _worker
    # Ctrl-C is for the main process: it stops the pool; a worker's own
    # KeyboardInterrupt traceback would only clutter the terminal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker = (compile_filter(filter_text) if filter_text else None, fmt, raw)


def open_pool(
    jobs: int, filter_text: str | None, fmt: OutputFormat, raw: bool, *, method: str = "fork"
) -> ProcessPoolExecutor:
    """A pool of *jobs* workers set up to filter and render like this process.

    ``method="spawn"`` for processes that already run threads (trio's thread
    cache): forking those can copy a lock held by another thread.
    """
    return ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context(method),
        initializer=_init_worker,
        initargs=(filter_text, fmt, raw),
    )


#: One live event on its way to a worker: sequence, timestamp, (type, text) per record,
#: ended by EOE.
_ShippedKernel = tuple[int, float, list[tuple[int, str]], bool]


def ship_kernel_events(events: Iterable[AuditEvent]) -> list[_ShippedKernel]:
    """What a worker needs of header-only live events (records' type and text)."""
    return [(e.sequence, e.timestamp, [(r.type, r.raw) for r in e.records], e.eoe) for e in events]


def render_kernel_batch(batch: list[_ShippedKernel]) -> list[str]:
    """In a worker: parse each live event's records, filter, render."""
    return _render(
        AuditEvent(
            sequence=sequence,
            timestamp=timestamp,
            node=None,
            records=tuple(parse_kernel_record(kind, text) for kind, text in records),
            eoe=eoe,
        )
        for sequence, timestamp, records, eoe in batch
    )


def add_jobs_option(parser: argparse.ArgumentParser, note: str) -> None:
    """``--jobs N`` (0: one per CPU), shared by ``parse`` and ``tail``; *note* ends the help."""
    parser.add_argument(
        "--jobs",
        type=_worker_count,
        default=1,
        metavar="N",
        help=f"parse and render in N worker processes (0: one per CPU); {note}; "
        "pays off on the pure-Python path only: on the compiled core one process is "
        "faster, because shipping events to workers costs more than rendering them "
        "(default %(default)s)",
    )


def _worker_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return count if count > 0 else (os.cpu_count() or 1)


def _render(events: Iterable[AuditEvent]) -> list[str]:
    """In a worker: filter and render fully parsed events as this worker was set up to."""
    assert _worker is not None
    predicate, fmt, raw = _worker
    return [render_event(e, fmt, raw=raw) for e in events if predicate is None or predicate(e)]


def _render_batch(batch: list[_Shipped]) -> list[str]:
    """In a worker: parse each event's log lines, filter, render."""
    return _render(
        AuditEvent(
            sequence=sequence,
            timestamp=timestamp,
            node=node,
            records=tuple(parse_log_line(line) for line in lines),
            eoe=eoe,
        )
        for sequence, timestamp, node, lines, eoe in batch
    )


def _batches(events: Iterable[AuditEvent]) -> Iterator[list[_Shipped]]:
    batch: list[_Shipped] = []
    for event in events:
        lines = [r.raw for r in event.records]
        batch.append((event.sequence, event.timestamp, event.node, lines, event.eoe))
        if len(batch) >= EVENTS_PER_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def render_in_workers(
    files: list[str],
    jobs: int,
    *,
    make_parser: Callable[[], LogParser],
    filter_text: str | None,
    fmt: OutputFormat,
    raw: bool,
    count: int | None,
    out: TextIO,
    open_lines: Callable[[str, LogParser], AbstractContextManager[Iterable[bytes]]] = (
        lambda path, parser: open_log(path)
    ),
) -> list[LogParser]:
    """Parse *files* with *jobs* worker processes, writing events to *out* in order.

    *open_lines* opens one file for its parser (``parse`` wraps it to show progress).
    Returns the (header-only) parsers, whose counters match a serial run's.
    """
    parsers: list[LogParser] = []
    emitted = 0
    with open_pool(jobs, filter_text, fmt, raw) as pool:
        window: deque[Future[list[str]]] = deque()

        def write_oldest() -> bool:
            """Write the oldest batch's events; False once --count is reached."""
            nonlocal emitted
            rendered = window.popleft().result()
            if count is not None:
                rendered = rendered[: count - emitted]
            if rendered:
                out.write("\n".join(rendered) + "\n")
                emitted += len(rendered)
            return count is None or emitted < count

        going = True
        for path in files:
            parser = make_parser()
            parsers.append(parser)
            with open_lines(path, parser) as lines:
                for batch in _batches(parser.parse(lines)):
                    window.append(pool.submit(_render_batch, batch))
                    if len(window) >= 2 * jobs and not write_oldest():
                        going = False
                        break
            if not going:
                break
        while going and window:
            going = write_oldest()
        for future in window:
            future.cancel()
    out.flush()
    return parsers
