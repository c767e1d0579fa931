"""Per-process CPU and memory readings from /proc (threads included)."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the parenthesised command name; utime and stime are 14 and 15.
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_kib(pid: int) -> int:
    """VmHWM: the process's peak resident set, in KiB."""
    return _status_field(pid, "VmHWM")


def rss_kib(pid: int) -> int:
    """VmRSS: the current resident set, in KiB."""
    return _status_field(pid, "VmRSS")


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0
