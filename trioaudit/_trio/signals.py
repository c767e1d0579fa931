"""Stopping on SIGINT, SIGTERM and SIGHUP alike: cancel, clean up, exit 128 + signal.

Ctrl-C, ``kill``, ``timeout``, systemd and a closed terminal all mean "stop
now", and a front end that registered as the audit daemon or turned auditing
on must put the kernel back whichever of them it gets. Python's defaults treat
them differently (``KeyboardInterrupt`` for SIGINT; death without cleanup for
SIGTERM and SIGHUP), so the front ends catch all three and take one path:

1. The first signal cancels the work; ``finally`` blocks and ``__aexit__``
   methods restore what was changed (they shield their kernel requests), the
   client unregisters its pid, output is flushed, and the process exits with
   ``128 + signal`` (130, 143, 129), as a shell reports a process the signal
   killed -- but without a traceback and with the kernel as it was.
2. A second signal while that cleanup runs means the user will not wait:
   the process exits at once (:func:`abandon`), saying in one line what it
   could not restore, so that it can be repaired by hand.

What is still to restore is known to an :class:`UnfinishedCleanup`: the code
that changes the kernel registers a check that describes what it has not yet
put back (or returns None), so the list is computed from the live objects at
the moment it is needed and can never go stale.

:func:`run_until_signalled` does this for trio programs with
``trio.open_signal_receiver``. The TUI, where asyncio owns the thread and trio
is a guest, takes the signals on the host loop instead and reuses the rest.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar

import trio

from .client import AuditClient

__all__ = [
    "STOP_SIGNALS",
    "StoppedBySignal",
    "UnfinishedCleanup",
    "abandon",
    "abandon_message",
    "registration_left",
    "run_until_signalled",
    "signal_exit_code",
]

_T = TypeVar("_T")

#: The signals that ask a front end to stop; each one is handled like Ctrl-C.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def signal_exit_code(signum: int) -> int:
    """The exit code a shell reports for a process that *signum* stopped (128 + signum)."""
    return 128 + signum


def _name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class StoppedBySignal(Exception):
    """The run was stopped by *signum* and cleaned up after itself.

    Raised by :func:`run_until_signalled` once cleanup has finished, for the
    command's entry point to turn into :attr:`exit_code`.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {_name(signum)}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return signal_exit_code(self.signum)


class UnfinishedCleanup:
    """What this process changed in the kernel and has not put back yet, in words.

    Code that changes the kernel adds a check: a callable that returns what is
    still left (``"audit left enabled=1"``) or None once it is restored.
    """

    def __init__(self) -> None:
        self._checks: list[Callable[[], str | None]] = []

    def add(self, check: Callable[[], str | None]) -> None:
        """Consult *check* whenever the unfinished cleanup is described."""
        self._checks.append(check)

    def describe(self) -> list[str]:
        """What is still left, in the order cleanup undoes it (the last change first)."""
        return [text for check in reversed(self._checks) if (text := check()) is not None]


def registration_left(client: AuditClient) -> str | None:
    """The check for a client's unicast registration: our pid until it is given back.

    A process that dies registered stays the kernel's audit daemon until
    kauditd next tries to send it a record and finds it gone.
    """
    if not client.registered:
        return None
    return f"pid {os.getpid()} still registered as the audit daemon"


def abandon_message(prog: str, signum: int, unfinished: list[str]) -> str:
    """The one line printed when a second *signum* cuts cleanup short."""
    left = "; ".join(unfinished) if unfinished else "nothing was left to restore"
    return f"{prog}: {_name(signum)} during cleanup, exiting at once: {left}"


def abandon(prog: str, signum: int, unfinished: UnfinishedCleanup) -> NoReturn:
    """Exit now with ``128 + signum``, saying what is left unrestored.

    ``os._exit``: no ``finally`` block, no buffered-output flush and no thread
    join may make the user wait any longer (a stalled stdout could block a
    flush forever). The line goes straight to file descriptor 2 for the same
    reason.
    """
    line = abandon_message(prog, signum, unfinished.describe()) + "\n"
    try:
        os.write(2, line.encode("utf-8", "backslashreplace"))
    finally:
        os._exit(signal_exit_code(signum))


def run_until_signalled(
    async_fn: Callable[[UnfinishedCleanup], Awaitable[_T]],
    *,
    prog: str = "trioaudit",
    stop_signals: tuple[int, ...] = STOP_SIGNALS,
) -> _T:
    """``trio.run(async_fn, unfinished)``, stopped cleanly by SIGINT, SIGTERM or SIGHUP.

    The first signal cancels *async_fn*; its cleanup runs as it would on any
    cancellation, and then :class:`StoppedBySignal` is raised (an exception
    raised during the cleanup wins: it says what went wrong). A second signal
    before the cleanup is done exits at once through :func:`abandon`, naming
    what *async_fn* registered in the :class:`UnfinishedCleanup` it was given
    and has not restored. *stop_signals*: the daemon leaves SIGHUP out (it reloads).
    """
    unfinished = UnfinishedCleanup()
    stopped_by: int | None = None

    async def main() -> _T:
        nonlocal stopped_by
        # Open before any work starts: from here on SIGINT is a signal like the
        # others, not a KeyboardInterrupt that could land anywhere.
        with trio.open_signal_receiver(*stop_signals) as signals:
            work = trio.CancelScope()

            async def watch() -> None:
                nonlocal stopped_by
                async for signum in signals:
                    if stopped_by is not None:
                        abandon(prog, signum, unfinished)
                    stopped_by = signum
                    work.cancel()

            result: list[_T] = []
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(watch)
                    with work:
                        result.append(await async_fn(unfinished))
                    # Cleanup is over (the work scope has exited): stop watching.
                    nursery.cancel_scope.cancel()
            except BaseExceptionGroup as group:
                # The watcher never raises: the group holds the work's one exception.
                (error,) = group.exceptions
                raise error from error.__cause__
            if stopped_by is not None:
                raise StoppedBySignal(stopped_by)
            return result[0]

    return trio.run(main)
