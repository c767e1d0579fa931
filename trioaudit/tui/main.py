"""``trioaudit-tui``: the live dashboard (``sudo trioaudit-tui``) or a log replay."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .._version import __version__
from .model import DEFAULT_RING_SIZE


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
    )
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
