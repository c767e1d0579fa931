"""``parse --jobs N`` writes exactly what one process writes; ``tail --jobs`` workers too.

The parallel path groups lines into events in the main process (header checks
only) and parses/renders in workers; any difference in grouping, order, bad
line counting, filtering or ``--count`` would show here. The corpus mixes the
committed logs, the synthetic every-class corpus (thousands of events, so many
batches), interleaved events, lines that are not records and a node= prefix.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.synthetic import corpus_line_sets
from trioaudit._output.filter import compile_filter
from trioaudit._output.formats import OutputFormat, render_event
from trioaudit._records import parse as _records
from trioaudit._records.model import AuditEvent
from trioaudit._records.reassembly import Reassembler
from trioaudit.cli import parallel
from trioaudit.cli.parallel import EVENTS_PER_BATCH

DATA = Path(__file__).parents[1] / "data"
CLI = [sys.executable, "-m", "trioaudit.cli.main", "parse"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = [line for lines in corpus_line_sets() for line in lines]
    lines += [
        "not an audit record",
        "",
        "type=SYSCALL msg=audit(99999999999999.000:1): arch=c000003e",  # stamp out of range
        # Two events interleaved, one with a node= prefix.
        "type=SYSCALL msg=audit(1700000000.000:900001): arch=c000003e syscall=59 success=yes",
        "node=web1 type=SYSCALL msg=audit(1700000000.000:900002): arch=c000003e syscall=2",
        "type=PROCTITLE msg=audit(1700000000.000:900001): proctitle=6C73",
        "type=EOE msg=audit(1700000000.000:900001): ",
        "node=web1 type=EOE msg=audit(1700000000.000:900002): ",
        "type=UNKNOWN[1999] msg=audit(1700000001.000:900003): x=1",
    ]
    path = tmp_path_factory.mktemp("jobs") / "audit.log"
    path.write_text("\n".join(lines) + "\n", "utf-8", "surrogateescape")
    return path


def parse(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CLI, *args], capture_output=True, timeout=300, check=False)


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--raw"],
        ["--format", "records"],
        ["--format", "text"],
        ["--filter", "type=SYSCALL success=no"],
        ["--count", "7"],
        ["--count", str(EVENTS_PER_BATCH * 3 + 5)],
    ],
    ids=["json", "raw", "records", "text", "filter", "count-small", "count-batches"],
)
def test_jobs_output_equals_one_process(corpus: Path, options: list[str]) -> None:
    serial = parse(*options, "--stats", str(corpus))
    parallel = parse(*options, "--stats", "--jobs", "3", str(corpus))
    assert serial.returncode == parallel.returncode == 0, parallel.stderr
    assert serial.stdout.count(b"\n") > 5
    assert parallel.stdout == serial.stdout
    if "--count" not in options:  # with --count, workers have read ahead: counters differ
        assert parallel.stderr == serial.stderr  # the same line/record/event counters


def test_many_files_and_stdin(corpus: Path) -> None:
    serial = parse(str(corpus), str(DATA / "tui_replay.log"))
    parallel = parse("--jobs", "2", str(corpus), str(DATA / "tui_replay.log"))
    assert parallel.stdout == serial.stdout
    with corpus.open("rb") as stdin:
        piped = subprocess.run(
            [*CLI, "--jobs", "0", "-"], stdin=stdin, capture_output=True, timeout=300, check=False
        )
    assert piped.returncode == 0 and piped.stdout == parse(str(corpus)).stdout


def test_negative_jobs_is_a_usage_error(corpus: Path) -> None:
    done = parse("--jobs", "-1", str(corpus))
    assert done.returncode == 2 and b"--jobs" in done.stderr


def kernel_payloads() -> list[tuple[int, str]]:
    """The corpora as the kernel sends them: (type, "audit(...): body")."""
    found: list[tuple[int, str]] = []
    for line in (line for lines in corpus_line_sets() for line in lines):
        try:
            record = _records.parse_log_line(line)
        except _records.RecordParseError:
            continue
        found.append((record.type, line[line.index("audit(") :].split("\x1d")[0]))
    return found


@pytest.mark.parametrize(
    ("fmt", "raw", "filter_text"),
    [("json", False, None), ("json", True, None), ("text", False, None),
     ("records", False, "success=no")],
)  # fmt: skip
def test_tail_workers_render_like_the_serial_pipeline(
    fmt: OutputFormat, raw: bool, filter_text: str | None
) -> None:
    payloads = kernel_payloads()
    assert len(payloads) > 5000
    predicate = compile_filter(filter_text) if filter_text else None

    def grouped(fields: bool) -> list[AuditEvent]:
        reassembler = Reassembler()
        events: list[AuditEvent] = []
        for kind, text in payloads:
            record = _records.parse_kernel_record(kind, text, fields=fields)
            events += reassembler.feed(record, record.timestamp)
        return events + reassembler.flush_all()

    expected = [
        render_event(e, fmt, raw=raw) for e in grouped(True) if predicate is None or predicate(e)
    ]
    parallel._init_worker(filter_text, fmt, raw)  # what each worker process runs first
    try:
        rendered: list[str] = []
        headers_only = grouped(False)
        assert all(r.items == () for e in headers_only for r in e.records)
        for start in range(0, len(headers_only), 300):
            batch = parallel.ship_kernel_events(headers_only[start : start + 300])
            rendered += parallel.render_kernel_batch(batch)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert rendered == expected
