"""``python -m benchmarks``: run the benchmarks, print the tables, update docs/benchmarks.md.

The drain and parse parts need root, the live kernel and no running audit
daemon; they restore the audit settings they change and delete their own rules.
The tui part (``--only tui``) replays a log into the app: no kernel, no root.
``--quick`` runs each benchmark in seconds (what the smoke test uses).
"""

from __future__ import annotations

import argparse
import compileall
import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path

from trioaudit.tui.model import DEFAULT_RING_SIZE

from . import _report, drain, execcpu, parse, tui

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
#: Full run: a flood, then paced rates (events/s); each storm lasts up to STORM_SECONDS.
FULL_RATES = (0, 10_000, 30_000, 60_000)
STORM_SECONDS = 3.0
FLOOD_CALLS = 3_000_000
FULL_PARSE_RECORDS = 1_000_000
#: Quick (smoke) run: one small flood and a small corpus.
QUICK_STORM = drain.StormSettings(count=20_000, seconds=1.0)
QUICK_PARSE_RECORDS = 20_000
#: TUI under flood: a replay of at least this many events into the default ring.
FULL_TUI = tui.TuiSettings(events=1_000_000, ring=DEFAULT_RING_SIZE, sample_interval=1.0)
QUICK_TUI = tui.TuiSettings(events=5_000, ring=1_000, sample_interval=0.2)
#: CPU at paced exec rates (exec/s), each for CPU_SECONDS.
CPU_RATES = (100, 1_000, 5_000)
CPU_SECONDS = 10.0
QUICK_CPU_RATES = (1_000,)
QUICK_CPU_SECONDS = 1.0
SECTIONS = ("drain", "cpu", "parse", "tui")
#: Sections that talk to the kernel (root, and a clean kernel afterwards).
KERNEL_SECTIONS = ("drain", "cpu", "parse")


def _storms(rates: list[int]) -> list[drain.StormSettings]:
    return [
        drain.StormSettings(
            count=FLOOD_CALLS if rate == 0 else int(rate * STORM_SECONDS),
            seconds=STORM_SECONDS,
            rate=rate,
        )
        for rate in rates
    ]


def _compile_bytecode(progress: Callable[[str], None]) -> None:
    """Write trioaudit's ``__pycache__`` before anything is timed.

    What users run was byte-compiled at install (pip does it) or on its first import.
    Under ``PYTHONDONTWRITEBYTECODE`` (some shells and CI images set it) an editable
    checkout would instead compile every module on every start -- 0.1 s of each
    ``trioaudit parse`` run measured, which is start-up cost no user pays.
    """
    package = Path(__file__).resolve().parent.parent / "trioaudit"
    if not compileall.compile_dir(str(package), quiet=1):
        progress("could not byte-compile trioaudit: start-up figures include compiling")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for smoke")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this part")
    parser.add_argument(
        "--rates",
        help="comma-separated storm rates in events/s, 0 = unpaced flood "
        f"(default {','.join(map(str, FULL_RATES))})",
    )
    parser.add_argument("--records", type=int, help="parse corpus size in records")
    parser.add_argument("--events", type=int, help="tui: replay at least this many events")
    parser.add_argument("--readers", metavar="TEXT", help="drain: only readers whose name has TEXT")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="Markdown to update")
    parser.add_argument("--no-write", action="store_true", help="print only, do not write")
    args = parser.parse_args(argv)
    only = args.only or list(SECTIONS)
    kernel = any(name in only for name in KERNEL_SECTIONS)
    if kernel and os.geteuid() != 0:
        print("benchmarks: drain and parse need root (NETLINK_AUDIT control)", file=sys.stderr)
        return 77

    def progress(message: str) -> None:
        print(f"benchmarks: {message}", file=sys.stderr, flush=True)

    _compile_bytecode(progress)
    sections: dict[str, str] = {"meta": _report.machine()}
    if "drain" in only:
        if args.rates:
            storms = _storms([int(rate) for rate in args.rates.split(",")])
        elif args.quick:
            storms = [QUICK_STORM]
        else:
            storms = _storms(list(FULL_RATES))
        sections["drain"] = _report.drain_section(
            drain.run(storms, progress=progress, only=args.readers)
        )
    if "cpu" in only:
        rates = QUICK_CPU_RATES if args.quick else CPU_RATES
        seconds = QUICK_CPU_SECONDS if args.quick else CPU_SECONDS
        sections["cpu"] = _report.cpu_section(
            seconds, execcpu.run(list(rates), seconds, progress=progress)
        )
    if "parse" in only:
        target = args.records or (QUICK_PARSE_RECORDS if args.quick else FULL_PARSE_RECORDS)
        records, results = parse.run(target, progress=progress)
        sections["parse"] = _report.parse_section(records, results)
    if "tui" in only:
        settings = QUICK_TUI if args.quick else FULL_TUI
        if args.events:
            settings = dataclasses.replace(settings, events=args.events)
        result = tui.run(settings, progress=progress)
        progress(tui.summary(result))
        sections["tui"] = _report.tui_section(result)
    stamp = _report.provenance()
    for name in SECTIONS:
        if name in sections:
            sections[name] = f"{stamp}\n\n{sections[name]}"
    for name, body in sections.items():
        print(f"\n## {name}\n\n{body}")
    if not args.no_write:
        _report.write(args.output, sections)
        progress(f"wrote {args.output}")
    if kernel and not drain.kernel_clean():
        progress("WARNING: the kernel still holds a benchmark rule or a dead reader's pid")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
