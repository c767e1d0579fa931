"""``trioaudit status --watch [INTERVAL]``: the kernel's audit status, live.

In a terminal the ``auditctl -s`` lines are redrawn in place every interval
(cursor home, clear to end of line/screen: no scrolling, no flicker), with the
change of the two counters that tell whether the system is keeping up: ``lost``
(records the kernel dropped) and ``backlog_wait_time_actual`` (jiffies audited
tasks slept waiting for backlog space). Piped, or with ``--json``, it writes one
JSON object per interval (a JSON-lines stream) with the same data and the
deltas, for scripts and dashboards.

A delta is the change since the previous sample; when a counter went *down*
(somebody reset it) the delta is its new value, i.e. what accumulated since the
reset. The first sample has no delta (``null``).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

import trio

from .._errors import AuditUsageError
from .._trio.client import open_audit_client
from .._trio.signals import run_until_signalled
from .._wire.control import AuditFeatures
from .._wire.status import AuditStatus
from . import exitcodes
from .statusreport import read_status, status_json, status_lines

__all__ = ["MIN_INTERVAL", "WATCHED_COUNTERS", "counter_delta", "render_screen", "watch_status"]

#: Shortest refresh interval accepted, in seconds (each sample is two requests).
MIN_INTERVAL = 0.05
#: The counters whose per-interval change is shown.
WATCHED_COUNTERS = ("lost", "backlog_wait_time_actual")

_HOME = "\x1b[H"
_CLEAR_SCREEN = "\x1b[2J"
_CLEAR_LINE = "\x1b[K"
_CLEAR_BELOW = "\x1b[J"


def counter_delta(previous: int | None, current: int | None) -> int | None:
    """Change of a kernel counter between two samples (None when either is absent).

    A counter that went down was reset in between; what it holds now is what
    accumulated since, so that is the delta.
    """
    if previous is None or current is None:
        return None
    return current - previous if current >= previous else current


def _deltas(previous: AuditStatus | None, status: AuditStatus) -> dict[str, int | None]:
    return {
        name: counter_delta(
            getattr(previous, name) if previous is not None else None, getattr(status, name)
        )
        for name in WATCHED_COUNTERS
    }


def render_screen(
    status: AuditStatus,
    features: AuditFeatures | None,
    deltas: dict[str, int | None],
    *,
    interval: float,
    now: float,
) -> str:
    """One in-place frame: a header, then the ``auditctl -s`` lines with deltas."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    lines = [f"trioaudit status, every {interval:g}s: {stamp}", ""]
    for line in status_lines(status, features):
        name = line.split(" ", 1)[0]
        delta = deltas.get(name)
        if delta is not None:
            line = f"{line}  ({delta:+d} in {interval:g}s)"
        lines.append(line)
    return _HOME + "".join(f"{line}{_CLEAR_LINE}\n" for line in lines) + _CLEAR_BELOW


def _json_sample(
    status: AuditStatus,
    features: AuditFeatures | None,
    deltas: dict[str, int | None],
    *,
    now: float,
) -> str:
    data: dict[str, Any] = {"time": round(now, 3)}
    data.update(status_json(status, features))
    for name, delta in deltas.items():
        data[f"{name}_delta"] = delta
    return json.dumps(data)


def watch_status(
    interval: float,
    *,
    json_output: bool = False,
    count: int | None = None,
    stream: TextIO | None = None,
) -> int:
    """Sample the status every *interval* seconds until *count* samples or a signal.

    SIGINT, SIGTERM and SIGHUP end it without a traceback (``StoppedBySignal``:
    exit code 128 + signal); it changes nothing in the kernel, so there is
    nothing to restore.

    Args:
        interval: Seconds between samples.
        json_output: JSON lines even on a terminal.
        count: Stop after this many samples (None: until interrupted).
        stream: Where to write (default ``sys.stdout``); in-place redrawing
            happens only when it is a terminal and *json_output* is False.
    """
    if interval < MIN_INTERVAL:
        raise AuditUsageError(f"--watch interval must be at least {MIN_INTERVAL}s")
    if count is not None and count < 1:
        raise AuditUsageError("--count must be at least 1")
    out = stream if stream is not None else sys.stdout
    in_place = out.isatty() and not json_output

    async def run() -> None:
        async with open_audit_client("control") as client:
            previous: AuditStatus | None = None
            samples = 0
            if in_place:
                out.write(_HOME + _CLEAR_SCREEN)
            while True:
                status, features = await read_status(client)
                now = time.time()
                deltas = _deltas(previous, status)
                if in_place:
                    out.write(render_screen(status, features, deltas, interval=interval, now=now))
                else:
                    out.write(_json_sample(status, features, deltas, now=now) + "\n")
                out.flush()
                previous = status
                samples += 1
                if count is not None and samples >= count:
                    return
                await trio.sleep(interval)

    run_until_signalled(lambda _unfinished: run())
    return exitcodes.OK
