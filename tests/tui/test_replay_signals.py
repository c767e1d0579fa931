"""``trioaudit-tui --replay`` stopped by a signal gives the terminal back (no root).

The live dashboard, which also has a pid to release, is tested in
tests/kernel/test_signals.py.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from tests.support.terminal import PtyProcess
from trioaudit._trio.signals import STOP_SIGNALS

ROOT = Path(__file__).parents[2]
REPLAY = ROOT / "tests" / "data" / "tui_replay.log"
SCRIPT = Path(sys.executable).with_name("trioaudit-tui")

#: The dashboard with an app that ignores being asked to exit (stuck in some
#: handler, say); ``argv[1]`` is touched when it is asked.
STUCK_APP = """
import pathlib, sys
from trioaudit.tui import app, main

def exit_ignored(self, *args, **kwargs):
    pathlib.Path(sys.argv[1]).touch()

app.AuditApp.exit = exit_ignored
sys.exit(main.main(["--replay", sys.argv[2], "--loop"]))
"""


def _replaying(tui: PtyProcess) -> None:
    tui.read_until(lambda: b"replay" in tui.output and b"events" in tui.output)
    tui.read_for(0.5)


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda signum: signum.name)
def test_each_signal_ends_the_replay_with_the_terminal_restored(signum: int) -> None:
    with PtyProcess([str(SCRIPT), "--replay", str(REPLAY), "--loop"], env=dict(os.environ)) as tui:
        _replaying(tui)
        tui.proc.send_signal(signum)
        assert tui.wait() == 128 + signum, tui.tail()
        assert tui.terminal_problems() == []
        assert "Traceback" not in tui.after_alternate_screen()


def test_a_second_signal_restores_the_terminal_when_the_app_could_not(tmp_path: Path) -> None:
    asked = tmp_path / "asked-to-exit"
    argv = [sys.executable, "-c", STUCK_APP, str(asked), str(REPLAY)]
    with PtyProcess(argv, env={**os.environ, "PYTHONPATH": str(ROOT)}) as tui:
        _replaying(tui)
        tui.proc.send_signal(signal.SIGTERM)
        tui.read_until(asked.exists)
        tui.read_for(0.3)
        assert tui.proc.poll() is None  # stuck: Textual still holds the terminal
        assert tui.terminal_problems() != []
        tui.proc.send_signal(signal.SIGINT)
        assert tui.wait(timeout=5) == 130
        assert tui.terminal_problems() == []
        assert tui.after_alternate_screen().strip() == (
            "trioaudit-tui: SIGINT during cleanup, exiting at once: nothing was left to restore"
        )
