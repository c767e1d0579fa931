"""The trioaudit dashboard: status panel, event feed, filter, and kernel controls.

Widgets never touch trio: the source (see :mod:`.bridge`) and the screens post
messages up, the app sets attributes down, and UI commands go to the source's
queue (screens ask for them with :class:`~.messages.CommandRequested`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Footer, Header, Input, Label

from .._context import ProcessTable, procfs
from .._normalize import normalize as normalize_event
from .._output.filter import FilterSyntaxError, compile_filter
from .bridge import AuditSource, LiveSource, ReplaySource
from .messages import CommandFinished, CommandRequested, EventsArrived, SourceFailed, StatusUpdated
from .model import (
    BACKLOG_LIMIT_STEP,
    DEFAULT_RING_SIZE,
    RATE_LIMIT_STEP,
    Command,
    StatusSnapshot,
    safe,
)
from .screens.confirm import ConfirmScreen
from .screens.detail import DetailScreen
from .screens.help import HelpScreen
from .screens.not_root import NotRootScreen
from .screens.rules import RulesScreen
from .widgets.event_feed import EventFeed
from .widgets.status_panel import StatusPanel

if TYPE_CHECKING:
    from ..rules import AuditRule

#: Actions that change the kernel: hidden when the source cannot (a replay).
_KERNEL_ACTIONS = frozenset({"toggle_enabled", "rate_limit", "backlog_limit", "rules"})


class AuditApp(App[None]):
    """Live audit status and events (or a replayed log)."""

    CSS_PATH = "audit.tcss"
    TITLE = "trioaudit"
    BINDINGS = [
        Binding(
            "e",
            "toggle_enabled",
            "Enable/disable",
            id="toggle-enabled",
            tooltip="Turn kernel auditing on or off (asks before disabling)",
        ),
        Binding(
            "plus,equals_sign",
            "rate_limit(1)",
            f"Rate +{RATE_LIMIT_STEP}",
            id="rate-up",
            key_display="+",
        ),
        Binding(
            "minus", "rate_limit(-1)", f"Rate -{RATE_LIMIT_STEP}", id="rate-down", key_display="-"
        ),
        Binding("b", "backlog_limit(1)", f"Backlog +{BACKLOG_LIMIT_STEP}", id="backlog-up"),
        Binding("B", "backlog_limit(-1)", f"Backlog -{BACKLOG_LIMIT_STEP}", id="backlog-down"),
        Binding("space", "pause", "Pause", id="pause", tooltip="Freeze the feed; events are kept"),
        Binding("slash", "filter", "Filter", id="filter", key_display="/"),
        Binding(
            "n",
            "toggle_normalized",
            "Normalised",
            id="normalized",
            tooltip="Summary column: go-libaudit's normalised summary (who did what to what)",
        ),
        Binding("r", "rules", "Rules", id="rules"),
        Binding("c", "clear", "Clear", id="clear"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    paused: reactive[bool] = reactive(False)
    """While paused, arriving events are kept aside (bounded) and shown on resume."""
    snapshot: reactive[StatusSnapshot | None] = reactive(None)
    """The latest status from the source."""

    def __init__(
        self,
        source: AuditSource,
        *,
        ring_size: int = DEFAULT_RING_SIZE,
        show_clock: bool = True,
        normalized: bool = False,
        processes: ProcessTable | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.show_clock = show_clock
        self.ring_size = ring_size
        self.normalized = normalized
        #: Every arriving event teaches it; the detail screen shows an event's ancestry.
        self.processes = processes if processes is not None else ProcessTable()
        self._held: list[Any] = []
        self._held_count = 0
        self._stopping = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show only the keys that work: behind the not-root screen only quitting; in a
        replay none of the kernel's (there is no kernel to change)."""
        if isinstance(self.screen, NotRootScreen):
            return action == "quit"
        return self.source.can_control or action not in _KERNEL_ACTIONS

    # ---- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(show_clock=self.show_clock)
        yield StatusPanel(id="status")
        with Vertical(id="feed-box"):
            yield EventFeed(ring_size=self.ring_size, id="feed")
            yield Input(
                placeholder="filter: type=SYSCALL key=mykey  syscall=execve success=no  "
                "uid=root  comm~ssh  free words",
                id="filter-input",
            )
            yield Label("", id="filter-error")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(EventFeed).normalized = self.normalized
        self.query_one("#filter-input", Input).display = False
        self.query_one("#filter-error", Label).display = False
        self.sub_title = self._mode_text(self.source.mode)
        self._update_feed_title()
        self.query_one(EventFeed).focus()
        self.source.start(self)

    def _mode_text(self, mode: str) -> str:
        return {
            "unicast": "live · unicast (this TUI is the audit daemon)",
            "multicast": "live · multicast (read-only beside the audit daemon)",
            "replay": "replay",
        }.get(mode, f"live · {mode}")

    # ---- messages from the source ---------------------------------------------------
    def on_events_arrived(self, message: EventsArrived) -> None:
        try:
            self._take_events(message)
        finally:
            if message.consumed is not None:
                message.consumed()

    def _take_events(self, message: EventsArrived) -> None:
        for event in message.events:  # also those held while paused or filtered out
            self.processes.observe(event)
        if self.paused:
            self._held.extend(message.events)
            self._held_count += len(message.events)
            if len(self._held) > self.ring_size:
                del self._held[: len(self._held) - self.ring_size]
            self._update_feed_title()
            return
        self.query_one(EventFeed).add_events(message.events)

    def on_status_updated(self, message: StatusUpdated) -> None:
        self.snapshot = message.snapshot
        self.sub_title = self._mode_text(message.snapshot.mode)
        self.query_one(StatusPanel).update_snapshot(message.snapshot)

    def on_command_finished(self, message: CommandFinished) -> None:
        command = message.command
        if message.error is not None:
            self.notify(safe(message.error), title=command.description, severity="error")
            return
        rules_screen = self.screen if isinstance(self.screen, RulesScreen) else None
        if rules_screen is not None and command.action == "list_rules":
            rules_screen.show_rules(cast("list[AuditRule]", message.result))
            return
        if command.description:
            self.notify(safe(command.description) + ": done")
        if rules_screen is not None and command.action in ("add_rule", "delete_rule"):
            rules_screen.action_reload()  # show the kernel's list as it is now

    def on_source_failed(self, message: SourceFailed) -> None:
        if message.denied:
            self.push_screen(NotRootScreen(message.error))
        else:
            self.notify(
                safe(message.error), title="audit source stopped", severity="error", timeout=30
            )

    def on_event_feed_changed(self, message: EventFeed.Changed) -> None:
        self._update_feed_title()

    def on_event_feed_selected(self, message: EventFeed.Selected) -> None:
        event = message.event
        normalized = normalize_event(event) if self.normalized else None
        self.push_screen(
            DetailScreen(event, normalized=normalized, ancestry=self.processes.context(event))
        )

    def action_toggle_normalized(self) -> None:
        self.normalized = not self.normalized
        feed = self.query_one(EventFeed)
        feed.normalized = self.normalized
        feed.refresh()
        self.notify("summary: normalised" if self.normalized else "summary: plain")

    def _update_feed_title(self) -> None:
        feed = self.query_one(EventFeed)
        parts = [f"{len(feed.shown):,} shown", f"{len(feed.ring):,}/{feed.ring_size:,} kept"]
        if feed.predicate is not None:
            parts.append("filtered")
        if self.paused:
            parts.append(f"PAUSED · {self._held_count:,} waiting")
        elif feed.unseen:
            parts.append(f"{feed.unseen:,} new events — End to follow")
        box = self.query_one("#feed-box")
        box.border_title = "events"
        box.border_subtitle = " · ".join(parts)

    # ---- commands to the kernel ------------------------------------------------------
    def on_command_requested(self, message: CommandRequested) -> None:
        self.send_command(message.command)

    def send_command(self, command: Command) -> None:
        """Queue *command* for the kernel; the answer comes back as :class:`CommandFinished`."""
        if not self.source.can_control:
            self.notify("replaying a log: there is no kernel to change", severity="warning")
            return
        if not self.source.command(command):
            self.notify("busy: too many commands in flight", severity="warning")

    def _status(self) -> Any:
        snapshot = self.snapshot
        return snapshot.status if snapshot is not None else None

    def action_toggle_enabled(self) -> None:
        status = self._status()
        if status is None:
            self.send_command(Command("set_enabled", True, "enable auditing"))
            return
        if status.enabled == 2:
            self.notify("audit is immutable until reboot: nothing can change", severity="error")
        elif status.enabled == 1:

            def answered(yes: bool | None) -> None:
                if yes:
                    self.send_command(Command("set_enabled", False, "disable auditing"))

            self.push_screen(ConfirmScreen("Disable kernel auditing?"), answered)
        else:
            self.send_command(Command("set_enabled", True, "enable auditing"))

    def action_rate_limit(self, direction: int) -> None:
        status = self._status()
        current = status.rate_limit if status is not None else 0
        new = max(current + direction * RATE_LIMIT_STEP, 0)
        label = "unlimited" if new == 0 else f"{new}/s"
        self.send_command(Command("set_rate_limit", new, f"rate limit {label}"))

    def action_backlog_limit(self, direction: int) -> None:
        status = self._status()
        current = status.backlog_limit if status is not None else 0
        new = max(current + direction * BACKLOG_LIMIT_STEP, 64)
        self.send_command(Command("set_backlog_limit", new, f"backlog limit {new}"))

    # ---- feed controls ----------------------------------------------------------------
    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self._held:
            held, self._held, self._held_count = self._held, [], 0
            self.query_one(EventFeed).add_events(held)
        self._update_feed_title()

    def action_clear(self) -> None:
        self.query_one(EventFeed).clear()
        self._held, self._held_count = [], 0

    def action_filter(self) -> None:
        box = self.query_one("#filter-input", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, message: Input.Changed) -> None:
        if message.input.id == "filter-input":
            self._apply_filter(message.value)

    def on_input_submitted(self, message: Input.Submitted) -> None:
        # Enter keeps a non-empty filter bar on screen (it shows what is applied).
        if message.input.id == "filter-input" and self._apply_filter(message.value):
            message.input.display = bool(message.value.strip())
            self.query_one(EventFeed).focus()

    def _apply_filter(self, text: str) -> bool:
        error = self.query_one("#filter-error", Label)
        try:
            ancestry = self.processes.event_ancestry
            predicate = compile_filter(text, ancestry=ancestry) if text.strip() else None
        except FilterSyntaxError as exc:
            error.update(f"✗ {safe(exc)}")
            error.display = True
            return False
        error.display = False
        self.query_one(EventFeed).set_filter(predicate)
        return True

    def action_rules(self) -> None:
        if not self.source.can_control:
            self.notify("replaying a log: no kernel rules to show", severity="warning")
            return
        self.push_screen(RulesScreen())

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def on_unmount(self) -> None:
        # However the app ends (q, ctrl+q, a test leaving run_test), trio's
        # guest run must finish before the host loop stops.
        await self.source.stop()

    async def action_quit(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        await self.source.stop()
        self.exit()


def make_app(
    *,
    replay: str | None = None,
    speed: float = 1.0,
    ring_size: int = DEFAULT_RING_SIZE,
    mode: str = "auto",
    loop_forever: bool = False,
    show_clock: bool = True,
    normalized: bool = False,
) -> AuditApp:
    """Build the app for the live kernel or for a replayed log (posting-style factory)."""
    source: AuditSource
    if replay is not None:
        source = ReplaySource(replay, speed=speed, loop_forever=loop_forever)
        processes = ProcessTable()  # the log's own processes: no /proc
    else:
        source = LiveSource(mode)  # type: ignore[arg-type]
        processes = ProcessTable(cgroup_of=procfs.read_cgroup)
        processes.seed(procfs.snapshot())
    return AuditApp(
        source,
        ring_size=ring_size,
        show_clock=show_clock,
        normalized=normalized,
        processes=processes,
    )
