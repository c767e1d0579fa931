"""TUI under flood: the dashboard fed a long replay; its memory and latency over time.

Theory of operation
-------------------
The goal is "TUI memory flat": whatever the length of a flood, the app's
memory must be bounded by its ring of events, not by how many went by. The
live kernel cannot produce a reproducible million-event flood without changing
its audit settings, so this benchmark uses the app's *replay* source: no root,
no kernel, nothing shared with other work on the machine.

1. A log of at least N events is built by replicating captured records with
   shifted serials (:func:`benchmarks.parse.build_corpus`), from the seed the
   parse benchmark captured from this kernel when it exists, else from the
   committed ``tests/data/tui_replay.log``. Whole seed copies only, so every
   event is complete.
2. A *child* process (``python -m benchmarks.tui LOG RING``: a fresh
   interpreter, none of this process's memory) runs the real app headless under
   ``App.run_test()`` with ``--replay LOG --speed 0`` and the default ring.
   Headless Textual still lays out and renders every refreshed line
   (``render_line``); it only skips writing to a terminal.
3. The parent samples the child's ``VmRSS`` from ``/proc/PID/status`` every
   interval, with the number of events the feed has taken so far (the child
   prints it every 100 ms from a 10 ms timer on the UI loop).
4. The child measures, on its own loop: the lag of that 10 ms timer (how late
   the UI gets to run: key presses and repaints wait as long); for every batch,
   the time from posting it to the app having handled it, and to the feed's
   next rendered line (batch to frame). At the end: events fed, ring and view
   sizes, ``AuditEvent`` objects still alive after ``gc.collect()``.

Dropped from display = events the ring evicted (fed - kept). Lost = events
parsed from the log that never reached the feed; a replay applies
backpressure (one batch in flight), so this must be 0, and is checked.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
FALLBACK_SEED = REPO / "tests" / "data" / "tui_replay.log"
#: Terminal size of the headless app (the same as the TUI tests).
SIZE = (140, 40)
#: Period of the timer whose lateness is the loop lag (seconds).
TICK = 0.01
#: Seconds between the child's progress lines.
PROGRESS_INTERVAL = 0.1
#: Longest the child may take (seconds).
CHILD_TIMEOUT = 1800.0
HEADER = re.compile(rb"msg=audit\((\d+\.\d+):(\d+)\)")


@dataclass(frozen=True, slots=True)
class TuiSettings:
    """One run: at least ``events`` events into a ``ring``-event feed."""

    events: int
    ring: int
    sample_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class Sample:
    """The child's resident memory at one moment, with the events fed so far."""

    seconds: float
    events: int
    rss_kib: int


@dataclass(slots=True)
class TuiResult:
    """What one run measured (see the module docstring)."""

    settings: TuiSettings
    seed: str = ""
    log_events: int = 0
    log_records: int = 0
    log_bytes: int = 0
    parsed: int = 0
    fed: int = 0
    records: int = 0
    ring: int = 0
    shown: int = 0
    alive: int = 0
    seconds: float = 0.0
    peak_rss_kib: int = 0
    start_rss_kib: int = 0
    samples: list[Sample] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    handled: list[float] = field(default_factory=list)
    framed: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def rate(self) -> float:
        return self.fed / self.seconds if self.seconds > 0 else 0.0

    @property
    def record_rate(self) -> float:
        """Records/s, counting the log's records in proportion to the events fed."""
        if not self.log_events or self.seconds <= 0:
            return 0.0
        return self.log_records * self.fed / self.log_events / self.seconds

    @property
    def dropped_from_display(self) -> int:
        return self.fed - self.ring

    @property
    def lost(self) -> int:
        return self.log_events - self.fed

    @property
    def warm(self) -> list[Sample]:
        """Samples once the ring is full (memory is expected to stop growing there)."""
        return [s for s in self.samples if s.events >= self.settings.ring * 2]

    @property
    def growth_after_warmup_kib(self) -> int:
        """Highest RSS after warm-up minus RSS at the first warm sample."""
        warm = self.warm
        return max(s.rss_kib for s in warm) - warm[0].rss_kib if warm else 0


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nearest rank; 0 if empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(math.ceil(fraction * len(ordered)) - 1, 0))]


def seed_log() -> Path:
    """The parse benchmark's captured seed when present, else the committed replay log."""
    from . import parse  # not in the measured child: it imports the drain harness

    captured = parse.CACHE_DIR / parse.SEED_NAME
    if captured.exists() and os.access(captured, os.R_OK):
        return captured
    return FALLBACK_SEED


def build_log(seed: Path, target_events: int, out: Path) -> tuple[int, int]:
    """Write whole copies of ``seed`` to ``out`` until it has ``target_events``.

    Returns (events, records). Events are counted as distinct record stamps.
    """
    from . import parse

    stamps = {m.groups() for m in map(HEADER.search, seed.read_bytes().splitlines()) if m}
    records_per_copy = sum(1 for line in seed.read_bytes().splitlines() if HEADER.search(line))
    copies = math.ceil(target_events / len(stamps))
    records = parse.build_corpus(seed, copies * records_per_copy, out)
    return copies * len(stamps), records


# ---- the child: the app itself ---------------------------------------------------------
def child_main(argv: list[str]) -> int:
    """Entry point of the measured process: ``python -m benchmarks.tui LOG RING``.

    Prints ``fed N`` lines while it runs (the parent pairs them with RSS samples)
    and one JSON object at the end.
    """
    log, ring = argv[0], int(argv[1])
    print(json.dumps(asyncio.run(_drive(log, ring))), flush=True)
    return 0


async def _drive(log: str, ring: int) -> dict[str, Any]:
    from trioaudit._records.model import AuditEvent
    from trioaudit.tui.app import AuditApp
    from trioaudit.tui.bridge import ReplaySource
    from trioaudit.tui.messages import EventsArrived
    from trioaudit.tui.widgets.event_feed import EventFeed

    posted_events = [0]
    handled: list[float] = []
    framed: list[float] = []
    unpainted: list[float] = []

    class TimedReplay(ReplaySource):
        """The app's replay source, timing each batch from post to handled."""

        async def _post(self, app: Any, batch: list[AuditEvent]) -> None:
            posted = time.perf_counter()
            posted_events[0] += len(batch)
            consumed = asyncio.Event()

            def done() -> None:
                handled.append(time.perf_counter() - posted)
                unpainted.append(posted)
                consumed.set()

            app.post_message(EventsArrived(tuple(batch), done))
            await consumed.wait()

    source = TimedReplay(log, speed=0)
    app = AuditApp(source, ring_size=ring, show_clock=False)
    lags: list[float] = []
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(EventFeed)
        render_line = feed.render_line

        def timed_render_line(y: int) -> Any:
            if unpainted:
                now = time.perf_counter()
                framed.extend(now - posted for posted in unpainted)
                unpainted.clear()
            return render_line(y)

        feed.render_line = timed_render_line  # type: ignore[method-assign]

        async def watch() -> None:
            reported = 0.0
            while True:
                ticked = time.perf_counter()
                await asyncio.sleep(TICK)
                now = time.perf_counter()
                lags.append(now - ticked - TICK)
                if now - reported >= PROGRESS_INTERVAL:
                    print(f"fed {feed.total}", flush=True)
                    reported = now

        watcher = asyncio.get_running_loop().create_task(watch())
        await source.finished.wait()
        await pilot.pause(0.2)
        seconds = time.perf_counter() - started
        watcher.cancel()
        gc.collect()
        alive = sum(isinstance(o, AuditEvent) for o in gc.get_objects())
        result = {
            "rss_kib": _status_kib(os.getpid(), "VmRSS"),
            "hwm_kib": _status_kib(os.getpid(), "VmHWM"),
            "parsed": posted_events[0],
            "fed": feed.total,
            "records": sum(len(e.records) for e in feed.ring),
            "ring": len(feed.ring),
            "shown": len(feed.shown),
            "alive": alive,
            "seconds": seconds,
            "lags": lags,
            "handled": handled,
            "framed": framed,
        }
    return result


# ---- the parent: sampling ----------------------------------------------------------------
def _status_kib(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class _ChildOutput:
    """Reads the child's stdout on a thread: the latest ``fed`` count and the final JSON."""

    def __init__(self, stream: IO[str]) -> None:
        self.fed = 0
        self.answer: dict[str, Any] | None = None
        #: When the answer arrived (``time.monotonic()``).
        self.answered = 0.0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            if line.startswith("fed "):
                self.fed = int(line.split()[1])
            elif line.startswith("{"):
                self.answered = time.monotonic()
                self.answer = json.loads(line)

    def join(self) -> None:
        self._thread.join(timeout=30)


def measure(log: Path, settings: TuiSettings, result: TuiResult) -> None:
    """Run the app on ``log`` in a child process, filling ``result``."""
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.tui", str(log), str(settings.ring)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert child.stdout is not None and child.stderr is not None
    output = _ChildOutput(child.stdout)
    started = time.monotonic()
    result.start_rss_kib = _status_kib(child.pid, "VmRSS")
    next_sample = started
    while child.poll() is None:
        now = time.monotonic()
        if now >= next_sample:
            fed, rss = output.fed, _status_kib(child.pid, "VmRSS")
            if rss:
                result.samples.append(Sample(now - started, fed, rss))
                result.peak_rss_kib = max(result.peak_rss_kib, _status_kib(child.pid, "VmHWM"))
            next_sample += settings.sample_interval
        if now - started > CHILD_TIMEOUT:
            child.kill()
            result.note = "timed out"
        time.sleep(max(min(next_sample - time.monotonic(), 0.05), 0.0))
    output.join()
    errors = child.stderr.read()
    answer = output.answer
    if child.returncode != 0 or answer is None:
        result.note = result.note or f"exit {child.returncode}: {errors.strip()[-300:]}"
        return
    for name in ("parsed", "fed", "records", "ring", "shown", "alive", "seconds"):
        setattr(result, name, answer[name])
    result.lags, result.handled, result.framed = answer["lags"], answer["handled"], answer["framed"]
    # The child's own last word: every event fed, RSS after gc.collect().
    result.samples.append(Sample(output.answered - started, result.fed, answer["rss_kib"]))
    result.peak_rss_kib = max(result.peak_rss_kib, answer["hwm_kib"])


def run(settings: TuiSettings, *, progress: Callable[[str], None]) -> TuiResult:
    """Build the log, replay it into the app in a child process, return the figures."""
    seed = seed_log()
    result = TuiResult(settings, seed=str(seed))
    workdir = Path(tempfile.mkdtemp(prefix="trioaudit-tui-", dir="/var/tmp"))
    try:
        log = workdir / "audit.log"
        progress(f"tui: building a log of >= {settings.events:,} events from {seed}")
        result.log_events, result.log_records = build_log(seed, settings.events, log)
        result.log_bytes = log.stat().st_size
        progress(
            f"tui: replaying {result.log_events:,} events ({result.log_records:,} records) "
            f"into the headless app, ring {settings.ring:,}"
        )
        measure(log, settings, result)
    finally:
        for path in workdir.iterdir():
            path.unlink()
        workdir.rmdir()
    return result


def summary(result: TuiResult) -> str:
    """One line for the progress output."""
    median = statistics.median(result.lags) if result.lags else 0.0
    return (
        f"tui: {result.fed:,} events in {result.seconds:.1f} s ({result.rate:,.0f}/s), "
        f"peak RSS {result.peak_rss_kib / 1024:.0f} MiB, growth after warm-up "
        f"{result.growth_after_warmup_kib / 1024:.1f} MiB, loop lag p50 {median * 1000:.0f} ms"
    )


__all__ = ["Sample", "TuiResult", "TuiSettings", "build_log", "measure", "run", "summary"]


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
