"""``trioaudit parse``: audit.log files (plain, ``.gz`` or stdin) to events.

Streams: one line in, events out as they complete; memory stays bounded by the
reassembler's open-event limit whatever the file size. Output formats and
``--filter`` are the same as ``trioaudit tail``'s.

Two things go to stderr besides errors: a progress line while a file is read,
when stderr is a terminal (:mod:`.progress`), and, for a file in which no line
was an audit record, one line saying so -- an empty output must not leave the
user guessing whether the file was empty, not a log, or filtered away. Neither
changes the exit code (docs/events.md, "Command line").
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

from .._context import ProcessEntry, ProcessTable
from .._errors import AuditUsageError
from .._output.filter import Predicate, compile_filter
from .._output.formats import FORMATS, events_text
from .._records.logread import LogParser, open_log
from .._records.model import AuditEvent
from .._records.reassembly import DEFAULT_MAX_OPEN, DEFAULT_TIMEOUT
from . import exitcodes
from .parallel import add_jobs_option, render_in_workers
from .progress import Progress, progress_for

__all__ = [
    "add_output_options",
    "check_output_options",
    "context_for",
    "register",
    "run_parse",
]

#: events_text's ancestry hook.
Ancestry = Callable[[AuditEvent], list[ProcessEntry]]


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--format``, ``--raw`` and ``--filter``: shared with ``trioaudit tail``."""
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="json",
        help="json: one event per line (default); records: one flat record per line; "
        "text: ausearch -i-like lines",
    )
    parser.add_argument(
        "--raw", action="store_true", help="no interpretation: decoded values as logged"
    )
    parser.add_argument(
        "--filter",
        metavar="EXPR",
        help="only events matching EXPR, e.g. 'type=SYSCALL key=mykey', "
        "'syscall=execve,openat success=no', 'uid=root', 'comm~ssh', "
        "'action=executed' (see docs/filter.md)",
    )
    parser.add_argument(
        "--normalize",
        action="store_true",
        help="add go-libaudit's normalised members to each JSON event: category, result, "
        "session, tags, summary (actor, action, object, how), user, process, file, "
        "source, destination, network, ecs (see docs/normalize.md)",
    )

    parser.add_argument(
        "--context",
        action="store_true",
        help="add each event's process ancestry (pid, ppid, exe, args, start; container "
        "and systemd unit where known) as its 'ancestry' member (see docs/context.md)",
    )


def check_output_options(args: argparse.Namespace) -> None:
    """Refuse the combinations of output options that mean nothing (a usage error)."""
    for option, given in (("--normalize", args.normalize), ("--context", args.context)):
        if given and args.format != "json":
            raise AuditUsageError(f"{option} adds to JSON events: use it with --format json")
        if given and args.jobs != 1:
            raise AuditUsageError(f"{option} runs in one process: leave out --jobs")


def context_for(args: argparse.Namespace, table: ProcessTable | None) -> Ancestry | None:
    """The ancestry hook of events_text for --context (None without it)."""
    return table.event_ancestry if args.context and table is not None else None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``parse`` subcommand."""
    parser = subparsers.add_parser(
        "parse",
        help="parse audit.log files into events",
        description="Parse audit.log files (plain or .gz; '-' for stdin) into events, "
        "interpreted like ausearch -i.",
    )
    parser.add_argument("files", nargs="*", default=["-"], metavar="FILE")
    add_output_options(parser)
    parser.add_argument("--count", type=int, metavar="N", help="stop after N events")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help="log-time seconds an event stays open (default %(default)s)",
    )
    parser.add_argument(
        "--max-open",
        type=int,
        default=DEFAULT_MAX_OPEN,
        metavar="N",
        help="most events open at once (default %(default)s)",
    )
    parser.add_argument(
        "--stats", action="store_true", help="print line/record/event counters to stderr"
    )
    add_jobs_option(
        parser, "same output, in order; with --count, --stats counts the lines read ahead too"
    )
    parser.set_defaults(func=run_parse)


def _display_name(path: str) -> str:
    return "stdin" if path == "-" else path


@contextmanager
def _reading(path: str, parser: LogParser, progress: Progress | None) -> Iterator[Iterable[bytes]]:
    """The lines of *path*, with its progress line drawn while they are read (if any)."""
    with open_log(path) as lines:
        if progress is None:
            yield lines
            return
        with progress.track(_display_name(path), lines, lambda: parser.records) as tracked:
            yield tracked


def _render_here(
    args: argparse.Namespace,
    predicate: Predicate | None,
    table: ProcessTable | None,
    stream: TextIO,
    progress: Progress | None,
) -> list[LogParser]:
    """Parse and render in this process; returns the parsers (for --stats)."""
    parsers: list[LogParser] = []
    emitted = 0
    ancestry = context_for(args, table)
    for path in args.files:
        parser = LogParser(timeout=args.timeout, max_open=args.max_open)
        parsers.append(parser)
        with _reading(path, parser, progress) as lines:
            # In batches of lines: one parse call and one render call per batch (the
            # core renders a whole batch of JSON lines at once), not per event.
            for events in _event_batches(parser, lines):
                if table is not None:
                    for event in events:  # every event teaches the tree, kept or not
                        table.observe(event)
                if predicate is not None:
                    events = [event for event in events if predicate(event)]
                if args.count is not None:
                    events = events[: args.count - emitted]
                stream.write(
                    events_text(
                        events,
                        args.format,
                        raw=args.raw,
                        normalize=args.normalize,
                        ancestry=ancestry,
                    )
                )
                emitted += len(events)
                if args.count is not None and emitted >= args.count:
                    return parsers
    return parsers


#: Lines read and parsed per batch by :func:`_render_here`.
LINES_PER_BATCH = 256


def _event_batches(parser: LogParser, lines: Iterable[bytes]) -> Iterator[list[AuditEvent]]:
    """The events of each batch of lines, then those the end of input completes."""
    batches = iter(lambda: list(itertools.islice(lines, LINES_PER_BATCH)), [])
    yield from map(parser.feed_lines, batches)
    yield parser.finish()


def no_records_note(path: str, lines: int) -> str:
    """What ``parse`` says about a file none of whose lines is an audit record."""
    if lines == 0:
        return f"trioaudit: {_display_name(path)}: empty, no audit records"
    plural = "line" if lines == 1 else "lines"
    return f"trioaudit: {_display_name(path)}: no audit records in {lines:,} {plural}"


def run_parse(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``trioaudit parse``; returns the exit code."""
    stream = out if out is not None else sys.stdout
    check_output_options(args)
    # --context: the log's own exec and syscall events are the process tree (no /proc:
    # the processes of a log are not this machine's now).
    table = ProcessTable() if args.context else None
    ancestry = table.event_ancestry if table is not None else None
    predicate = compile_filter(args.filter, ancestry=ancestry) if args.filter else None
    progress = progress_for(sys.stderr, stream)
    if args.jobs > 1:
        # This process groups lines into events (header checks only); workers
        # parse, filter and render them (see cli/parallel.py).
        parsers = render_in_workers(
            args.files,
            args.jobs,
            make_parser=lambda: LogParser(
                timeout=args.timeout, max_open=args.max_open, fields=False
            ),
            filter_text=args.filter,
            fmt=args.format,
            raw=args.raw,
            count=args.count,
            out=stream,
            open_lines=lambda path, parser: _reading(path, parser, progress),
        )
    else:
        parsers = _render_here(args, predicate, table, stream, progress)
    stream.flush()
    for path, parser in zip(args.files, parsers, strict=False):
        if parser.records == 0:
            print(no_records_note(path, parser.lines), file=sys.stderr)
    if args.stats:
        for path, parser in zip(args.files, parsers, strict=False):
            stats = parser.reassembler.statistics()
            print(
                f"trioaudit: {path}: {parser.lines} lines, {parser.records} records, "
                f"{parser.bad_lines} not records, {stats.completed} events "
                f"({stats.evicted} evicted, {stats.late} late records, "
                f"{stats.repeated} repeated events split, "
                f"{stats.gaps} serial gaps, {stats.resets} resets)",
                file=sys.stderr,
            )
    return exitcodes.OK
