"""The ``trioaudit`` command: argument parsing and error-to-exit-code mapping.

Each subcommand lives in its own module with a ``register(subparsers)``
function that adds its parser and sets ``func`` (a synchronous callable taking
the parsed arguments and returning an exit code). This module only wires them
and turns exceptions into one-line diagnostics on stderr and documented exit
codes (:mod:`trioaudit.cli.exitcodes`).

Long-running commands run under :func:`trioaudit._trio.signals.run_until_signalled`:
SIGINT, SIGTERM and SIGHUP cancel them, they clean up, and the
``StoppedBySignal`` that follows becomes exit code 128 + signal here.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence

from .. import _native
from .._errors import (
    AuditDaemonRunning,
    AuditError,
    AuditPermissionError,
    AuditUsageError,
)
from .._trio.signals import StoppedBySignal
from .._version import __version__
from . import control, controlplane, daemon, exitcodes, parse, rules, tail

#: Modules contributing subcommands, in the order ``--help`` lists them.
SUBCOMMANDS = [control, tail, rules, parse, controlplane, daemon]


def _version_text() -> str:
    """The version and the core in use: ``native``, or ``python`` and why."""
    core = _native.CORE
    if _native.CORE_PROBLEM:
        core += f": {_native.CORE_PROBLEM}"
    return f"trioaudit {__version__} (core: {core})"


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="trioaudit",
        description="Talk to the Linux audit subsystem: status, control, rules and live events.",
        epilog="Exit codes: 0 ok, 1 kernel refused / failure, 2 usage, 69 another audit daemon "
        "holds the pid, 77 permission denied, 141 output closed, 128+N stopped by signal N "
        "(130 SIGINT, 143 SIGTERM, 129 SIGHUP).",
    )
    parser.add_argument("--version", action="version", version=_version_text())
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log diagnostics (drops, overflows) to stderr"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in SUBCOMMANDS:
        module.register(subparsers)
    return parser


def _diagnose(error: BaseException) -> None:
    print(f"trioaudit: {error}", file=sys.stderr)
    for note in getattr(error, "__notes__", ()):
        print(f"trioaudit: hint: {note}", file=sys.stderr)


#: The collector's generation-0 threshold while a command runs (CPython's default is 700).
COLLECTOR_THRESHOLD = 7000


def tune_collector() -> None:
    """Make the cyclic garbage collector cheap for a stream of records.

    A stream allocates millions of short-lived containers (records, events, the
    reassembler's entries) that are never part of a cycle, and each collection of
    the oldest generation would also walk every object the imports made. So: the
    objects alive once the command is set up are moved out of the collector's
    sight (``gc.freeze``), and the youngest generation is collected every
    :data:`COLLECTOR_THRESHOLD` allocations instead of 700. Cycles are still
    collected; memory stays bounded (measured in docs/benchmarks.md: ~20 % of
    ``trioaudit parse``'s time went to the collector).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(COLLECTOR_THRESHOLD, 10, 10)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trioaudit`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    tune_collector()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="trioaudit: %(message)s",
    )
    try:
        try:
            code: int = args.func(args)
        except StoppedBySignal as stopped:  # cleaned up already; only the output is left
            code = stopped.exit_code
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:  # before a command took over the signals, or a one-shot one
        return exitcodes.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``). Point stdout at /dev/null so the
        # interpreter's final flush does not complain, and leave quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exitcodes.BROKEN_PIPE
    except (AuditPermissionError, PermissionError) as exc:
        _diagnose(exc)
        return exitcodes.NO_PERMISSION
    except AuditDaemonRunning as exc:
        _diagnose(exc)
        return exitcodes.DAEMON_RUNNING
    except AuditUsageError as exc:
        _diagnose(exc)
        return exitcodes.USAGE
    except (AuditError, OSError) as exc:
        _diagnose(exc)
        return exitcodes.FAILURE


if __name__ == "__main__":
    sys.exit(main())
