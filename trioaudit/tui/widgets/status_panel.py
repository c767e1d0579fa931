"""The status panel: the kernel's audit state, the client's counters and rates."""

from __future__ import annotations

from collections import deque

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Label, Sparkline, Static

from ..model import ENABLED_WORDS, FAILURE_WORDS, StatusSnapshot, safe

#: Seconds of history the sparklines show.
HISTORY = 60


def _bar(used: int, limit: int, width: int = 20) -> Text:
    if limit <= 0:
        return Text("unlimited")
    filled = min(width, round(width * used / limit))
    colour = "green" if used < limit / 2 else "yellow" if used < limit else "red"
    bar = Text("█" * filled, style=colour) + Text("░" * (width - filled), style="dim")
    return bar + Text(f" {used}/{limit}")


class StatusTable(Static):
    """The numbers, as a two-column grid of tables."""

    snapshot: reactive[StatusSnapshot | None] = reactive(None, layout=True)
    """The latest snapshot (set by the app); its row count changes the panel's height."""
    lost_growing: reactive[bool] = reactive(False)
    """Whether the kernel's ``lost`` grew in the last interval."""

    def render(self) -> RenderableType:
        snap = self.snapshot
        left = Table.grid(padding=(0, 1))
        left.add_column(style="bold")
        left.add_column()
        right = Table.grid(padding=(0, 1))
        right.add_column(style="bold")
        right.add_column()
        if snap is None:
            left.add_row("status", "connecting…")
            return left
        status = snap.status
        if status is None:
            left.add_row("source", safe(snap.source))
            left.add_row("mode", "replay (no kernel)")
            left.add_row(
                "replayed",
                f"{snap.replayed:,} events" + (" (end of file)" if snap.replay_done else ""),
            )
            left.add_row("events/s", f"{snap.events_per_second:,.0f}")
            left.add_row("records/s", f"{snap.records_per_second:,.0f}")
            return left
        enabled = Text(
            f"{status.enabled} {ENABLED_WORDS.get(status.enabled, '?')}",
            style="green" if status.enabled == 1 else "red" if status.enabled == 2 else "yellow",
        )
        left.add_row("enabled", enabled)
        left.add_row("failure", f"{status.failure} {FAILURE_WORDS.get(status.failure, '?')}")
        daemon = "none"
        if status.pid:
            name = safe(snap.daemon_name or "?")
            daemon = f"{status.pid} ({name})" + (" — this TUI" if snap.daemon_is_us else "")
        left.add_row("daemon pid", daemon)
        left.add_row("mode", snap.mode)
        rate = "unlimited" if status.rate_limit == 0 else f"{status.rate_limit}/s"
        left.add_row("rate limit", rate)
        right.add_row("backlog", _bar(status.backlog, status.backlog_limit))
        wait = status.backlog_wait_time
        right.add_row("backlog wait", "n/a" if wait is None else f"{wait} jiffies")
        lost = Text(f"{status.lost:,}")
        if self.lost_growing:
            lost = Text(f"{status.lost:,} (+{snap.lost_per_second:,.0f}/s)", style="bold red")
        right.add_row("lost", lost)
        client = snap.client
        if client is not None:
            right.add_row("client drops", f"{client.records_dropped:,}")
            right.add_row("overflows", f"{client.overflows:,}")
        right.add_row(
            "rates", f"{snap.events_per_second:,.0f} ev/s · {snap.records_per_second:,.0f} rec/s"
        )
        grid = Table.grid(expand=True, padding=(0, 3))
        grid.add_column()
        grid.add_column()
        grid.add_row(left, right)
        return grid


class StatusPanel(Vertical):
    """Numbers on the left, events/s and records/s sparklines on the right."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._events: deque[float] = deque([0.0] * HISTORY, maxlen=HISTORY)
        self._records: deque[float] = deque([0.0] * HISTORY, maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield StatusTable(id="status-table")
            with Vertical(id="sparklines"):
                yield Label("events/s")
                yield Sparkline(list(self._events), id="events-spark")
                yield Label("records/s")
                yield Sparkline(list(self._records), id="records-spark")

    def update_snapshot(self, snapshot: StatusSnapshot) -> None:
        """Show *snapshot* (called by the app on each StatusUpdated)."""
        table = self.query_one(StatusTable)
        status = snapshot.status
        # The source measures the growth between its own polls: status messages
        # replace each other in the queue, so the panel may not see every one.
        growing = status is not None and snapshot.lost_per_second > 0
        table.lost_growing = growing
        table.snapshot = snapshot
        self.set_class(growing, "-lost-growing")
        self._events.append(snapshot.events_per_second)
        self._records.append(snapshot.records_per_second)
        self.query_one("#events-spark", Sparkline).data = list(self._events)
        self.query_one("#records-spark", Sparkline).data = list(self._records)
