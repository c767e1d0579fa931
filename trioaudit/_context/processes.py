"""Process ancestry kept from the event stream: which process tree ran this.

Sans-IO. A :class:`ProcessTable` learns processes from the events it is shown -- every
SYSCALL record names its ``pid``, ``ppid``, ``comm`` and ``exe``; a successful ``execve``
(or ``execveat``) also gives the new image's argument vector and the moment it started --
and from a snapshot of ``/proc`` at start (``procfs.snapshot``), so that processes older
than the reader have entries too. :meth:`ProcessTable.ancestry` walks the ``ppid`` links:
the event's process first, then its parent, as far as known, like laurel's ``PPID``
enrichment but as a list.

Bounded: at most ``max_entries`` processes, least recently seen evicted first (counted in
:meth:`statistics`). A process whose exit the stream shows (an audited ``exit_group``)
stays for ``linger`` seconds of event time, so that the events it caused just before can
still name it, then goes. A pid seen again executing after its exit is a new process.

Containers and systemd units come from the process's cgroup (``cgroups``), read through
an injected reader (``procfs.read_cgroup`` live; none for a log) when a process is first
seen and again at each of its execs, while it still runs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .._records.model import AuditEvent, AuditRecord
from .._records.values import decode_value
from .._tables import syscalls as _syscalls
from .._tables.msgtypes import AuditMessageType as _T
from .cgroups import container_of, unit_of

__all__ = ["ProcessEntry", "ProcessTable", "ProcessTableStatistics"]

_SYSCALL = int(_T.SYSCALL)
_EXECS = frozenset({"execve", "execveat"})
_EXITS = frozenset({"exit", "exit_group"})
#: Longest chain walked (a loop in bad data must not hang the walk).
MAX_DEPTH = 64


@dataclass(slots=True)
class ProcessEntry:
    """What is known of one process. ``start``: epoch seconds of its exec (from the event)
    or of its start (from /proc); ``exited``: when the stream showed its exit."""

    pid: int
    ppid: int | None = None
    exe: str | None = None
    name: str | None = None
    args: tuple[str, ...] | None = None
    start: float | None = None
    container: str | None = None
    runtime: str | None = None
    unit: str | None = None
    exited: float | None = None
    rendered: str | None = field(default=None, repr=False, compare=False)
    """The output layer's JSON text of :meth:`to_dict`, kept while the entry does not
    change (the table clears it on every change): an ancestry is mostly the same long-
    lived parents, event after event."""

    def place(self, cgroup: str) -> None:
        """Set the container and unit that the ``/proc/PID/cgroup`` text names."""
        found = container_of(cgroup)
        if found is not None:
            self.runtime, self.container = found
        self.unit = unit_of(cgroup)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (docs/context.md): members without a value left out."""
        out: dict[str, Any] = {"pid": self.pid}
        for key in ("ppid", "exe", "name"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.args is not None:
            out["args"] = list(self.args)
        if self.start is not None:
            out["start"] = round(self.start, 3)
        if self.container is not None:
            out["container"] = {"runtime": self.runtime, "id": self.container}
        if self.unit is not None:
            out["unit"] = self.unit
        if self.exited is not None:
            out["exited"] = round(self.exited, 3)
        return out


class ProcessTableStatistics(NamedTuple):
    entries: int
    seeded: int
    learned: int
    evicted: int
    expired: int


#: Reads a live process's cgroup text (``/proc/PID/cgroup``), or None when it is gone.
CgroupReader = Callable[[int], str | None]


class ProcessTable:
    """Processes by pid, learned from events (see the module docstring)."""

    def __init__(
        self,
        *,
        max_entries: int = 32768,
        linger: float = 60.0,
        cgroup_of: CgroupReader | None = None,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._entries: OrderedDict[int, ProcessEntry] = OrderedDict()
        self._max = max_entries
        self._linger = linger
        self._cgroup_of = cgroup_of
        self._exited: OrderedDict[int, float] = OrderedDict()
        self._seeded = self._learned = self._evicted = self._expired = 0
        self._learned_now: ProcessEntry | None = None  # made by the current observe()

    def statistics(self) -> ProcessTableStatistics:
        return ProcessTableStatistics(
            len(self._entries), self._seeded, self._learned, self._evicted, self._expired
        )

    def get(self, pid: int) -> ProcessEntry | None:
        return self._entries.get(pid)

    def seed(self, entries: Iterable[ProcessEntry]) -> None:
        """Processes that ran before the stream started (from ``procfs.snapshot``)."""
        for entry in entries:
            self._put(entry)
            self._seeded += 1

    def observe(self, event: AuditEvent) -> None:
        """Learn from one event: its SYSCALL record's process, an exec, an exit."""
        syscall = next((r for r in event.records if r.type == _SYSCALL), None)
        if syscall is None:
            return
        fields = _wanted(syscall)
        pid = _number(fields.get("pid"))
        if pid is None:
            return
        ppid = _number(fields.get("ppid"))
        name = fields.get("comm")
        exe = fields.get("exe")
        call = _syscall_name(fields.get("arch"), fields.get("syscall"))
        entry = self._entries.get(pid)
        execed = call in _EXECS and fields.get("success") == "yes"
        if entry is not None and entry.exited is not None and execed:
            self._forget(pid)  # the pid was reused
            entry = None
        self._learned_now = None
        if entry is None:
            entry = self._learned_now = ProcessEntry(pid)
            self._learned += 1
            self._classify(entry)
        if ppid is not None:
            entry.ppid = ppid
        if name is not None:
            entry.name = name
        if exe is not None:
            entry.exe = exe
        if execed:
            argv = event.argv
            entry.args = tuple(argv) if argv is not None else entry.args
            entry.start = event.timestamp
            if self._learned_now is not entry:
                # A new image: it may run in another cgroup than the one it was first
                # seen in (a runtime moves its init, then execs the entrypoint).
                self._classify(entry)
        if call in _EXITS and entry.exited is None:
            entry.exited = event.timestamp
            self._exited[pid] = event.timestamp
        entry.rendered = None  # it may have changed
        self._put(entry)
        self._expire(event.timestamp)

    def ancestry(self, pid: int) -> list[ProcessEntry]:
        """The process, its parent, and so on, as far as known (at most MAX_DEPTH)."""
        chain: list[ProcessEntry] = []
        seen: set[int] = set()
        current: int | None = pid
        while current is not None and current not in seen and len(chain) < MAX_DEPTH:
            seen.add(current)
            entry = self._entries.get(current)
            if entry is None:
                break
            chain.append(entry)
            current = entry.ppid if entry.ppid not in (0, None) else None
        return chain

    def context(self, event: AuditEvent) -> list[dict[str, Any]] | None:
        """The ancestry of the event's process as JSON values (None: no pid, or unknown)."""
        chain = self.event_ancestry(event)
        return [entry.to_dict() for entry in chain] if chain else None

    def event_ancestry(self, event: AuditEvent) -> list[ProcessEntry]:
        """The ancestry of the event's process (its SYSCALL record's, else its first
        record's ``pid``); empty when it has none or it is unknown."""
        syscall = next((r for r in event.records if r.type == _SYSCALL), None)
        record = syscall if syscall is not None else next(iter(event.records), None)
        if record is None:
            return []
        # The first pid= of the record, as raw_fields has it (digits are logged as they are).
        pid = _number(next((value for name, value in record.items if name == "pid"), None))
        return self.ancestry(pid) if pid is not None else []

    # ---- bookkeeping ----------------------------------------------------------------

    def _classify(self, entry: ProcessEntry) -> None:
        if self._cgroup_of is None:
            return
        text = self._cgroup_of(entry.pid)
        if text is not None:
            entry.place(text)

    def _put(self, entry: ProcessEntry) -> None:
        self._entries[entry.pid] = entry
        self._entries.move_to_end(entry.pid)
        while len(self._entries) > self._max:
            pid, _ = self._entries.popitem(last=False)
            self._exited.pop(pid, None)
            self._evicted += 1

    def _forget(self, pid: int) -> None:
        self._entries.pop(pid, None)
        self._exited.pop(pid, None)

    def _expire(self, now: float) -> None:
        while self._exited:
            pid, when = next(iter(self._exited.items()))
            if when > now - self._linger:
                break
            self._exited.popitem(last=False)
            if self._entries.pop(pid, None) is not None:
                self._expired += 1


_WANTED = frozenset({"pid", "ppid", "comm", "exe", "arch", "syscall", "success"})


def _wanted(record: AuditRecord) -> dict[str, str]:
    """The fields the table reads, decoded as ``raw_fields`` has them (the first of a
    repeated name), without decoding the others: this runs for every event."""
    out: dict[str, str] = {}
    for name, value in record.items:
        if name in _WANTED and name not in out:
            # Numbers and yes/no are logged as they are; comm and exe may be quoted or hex.
            out[name] = decode_value(name, value, record.type) if name in _TEXT else value
    return out


_TEXT = frozenset({"comm", "exe"})


def _syscall_name(arch: str | None, number: str | None) -> str:
    """The syscall's name from the raw arch and number ("" when unknown)."""
    if arch is None or number is None or not number.isascii() or not number.isdigit():
        return ""
    try:
        machine = _syscalls.ARCH_BY_AUDIT_ARCH.get(int(arch, 16))
    except ValueError:
        return ""
    if machine is None:
        return ""
    return _syscalls.syscall_name(machine, int(number)) or ""


def _number(text: str | None) -> int | None:
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    return int(text)
