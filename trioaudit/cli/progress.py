"""The progress line of ``trioaudit parse`` on a terminal: bytes done, records/s, ETA.

A 1 GB log takes minutes; without a sign of life a user cannot tell a slow
parse from a hung one. So when stderr is a terminal (and stdout is not: events
written to the same screen would tear the line apart), one line on stderr says
how far each file is::

    trioaudit: audit.log  412.3 MiB of 1.0 GiB (40 %), 61,234 records/s, ETA 0:01:32

Why not ``rich.progress``: it redraws from a thread and owns the terminal while
it runs; this needs one line, redrawn from the loop that reads anyway. The line
is written with a carriage return and erased with spaces (no escape sequences,
so it works on any terminal), redrawn at most :data:`REFRESH_PER_SECOND` times
a second and only once a file has taken :data:`FIRST_DRAW_AFTER` seconds, so
short parses never show it. When it is not shown, nothing wraps the input: the
cost is one ``isatty`` per run.

Position: where the kernel's file offset is (``lseek``), which for a ``.gz``
file is the compressed bytes read, measured against the file's size; for a pipe
(stdin), the bytes of the lines read so far, with no total and no ETA.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import BinaryIO, TextIO

__all__ = ["Progress", "progress_for"]

#: Redraws per second, at most.
REFRESH_PER_SECOND = 4
#: Seconds a file is read before its progress line first appears.
FIRST_DRAW_AFTER = 0.5
#: Lines read between two looks at the clock.
_LINES_PER_CHECK = 512


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def _duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class Progress:
    """Draws the progress line of one run on *stream* (a terminal).

    Args:
        stream: Where to draw (stderr).
        width: The terminal's width in columns; the line is cut to fit, so it never wraps.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self, stream: TextIO, width: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream
        self._width = max(width - 1, 10)
        self._clock = clock
        self._drawn = 0

    @contextmanager
    def track(
        self, name: str, lines: BinaryIO, records: Callable[[], int]
    ) -> Iterator[Iterable[bytes]]:
        """*lines*, drawing this file's progress while they are read; erased on exit.

        *records* returns how many records have been parsed so far.
        """
        try:
            yield self._lines(name, lines, records)
        finally:
            self.erase()

    def _lines(self, name: str, lines: BinaryIO, records: Callable[[], int]) -> Iterator[bytes]:
        fd, total = _file_of(lines)
        start = self._clock()
        next_draw = start + FIRST_DRAW_AFTER
        counted = 0
        for number, line in enumerate(lines, 1):
            counted += len(line)
            yield line
            if number % _LINES_PER_CHECK:
                continue
            now = self._clock()
            if now < next_draw:
                continue
            next_draw = now + 1 / REFRESH_PER_SECOND
            position = _offset(fd) if total is not None else None
            self._draw(
                _describe(
                    name, counted if position is None else position, total, records(), now - start
                )
            )

    def _draw(self, text: str) -> None:
        # Padded to the last line's length, so a shorter line covers it entirely.
        padded = text[: self._width].ljust(self._drawn)
        self._stream.write("\r" + padded)
        self._stream.flush()
        self._drawn = len(padded)

    def erase(self) -> None:
        """Blank the line (nothing happens if none was drawn)."""
        if self._drawn:
            self._stream.write("\r" + " " * self._drawn + "\r")
            self._stream.flush()
            self._drawn = 0


def _file_of(lines: BinaryIO) -> tuple[int | None, int | None]:
    """The descriptor under *lines* and its size, if it is a regular file (else no total)."""
    try:
        fd = lines.fileno()
        info = os.fstat(fd)
    except (OSError, ValueError, AttributeError):
        return None, None
    if not stat.S_ISREG(info.st_mode):
        return None, None
    return fd, info.st_size


def _offset(fd: int | None) -> int | None:
    if fd is None:
        return None
    try:
        return os.lseek(fd, 0, os.SEEK_CUR)
    except OSError:
        return None


def _describe(name: str, done: int, total: int | None, records: int, elapsed: float) -> str:
    rate = f"{records / elapsed:,.0f} records/s" if elapsed > 0 else ""
    if total is None:
        return f"trioaudit: {name}  {_size(done)} read, {rate}"
    done = min(done, total)
    share = f"{100 * done / total:.0f} %" if total else "100 %"
    eta = ""
    if done and elapsed > 0:
        eta = f", ETA {_duration((total - done) * elapsed / done)}"
    return f"trioaudit: {name}  {_size(done)} of {_size(total)} ({share}), {rate}{eta}"


def progress_for(stderr: TextIO, stdout: TextIO) -> Progress | None:
    """A :class:`Progress` if *stderr* is a terminal and *stdout* is not, else None."""
    try:
        if not stderr.isatty() or stdout.isatty():
            return None
        width = os.get_terminal_size(stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return None
    # A terminal that does not know its size (a fresh pseudo-terminal) says 0.
    return Progress(stderr, width or 80)
