"""Every record of one event, interpreted beside raw, copyable as JSON."""

from __future__ import annotations

import json
from typing import Any

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


def _flat(prefix: str, value: Any) -> list[tuple[str, str]]:
    """Nested normalised members as (dotted.name, text) rows."""
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, inner in value.items():
            rows += _flat(f"{prefix}.{key}" if prefix else key, inner)
        return rows
    if isinstance(value, list):
        return [(prefix, ", ".join(str(item) for item in value))] if value else []
    return [(prefix, str(value))] if value != "" else []


def normalized_table(members: dict[str, Any]) -> Table:
    """The normalised members (docs/normalize.md), one dotted name per row."""
    table = Table(expand=True, show_lines=False, header_style="bold", title="normalised")
    table.add_column("member", no_wrap=True)
    table.add_column("value")
    for name, text in _flat("", members):
        table.add_row(safe(name), safe(text))
    return table


def ancestry_table(chain: list[dict[str, Any]]) -> Table:
    """The event's process and its ancestors (docs/context.md), the process first."""
    table = Table(expand=True, show_lines=False, header_style="bold", title="ancestry")
    for column in ("pid", "ppid", "exe / name", "args", "container", "unit"):
        table.add_column(column, no_wrap=column in ("pid", "ppid"))
    for entry in chain:
        container = entry.get("container")
        table.add_row(
            str(entry["pid"]),
            str(entry.get("ppid", "")),
            safe(entry.get("exe") or entry.get("name") or ""),
            safe(" ".join(entry.get("args") or ())),
            safe(f"{container['runtime']} {container['id'][:12]}") if container else "",
            safe(entry.get("unit", "")),
        )
    return table


class DetailScreen(ModalScreen[None]):
    """Shows one event (and, when given, its normalised members and ancestry); ``c``
    copies it as JSON."""

    BINDINGS = [
        Binding("escape,q,enter", "close", "Close"),
        Binding("c", "copy", "Copy JSON", tooltip="Copy the event as JSON to the clipboard"),
    ]

    def __init__(
        self,
        event: AuditEvent,
        *,
        normalized: dict[str, Any] | None = None,
        ancestry: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.event = event
        self.normalized = normalized
        self.ancestry = ancestry

    def compose(self) -> ComposeResult:
        event = self.event
        title = f"event {event.sequence} · {event.iso_timestamp} · {safe(event.type_name)}"
        with VerticalScroll(id="detail"):
            yield Static(Text(title, style="bold"), id="detail-title")
            if self.ancestry:
                yield Static(ancestry_table(self.ancestry), id="detail-ancestry")
            if self.normalized:
                yield Static(normalized_table(self.normalized), id="detail-normalized")
            yield Static(event_table(event), id="detail-table")
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(json.dumps(self.event.to_dict(), ensure_ascii=True))
        self.notify("event copied to the clipboard as JSON")
