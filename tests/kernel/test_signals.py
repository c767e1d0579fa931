"""SIGINT, SIGTERM and SIGHUP stop every long-running command cleanly (live kernel, root).

For each signal and each command -- ``tail --enable`` as the audit daemon and
beside one, ``status --watch``, and ``./run`` under ``timeout`` -- the exit code is 128 +
the signal, nothing is printed but what the command always prints, and the
kernel's status and rule list are afterwards exactly what they were before.
A second signal during a cleanup made slow on purpose exits at once and names
what it left behind, and the kernel shows just that.
"""

from __future__ import annotations

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
from trioaudit._trio.signals import STOP_SIGNALS

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

ROOT = Path(__file__).parents[2]
CLI = [sys.executable, "-m", "trioaudit.cli.main"]
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
