"""Cancellation at random points (live kernel, root).

Hundreds of runs cancel an ``open_audit_client`` block, or single requests
inside one, at a random point: after a random delay of up to a few
milliseconds (which lands anywhere in socket setup, registration, a request
or the unregistration on the way out), or after a random number of
scheduler checkpoints (which walks the cancellation point through every
``await`` in order). After every run:

* no task is left behind (the task tree is the same as before);
* no file descriptor is left open;
* our pid is not registered with the kernel any more;
* the kernel's settings and rules are what they were (the requests made
  during the runs write back the values already there, so any difference
  is a bug, not a test artefact).

The seed is fixed so failures reproduce; set ``TRIOAUDIT_CANCEL_SEED`` to
explore other schedules.
"""

from __future__ import annotations

import os
import random
from collections.abc import Awaitable, Callable

import pytest
import trio

from tests.support.kernelstate import MASK_ENABLED, RawAudit
from tests.support.tasks import all_tasks as _all_tasks
from trioaudit import AuditDaemonRunning, AuditMessageType, AuditReplyTimeout, open_audit_client
from trioaudit._trio.client import AuditClient, ClientMode

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

#: Runs cancelling a whole client block.
CLIENT_RUNS = 800
#: Runs cancelling single requests inside one client.
REQUEST_RUNS = 1200
#: Longest random delay before the cancel, in seconds.
MAX_DELAY = 0.004
#: Most checkpoints before the cancel.
MAX_CHECKPOINTS = 120
#: Seconds the whole test may take.
DEADLINE = 60.0
SEED = int(os.environ.get("TRIOAUDIT_CANCEL_SEED", "20261126"))
#: Settings compared before and after.
SETTINGS = ("enabled", "failure", "pid", "rate_limit", "backlog_limit", "backlog_wait_time")


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def _cancel_at_random_point(rng: random.Random, body: Callable[[], Awaitable[None]]) -> str:
    """Run *body* and cancel it at a random point; return how the cancel was placed."""
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            if rng.random() < 0.5:
                delay = rng.uniform(0, MAX_DELAY)
                scope.deadline = trio.current_time() + delay
                how = "delay"
            else:
                checkpoints = rng.randrange(MAX_CHECKPOINTS)

                async def canceller() -> None:
                    for _ in range(checkpoints):
                        await trio.lowlevel.checkpoint()
                    scope.cancel()

                nursery.start_soon(canceller)
                how = "checkpoints"
            await body()
            scope.cancel()  # finished before the cancel: stop the canceller too
    return how


async def _client_body(client: AuditClient, rng: random.Random, before: dict[str, int]) -> None:
    """Requests that write back what the kernel already holds."""
    steps: list[Callable[[], Awaitable[object]]] = [
        client.get_status,
        lambda: client.set_rate_limit(before["rate_limit"]),
        lambda: client.set_backlog_limit(before["backlog_limit"]),
        lambda: client.set_enabled(bool(before["enabled"])),
        lambda: client.request_dump(AuditMessageType.LIST_RULES),
    ]
    for _ in range(rng.randrange(1, 6)):
        await rng.choice(steps)()
    if client.mode != "control" and rng.random() < 0.3:
        async with client.records() as records:
            with trio.move_on_after(0.001):
                await records.receive()
    await trio.sleep(rng.uniform(0, 0.002))


async def test_cancel_client_blocks_and_requests_at_random_points(raw_audit: RawAudit) -> None:
    rng = random.Random(SEED)
    raw_audit.set_status(MASK_ENABLED, enabled=1)  # unicast registration really delivers
    before = raw_audit.status()
    rules_before = raw_audit.rules()
    tasks_before = _all_tasks()
    fds_before = _open_fds()
    placements = {"delay": 0, "checkpoints": 0}
    completed = 0
    modes: list[ClientMode] = ["unicast", "auto", "multicast", "control"]
    with trio.fail_after(DEADLINE):
        for run in range(CLIENT_RUNS):
            mode = modes[run % len(modes)]

            async def whole_block(mode: ClientMode = mode) -> None:
                nonlocal completed
                async with open_audit_client(mode, rcvbuf=1 << 20) as client:
                    await _client_body(client, rng, before)
                completed += 1

            placements[await _cancel_at_random_point(rng, whole_block)] += 1
            status = raw_audit.status()
            assert status["pid"] == 0, f"run {run} ({mode}): pid {status['pid']} left registered"
            assert _all_tasks() == tasks_before, f"run {run} ({mode}): leaked tasks"
            assert _open_fds() == fds_before, f"run {run} ({mode}): leaked file descriptors"

        request_cancels = 0
        async with open_audit_client("unicast") as client:
            for _ in range(REQUEST_RUNS):
                placement = await _cancel_at_random_point(
                    rng, lambda: _client_body(client, rng, before)
                )
                placements[placement] += 1
                request_cancels += 1
                assert not client._waiters, "a cancelled request left a waiter behind"
                assert not client._protocol.pending, "a cancelled request left a pending seq"
            # Still fully usable after hundreds of cancelled requests.
            status = await client.get_status()
            assert status.pid == os.getpid()
            stats = client.statistics()
        assert raw_audit.status()["pid"] == 0
    after = raw_audit.status()
    print(
        f"\nFIGURES cancellation: seed={SEED} client_runs={CLIENT_RUNS} "
        f"(completed before the cancel: {completed}) request_runs={request_cancels} "
        f"placements={placements} unmatched_replies={stats.unmatched_replies}"
    )
    assert {name: after[name] for name in SETTINGS} == {name: before[name] for name in SETTINGS}
    assert raw_audit.rules() == rules_before
    assert _all_tasks() == tasks_before
    assert _open_fds() == fds_before
    # Both kinds of placement were exercised, and most runs were really cut short.
    assert min(placements.values()) > CLIENT_RUNS // 4
    assert completed < CLIENT_RUNS


async def test_cancelled_unicast_open_never_leaves_a_stale_registration(
    raw_audit: RawAudit,
) -> None:
    """Cancel exactly while the registration request is in flight, many times."""
    for checkpoints in range(40):
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:

                async def canceller(checkpoints: int = checkpoints) -> None:
                    for _ in range(checkpoints):
                        await trio.lowlevel.checkpoint()
                    scope.cancel()

                nursery.start_soon(canceller)
                try:
                    async with open_audit_client("unicast"):
                        await trio.sleep_forever()
                except (AuditDaemonRunning, AuditReplyTimeout) as exc:  # pragma: no cover
                    raise AssertionError(f"unexpected {exc!r}") from exc
        assert raw_audit.status()["pid"] == 0, f"left registered after {checkpoints} checkpoints"


#: Ctrl-C runs of the CLI (each starts an interpreter, so fewer than the in-process runs).
SIGINT_RUNS = 16


def test_ctrl_c_at_random_points_of_the_cli(raw_audit: RawAudit) -> None:
    """SIGINT to ``trioaudit tail --unicast --enable`` from start-up to steady state."""
    import signal
    import subprocess
    import sys
    import time

    rng = random.Random(SEED)
    raw_audit.set_status(MASK_ENABLED, enabled=0)
    before = raw_audit.status()
    codes: dict[int, int] = {}
    for run in range(SIGINT_RUNS):
        proc = subprocess.Popen(
            [sys.executable, "-m", "trioaudit.cli.main", "tail", "--unicast", "--enable"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        # From registration on (the kernel state is at stake): enabling, opening the
        # record stream, streaming. Earlier points are covered in-process above; a
        # Ctrl-C while Python is still importing the package ends with Python's own
        # KeyboardInterrupt traceback, before trioaudit code runs.
        deadline = time.monotonic() + 10
        while raw_audit.status()["pid"] != proc.pid and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 1.0))
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
        codes[proc.returncode] = codes.get(proc.returncode, 0) + 1
        assert proc.returncode in (0, 130), (run, proc.returncode, err)
        assert "Traceback" not in err, (run, err)
        status = raw_audit.status()
        assert status["pid"] == 0, f"run {run}: pid {status['pid']} left registered"
        assert status["enabled"] == before["enabled"], f"run {run}: enabled not restored"
    print(f"\nFIGURES ctrl-c: runs={SIGINT_RUNS} exit_codes={codes}")
    assert codes.get(130, 0) > SIGINT_RUNS // 2
