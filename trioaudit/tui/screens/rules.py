"""The rules view: list loaded rules, add one (auditctl syntax), delete with confirmation.

The screen never talks to the kernel: it posts a
:class:`~..messages.CommandRequested` up, and the app, which holds the source,
sends it and hands the answer back down with :meth:`RulesScreen.show_rules`
(a listing) or :meth:`RulesScreen.action_reload` (after an add or a delete).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList

from ...rules import AuditRule, render_rule
from ..messages import CommandRequested
from ..model import Command, safe
from .confirm import ConfirmScreen


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

    def _request(self, command: Command) -> None:
        self.post_message(CommandRequested(command))

    def action_reload(self) -> None:
        self._request(Command("list_rules", None, "list rules"))

    def action_add(self) -> None:
        box = self.query_one("#rule-input", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        event.input.display = False
        if text:
            self._request(Command("add_rule", text, f"add rule {text}"))

    def action_delete(self) -> None:
        index = self.query_one("#rules-list", OptionList).highlighted
        if index is None or not 0 <= index < len(self.rules):
            return
        rule = self.rules[index]
        text = render_rule(rule)

        def answered(yes: bool | None) -> None:
            if yes:
                self._request(Command("delete_rule", rule, f"delete rule {text}"))

        self.app.push_screen(ConfirmScreen(f"Delete this rule?\n\n{safe(text)}"), answered)

    def action_close(self) -> None:
        self.dismiss(None)
