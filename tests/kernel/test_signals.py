"""SIGINT, SIGTERM and SIGHUP stop every long-running command cleanly (live kernel, root).

For each signal and each command -- ``tail --enable`` as the audit daemon and
beside one, ``status --watch``, the ``trioaudit-tui`` console script in a
pseudo-terminal, and ``./run`` under ``timeout`` -- the exit code is 128 +
the signal, nothing is printed but what the command always prints, and the
kernel's status and rule list are afterwards exactly what they were before.
A second signal during a cleanup made slow on purpose exits at once and names
what it left behind, and the kernel shows just that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.children import read_line, started
from tests.support.hardening_helpers import foreign_daemon
from tests.support.kernelstate import MASK_ENABLED, RawAudit
from tests.support.terminal import PtyProcess
from trioaudit._trio.signals import STOP_SIGNALS
from trioaudit.tui.bridge import LiveSource

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

ROOT = Path(__file__).parents[2]
CLI = [sys.executable, "-m", "trioaudit.cli.main"]
TUI = Path(sys.executable).with_name("trioaudit-tui")
#: What "the kernel is as it was" compares (``lost`` and ``backlog`` move by themselves).
SETTINGS = ("enabled", "failure", "pid", "rate_limit", "backlog_limit", "backlog_wait_time")
#: Runs stopping ``tail --enable`` at a random point with SIGTERM or SIGHUP.
RANDOM_RUNS = 8
SEED = int(os.environ.get("TRIOAUDIT_CANCEL_SEED", "20261126"))


def _name(signum: int) -> str:
    return signal.Signals(signum).name


def _settings(raw_audit: RawAudit) -> dict[str, int]:
    status = raw_audit.status()
    return {name: status[name] for name in SETTINGS}


def _wait_registered(raw_audit: RawAudit, pid: int, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while raw_audit.status()["pid"] != pid:
        assert time.monotonic() < deadline, f"pid {pid} never registered"
        time.sleep(0.01)


# ---- each command, each signal --------------------------------------------------------


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=_name)
@pytest.mark.parametrize("mode", ["unicast", "multicast"])
def test_tail_enable_leaves_the_kernel_as_it_was_after_each_signal(
    raw_audit: RawAudit, mode: str, signum: int
) -> None:
    raw_audit.set_status(MASK_ENABLED, enabled=0)
    with contextlib.ExitStack() as stack:
        if mode == "multicast":
            stack.enter_context(foreign_daemon())
        before, rules_before = _settings(raw_audit), raw_audit.rules()
        tail = stack.enter_context(started(*CLI, "tail", f"--{mode}", "--enable"))
        line = read_line(tail.stderr)  # printed once listening with auditing on
        assert line.startswith("trioaudit: listening"), line
        running = raw_audit.status()
        assert running["enabled"] == 1
        assert running["pid"] == (tail.pid if mode == "unicast" else before["pid"])
        tail.send_signal(signum)
        _, err = tail.communicate(timeout=20)
        assert tail.returncode == 128 + signum, err
        assert err == ""  # no traceback, no complaint
        assert _settings(raw_audit) == before
        assert raw_audit.rules() == rules_before


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=_name)
def test_status_watch_exits_cleanly_on_each_signal(raw_audit: RawAudit, signum: int) -> None:
    before, rules_before = _settings(raw_audit), raw_audit.rules()
    with started(*CLI, "status", "--watch", "0.1", "--json", stdout=subprocess.PIPE) as watch:
        assert read_line(watch.stdout).startswith('{"time": ')
        watch.send_signal(signum)
        _, err = watch.communicate(timeout=20)
        assert watch.returncode == 128 + signum, err
        assert err == ""
    assert _settings(raw_audit) == before
    assert raw_audit.rules() == rules_before


@pytest.mark.parametrize("signum", STOP_SIGNALS, ids=_name)
def test_tui_releases_the_pid_and_the_terminal_on_each_signal(
    raw_audit: RawAudit, signum: int
) -> None:
    before, rules_before = _settings(raw_audit), raw_audit.rules()
    with PtyProcess([str(TUI)], env=dict(os.environ)) as tui:
        tui.read_until(lambda: raw_audit.status()["pid"] == tui.proc.pid)
        tui.read_until(lambda: b"daemon pid" in tui.output and b"unicast" in tui.output)
        tui.proc.send_signal(signum)
        assert tui.wait() == 128 + signum, tui.tail()
        assert tui.terminal_problems() == []
        assert tui.after_alternate_screen().strip() == ""  # no traceback, no message
    assert _settings(raw_audit) == before
    assert raw_audit.rules() == rules_before


@pytest.mark.skipif(
    shutil.which("timeout") is None or not (ROOT / ".venv" / "bin" / "trioaudit").exists(),
    reason="needs coreutils' timeout and the ./run venv",
)
def test_run_stopped_by_timeout_leaves_enabled_and_pid_as_they_were(raw_audit: RawAudit) -> None:
    """The issue's own check: ``timeout`` sends SIGTERM to ``./run`` (``tail --enable``)."""
    raw_audit.set_status(MASK_ENABLED, enabled=0)
    before, rules_before = _settings(raw_audit), raw_audit.rules()
    with started("timeout", "5", str(ROOT / "run")) as run:
        deadline = time.monotonic() + 5
        while raw_audit.status()["enabled"] != 1:  # registered and enabled, in that order
            assert time.monotonic() < deadline and run.poll() is None, "./run never started"
            time.sleep(0.01)
        assert raw_audit.status()["pid"] not in (0, before["pid"])
        _, err = run.communicate(timeout=20)
        assert run.returncode == 124, err  # timeout's own code: it had to stop the command
        assert err.startswith("trioaudit: listening as the audit daemon")
        assert "Traceback" not in err
    assert _settings(raw_audit) == before
    assert raw_audit.rules() == rules_before


def test_sigterm_or_sighup_at_random_points_of_tail_enable(raw_audit: RawAudit) -> None:
    """Like the Ctrl-C test in test_cancellation, from registration to steady state."""
    rng = random.Random(SEED)
    raw_audit.set_status(MASK_ENABLED, enabled=0)
    before = _settings(raw_audit)
    codes: dict[int, int] = {}
    for run in range(RANDOM_RUNS):
        signum = (signal.SIGTERM, signal.SIGHUP)[run % 2]
        with started(*CLI, "tail", "--unicast", "--enable") as tail:
            _wait_registered(raw_audit, tail.pid)
            time.sleep(rng.uniform(0, 0.5))
            tail.send_signal(signum)
            _, err = tail.communicate(timeout=20)
        codes[tail.returncode] = codes.get(tail.returncode, 0) + 1
        assert tail.returncode == 128 + signum, (run, tail.returncode, err)
        assert "Traceback" not in err, (run, err)
        assert _settings(raw_audit) == before, f"run {run} ({_name(signum)})"
    print(f"\nFIGURES sigterm/sighup: runs={RANDOM_RUNS} exit_codes={codes}")


def test_tui_source_stopped_before_trio_ran_still_stops(raw_audit: RawAudit) -> None:
    """A signal at start-up can stop the live source before its trio side has begun."""
    posted: list[object] = []

    class App:
        def post_message(self, message: object) -> None:
            posted.append(message)

    async def start_and_stop_at_once() -> None:
        source = LiveSource("unicast")
        async with asyncio.timeout(5):
            source.start(App())  # type: ignore[arg-type]
            await source.stop()  # awaited at once: trio's first tick has not run yet

    asyncio.run(start_and_stop_at_once())
    assert raw_audit.status()["pid"] == 0
    assert posted == []  # cancelled before it opened a client: no failure to report


# ---- a second signal during cleanup ----------------------------------------------------

#: ``trioaudit`` whose restore of ``enabled`` takes a minute; it says on stderr when it starts.
SLOW_RESTORE = """
import sys, trio
from trioaudit._trio.client import AuditClient
from trioaudit.cli import main

set_enabled = AuditClient.set_enabled

async def slow_restore(self, enabled, **kwargs):
    if not enabled:
        print("restoring", file=sys.stderr, flush=True)
        await trio.sleep(60)
    await set_enabled(self, enabled, **kwargs)

AuditClient.set_enabled = slow_restore
sys.exit(main.main(sys.argv[1:]))
"""


def test_second_signal_while_tail_restores_exits_at_once_naming_what_is_left(
    raw_audit: RawAudit,
) -> None:
    raw_audit.set_status(MASK_ENABLED, enabled=0)
    argv = [sys.executable, "-c", SLOW_RESTORE, "tail", "--unicast", "--enable"]
    with started(*argv) as tail:
        assert read_line(tail.stderr).startswith("trioaudit: listening")
        tail.send_signal(signal.SIGTERM)
        assert read_line(tail.stderr) == "restoring\n"
        sent = time.monotonic()
        tail.send_signal(signal.SIGINT)
        _, err = tail.communicate(timeout=20)
        assert time.monotonic() - sent < 5
        assert tail.returncode == 130
        assert err == (
            "trioaudit: SIGINT during cleanup, exiting at once: audit left enabled=1 "
            f"(it was 0 before --enable); pid {tail.pid} still registered as the audit daemon\n"
        )
        # Just what it said: auditing still on, and the dead pid registered until
        # kauditd next tries to send it something (it may have already).
        status = raw_audit.status()
        assert status["enabled"] == 1 and status["pid"] in (tail.pid, 0)


#: ``trioaudit-tui`` whose source takes a minute to stop; ``argv[1]`` is touched when it starts.
SLOW_STOP = """
import asyncio, pathlib, sys
from trioaudit.tui import bridge, main

stop = bridge.LiveSource.stop

async def slow_stop(self):
    pathlib.Path(sys.argv[1]).touch()
    await asyncio.sleep(60)
    await stop(self)

bridge.LiveSource.stop = slow_stop
sys.exit(main.main([]))
"""


def test_second_signal_while_the_tui_stops_exits_at_once_naming_the_pid(
    raw_audit: RawAudit, tmp_path: Path
) -> None:
    stopping = tmp_path / "stopping"
    argv = [sys.executable, "-c", SLOW_STOP, str(stopping)]
    with PtyProcess(argv, env={**os.environ, "PYTHONPATH": str(ROOT)}) as tui:
        tui.read_until(lambda: raw_audit.status()["pid"] == tui.proc.pid)
        tui.read_until(lambda: b"daemon pid" in tui.output)
        tui.proc.send_signal(signal.SIGHUP)
        tui.read_until(stopping.exists)
        tui.proc.send_signal(signal.SIGTERM)
        assert tui.wait(timeout=5) == 143
        assert tui.terminal_problems() == []  # Textual had restored it before stopping
        assert tui.after_alternate_screen().strip() == (
            "trioaudit-tui: SIGTERM during cleanup, exiting at once: "
            f"pid {tui.proc.pid} still registered as the audit daemon"
        )
        assert raw_audit.status()["pid"] in (tui.proc.pid, 0)
