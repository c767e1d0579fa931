"""The ``?`` screen: every key binding with what it does."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("e", "toggle auditing on/off (asks before disabling)"),
    ("+ / -", "raise / lower the rate limit by 100 records/s (0 = unlimited)"),
    ("b / B", "raise / lower the backlog limit by 1024 records"),
    ("space", "pause / resume the feed (events are still counted and kept)"),
    ("/", "filter the feed (same language as `trioaudit tail --filter`)"),
    ("n", "normalised summary column on / off (who did what to what, how)"),
    ("enter", "show every record of the highlighted event"),
    ("↑ ↓ PgUp PgDn Home", "move; moving up stops following the tail"),
    ("End", "follow the tail again"),
    ("r", "rules: list, add, delete loaded audit rules"),
    ("c", "clear the feed"),
    ("?", "this help"),
    ("q", "quit (unregisters the audit pid if we held it)"),
)


class HelpScreen(ModalScreen[None]):
    """Key bindings of the dashboard."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(title="trioaudit-tui keys", expand=True, header_style="bold")
        table.add_column("key", no_wrap=True, style="bold cyan")
        table.add_column("action")
        for key, action in KEYS:
            table.add_row(key, action)
        with Vertical(id="help"):
            yield Static(table)
            yield Static(
                "Immutable mode and panic-on-failure are never offered here.", id="help-note"
            )

    def action_close(self) -> None:
        self.dismiss(None)
