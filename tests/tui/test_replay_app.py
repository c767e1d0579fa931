"""The dashboard driven by a replayed log: snapshots and pilot tests (no root needed)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import gzip
import io
import json
import re
import resource
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Label

from trioaudit import parse_log
from trioaudit._errors import AuditPermissionError
from trioaudit._records.model import AuditEvent
from trioaudit._trio.client import ClientStatistics
from trioaudit._wire.status import AuditStatus
from trioaudit.tui.app import AuditApp, make_app
from trioaudit.tui.bridge import MAX_BATCH, ReplaySource, _is_denial
from trioaudit.tui.main import main as tui_main
from trioaudit.tui.messages import EventsArrived, SourceFailed, StatusUpdated
from trioaudit.tui.model import StatusSnapshot
from trioaudit.tui.screens.detail import DetailScreen
from trioaudit.tui.widgets.event_feed import EventFeed
from trioaudit.tui.widgets.status_panel import StatusPanel, StatusTable

DATA = Path(__file__).parents[1] / "data" / "tui_replay.log"


def on_asyncio(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on asyncio (Textual's loop), not on trio (the suite's default)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


SIZE = (140, 40)


def replay_app(**kwargs: object) -> AuditApp:
    return make_app(replay=str(DATA), speed=0, show_clock=False, **kwargs)  # type: ignore[arg-type]


async def replayed(pilot: Pilot[None]) -> None:
    """Wait until the replay is over and the feed has caught up with it.

    The source's ``finished`` means the app took every batch; a following feed
    scrolls to its end only after its next refresh, which a loaded machine can
    delay past any fixed pause. So wait for the condition itself (bounded).
    """
    source = pilot.app.source  # type: ignore[attr-defined]
    assert isinstance(source, ReplaySource)
    await source.finished.wait()
    feed = pilot.app.query_one(EventFeed)
    deadline = time.monotonic() + 10
    while feed.following and feed.scroll_offset.y < feed.max_scroll_y:
        assert time.monotonic() < deadline, "the feed never scrolled to its end"
        await pilot.pause(0.02)
    await pilot.pause(0.2)


# ---- snapshots ----------------------------------------------------------------------------
def test_snapshot_main_screen(snap_compare: object) -> None:
    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=replayed)  # type: ignore[operator]


def test_snapshot_filtered_feed(snap_compare: object) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await replayed(pilot)
        await pilot.press("slash", *"key=exec success=no", "enter")
        await pilot.pause(0.2)

    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]


def test_snapshot_detail(snap_compare: object) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await replayed(pilot)
        await pilot.press("slash", *"syscall=execve", "enter")
        await pilot.press("home", "enter")
        await pilot.pause(0.2)

    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]


def test_snapshot_normalized_feed(snap_compare: object) -> None:
    # The summary column as go-libaudit normalises the event (--normalize, or the n key).
    async def run_before(pilot: Pilot[None]) -> None:
        await replayed(pilot)
        await pilot.press("slash", *"action=executed,opened-file", "enter")
        await pilot.pause(0.2)

    app = replay_app(normalized=True)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]


def test_snapshot_detail_with_ancestry_and_normalised_members(snap_compare: object) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await replayed(pilot)
        await pilot.press("slash", *"action=executed", "enter")
        await pilot.press("end", "enter")
        await pilot.pause(0.2)

    app = replay_app(normalized=True)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]


def test_snapshot_help(snap_compare: object) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await replayed(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(replay_app(), terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]


# ---- behaviour ----------------------------------------------------------------------------
@on_asyncio
async def test_filter_hides_and_shows_and_reports_errors() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot)
        feed = app.query_one(EventFeed)
        everything = len(feed.shown)
        assert everything == len(feed.ring) > 50
        await pilot.press("slash", *"syscall=execve", "enter")
        await pilot.pause()
        assert 0 < len(feed.shown) < everything
        assert all(event.syscall == "execve" for event in feed.shown)
        box = app.query_one("#filter-input", Input)
        box.value = "syscall=("
        await pilot.pause()
        error = app.query_one("#filter-error", Label)
        assert error.display and "✗" in str(error.render())
        box.value = ""
        await pilot.pause()
        assert len(feed.shown) == everything and not error.display


@on_asyncio
async def test_detail_copies_the_event_as_json() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot)
        await pilot.press("slash", *"syscall=execve", "enter", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        event = app.screen.event
        await pilot.press("c")
        assert json.loads(app.clipboard) == json.loads(json.dumps(event.to_dict()))
        assert json.loads(app.clipboard)["records"]
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


@on_asyncio
async def test_ring_is_bounded_and_clear_empties_it() -> None:
    app = replay_app(ring_size=20)
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot)
        feed = app.query_one(EventFeed)
        assert len(feed.ring) == 20 and feed.total > 20
        assert len(feed.shown) <= 20
        await pilot.press("c")
        assert len(feed.ring) == 0 and feed.shown == []


@on_asyncio
async def test_pause_keeps_events_aside_and_resume_shows_them() -> None:
    app = make_app(replay=str(DATA), speed=0.5, show_clock=False)
    # Paused before the replay starts: pressing space once the app is up raced the
    # replay's first batches on a loaded machine (they reached the feed first).
    app.paused = True
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(EventFeed)
        await replayed(pilot)
        assert len(feed.ring) == 0  # frozen while paused
        held = app._held_count
        assert held > 50
        assert "PAUSED" in (app.query_one("#feed-box").border_subtitle or "")
        await pilot.press("space")  # the key resumes ...
        await pilot.pause()
        assert len(feed.ring) == held and app._held_count == 0
        assert "PAUSED" not in (app.query_one("#feed-box").border_subtitle or "")
        await pilot.press("space")  # ... and pauses again
        await pilot.pause()
        assert app.paused
        assert "PAUSED" in (app.query_one("#feed-box").border_subtitle or "")


@on_asyncio
async def test_scrolling_up_stops_following_and_counts_new_events() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot)
        feed = app.query_one(EventFeed)
        await pilot.press("up", "up")
        assert not feed.following
        feed.add_events(list(feed.ring)[:3])
        assert feed.unseen == 3
        await pilot.pause()
        subtitle = app.query_one("#feed-box").border_subtitle or ""
        assert "3 new events" in subtitle
        await pilot.press("end")
        assert feed.following and feed.unseen == 0
        assert feed.cursor == len(feed.shown) - 1


@on_asyncio
async def test_the_mouse_wheel_up_stops_following_too() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot)
        feed = app.query_one(EventFeed)
        assert feed.following
        top = feed.scroll_offset.y
        feed.post_message(events.MouseScrollUp(feed, 5, 5, 0, -1, 0, False, False, False))
        await pilot.pause()
        assert not feed.following and feed.scroll_offset.y < top
        feed.add_events(list(feed.ring)[:2])
        await pilot.pause()
        assert feed.unseen == 2
        await pilot.press("end")
        assert feed.following and feed.unseen == 0


@on_asyncio
async def test_control_keys_are_refused_politely_in_replay() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot)
        await pilot.press("e", "plus", "r")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]  # no dialog opened, nothing crashed
        # ... and the footer does not offer them: only the keys that work in a replay.
        for action in ("toggle_enabled", "rate_limit", "backlog_limit", "rules"):
            assert app.check_action(action, ()) is False
        for action in ("filter", "pause", "toggle_normalized", "quit"):
            assert app.check_action(action, ()) is True


@on_asyncio
async def test_the_n_key_toggles_the_normalised_summary() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot)
        feed = app.query_one(EventFeed)
        assert feed.normalized is False
        await pilot.press("n")
        assert feed.normalized is True and app.normalized is True
        await pilot.press("n")
        assert feed.normalized is False


@on_asyncio
async def test_escape_sequences_from_audit_data_are_neutralised() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot)
        feed = app.query_one(EventFeed)
        lines = [feed.render_line(y).text for y in range(feed.size.height)]
        assert not any("\x1b" in line for line in lines)


def _flood_log(path: Path, events: int) -> None:
    """*events* copies of the replay log's execve event with fresh serials."""
    # split("\n"), not splitlines(): enriched lines carry \x1d, which splitlines() breaks on
    lines = DATA.read_text().split("\n")
    stamp = re.compile(r"audit\((\d+\.\d+):(\d+)\)")
    first_execve = next(line for line in lines if line.startswith("type=EXECVE"))
    match = stamp.search(first_execve)
    assert match is not None
    group = [line for line in lines if match.group(0) in line]
    with gzip.open(path, "wt") as out:
        for serial in range(1, events + 1):
            for line in group:
                out.write(stamp.sub(f"audit(1795700000.000:{serial})", line) + "\n")


@pytest.mark.slow
@on_asyncio
async def test_flood_of_100k_events_keeps_the_ring_bounded(tmp_path: Path) -> None:
    log = tmp_path / "flood.log.gz"
    _flood_log(log, 100_000)
    app = make_app(replay=str(log), speed=0, show_clock=False, ring_size=10_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    lags: list[float] = []

    async def watch_lag() -> None:
        """How late a 10 ms timer fires on the UI's loop: the app's responsiveness."""
        while True:
            ticked = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - ticked - 0.01)

    started = time.monotonic()
    async with app.run_test(size=SIZE) as pilot:
        watcher = asyncio.get_running_loop().create_task(watch_lag())
        await replayed(pilot)
        watcher.cancel()
        feed = app.query_one(EventFeed)
        elapsed = time.monotonic() - started
        key_started = time.monotonic()
        assert feed.total == 100_000
        assert len(feed.ring) == 10_000
        assert len(feed.shown) <= 10_000
        await pilot.press("up")  # still responsive
        key_latency = time.monotonic() - key_started
        assert not feed.following
        gc.collect()
        alive = sum(isinstance(o, AuditEvent) for o in gc.get_objects())
        assert alive <= 10_000 + MAX_BATCH  # the ring (the view is within it) + one batch
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    lags.sort()
    print(
        f"\nTUI flood: 100,000 events in {elapsed:.1f}s "
        f"({100_000 / elapsed:,.0f} events/s), peak RSS grew {grown / 1024:.0f} MiB, "
        f"loop lag p50 {lags[len(lags) // 2] * 1000:.0f} ms / p99 "
        f"{lags[len(lags) * 99 // 100] * 1000:.0f} ms / max {lags[-1] * 1000:.0f} ms "
        f"({len(lags)} ticks), key after the flood {key_latency * 1000:.0f} ms, "
        f"{alive:,} events alive at the end"
    )


class _SilentSource:
    """A source that delivers nothing by itself: the test posts the events."""

    mode = "replay"
    can_control = False

    def start(self, app: object) -> None:
        pass

    async def stop(self) -> None:
        pass

    def command(self, command: object) -> bool:
        return False


@pytest.mark.slow
@on_asyncio
async def test_feed_alone_keeps_up_with_tens_of_thousands_of_events_per_second() -> None:
    """The UI's share of a flood: pre-parsed events in batches, a repaint after each."""
    events = list(parse_log(DATA.read_text().splitlines())) * 300
    app = AuditApp(_SilentSource(), show_clock=False)
    async with app.run_test(size=SIZE) as pilot:
        started = time.monotonic()
        for start in range(0, len(events), MAX_BATCH):
            consumed = asyncio.Event()
            app.post_message(EventsArrived(tuple(events[start : start + MAX_BATCH]), consumed.set))
            await consumed.wait()
            await pilot.pause()
        elapsed = time.monotonic() - started
        feed = app.query_one(EventFeed)
        assert feed.total == len(events) and len(feed.ring) == 10_000
    print(
        f"\nTUI feed alone: {len(events):,} events in {elapsed:.2f}s "
        f"({len(events) / elapsed:,.0f} events/s)"
    )


@on_asyncio
async def test_status_panel_words_bar_and_growing_lost() -> None:
    """The live panel from made-up snapshots: words, backlog bar, lost highlighted with its rate."""
    app = AuditApp(_SilentSource(), show_clock=False)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(StatusPanel)
        table = app.query_one(StatusTable)
        first = AuditStatus(enabled=1, failure=1, pid=4242, rate_limit=0, backlog_limit=100)
        first = dataclasses.replace(first, lost=10, backlog=60)
        app.post_message(StatusUpdated(StatusSnapshot(mode="unicast", status=first)))
        await pilot.pause()
        text = _plain(table)
        assert "1 enabled" in text and "1 printk" in text and "unlimited" in text
        assert "60/100" in text and "4242" in text
        assert not panel.has_class("-lost-growing")
        grown = dataclasses.replace(first, lost=510)
        snapshot = StatusSnapshot(mode="unicast", status=grown, lost_per_second=500.0)
        app.post_message(StatusUpdated(snapshot))
        await pilot.pause()
        assert panel.has_class("-lost-growing") and "510 (+500/s)" in _plain(table)
        steady = dataclasses.replace(snapshot, lost_per_second=0.0)
        app.post_message(StatusUpdated(steady))  # no growth since the last poll
        await pilot.pause()
        assert not panel.has_class("-lost-growing")


def _plain(widget: StatusTable) -> str:
    console = Console(width=SIZE[0], record=True, file=io.StringIO())
    console.print(widget.render())
    return console.export_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ring", "0"], "--ring must be at least 1"),
        (["--replay", str(DATA), "--speed", "-1"], "--speed must be 0"),
        (["--replay", "/nonexistent/audit.log"], "cannot read /nonexistent/audit.log"),
    ],
)
def test_bad_arguments_are_refused_before_the_screen_is_taken(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tui_main(argv) == 2
    assert message in capsys.readouterr().err


def test_denials_are_recognised_even_inside_exception_groups() -> None:
    assert _is_denial(AuditPermissionError("needs CAP_AUDIT_CONTROL"))
    assert _is_denial(ExceptionGroup("client", [ValueError(), PermissionError()]))
    assert not _is_denial(ExceptionGroup("client", [ValueError()]))
    assert not _is_denial(OSError("EINVAL"))


@on_asyncio
async def test_trimming_the_ring_does_not_move_what_the_reader_looks_at() -> None:
    app = replay_app(ring_size=60)
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot)
        feed = app.query_one(EventFeed)
        await pilot.press("up")
        await pilot.pause()
        assert not feed.following
        top = int(feed.scroll_offset.y)
        assert top >= 30  # the rows on screen survive the trim below
        looked_at = feed.shown[top : top + 5]
        feed.add_events(list(feed.ring)[:30])  # 90 shown > 60: the oldest 30 go
        await pilot.pause()
        assert len(feed.shown) == 60
        top = int(feed.scroll_offset.y)
        assert feed.shown[top : top + 5] == looked_at


def _live_looking_app() -> AuditApp:
    """The app as it looks live, without a kernel: a made-up status and the replay's events."""

    class Posting(_SilentSource):
        mode = "unicast"

        def start(self, app: object) -> None:
            assert isinstance(app, AuditApp)
            status = AuditStatus(enabled=1, failure=1, pid=4242, rate_limit=500, backlog_limit=8192)
            status = dataclasses.replace(status, lost=1234, backlog=3000, backlog_wait_time=15000)
            client = ClientStatistics(
                mode="unicast",
                datagrams=5000,
                bytes=1_000_000,
                records_received=5000,
                records_dropped=7,
                overflows=1,
                malformed=0,
                foreign_senders=0,
                unmatched_replies=0,
                queue_used=0,
                queue_size=10_000,
            )
            for lost, rate in ((1000, 0.0), (1234, 234.0)):
                app.post_message(
                    StatusUpdated(
                        StatusSnapshot(
                            mode="unicast",
                            status=dataclasses.replace(status, lost=lost),
                            daemon_name="trioaudit-tui",
                            daemon_is_us=True,
                            client=client,
                            events_per_second=92.0,
                            records_per_second=480.0,
                            lost_per_second=rate,
                        )
                    )
                )
            app.post_message(EventsArrived(tuple(parse_log(DATA.read_text().splitlines()))))

    return AuditApp(Posting(), show_clock=False)


def test_snapshot_live_status_panel(snap_compare: object) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.pause(0.3)

    assert snap_compare(_live_looking_app(), terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]


def test_snapshot_not_root_screen(snap_compare: object) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        error = "AuditPermissionError: AUDIT_GET refused (EPERM): needs CAP_AUDIT_CONTROL"
        pilot.app.post_message(SourceFailed(error, denied=True))
        await pilot.pause(0.2)
        await pilot.press("e", "plus", "r")  # hidden and inert here
        await pilot.pause(0.1)

    app = AuditApp(_SilentSource(), show_clock=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)  # type: ignore[operator]


@on_asyncio
async def test_the_filter_matches_the_ancestry_the_replay_taught() -> None:
    app = replay_app()
    async with app.run_test(size=SIZE) as pilot:
        await replayed(pilot)
        feed = app.query_one(EventFeed)
        await pilot.press("slash", *"ancestry.exe=/usr/bin/python3.11", "enter")
        await pilot.pause()
        assert feed.shown
        assert all(
            any(p.exe == "/usr/bin/python3.11" for p in app.processes.event_ancestry(event))
            for event in feed.shown
        )
        assert len(feed.shown) < len(feed.ring)
