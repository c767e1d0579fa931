"""The dashboard against the live kernel: keys change the kernel, events appear in the feed."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tests.kernelstate import RawAudit
from trioaudit.tui.app import AuditApp, make_app
from trioaudit.tui.screens.confirm import ConfirmScreen
from trioaudit.tui.widgets.event_feed import EventFeed
from trioaudit.tui.widgets.status_panel import StatusTable

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

SIZE = (140, 40)


async def until(pilot: Pilot[None], condition: object, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


async def connected(pilot: Pilot[None]) -> AuditApp:
    app = pilot.app
    assert isinstance(app, AuditApp)
    await until(pilot, lambda: app.snapshot is not None and app.snapshot.status is not None)
    return app


def test_e_toggles_enabled_with_confirmation_before_disabling(raw_audit: RawAudit) -> None:
    raw_audit.set_status(1, enabled=0)

    async def scenario() -> None:
        app = make_app(show_clock=False)
        async with app.run_test(size=SIZE) as pilot:
            await connected(pilot)
            await pilot.press("e")
            await until(pilot, lambda: raw_audit.status()["enabled"] == 1)
            await until(pilot, lambda: app.snapshot.status.enabled == 1)  # type: ignore[union-attr]
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert raw_audit.status()["enabled"] == 1  # nothing sent before the answer
            await pilot.press("y")
            await until(pilot, lambda: raw_audit.status()["enabled"] == 0)
            await pilot.press("q")

    asyncio.run(scenario())
    assert raw_audit.status()["pid"] == 0  # quitting unregistered the TUI


def test_plus_and_minus_change_the_rate_limit(raw_audit: RawAudit) -> None:
    raw_audit.set_status(8, rate_limit=500)

    async def scenario() -> None:
        app = make_app(show_clock=False)
        async with app.run_test(size=SIZE) as pilot:
            await connected(pilot)
            await pilot.press("plus")
            await until(pilot, lambda: raw_audit.status()["rate_limit"] == 600)
            await until(pilot, lambda: app.snapshot.status.rate_limit == 600)  # type: ignore[union-attr]
            await pilot.press("minus", "minus")
            await until(pilot, lambda: raw_audit.status()["rate_limit"] == 400)
            await pilot.press("q")

    asyncio.run(scenario())


def test_status_panel_shows_what_the_kernel_reports(raw_audit: RawAudit) -> None:
    raw_audit.set_status(8 | 16, rate_limit=1234, backlog_limit=4321)

    async def scenario() -> None:
        app = make_app(show_clock=False)
        async with app.run_test(size=SIZE) as pilot:
            app = await connected(pilot)
            status = app.snapshot.status  # type: ignore[union-attr]
            raw = raw_audit.status()
            assert (status.rate_limit, status.backlog_limit) == (1234, 4321)
            assert status.failure == raw["failure"] and status.enabled == raw["enabled"]
            await pilot.pause(0.1)
            text = str(app.query_one(StatusTable).render_lines(app.query_one(StatusTable).region))
            assert "1234/s" in text and "/4321" in text
            await pilot.press("q")

    asyncio.run(scenario())


def test_events_from_a_rule_appear_and_the_filter_hides_and_shows_them(
    raw_audit: RawAudit,
) -> None:
    raw_audit.set_status(1, enabled=1)

    async def scenario() -> None:
        app = make_app(show_clock=False)
        async with app.run_test(size=SIZE) as pilot:
            await connected(pilot)
            rule = [
                "-a",
                "always,exit",
                "-F",
                "arch=b64",
                "-S",
                "execve",
                "-F",
                "key=trioaudit-tui",
            ]
            subprocess.run(["auditctl", *rule], check=True)  # noqa: ASYNC221 (quick)
            subprocess.run(["/bin/true"], check=True)  # noqa: ASYNC221 (instant)
            feed = app.query_one(EventFeed)

            def ours() -> list[object]:
                return [e for e in feed.shown if e.key == "trioaudit-tui"]

            await until(pilot, lambda: any(e.exe == "/usr/bin/true" for e in ours()))  # type: ignore[attr-defined]
            await pilot.press("slash", *"key=no-such-key", "enter")
            await pilot.pause(0.1)
            assert ours() == []
            app.query_one("#filter-input", Input).value = "key=trioaudit-tui syscall=execve"
            await pilot.pause(0.1)
            assert ours() and len(ours()) == len(feed.shown)
            await pilot.press("q")

    asyncio.run(scenario())
