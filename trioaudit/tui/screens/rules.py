"""The rules view: list loaded rules, add one (auditctl syntax), delete with confirmation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList

from ...rules import render_rule
from ..model import safe
from .confirm import ConfirmScreen

if TYPE_CHECKING:
    from ...rules import AuditRule
    from ..app import AuditApp


class RulesScreen(ModalScreen[None]):
    """Loaded rules; ``a`` adds, ``d`` deletes the highlighted one, ``r`` reloads."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("a", "add", "Add rule"),
        Binding("d", "delete", "Delete rule"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rules: list[AuditRule] = []

    @property
    def audit_app(self) -> AuditApp:
        from ..app import AuditApp

        assert isinstance(self.app, AuditApp)
        return self.app

    def compose(self) -> ComposeResult:
        with Vertical(id="rules"):
            yield Label("Loaded audit rules (auditctl -l)", id="rules-title")
            yield OptionList(id="rules-list")
            yield Input(placeholder="-a always,exit -F arch=b64 -S execve -k exec", id="rule-input")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#rule-input", Input).display = False
        self.action_reload()

    def show_rules(self, rules: list[AuditRule]) -> None:
        """Fill the list (called by the app when the kernel answered)."""
        self.rules = list(rules)
        options = self.query_one("#rules-list", OptionList)
        options.clear_options()
        if not rules:
            options.add_option("No rules")
        for rule in rules:
            options.add_option(safe(render_rule(rule)))
        options.focus()

    def action_reload(self) -> None:
        self.audit_app.send_command("list_rules", None, "list rules")

    def action_add(self) -> None:
        box = self.query_one("#rule-input", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        event.input.display = False
        if text:
            self.audit_app.send_command("add_rule", text, f"add rule {text}")

    def action_delete(self) -> None:
        index = self.query_one("#rules-list", OptionList).highlighted
        if index is None or not 0 <= index < len(self.rules):
            return
        rule = self.rules[index]
        text = render_rule(rule)

        def answered(yes: bool | None) -> None:
            if yes:
                self.audit_app.send_command("delete_rule", rule, f"delete rule {text}")

        self.app.push_screen(ConfirmScreen(f"Delete this rule?\n\n{safe(text)}"), answered)

    def action_close(self) -> None:
        self.dismiss(None)
