"""Shown when the kernel refuses us: explains why and how to continue."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

EXPLANATION = """\
[b]trioaudit-tui needs privileges the kernel did not grant.[/b]

{error}

Reading audit events needs CAP_AUDIT_CONTROL (to become the audit daemon) or
CAP_AUDIT_READ (to listen beside a running auditd); changing settings needs
CAP_AUDIT_CONTROL. Run it as root:

    sudo trioaudit-tui

Or replay a log file, which needs no privileges:

    trioaudit-tui --replay /var/log/audit/audit.log --speed 10
"""


class NotRootScreen(Screen[None]):
    """A clear explanation instead of a traceback."""

    BINDINGS = [Binding("q,escape", "app.quit", "Quit")]

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="not-root"):
            yield Static(EXPLANATION.format(error=escape(self.error)), markup=True)
        yield Footer(compact=True, show_command_palette=False)
