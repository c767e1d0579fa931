"""Every record of one event, interpreted beside raw, copyable as JSON."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from ..._records.model import AuditEvent
from ..model import safe


def event_table(event: AuditEvent) -> Table:
    """A table of every field of every record: name, interpreted, raw."""
    table = Table(expand=True, show_lines=False, header_style="bold")
    table.add_column("record", no_wrap=True)
    table.add_column("field", no_wrap=True)
    table.add_column("interpreted")
    table.add_column("raw")
    for record in event.records:
        first = True
        for name, value in record.fields.items():
            raw = record.raw_fields.get(name, "")
            table.add_row(
                Text(safe(record.type_name), style="bold cyan") if first else "",
                safe(name),
                safe(value),
                "" if raw == value else safe(raw),
            )
            first = False
        if record.argv is not None:
            table.add_row("", "argv", Text(safe(json.dumps(list(record.argv)))), "")
        if record.sockaddr is not None:
            table.add_row("", "sockaddr", Text(safe(json.dumps(record.sockaddr))), "")
    return table


class DetailScreen(ModalScreen[None]):
    """Shows one event; ``c`` copies it as JSON."""

    BINDINGS = [
        Binding("escape,q,enter", "close", "Close"),
        Binding("c", "copy", "Copy JSON", tooltip="Copy the event as JSON to the clipboard"),
    ]

    def __init__(self, event: AuditEvent) -> None:
        super().__init__()
        self.event = event

    def compose(self) -> ComposeResult:
        event = self.event
        title = f"event {event.sequence} · {event.iso_timestamp} · {safe(event.type_name)}"
        with VerticalScroll(id="detail"):
            yield Static(Text(title, style="bold"), id="detail-title")
            yield Static(event_table(event), id="detail-table")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(json.dumps(self.event.to_dict(), ensure_ascii=True))
        self.notify("event copied to the clipboard as JSON")
