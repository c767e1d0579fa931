"""Hostile content in the TUI: the feed, the detail screen and the rules view (no root).

A replayed log carries events whose comm, exe, proctitle, key, path and user
message hold terminal escape sequences (clear screen, OSC title, colours),
CR/LF, a C1 CSI, bidi overrides and invalid UTF-8. The dashboard must show
them escaped, never act on them: every character of the rendered screen
(feed, then the detail of each hostile event) is printable, and the escaped
form is visible.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from textual.pilot import Pilot

from trioaudit.tui.app import make_app
from trioaudit.tui.bridge import ReplaySource

ESCAPES = b"\x1b[2J\x1b]0;owned\x07\x1b[31m\r\n\x9b1m\xe2\x80\xae\xe2\x80\xa8\xff"
SIZE = (140, 40)
#: Unicode categories a terminal may act on or that hide text.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def hostile_log(path: Path) -> Path:
    evil = (b"evil" + ESCAPES).hex().upper()
    title = (b"sh\x00-c\x00" + ESCAPES).hex().upper()
    lines = []
    for serial in range(1, 4):
        stamp = f"audit(1795714536.{serial:03d}:{serial})"
        lines += [
            f"type=SYSCALL msg={stamp}: arch=c000003e syscall=59 success=no exit=-13 a0=1 "
            f"a1=2 a2=3 a3=4 items=1 ppid=1 pid={serial} auid=0 uid=0 gid=0 euid=0 suid=0 "
            f"fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm={evil} exe={evil} key={evil}",
            f"type=EXECVE msg={stamp}: argc=2 a0={evil} a1={evil}",
            f'type=CWD msg={stamp}: cwd="/tmp"',
            f"type=PATH msg={stamp}: item=0 name={evil} inode=1 dev=08:01 mode=0100755 "
            "ouid=0 ogid=0 rdev=00:00 nametype=NORMAL",
            f"type=PROCTITLE msg={stamp}: proctitle={title}",
            f"type=EOE msg={stamp}:",
        ]
    stamp = "audit(1795714537.000:9)"
    message = "op=login acct=\x1b[2Jroot\x1b]0;x\x07 exe=/bin/su res=success"
    lines.append(f"type=USER_LOGIN msg={stamp}: pid=9 uid=0 auid=0 ses=1 msg='{message}'")
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    return path


def screen_text(pilot: Pilot[None]) -> str:
    """Every character currently painted on the virtual terminal."""
    strips = pilot.app.screen._compositor.render_strips()  # the composed frame
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


async def _drive(log: Path) -> list[str]:
    app = make_app(replay=str(log), speed=0, show_clock=False)
    screens: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        source = app.source  # type: ignore[attr-defined]
        assert isinstance(source, ReplaySource)
        await source.finished.wait()
        await pilot.pause(0.2)
        screens.append(screen_text(pilot))
        await pilot.press("home")
        for _ in range(4):
            await pilot.press("enter")
            await pilot.pause(0.2)
            screens.append(screen_text(pilot))
            await pilot.press("escape")
            await pilot.pause(0.1)
            await pilot.press("down")
    return screens


def test_tui_shows_hostile_events_escaped(tmp_path: Path) -> None:
    screens = asyncio.run(_drive(hostile_log(tmp_path / "hostile.log")))
    assert len(screens) == 5
    for number, text in enumerate(screens):
        for line in text.split("\n"):
            match = CONTROL.search(line)
            assert match is None, (number, repr(match.group()), line)
    feed = screens[0]
    assert "evil" in feed, feed
    details = "\n".join(screens[1:])
    # The escaped form is visible somewhere (not silently dropped).
    assert re.search(r"\\(x1b|033|e)\[2J", details + feed), details[:2000]
