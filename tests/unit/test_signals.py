"""SIGINT, SIGTERM and SIGHUP handled alike (no root): the runner and its messages.

The live-kernel side (``tail``, ``status --watch`` and the TUI restoring the
kernel) is in tests/kernel/test_signals.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
import trio

from trioaudit._trio.signals import (
    STOP_SIGNALS,
    StoppedBySignal,
    UnfinishedCleanup,
    abandon_message,
    run_until_signalled,
    signal_exit_code,
)

#: A command in miniature: work until stopped, then a shielded cleanup of
#: ``argv[1]`` seconds that registered what it has not restored yet.
RUNNER_SCRIPT = """
import sys, trio
from trioaudit._trio.signals import StoppedBySignal, run_until_signalled

async def work(unfinished):
    left = ["thing left"]
    unfinished.add(lambda: left[0])
    try:
        print("ready", flush=True)
        await trio.sleep_forever()
    finally:
        with trio.CancelScope(shield=True):
            print("cleaning", flush=True)
            await trio.sleep(float(sys.argv[1]))
            left[0] = None
            print("cleaned", flush=True)

try:
    run_until_signalled(work, prog="demo")
except StoppedBySignal as stopped:
    sys.exit(stopped.exit_code)
"""


Runner = Callable[[float], "subprocess.Popen[str]"]


@pytest.fixture
def start_runner() -> Iterator[Runner]:
    """Start RUNNER_SCRIPT with a cleanup of so many seconds; killed after the test."""
    started: list[subprocess.Popen[str]] = []

    def start(cleanup_seconds: float) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER_SCRIPT, str(cleanup_seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"  # the signals are ours from here on
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=lambda signum: signum.name)
def test_each_signal_cancels_cleans_up_and_exits_128_plus_signal(
    start_runner: Runner, signum: int
) -> None:
    proc = start_runner(0.05)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signum
    assert out == "cleaning\ncleaned\n"
    assert err == ""  # no traceback, nothing to report


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (signal.SIGTERM, signal.SIGINT),
        (signal.SIGINT, signal.SIGHUP),
        (signal.SIGHUP, signal.SIGTERM),
    ],
    ids=lambda signum: signum.name,
)
def test_a_second_signal_during_cleanup_exits_at_once_naming_what_is_left(
    start_runner: Runner, first: int, second: int
) -> None:
    proc = start_runner(60)  # a cleanup that would take a minute
    assert proc.stdout is not None
    proc.send_signal(first)
    assert proc.stdout.readline() == "cleaning\n"
    sent = time.monotonic()
    proc.send_signal(second)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - sent < 5
    assert proc.returncode == 128 + second
    assert out == ""  # the cleanup never finished
    name = signal.Signals(second).name
    assert err == f"demo: {name} during cleanup, exiting at once: thing left\n"


def test_the_runner_returns_the_result_and_raises_errors_unwrapped() -> None:
    async def answer(unfinished: UnfinishedCleanup) -> int:
        await trio.lowlevel.checkpoint()
        return 42

    async def fail(unfinished: UnfinishedCleanup) -> None:
        await trio.lowlevel.checkpoint()
        raise LookupError("no such thing")

    assert run_until_signalled(answer) == 42
    with pytest.raises(LookupError, match="no such thing"):
        run_until_signalled(fail)


def test_a_signal_in_process_raises_stopped_by_signal_after_the_cleanup() -> None:
    cleaned: list[str] = []

    async def work(unfinished: UnfinishedCleanup) -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await trio.sleep(30)
        finally:
            cleaned.append("done")

    started = time.monotonic()
    with pytest.raises(StoppedBySignal) as stopped:
        run_until_signalled(work)
    assert time.monotonic() - started < 5
    assert stopped.value.signum == signal.SIGTERM and stopped.value.exit_code == 143
    assert cleaned == ["done"]


def test_unfinished_cleanup_lists_what_its_checks_report_now_last_change_first() -> None:
    unfinished = UnfinishedCleanup()  # registered, then enabled: undone the other way round
    state = {"enabled": True, "pid": False}
    unfinished.add(lambda: "pid 7 still registered" if state["pid"] else None)
    unfinished.add(lambda: "audit left enabled=1" if state["enabled"] else None)
    assert unfinished.describe() == ["audit left enabled=1"]
    state["pid"] = True
    assert unfinished.describe() == ["audit left enabled=1", "pid 7 still registered"]
    state["enabled"] = state["pid"] = False
    assert unfinished.describe() == []


def test_abandon_message_names_the_signal_and_what_is_left() -> None:
    assert abandon_message("trioaudit", signal.SIGTERM, ["a", "b"]) == (
        "trioaudit: SIGTERM during cleanup, exiting at once: a; b"
    )
    assert abandon_message("trioaudit-tui", signal.SIGINT, []) == (
        "trioaudit-tui: SIGINT during cleanup, exiting at once: nothing was left to restore"
    )
    assert [signal_exit_code(signum) for signum in STOP_SIGNALS] == [130, 143, 129]
