#!/usr/bin/env python3
"""Regenerate screenshots/ from the real app (SVG from Textual, PNG via rsvg-convert).

Usage (from the project root, after ./test or ./run set up .venv)::

    sudo .venv/bin/python scripts/screenshots.py           # replay shots + live shots (root)
    .venv/bin/python scripts/screenshots.py --replay-only   # no kernel needed

Replay shots use tests/data/tui_replay.log. The live shot runs the dashboard against
this machine's kernel for a few seconds with one temporary rule (removed afterwards)
and the audit settings put back as they were.
"""

# ruff: noqa: ASYNC221  -- short, deliberate subprocess calls while the app waits
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from trioaudit.tui.app import AuditApp, make_app  # noqa: E402
from trioaudit.tui.bridge import ReplaySource  # noqa: E402

OUT = ROOT / "screenshots"
REPLAY = ROOT / "tests" / "data" / "tui_replay.log"
SIZE = (140, 40)
#: Seconds the live shot waits for another audit daemon to go away (then it shoots in multicast).
LIVE_WAIT = 60
#: What the live shot runs under its temporary execve rule.
LIVE_COMMANDS = (
    ["/bin/true"],
    ["/usr/bin/ls", "/nonexistent"],
    ["/usr/bin/id"],
    ["/usr/bin/uname", "-a"],
)
Script = Callable[[Pilot[None]], Awaitable[None]]


async def replayed(pilot: Pilot[None]) -> None:
    source = pilot.app.source  # type: ignore[attr-defined]
    assert isinstance(source, ReplaySource)
    await source.finished.wait()
    await pilot.pause(0.3)


async def shoot(app: AuditApp, name: str, script: Script) -> Path:
    async with app.run_test(size=SIZE) as pilot:
        await script(pilot)
        svg = OUT / f"{name}.svg"
        app.save_screenshot(str(svg))
        await pilot.press("escape")
        await app.source.stop()
    png = svg.with_suffix(".png")
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", str(svg), "-o", str(png)], check=True)
    return svg


async def replay_shots() -> None:
    async def main(pilot: Pilot[None]) -> None:
        await replayed(pilot)

    async def filtered(pilot: Pilot[None]) -> None:
        await replayed(pilot)
        await pilot.press("slash", *"key=exec,openfail success=no", "enter")
        await pilot.pause(0.2)

    async def detail(pilot: Pilot[None]) -> None:
        await replayed(pilot)
        await pilot.press("slash", *"syscall=execve comm~ev", "enter", "enter")
        await pilot.pause(0.3)

    async def help_screen(pilot: Pilot[None]) -> None:
        await replayed(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    for name, script in [
        ("replay-feed", main),
        ("replay-filter", filtered),
        ("replay-detail", detail),
        ("help", help_screen),
    ]:
        app = make_app(replay=str(REPLAY), speed=0, show_clock=False)
        print(await shoot(app, name, script))


async def live_shot() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from kernelstate import foreign_daemon, restore, save

    # Prefer the unicast picture: give another tool's daemon a moment to exit.
    for _ in range(LIVE_WAIT):
        if foreign_daemon() is None:
            break
        await asyncio.sleep(1.0)
    saved = save()
    # Only the commands this script runs (its children): nothing else of the machine's shows.
    rule = ["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", f"ppid={os.getpid()}"]
    rule += ["-F", "key=screenshot"]
    try:
        subprocess.run(["auditctl", "-e", "1"], check=True, capture_output=True)

        async def live(pilot: Pilot[None]) -> None:
            await pilot.pause(1.0)
            subprocess.run(["auditctl", "-e", "1"], check=True, capture_output=True)
            subprocess.run(["auditctl", *rule], check=True, capture_output=True)
            for command in LIVE_COMMANDS:
                subprocess.run(command, capture_output=True)
                await pilot.pause(0.3)
            await pilot.pause(2.5)

        app = make_app(show_clock=False)
        print(await shoot(app, "live", live))
    finally:
        restore(saved)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replay-only", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    asyncio.run(replay_shots())
    if not args.replay_only:
        if os.geteuid() != 0:
            print("not root: skipping the live screenshot", file=sys.stderr)
        else:
            asyncio.run(live_shot())
    return 0


if __name__ == "__main__":
    sys.exit(main())
