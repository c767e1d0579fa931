"""The rules view against a stand-in kernel: the screen asks, the app sends, answers come back.

tests/tui/test_live_app.py drives the same flow against the real kernel (as
root); this one needs neither, so the routing -- the screen posts
``CommandRequested``, the app sends it, each ``CommandFinished`` goes where its
command's ``action`` says -- is checked on every run.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from trioaudit import AuditMessageType, NetlinkError
from trioaudit.rules import AuditRule, parse_rule, render_rule
from trioaudit.tui.app import AuditApp
from trioaudit.tui.bridge import _run_command
from trioaudit.tui.messages import CommandFinished
from trioaudit.tui.model import Command
from trioaudit.tui.screens.confirm import ConfirmScreen
from trioaudit.tui.screens.rules import RulesScreen

SIZE = (140, 40)
RULE = "-a always,exit -F arch=b64 -S execve -F key=trioaudit-tui-rules"


def on_asyncio(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on asyncio (Textual's loop), not on trio (the suite's default)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


class StandInKernel:
    """The rule methods of ``AuditClient``, over a list, refusing as the kernel does."""

    def __init__(self) -> None:
        self.loaded: list[AuditRule] = []

    async def list_rules(self) -> list[AuditRule]:
        return list(self.loaded)

    async def add_rule(self, rule: AuditRule | str) -> None:
        listed = (parse_rule(rule) if isinstance(rule, str) else rule).as_listed()
        if listed in self.loaded:
            raise NetlinkError(errno.EEXIST, AuditMessageType.ADD_RULE, "add rule")
        self.loaded.append(listed)

    async def delete_rule(self, rule: AuditRule | str) -> None:
        listed = (parse_rule(rule) if isinstance(rule, str) else rule).as_listed()
        if listed not in self.loaded:
            raise NetlinkError(errno.ENOENT, AuditMessageType.DEL_RULE, "delete rule")
        self.loaded.remove(listed)


class StandInSource:
    """A source that can control: commands run on the stand-in, answered like LiveSource."""

    mode = "unicast"
    can_control = True

    def __init__(self) -> None:
        self.kernel = StandInKernel()
        self.sent: list[Command] = []
        self._app: App[Any] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, app: App[Any]) -> None:
        self._app = app

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    def command(self, command: Command) -> bool:
        self.sent.append(command)
        task = asyncio.get_running_loop().create_task(self._answer(command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _answer(self, command: Command) -> None:
        assert self._app is not None
        try:
            result = await _run_command(self.kernel, command)  # type: ignore[arg-type]
        except Exception as exc:
            self._app.post_message(CommandFinished(command, error=str(exc)))
        else:
            self._app.post_message(CommandFinished(command, result=result))

    def actions(self) -> list[str]:
        return [command.action for command in self.sent]


async def until(pilot: Pilot[None], condition: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.02)


def messages(app: AuditApp, severity: str) -> list[tuple[str, str]]:
    return [(n.title, n.message) for n in app._notifications if n.severity == severity]


@on_asyncio
async def test_rules_view_lists_adds_refuses_and_deletes_with_confirmation() -> None:
    source = StandInSource()
    app = AuditApp(source, show_clock=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RulesScreen))
        screen = app.screen
        assert isinstance(screen, RulesScreen)
        options = screen.query_one("#rules-list", OptionList)
        await until(pilot, lambda: options.option_count == 1)
        assert source.actions() == ["list_rules"]
        assert str(options.get_option_at_index(0).prompt) == "No rules"
        assert messages(app, "information") == []  # a listing shown is not notified

        await pilot.press("a")
        screen.query_one("#rule-input", Input).value = RULE
        await pilot.press("enter")
        await until(pilot, lambda: len(screen.rules) == 1)
        assert render_rule(screen.rules[0]) == RULE
        assert str(options.get_option_at_index(0).prompt) == RULE
        assert source.actions() == ["list_rules", "add_rule", "list_rules"]  # reloaded
        assert messages(app, "information") == [("", f"add rule {RULE}: done")]

        # The same rule again: the kernel's EEXIST is an error notification, no reload.
        await pilot.press("a")
        screen.query_one("#rule-input", Input).value = RULE
        await pilot.press("enter")
        await until(pilot, lambda: bool(messages(app, "error")))
        [(title, text)] = messages(app, "error")
        assert title == f"add rule {RULE}" and "EEXIST" in text
        assert source.actions()[3:] == ["add_rule"] and app.is_running

        options.highlighted = 0
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "delete_rule" not in source.actions()  # nothing deleted before the answer
        await pilot.press("y")
        await until(pilot, lambda: screen.rules == [])
        assert source.kernel.loaded == []
        assert source.actions()[4:] == ["delete_rule", "list_rules"]
        assert messages(app, "information")[-1] == ("", f"delete rule {RULE}: done")

        # A listing that arrives after the view closed is reported, never shown elsewhere.
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RulesScreen))
        app.send_command(Command("list_rules", None, "list rules"))
        await until(pilot, lambda: messages(app, "information")[-1] == ("", "list rules: done"))
        assert len(source.sent) == 7
