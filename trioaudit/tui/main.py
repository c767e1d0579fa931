"""``trioaudit-tui``: the live dashboard (``sudo trioaudit-tui``) or a log replay.

SIGINT, SIGTERM and SIGHUP end the dashboard the way ``q`` does, then it exits
with 128 + the signal (see :mod:`trioaudit._trio.signals`). They are taken on
the host loop with ``loop.add_signal_handler``, not by trio: asyncio owns the
thread (trio is only a guest there, and a replay has no trio at all), its
handlers run as ordinary loop callbacks, and its wakeup fd wakes the loop at
once (which is what ``host_uses_signal_set_wakeup_fd=True`` tells the guest
run). Textual then restores the terminal and the source releases the pid. A
second signal before that is done exits at once, after putting the terminal
back itself and naming what is left (the pid, if still registered).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import termios
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._trio.signals import STOP_SIGNALS, abandon, signal_exit_code
from .._version import __version__
from .model import DEFAULT_RING_SIZE

if TYPE_CHECKING:
    from .app import AuditApp

#: What Textual's Linux driver writes when it leaves application mode, in its order. Sent only
#: when a forced exit finds the terminal still in raw mode, i.e. Textual did not
#: get to restore it.
_LEAVE_APPLICATION_MODE = "".join(
    (
        "\x1b[?2004l",  # no bracketed paste
        "\x1b[?7h",  # line wrap back on
        "\x1b[?2048l",  # no in-band resize reports
        "\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l",  # no mouse reports
        "\x1b[<u",  # kitty keyboard protocol off (before leaving the alternate screen)
        "\x1b[?1049l",  # back from the alternate screen
        "\x1b[?25h",  # cursor shown
        "\x1b[?1004l",  # no focus reports
    )
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trioaudit-tui",
        description="Live Linux audit dashboard: kernel status, a filterable event feed, and "
        "keys to change the kernel's settings. Run as root, or replay a log with --replay.",
    )
    parser.add_argument("--version", action="version", version=f"trioaudit-tui {__version__}")
    parser.add_argument(
        "--replay", metavar="FILE", help="replay an audit.log instead of the kernel"
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        metavar="X",
        help="replay speed factor, 0 = as fast as possible (default 1)",
    )
    parser.add_argument("--loop", action="store_true", help="replay the file again at its end")
    parser.add_argument(
        "--normalize",
        action="store_true",
        help="start with the normalised summary column (go-libaudit's: who did what to "
        "what, how); the n key toggles it",
    )
    parser.add_argument(
        "--ring",
        type=int,
        default=DEFAULT_RING_SIZE,
        metavar="N",
        help="events kept in the feed (default %(default)s)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--unicast",
        dest="mode",
        action="store_const",
        const="unicast",
        help="become the audit daemon (fails if one runs)",
    )
    mode.add_argument(
        "--multicast",
        dest="mode",
        action="store_const",
        const="multicast",
        help="listen beside the running audit daemon",
    )
    parser.set_defaults(mode="auto")
    return parser


def _check(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, before the screen is taken over (None: nothing)."""
    if args.ring < 1:
        return "--ring must be at least 1"
    if args.speed < 0:
        return "--speed must be 0 (as fast as possible) or more"
    if args.replay is not None and not os.access(args.replay, os.R_OK):
        return f"cannot read {args.replay}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trioaudit-tui`` console script."""
    args = build_parser().parse_args(argv)
    problem = _check(args)
    if problem is not None:
        print(f"trioaudit-tui: {problem}", file=sys.stderr)
        return 2
    from .app import make_app

    app = make_app(
        replay=args.replay,
        speed=args.speed,
        ring_size=args.ring,
        mode=args.mode,
        loop_forever=args.loop,
        normalized=args.normalize,
    )
    return asyncio.run(run_until_signalled(app))


def _terminal_attributes() -> list[Any] | None:
    """The terminal settings of Textual's input (standard input); None if not a terminal."""
    try:
        return termios.tcgetattr(0)
    except termios.error:
        return None


def _restore_terminal(saved: list[Any] | None) -> None:
    """Undo Textual's raw mode and screen modes (on standard error, where Textual draws).

    Nothing is done when the settings are already back: Textual restored the
    terminal itself (it does before the source is stopped).
    """
    if saved is None or _terminal_attributes() == saved:
        return
    try:
        termios.tcsetattr(0, termios.TCSANOW, saved)
        os.write(2, _LEAVE_APPLICATION_MODE.encode())
    except (termios.error, OSError):
        pass  # best effort: we are exiting at the user's insistence


async def run_until_signalled(app: AuditApp) -> int:
    """Run *app*; SIGINT, SIGTERM and SIGHUP end it like ``q``. Returns the exit code."""
    loop = asyncio.get_running_loop()
    saved = _terminal_attributes()  # before Textual switches to raw mode
    stopped_by: int | None = None

    def stop(signum: int) -> None:
        nonlocal stopped_by
        if stopped_by is not None:
            _restore_terminal(saved)
            abandon("trioaudit-tui", signum, app.source.unfinished)
        stopped_by = signum
        app.exit()  # on_unmount stops the source: the pid is released

    # Installed before the app mounts and starts the guest run: trio then sees
    # a SIGINT handler that is not Python's default and leaves SIGINT to us.
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        await app.run_async()
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    return signal_exit_code(stopped_by) if stopped_by is not None else 0


if __name__ == "__main__":
    sys.exit(main())
