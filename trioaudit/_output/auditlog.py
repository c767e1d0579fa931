"""An audit.log in auditd's RAW format, rotated as auditd rotates it (for the daemon).

What auditd 3.0.9 writes (``format_raw`` and ``rotate_logs`` in src/auditd-event.c, read
for this; the code is trioaudit's own):

* one line per record, ``type=NAME msg=PAYLOAD`` -- ``node=NAME type=...`` with a node
  name -- where NAME is the type's log name (``UNKNOWN[n]`` for a number without one) and
  PAYLOAD the kernel's text as it came (``audit(sec.ms:serial): ...``), so that
  ``ausearch -if``, ``aureport`` and ``trioaudit parse`` read it; in the ENRICHED format
  (``format_enrich``) followed by ``\x1d`` and the translations of the record's uid, gid,
  syscall, arch and sockaddr fields (``UID="root" ARCH=x86_64 SYSCALL=sendto``);
* the file mode 0600; when the file has reached ``max_log_file`` MiB (in whole MiB, as
  auditd counts), it is rotated: ``audit.log.(n-1)`` becomes ``.n`` down to ``audit.log``
  becoming ``.1``, at most ``num_logs`` files in all, a rotated file made read-only
  (0400). SIGUSR1 makes auditd rotate at once: :meth:`AuditLogFile.rotate`.

Writes go through a buffered file; :meth:`flush` writes it out and, every
``fsync_every`` records or when asked, ``fsync``\\ s it (auditd's ``flush =
incremental_async`` with ``freq``). Write errors (a full disk) are raised to the caller
(the daemon counts and reports them); nothing here drops a record silently.
"""

from __future__ import annotations

import contextlib
import operator
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO, Self, cast

from .._records.interpret import Interpreter, field_class
from .._records.model import AuditRecord
from .._tables.msgtype_names import LOG_NAMES
from .._tables.msgtypes import AuditMessageType

__all__ = [
    "LOG_FORMATS",
    "MEBIBYTE",
    "AuditLogFile",
    "RotatingFile",
    "enriched_line",
    "raw_line",
]

MEBIBYTE = 1024 * 1024
#: auditd.conf's log_format values this writer knows.
LOG_FORMATS = ("raw", "enriched")


def raw_line(record: AuditRecord, node: str | None = None) -> bytes:
    """auditd's RAW line of one kernel record (no trailing newline)."""
    name = LOG_NAMES.get(record.type) or f"UNKNOWN[{record.type}]"
    head = f"node={node} type={name} msg=" if node else f"type={name} msg="
    return (head + record.raw).encode("utf-8", "surrogateescape")


#: The field classes auditd's ENRICHED format translates (format_enrich): ids encoded
#: as audit_encode_nv_string does, the others as they are.
_ENCODED = frozenset({"UID", "GID"})
_PLAIN = frozenset({"SYSCALL", "ARCH", "SOCKADDR"})


def _encode_nv(name: str, value: str) -> str:
    """audit_encode_nv_string: NAME="value", or NAME=HEX when the value holds a quote,
    a space or control character, or anything past ``~``."""
    if any(ch == '"' or ch < "!" or ch > "~" for ch in value):
        return f"{name}={value.encode('utf-8', 'surrogateescape').hex().upper()}"
    return f'{name}="{value}"'


def enriched_line(record: AuditRecord, node: str | None = None) -> bytes:
    """auditd's ENRICHED line of one kernel record: the RAW line, then a ``\x1d`` and
    libauparse's translation (unescaped) of every uid, gid, syscall, arch and sockaddr
    field, in order, upper-case names (no trailing newline).

    Two memos make it cheap for the daemon, which writes every record this way: which
    fields a record of one type and one list of names translates (the *plan*), and
    the translation of one such set of values. A translation depends on those values
    alone -- ids on the id, the syscall on itself and the arch, which is one of them --
    so records that share them share the text.
    """
    line = raw_line(record, node)
    items = record.items
    key = (record.type, tuple(map(_first, items)))
    plan = _PLANS.get(key)
    if plan is None:
        indexes = _plan(record)
        if indexes is None:
            plan = _AFRESH
        elif not indexes:
            plan = _NOTHING
        else:
            plan = operator.itemgetter(*indexes)
        if len(_PLANS) >= _MEMO_LIMIT:
            _PLANS.clear()
        _PLANS[key] = plan
    if plan is _NOTHING:
        return line
    if plan is _AFRESH:
        return line + _translations(record)
    values = (record.type, cast("operator.itemgetter[Any]", plan)(items))
    extra = _TRANSLATIONS.get(values)
    if extra is None:
        extra = _translations(record)
        if len(_TRANSLATIONS) >= _MEMO_LIMIT:
            _TRANSLATIONS.clear()
        _TRANSLATIONS[values] = extra
    return line + extra


#: Plans that are not item getters: no field to translate; work the record out afresh.
_NOTHING = object()
_AFRESH = object()
_first = operator.itemgetter(0)


def _plan(record: AuditRecord) -> tuple[int, ...] | None:
    """The indexes of the fields auditd translates, or None when a field's class
    depends on its value (``acct``): then every record is worked out afresh."""
    if record.type == _TRUSTED_APP or any(name in _VALUE_DEPENDENT for name, _ in record.items):
        return None
    return tuple(
        index
        for index, (name, value) in enumerate(record.items)
        if field_class(record.type, name, value) in _TRANSLATED
    )


def _translations(record: AuditRecord) -> bytes:
    """``\x1d`` and the translations of *record* (b"" when there are none)."""
    interpreted = _RAW_INTERPRETER.interpret_items(record)
    extra = []
    for (name, value), (_, text) in zip(record.items, interpreted, strict=False):
        cls = field_class(record.type, name, value)
        if cls in _ENCODED:
            extra.append(_encode_nv(name.upper(), text))
        elif cls in _PLAIN:
            extra.append(f"{name.upper()}={text}")
    if not extra:
        return b""
    return b"\x1d" + " ".join(extra).encode("utf-8", "surrogateescape")


_TRANSLATED = _ENCODED | _PLAIN
#: Where a field's class depends on its value (field_class): no plan for those records.
_TRUSTED_APP = int(AuditMessageType.TRUSTED_APP)
_VALUE_DEPENDENT = frozenset({"acct"})
_MEMO_LIMIT = 1 << 16
_PLANS: dict[tuple[int, tuple[str, ...]], object] = {}
_TRANSLATIONS: dict[tuple[object, ...], bytes] = {}


#: format_enrich sets AUPARSE_ESC_RAW: translations unescaped.
_RAW_INTERPRETER = Interpreter(escape=False, use_enrichment=False)


class RotatingFile:
    """A file of lines rotated as auditd rotates its log (see the module docstring):
    the audit.log and the daemon's JSON lines files alike.

    Thread-safe: the daemon writes from a worker thread (a stalled disk must never
    stall its event loop) while SIGUSR1 rotates from the loop; one lock orders them.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_log_file: int = 8,
        num_logs: int = 5,
        fsync_every: int = 50,
    ) -> None:
        if max_log_file < 0 or num_logs < 0 or fsync_every < 0:
            raise ValueError("max_log_file, num_logs and fsync_every cannot be negative")
        self.path = Path(path)
        self.max_log_file = max_log_file
        self.num_logs = num_logs
        self.fsync_every = fsync_every
        self.records = 0
        self.rotations = 0
        self._unsynced = 0
        self._file: BinaryIO | None = None
        self._size = 0
        self._lock = threading.Lock()
        self.fsync_errors = 0
        self._fsync_wanted = threading.Event()
        self._fsync_thread: threading.Thread | None = None
        self._closing = False
        self._open()

    def _open(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # an existing file too, as auditd fixes it at open
        self._file = os.fdopen(fd, "ab")
        self._size = os.fstat(fd).st_size

    def write_lines(self, lines: Iterable[bytes]) -> int:
        """Append the lines (each without its newline); rotate when the size limit is
        crossed; fsync every ``fsync_every`` lines. Returns how many were written.
        Errors (a full disk) are raised: the caller counts them."""
        with self._lock:
            if self._file is None:
                raise ValueError("the log file is closed")
            if not isinstance(lines, list):
                lines = list(lines)
            if (
                not self.max_log_file
                or (self._size + sum(map(len, lines)) + len(lines)) // MEBIBYTE < self.max_log_file
            ):
                # No rotation inside this batch: one write.
                data = b"\n".join(lines) + b"\n" if lines else b""
                self._file.write(data)
                self._size += len(data)
                self._unsynced += len(lines)
                return self._written(len(lines))
            written = 0
            for text in lines:
                line = text + b"\n"
                self._file.write(line)
                self._size += len(line)
                written += 1
                self._unsynced += 1
                if self.max_log_file and self._size // MEBIBYTE >= self.max_log_file:
                    self._rotate()
            return self._written(written)

    def _written(self, written: int) -> int:
        assert self._file is not None
        self.records += written
        # Every batch into the page cache at once (ausearch and tail -f see it, a crash
        # of the daemon loses nothing written); to the disk every fsync_every records.
        self._file.flush()
        if self.fsync_every and self._unsynced >= self.fsync_every:
            self._unsynced = 0
            self._fsync_soon()
        return written

    def _fsync_soon(self) -> None:
        """Ask the flusher thread for an fsync (auditd's ``incremental_async``): the
        writer goes on while the disk catches up, as auditd's flush thread lets it."""
        if self._fsync_thread is None:
            self._fsync_thread = threading.Thread(
                target=self._flusher, name=f"fsync {self.path.name}", daemon=True
            )
            self._fsync_thread.start()
        self._fsync_wanted.set()

    def _flusher(self) -> None:
        while True:
            self._fsync_wanted.wait()
            self._fsync_wanted.clear()
            with self._lock:
                if self._closing or self._file is None:
                    return
                fd = os.dup(self._file.fileno())  # the file may be rotated meanwhile
            try:
                os.fsync(fd)
            except OSError:
                self.fsync_errors += 1  # the next write or the close reports the disk
            finally:
                os.close(fd)

    def flush(self, *, fsync: bool = False) -> None:
        """Write the buffer out (and fsync it)."""
        with self._lock:
            self._flush(fsync=fsync)

    def _flush(self, *, fsync: bool) -> None:
        if self._file is None:
            return
        self._file.flush()
        if fsync:
            os.fsync(self._file.fileno())
            self._unsynced = 0

    def rotate(self) -> None:
        """auditd's rotate_logs: shift the numbered files up, the current one to .1,
        and start a new file. With ``num_logs`` below 2 there is no rotation."""
        with self._lock:
            self._rotate()

    def _rotate(self) -> None:
        if self.num_logs < 2 or self._file is None:
            return
        self._flush(fsync=True)
        os.fchmod(self._file.fileno(), 0o400)
        self._file.close()
        self._file = None
        base = str(self.path)
        for index in range(self.num_logs - 1, 1, -1):
            with contextlib.suppress(FileNotFoundError):  # not that many yet
                os.rename(f"{base}.{index - 1}", f"{base}.{index}")
        os.rename(base, f"{base}.1")
        self.rotations += 1
        self._open()

    def close(self) -> None:
        """Flush, fsync and close (the daemon's stop)."""
        with self._lock:
            self._closing = True
            if self._file is not None:
                self._flush(fsync=True)
                self._file.close()
                self._file = None
        if self._fsync_thread is not None:
            self._fsync_wanted.set()
            self._fsync_thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AuditLogFile(RotatingFile):
    """An audit.log written and rotated as auditd does (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_log_file: int = 8,
        num_logs: int = 5,
        node: str | None = None,
        fsync_every: int = 50,
        log_format: str = "raw",
    ) -> None:
        if log_format not in LOG_FORMATS:
            raise ValueError(f"log_format must be one of {', '.join(LOG_FORMATS)}")
        self.line = enriched_line if log_format == "enriched" else raw_line
        self.node = node
        super().__init__(
            path, max_log_file=max_log_file, num_logs=num_logs, fsync_every=fsync_every
        )

    def write(self, records: Iterable[AuditRecord]) -> int:
        """Append the records' lines (see :meth:`RotatingFile.write_lines`)."""
        line, node = self.line, self.node
        return self.write_lines(line(record, node) for record in records)
