"""Reading ``/proc``: the process table's seed and each new process's cgroup.

The only I/O of the context layer, and all of it best effort: a process can exit between
listing ``/proc`` and reading its files, and kernel threads have no ``exe`` -- what cannot
be read is left unknown, never an error. Reads are bounded (a ``cmdline`` is cut at 64
KiB, a cgroup file at 16 KiB).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .processes import ProcessEntry

__all__ = ["read_cgroup", "snapshot"]

_MAX_CMDLINE = 64 * 1024
_MAX_CGROUP = 16 * 1024


def _read(path: Path, limit: int) -> bytes | None:
    try:
        with path.open("rb") as file:
            return file.read(limit)
    except OSError:
        return None


def read_cgroup(pid: int, proc: Path = Path("/proc")) -> str | None:
    """``/proc/PID/cgroup`` as text, or None (gone, or not readable)."""
    data = _read(proc / str(pid) / "cgroup", _MAX_CGROUP)
    return None if data is None else data.decode("utf-8", "surrogateescape")


def _boot_time(proc: Path) -> float | None:
    data = _read(proc / "stat", 1 << 20)
    if data is None:
        return None
    for line in data.splitlines():
        if line.startswith(b"btime "):
            try:
                return float(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def _entry(pid: int, proc: Path, boot: float | None, ticks: int) -> ProcessEntry | None:
    base = proc / str(pid)
    stat = _read(base / "stat", 4096)
    if stat is None:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    close = stat.rfind(b")")
    open_ = stat.find(b"(")
    if close == -1 or open_ == -1:
        return None
    rest = stat[close + 2 :].split()
    entry = ProcessEntry(pid, name=stat[open_ + 1 : close].decode("utf-8", "surrogateescape"))
    try:
        entry.ppid = int(rest[1])
        if boot is not None:
            entry.start = boot + int(rest[19]) / ticks
    except (IndexError, ValueError):
        pass
    with contextlib.suppress(OSError):  # a kernel thread, or gone
        entry.exe = os.readlink(base / "exe")
    cmdline = _read(base / "cmdline", _MAX_CMDLINE)
    if cmdline:
        entry.args = tuple(
            arg.decode("utf-8", "surrogateescape") for arg in cmdline.rstrip(b"\0").split(b"\0")
        )
    cgroup = read_cgroup(pid, proc)
    if cgroup is not None:
        entry.place(cgroup)
    return entry


def snapshot(proc: Path = Path("/proc")) -> Iterator[ProcessEntry]:
    """Every process /proc shows now, parents and children in no particular order."""
    boot = _boot_time(proc)
    try:
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        ticks = 100
    try:
        names = os.listdir(proc)
    except OSError:
        return
    for name in names:
        if name.isdigit():
            entry = _entry(int(name), proc, boot, ticks)
            if entry is not None:
                yield entry
