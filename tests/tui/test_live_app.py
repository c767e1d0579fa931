"""The dashboard against the live kernel: keys change the kernel, events appear in the feed."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from tests.support.kernelstate import RawAudit
from trioaudit.rules import render_rule
from trioaudit.tui import bridge
from trioaudit.tui.app import AuditApp, make_app
from trioaudit.tui.screens.confirm import ConfirmScreen
from trioaudit.tui.screens.rules import RulesScreen
from trioaudit.tui.widgets.event_feed import EventFeed
from trioaudit.tui.widgets.status_panel import StatusTable

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

SIZE = (140, 40)
ROOT = Path(__file__).parents[2]
HOLDER = ROOT / "tests" / "support" / "daemon_holder.py"


async def until(pilot: Pilot[None], condition: object, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.05)


def rendered_text(widget: StatusTable) -> str:
    """The panel's table as plain text (what the user reads)."""
    console = Console(width=SIZE[0], record=True, file=io.StringIO())
    console.print(widget.render())
    return console.export_text()


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
            text = rendered_text(app.query_one(StatusTable))
            assert "1234/s" in text and "/4321" in text
            assert f"{raw['failure']} " in text and f"{raw['enabled']} " in text
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


def test_b_and_shift_b_change_the_backlog_limit(raw_audit: RawAudit) -> None:
    raw_audit.set_status(16, backlog_limit=8192)

    async def scenario() -> None:
        app = make_app(show_clock=False)
        async with app.run_test(size=SIZE) as pilot:
            await connected(pilot)
            await pilot.press("b")
            await until(pilot, lambda: raw_audit.status()["backlog_limit"] == 8192 + 1024)
            await until(pilot, lambda: app.snapshot.status.backlog_limit == 9216)  # type: ignore[union-attr]
            await pilot.press("B", "B")
            await until(pilot, lambda: raw_audit.status()["backlog_limit"] == 8192 - 1024)
            await pilot.press("q")

    asyncio.run(scenario())


def test_rules_view_lists_adds_and_deletes_with_confirmation(raw_audit: RawAudit) -> None:
    raw_audit.delete_all_rules()  # the fixture puts them back
    rule = "-a always,exit -F arch=b64 -S execve -F key=trioaudit-tui-rules"

    async def scenario() -> None:
        app = make_app(show_clock=False)
        async with app.run_test(size=SIZE) as pilot:
            await connected(pilot)
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, RulesScreen))
            screen = app.screen
            assert isinstance(screen, RulesScreen)
            await pilot.press("a")
            app.screen.query_one("#rule-input", Input).value = rule
            await pilot.press("enter")
            await until(pilot, lambda: len(raw_audit.rules()) == 1)
            await until(pilot, lambda: len(screen.rules) == 1)
            assert render_rule(screen.rules[0]) == rule
            # The same rule again: the kernel says EEXIST, shown as an error, never a crash.
            await pilot.press("a")
            app.screen.query_one("#rule-input", Input).value = rule
            await pilot.press("enter")

            def refused() -> bool:
                return any(
                    n.severity == "error" and "EEXIST" in n.message for n in app._notifications
                )

            await until(pilot, refused)
            assert len(raw_audit.rules()) == 1 and app.is_running
            options = screen.query_one("#rules-list", OptionList)
            options.highlighted = 0
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert len(raw_audit.rules()) == 1  # nothing deleted before the answer
            await pilot.press("y")
            await until(pilot, lambda: raw_audit.rules() == [])
            await until(pilot, lambda: screen.rules == [])
            await pilot.press("escape", "q")

    asyncio.run(scenario())


def test_beside_a_running_daemon_the_tui_listens_on_multicast(raw_audit: RawAudit) -> None:
    holder = subprocess.Popen([sys.executable, str(HOLDER)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        raw_audit.set_status(8, rate_limit=300)

        async def scenario() -> None:
            app = make_app(show_clock=False)
            async with app.run_test(size=SIZE) as pilot:
                await connected(pilot)
                assert app.source.mode == "multicast"
                assert "multicast" in app.sub_title
                snapshot = app.snapshot
                assert snapshot is not None and snapshot.status is not None
                assert snapshot.status.pid == holder.pid and not snapshot.daemon_is_us
                assert snapshot.daemon_name is not None and "python" in snapshot.daemon_name
                await pilot.press("plus")  # control still works beside the daemon
                await until(pilot, lambda: raw_audit.status()["rate_limit"] == 400)
                await pilot.press("q")

        asyncio.run(scenario())
        assert raw_audit.status()["pid"] == holder.pid  # never displaced
    finally:
        holder.kill()
        holder.wait()
        raw_audit.set_status(4, pid=0)


NOT_ROOT_SCRIPT = """
import asyncio
from trioaudit.tui.app import make_app
from trioaudit.tui.screens.not_root import NotRootScreen

async def main():
    app = make_app(show_clock=False)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(100):
            if isinstance(app.screen, NotRootScreen):
                break
            await pilot.pause(0.05)
        print(type(app.screen).__name__)
        await pilot.press("q")

asyncio.run(main())
"""


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv is not installed")
def test_without_privileges_a_screen_explains_and_offers_replay(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            sys.executable,
            "-c",
            NOT_ROOT_SCRIPT,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
    )
    assert result.stdout.strip().splitlines()[-1:] == ["NotRootScreen"], result.stderr


def test_console_script_runs_in_a_terminal_and_q_releases_the_pid(raw_audit: RawAudit) -> None:
    """``trioaudit-tui`` itself, in a pseudo-terminal: it shows the status and quits on ``q``."""
    script = Path(sys.executable).with_name("trioaudit-tui")
    pid, fd = pty.fork()
    if pid == 0:  # child: become the dashboard
        os.environ["TERM"] = "xterm-256color"
        os.execv(script, [str(script)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    screen = bytearray()

    def read_for(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    screen.extend(os.read(fd, 65536))
                except OSError:  # the child closed the terminal
                    return

    try:
        deadline = time.monotonic() + 10
        while raw_audit.status()["pid"] != pid and time.monotonic() < deadline:
            read_for(0.2)
        assert raw_audit.status()["pid"] == pid  # the TUI became the audit daemon
        read_for(1.5)
        assert b"daemon pid" in screen and b"unicast" in screen
        os.write(fd, b"q")
        read_for(2.0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert raw_audit.status()["pid"] == 0  # q unregistered it
    finally:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def test_a_config_change_refreshes_the_panel_at_once(
    raw_audit: RawAudit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the periodic refresh pushed out to a minute, only CONFIG_CHANGE can refresh it."""
    raw_audit.set_status(1 | 8, enabled=1, rate_limit=0)

    async def scenario() -> None:
        app = make_app(show_clock=False)
        async with app.run_test(size=SIZE) as pilot:
            await connected(pilot)
            await pilot.pause(0.5)  # the first, immediate refresh is behind us
            monkeypatch.setattr(bridge, "STATUS_INTERVAL", 60.0)
            await pilot.pause(1.5)  # the pending one-second wait ends; now waits are a minute
            subprocess.run(["auditctl", "-r", "777"], check=True, capture_output=True)  # noqa: ASYNC221
            await until(pilot, lambda: app.snapshot.status.rate_limit == 777, limit=10)  # type: ignore[union-attr]
            await pilot.press("q")

    asyncio.run(scenario())
