"""The scrolling event feed: a bounded ring rendered one visible line at a time.

Theory of operation
===================

* ``ring`` holds the newest ``ring_size`` events (a ``deque`` with ``maxlen``):
  memory is bounded whatever the flood.
* ``shown`` holds the events that pass the current filter, in order. New
  events are tested once as they arrive; changing the filter rebuilds it from
  the ring (the only O(ring) step). It is a list, so index access (needed per
  rendered line) stays O(1), cut back to ``ring_size`` after every batch: the
  cut is one pointer memmove per batch (microseconds), and the view then never
  keeps alive events the ring has let go, so memory is bounded by the ring
  alone (an earlier 25 % slack held up to 2,500 extra events, ~50 MiB).
* Rendering uses Textual's line API (:meth:`render_line`): only the rows on
  screen are turned into text, so the cost per frame is O(visible rows), not
  O(events).
* Following: while the cursor is on the last row the feed follows the tail.
  Moving up (keys or the mouse wheel) stops following; new events are then
  counted ("N new") and End resumes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..._records.model import AuditEvent
from ..model import DEFAULT_RING_SIZE, event_kind, event_summary, normalized_summary, safe

Predicate = Callable[[AuditEvent], bool]

#: Column name and width (0 = the rest of the line).
COLUMNS: tuple[tuple[str, int], ...] = (
    ("time", 13),
    ("type", 15),
    ("syscall", 12),
    ("ok", 4),
    ("comm / exe", 22),
    ("uid/auid", 14),
    ("key", 12),
    ("summary", 0),
)


def _cell(text: str, width: int) -> str:
    if width == 0:
        return text
    return text[: width - 1].ljust(width - 1) + " "


def event_row(event: AuditEvent, normalized: bool = False) -> str:
    """The feed's text for one event (already neutralised); normalized: the summary
    column is the normalised summary."""
    success = event.success
    uid = event.uid or "-"
    auid = event.auid or "-"
    values = (
        event.iso_timestamp[11:23],
        event.type_name,
        event.syscall or "",
        "" if success is None else ("yes" if success else "NO"),
        event.comm or event.exe or "",
        f"{uid}/{auid}",
        event.key or "",
        normalized_summary(event) if normalized else event_summary(event),
    )
    return "".join(
        _cell(safe(value), width) for value, (_, width) in zip(values, COLUMNS, strict=True)
    )


def header_row() -> str:
    return "".join(_cell(name, width) for name, width in COLUMNS)


class EventFeed(ScrollView, can_focus=True):
    """A virtualised, bounded, filterable list of audit events."""

    COMPONENT_CLASSES = {
        "event-feed--header",
        "event-feed--cursor",
        "event-feed--failure",
        "event-feed--denial",
        "event-feed--config",
        "event-feed--user",
    }

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-20)", "Page up", show=False),
        Binding("pagedown", "cursor(20)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "follow", "Follow", show=False),
        Binding("enter", "select", "Detail", tooltip="Show every record of this event"),
    ]

    cursor: reactive[int] = reactive(-1, always_update=True)
    """Index into ``shown`` of the highlighted event (-1: none)."""
    following: reactive[bool] = reactive(True)
    """Whether new events scroll the feed."""
    unseen: reactive[int] = reactive(0)
    """Events that arrived while not following."""

    class Selected(Message):
        """The user pressed Enter on an event."""

        def __init__(self, event: AuditEvent) -> None:
            self.event = event
            super().__init__()

    class Changed(Message):
        """Counts changed (for the feed's title)."""

    def __init__(self, ring_size: int = DEFAULT_RING_SIZE, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.ring_size = ring_size
        self.ring: deque[AuditEvent] = deque(maxlen=ring_size)
        self.shown: list[AuditEvent] = []
        self.predicate: Predicate | None = None
        self.total = 0
        self.normalized = False
        """The summary column shows the normalised summary (set by the app)."""

    # ---- data in --------------------------------------------------------------------
    def add_events(self, events: Iterable[AuditEvent]) -> None:
        """Append new events (oldest first); keeps the ring and the view bounded."""
        added = 0
        predicate = self.predicate
        for event in events:
            self.ring.append(event)
            self.total += 1
            if predicate is None or predicate(event):
                self.shown.append(event)
                added += 1
        overflow = len(self.shown) - self.ring_size
        trimmed = 0
        if overflow > 0:
            del self.shown[:overflow]
            trimmed = overflow
            self.cursor = max(self.cursor - overflow, 0) if self.cursor >= 0 else -1
        if added:
            if self.following:
                self.cursor = len(self.shown) - 1
            else:
                self.unseen += added
        self._resize()
        if trimmed and not self.following:
            # Rows moved up by `trimmed`: keep the reader's rows where they are.
            top = max(int(self.scroll_offset.y) - trimmed, 0)
            self.call_after_refresh(self.scroll_to, y=top, animate=False)

    def set_filter(self, predicate: Predicate | None) -> None:
        """Show only events for which *predicate* holds (None: all)."""
        self.predicate = predicate
        self.shown = [e for e in self.ring if predicate is None or predicate(e)]
        self.cursor = len(self.shown) - 1
        self.following = True
        self.unseen = 0
        self._resize()

    def clear(self) -> None:
        """Forget every event (``c``)."""
        self.ring.clear()
        self.shown = []
        self.cursor = -1
        self.unseen = 0
        self.following = True
        self._resize()

    def _resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.shown) + 1)
        if self.following:
            # After the next refresh, when the new virtual size is laid out.
            self.call_after_refresh(self.scroll_end, animate=False, x_axis=False)
        self.refresh()
        self.post_message(self.Changed())

    # ---- rendering ------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            style = self.get_component_rich_style("event-feed--header")
            return Strip([Segment(header_row()[:width].ljust(width), style)], width)
        index = int(self.scroll_offset.y) + y - 1
        if not 0 <= index < len(self.shown):
            return Strip.blank(width, self.rich_style)
        event = self.shown[index]
        text = Text(event_row(event, self.normalized)[:width].ljust(width), no_wrap=True, end="")
        kind = event_kind(event)
        style = self.rich_style
        if kind != "plain":
            style = style + self.get_component_rich_style(f"event-feed--{kind}")
        if index == self.cursor:
            style = style + self.get_component_rich_style("event-feed--cursor")
        text.stylize(style if isinstance(style, Style) else Style())
        return Strip(text.render(self.app.console), width)

    def watch_cursor(self) -> None:
        self.refresh()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """The wheel up stops following, as moving the cursor up does (End resumes)."""
        if self.shown and self.max_scroll_y > 0 and self.following:
            self.following = False
            self.post_message(self.Changed())

    # ---- actions --------------------------------------------------------------------
    def action_cursor(self, delta: int) -> None:
        if not self.shown:
            return
        self.cursor = min(max(self.cursor + delta, 0), len(self.shown) - 1)
        self.following = self.cursor == len(self.shown) - 1
        if self.following:
            self.unseen = 0
        self._scroll_to_cursor()

    def action_first(self) -> None:
        if self.shown:
            self.cursor = 0
            self.following = False
            self._scroll_to_cursor()

    def action_follow(self) -> None:
        self.following = True
        self.unseen = 0
        self.cursor = len(self.shown) - 1
        self._resize()

    def action_select(self) -> None:
        if 0 <= self.cursor < len(self.shown):
            self.post_message(self.Selected(self.shown[self.cursor]))

    def _scroll_to_cursor(self) -> None:
        rows = max(self.size.height - 1, 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False)
        self.post_message(self.Changed())

    @property
    def selected(self) -> AuditEvent | None:
        """The highlighted event."""
        if 0 <= self.cursor < len(self.shown):
            return self.shown[self.cursor]
        return None
