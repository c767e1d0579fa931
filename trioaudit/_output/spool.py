"""A bounded, persistent FIFO of messages on disk: the spool behind a network output.

When a destination is down (or slower than the kernel), an output's in-memory queue
overflows into this spool, and what the daemon could not deliver before it stopped is
kept here for the next start. It is deliberately small and synchronous (plain
``os.pwrite``/``os.pread``, no trio): the output calls it from the trio thread, where a
write to the page cache costs microseconds; whether that is acceptable is the caller's
decision, and the format is tested byte for byte without an event loop.

On disk, in one directory (created 0700; files 0600, since they hold audit data):

``spool.<seq>``
    Segment files, ``<seq>`` a zero-padded, ever-increasing number; read oldest first.
    Each holds records back to back, no file header::

        magic   4 bytes  b"\\xa7TAs"   (lets a reader find the next record after damage)
        length  4 bytes  big-endian payload length
        crc     4 bytes  big-endian CRC-32 of the length field and the payload
        payload length bytes

    A record that fails any check (a torn write after a crash, a flipped bit) is
    skipped up to the next place where a whole valid record starts; every such stretch
    is counted in :attr:`DiskSpool.corrupt_skipped` and logged once. The CRC covers the
    length, so a damaged length cannot make the reader swallow valid records.
``spool.position``
    24 bytes: magic ``b"\\xa7TAp"``, the segment number and byte offset of the oldest
    unconsumed record (big-endian u64 each), and a CRC-32 of those 20 bytes. Rewritten
    in place (``pwrite``, never growing) by every :meth:`DiskSpool.consume`, so that a
    restarted daemon does not resend what was already delivered -- and so that it can
    be rewritten on a full disk, where creating a temporary file to rename would fail.
    A damaged or missing position file means "from the oldest segment": the spool then
    resends (at least once) rather than loses. The file is also locked (``flock``) for
    the spool's lifetime: two daemons on one directory would corrupt each other.

Bounds. :attr:`DiskSpool.bytes_used` is what the segment files hold on disk, including
the already consumed records of the oldest segment until that whole segment is deleted;
``max_bytes`` bounds exactly that, so the disk use never exceeds it (plus the 24-byte
position file). ``segment_bytes`` trades how soon consumed space is freed (small
segments) against files and ``unlink`` calls (large ones); by default it is a
sixteenth of ``max_bytes`` (4 KiB to 4 MiB). A message larger than a segment gets a
segment of its own.

Durability (``fsync``). Every :meth:`~DiskSpool.append` is one ``pwrite`` of all its
records, so an accepted message is in the kernel's page cache when ``append`` returns: it
survives the daemon crashing or being killed. With ``fsync=False`` (the default) it can
still be lost if the machine loses power or the kernel crashes before writeback (about
30 s on Linux's defaults); ``fsync=True`` adds an ``fsync`` to every append and consume,
which survives that but costs a disk flush each time -- milliseconds, on the caller's
thread, which for the daemon is the trio loop -- so it is only worth it where losing the
last seconds of a power cut matters more than throughput.

Write errors (``ENOSPC``, ``EDQUOT``, ``EIO``, ...) never escape: the messages not
written are reported as not accepted (the caller counts them as dropped), a partly
written record is truncated away, the error is counted in :attr:`DiskSpool.write_errors`
and logged once per episode.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import fcntl
import logging
import os
import re
import struct
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

__all__ = [
    "MAX_MESSAGE_BYTES",
    "POSITION_FILE",
    "RECORD_OVERHEAD",
    "DiskSpool",
    "SpoolUnavailable",
    "decode_records",
    "encode_record",
]

log = logging.getLogger("trioaudit")

_MAGIC = b"\xa7TAs"
_HEADER = struct.Struct(">4sII")
#: Bytes a record takes on disk besides its payload.
RECORD_OVERHEAD = _HEADER.size
#: The format's limit on one message (its length field is 32 bits).
MAX_MESSAGE_BYTES = 0xFFFFFFFF

_POSITION_MAGIC = b"\xa7TAp"
_POSITION = struct.Struct(">4sQQI")
#: The file holding the read position (and the directory's lock).
POSITION_FILE = "spool.position"

_SEGMENT_PREFIX = "spool."
_SEGMENT_NAME = re.compile(r"spool\.(\d{1,20})\Z")
#: How much a reader asks the kernel for at once: a peek of a batch of small messages
#: costs one or two preads rather than two per record.
_READ_CHUNK = 64 * 1024


class SpoolUnavailable(OSError):
    """The spool directory cannot be created, opened, written or locked.

    Raised only by :class:`DiskSpool`'s constructor (later write errors are counted,
    not raised); ``errno`` is the underlying error's, the message names the path.
    """


def encode_record(payload: bytes) -> bytes:
    """One record as it is stored: header (magic, length, CRC-32) then the payload."""
    length = len(payload)
    return _HEADER.pack(_MAGIC, length, _crc(length, payload)) + payload


def decode_records(data: bytes) -> tuple[list[bytes], int]:
    """The valid records of one segment's bytes, and how many damaged stretches were
    skipped to find them (for tests and tools; the spool reads segments in chunks)."""
    window = _Window(None)
    window.preload(0, data)
    payloads: list[bytes] = []
    skipped = 0
    position = 0
    while position < len(data):
        found = _record_at(window, position, len(data))
        if found is None:
            position = _next_valid(window, position, len(data))
            skipped += 1
            continue
        payload, position = found
        payloads.append(bytes(payload))
    return payloads, skipped


def _crc(length: int, payload: bytes | memoryview) -> int:
    return zlib.crc32(payload, zlib.crc32(length.to_bytes(4, "big")))


class _Window:
    """A buffered view of one segment file, read with ``pread`` at absolute offsets."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        self._base = 0
        self._data = b""

    def preload(self, offset: int, data: bytes) -> None:
        self._base = offset
        self._data = data

    def load_to(self, offset: int, end: int) -> bytes:
        """Everything from ``offset`` to ``end``, buffered (to search it after damage)."""
        if not (self._base <= offset and end <= self._base + len(self._data)):
            self.preload(offset, self._pread(end - offset, offset))
        start = offset - self._base
        return self._data[start : start + end - offset]

    def get(self, offset: int, length: int) -> memoryview:
        """``length`` bytes at ``offset`` (fewer if the file is shorter than that)."""
        start = offset - self._base
        if start < 0 or start + length > len(self._data):
            self.preload(offset, self._pread(max(length, _READ_CHUNK), offset))
            start = 0
        return memoryview(self._data)[start : start + length]

    def _pread(self, length: int, offset: int) -> bytes:
        if self._fd is None:
            return b""
        return os.pread(self._fd, length, offset)


def _record_at(window: _Window, position: int, limit: int) -> tuple[memoryview, int] | None:
    """The valid record starting at ``position`` (its payload and end), or ``None``."""
    if position + RECORD_OVERHEAD > limit:
        return None
    header = window.get(position, RECORD_OVERHEAD)
    if len(header) < RECORD_OVERHEAD:
        return None
    magic, length, crc = _HEADER.unpack(header)
    end = position + RECORD_OVERHEAD + length
    if magic != _MAGIC or end > limit:
        return None
    payload = window.get(position + RECORD_OVERHEAD, length)
    if len(payload) < length or _crc(length, payload) != crc:
        return None
    return payload, end


def _next_valid(window: _Window, position: int, limit: int) -> int:
    """Where the next whole valid record after the damage at ``position`` starts
    (``limit`` when none does): the magic bytes are only a hint, the CRC decides."""
    rest = window.load_to(position, limit)
    found = rest.find(_MAGIC, 1)
    while found != -1:
        if _record_at(window, position + found, limit) is not None:
            return position + found
        found = rest.find(_MAGIC, found + 1)
    return limit


@dataclass(eq=False)
class _Segment:
    seq: int
    path: Path
    size: int
    #: Valid records not yet consumed, as far as this process knows (an upper bound:
    #: damage found later lowers it).
    pending: int = 0
    #: Damaged byte ranges already counted, skipped silently when read again.
    skips: list[tuple[int, int]] = field(default_factory=list)
    fd: int | None = None


class DiskSpool:
    """A bounded, persistent FIFO of messages (``bytes``) in ``directory``.

    Args:
        directory: Created (0700, with its parents) if missing. One spool per
            directory: a second :class:`DiskSpool` on it, in this or another process,
            raises :exc:`SpoolUnavailable` until the first is closed.
        max_bytes: The most the segment files may hold (see the module docstring);
            :meth:`append` accepts a message only if its record still fits.
        segment_bytes: Segment size; ``None`` picks ``max_bytes // 16`` (4 KiB..4 MiB).
        fsync: ``fsync`` every append and consume (see the module docstring).

    Raises:
        SpoolUnavailable: The directory cannot be created, opened, written or locked.

    Reopening a directory (a daemon restart) recovers its content in order, from the
    persisted position; damaged records are skipped and counted. Not thread-safe: one
    caller (the output's trio thread) uses it.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        max_bytes: int,
        *,
        segment_bytes: int | None = None,
        fsync: bool = False,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}")
        if segment_bytes is None:
            segment_bytes = min(max(max_bytes // 16, 4096), 4 * 1024 * 1024)
        if segment_bytes <= RECORD_OVERHEAD:
            raise ValueError(f"segment_bytes must exceed {RECORD_OVERHEAD}, not {segment_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        #: Damaged stretches skipped (each counted once, when first found).
        self.corrupt_skipped = 0
        #: Failed writes (appends, position updates, new segments).
        self.write_errors = 0
        self._segments: deque[_Segment] = deque()
        self._tail: _Segment | None = None  # the segment appends go to, if any yet
        self._read_offset = 0  # in the head segment
        self._messages = 0
        self._bytes = 0
        self._next_seq = 1
        self._peeked: list[tuple[_Segment, int]] = []  # the last peek's record ends
        self._append_failing = False
        self._position_failing = False
        self._closed = False
        self._position_fd = self._open_directory()
        try:
            self._recover()
        except BaseException:
            self.close()
            raise

    # -- public -----------------------------------------------------------------------

    @property
    def messages(self) -> int:
        """Messages held (appended and not consumed)."""
        return self._messages

    @property
    def bytes_used(self) -> int:
        """Bytes the segment files hold on disk (what ``max_bytes`` bounds)."""
        return self._bytes

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return self._messages

    def __repr__(self) -> str:
        return (
            f"<DiskSpool {str(self.directory)!r} {self._messages} messages, "
            f"{self._bytes}/{self.max_bytes} bytes>"
        )

    def append(self, messages: Sequence[bytes]) -> int:
        """Append the longest prefix of ``messages`` that fits; return its length.

        The rest (the spool is full, a message exceeds what fits at all, or a write
        failed) is not stored: the caller counts it as dropped. Never raises ``OSError``.
        """
        self._check_open()
        accepted = 0
        chunk = bytearray()
        ends: list[int] = []  # where each record of `chunk` ends in it
        for message in messages:
            size = RECORD_OVERHEAD + len(message)
            if len(message) > MAX_MESSAGE_BYTES or self._bytes + len(chunk) + size > self.max_bytes:
                break
            tail = self._tail
            if tail is not None and tail.size + len(chunk) > 0:
                full = tail.size + len(chunk) + size > self.segment_bytes
            else:
                full = tail is None
            if full:
                if chunk:
                    written = self._write(chunk, ends)
                    accepted += written
                    if written < len(ends):
                        return accepted
                    chunk = bytearray()
                    ends = []
                if not self._start_segment():
                    return accepted
            chunk += encode_record(message)
            ends.append(len(chunk))
        if chunk:
            accepted += self._write(chunk, ends)
        return accepted

    def peek(self, limit: int) -> list[bytes]:
        """Up to ``limit`` of the oldest messages, oldest first, without removing them."""
        self._check_open()
        payloads: list[bytes] = []
        ends: list[tuple[_Segment, int]] = []
        if limit > 0:
            exhausted = True
            for index, segment in enumerate(tuple(self._segments)):
                start = self._read_offset if index == 0 else 0
                for payload, end in self._records(segment, start):
                    payloads.append(bytes(payload))
                    ends.append((segment, end))
                    if len(payloads) >= limit:
                        exhausted = False
                        break
                if not exhausted:
                    break
            if exhausted and len(payloads) != self._messages:
                self._reconcile(ends)
        self._peeked = ends
        return payloads

    def consume(self, count: int) -> None:
        """Remove the ``count`` oldest messages (delivered), persisting the position.

        Raises:
            ValueError: ``count`` is negative or more than the spool holds.
        """
        self._check_open()
        if count < 0:
            raise ValueError(f"cannot consume {count} messages")
        if count == 0:
            return
        ends = self._peeked
        if len(ends) < count:
            self.peek(count)
            ends = self._peeked
            if len(ends) < count:
                raise ValueError(f"cannot consume {count} messages: the spool holds {len(ends)}")
        for segment, _ in ends[:count]:
            segment.pending = max(segment.pending - 1, 0)
        self._messages -= count
        last_segment, last_end = ends[count - 1]
        self._peeked = []
        if self._messages == 0:
            while self._segments:
                self._delete_head()
            self._read_offset = 0
        else:
            while self._segments[0] is not last_segment:
                self._delete_head()
            self._read_offset = last_end
            self._retire_read_segments()
        self._write_position()

    def close(self) -> None:
        """Close the files and release the directory (idempotent; nothing is lost)."""
        if self._closed:
            return
        self._closed = True
        for segment in self._segments:
            _close_fd(segment)
        with contextlib.suppress(OSError):
            os.close(self._position_fd)

    def __enter__(self) -> DiskSpool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- opening and recovery -----------------------------------------------------------

    def _open_directory(self) -> int:
        """Create and lock the directory; the position file's descriptor holds the lock."""
        path = self.directory
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a directory")
            fd = os.open(path / POSITION_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise SpoolUnavailable(
                exc.errno or errno.EIO,
                f"cannot use {str(path)!r} as a spool directory: {exc.strerror or exc}",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            busy = exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
            reason = "another spool (another daemon?) has it open" if busy else exc.strerror
            raise SpoolUnavailable(
                exc.errno or errno.EIO, f"cannot use {str(path)!r} as a spool directory: {reason}"
            ) from exc
        return fd

    def _recover(self) -> None:
        found: list[tuple[int, Path]] = []
        for entry in os.scandir(self.directory):
            match = _SEGMENT_NAME.match(entry.name)
            if match and entry.is_file(follow_symlinks=False):
                found.append((int(match.group(1)), Path(entry.path)))
        found.sort()
        position = self._read_position()
        head_seq, head_offset = position if position is not None else (0, 0)
        self._next_seq = max([head_seq, *(seq for seq, _ in found)]) + 1
        for seq, path in found:
            if seq < head_seq:  # consumed before the last stop; its unlink did not happen
                _unlink(path)
                continue
            try:
                size = path.stat().st_size
            except OSError as exc:
                log.warning("spool %s: cannot read %s (%s); skipped", self.directory, path, exc)
                continue
            self._segments.append(_Segment(seq, path, size))
            self._bytes += size
        if self._segments and self._segments[0].seq == head_seq:
            head = self._segments[0]
            if head_offset > head.size:
                log.warning(
                    "spool %s: %s is shorter than its read position %d; its rest is lost",
                    self.directory,
                    head.path.name,
                    head_offset,
                )
                head_offset = head.size
            self._read_offset = head_offset
        for index, segment in enumerate(self._segments):
            start = self._read_offset if index == 0 else 0
            segment.pending = sum(1 for _ in self._records(segment, start))
            self._messages += segment.pending
            _close_fd(segment)  # reopened when read; many old segments, few reads
        if self._messages == 0:
            while self._segments:
                self._delete_head()
            self._read_offset = 0
        else:
            self._retire_read_segments()
        self._write_position()  # a failure here (a full disk) is counted, not raised
        if self._messages:
            log.info(
                "spool %s: %d messages (%d bytes) kept from before",
                self.directory,
                self._messages,
                self._bytes,
            )

    def _read_position(self) -> tuple[int, int] | None:
        try:
            data = os.pread(self._position_fd, _POSITION.size + 1, 0)
        except OSError as exc:
            raise SpoolUnavailable(
                exc.errno or errno.EIO,
                f"cannot read {str(self.directory / POSITION_FILE)!r}: {exc.strerror}",
            ) from exc
        if not data:
            return None
        if len(data) == _POSITION.size:
            magic, seq, offset, crc = _POSITION.unpack(data)
            if magic == _POSITION_MAGIC and zlib.crc32(data[:-4]) == crc:
                return seq, offset
        log.warning(
            "spool %s: the position file is damaged; reading from the oldest segment "
            "(messages delivered before the last stop may be sent again)",
            self.directory,
        )
        return None

    # -- reading --------------------------------------------------------------------------

    def _records(self, segment: _Segment, start: int) -> Iterator[tuple[memoryview, int]]:
        """The valid records of ``segment`` from ``start`` on, as (payload, end); damage
        not met before is counted and remembered (so it is counted once)."""
        window: _Window | None = None
        position = start
        while position < segment.size:
            skipped_to = _skip_end(segment, position)
            if skipped_to is not None:
                position = skipped_to
                continue
            if window is None:
                fd = self._fd_for(segment)
                if fd is None:
                    self._note_damage(segment, position, segment.size, "cannot be opened")
                    return
                window = _Window(fd)
            try:
                found = _record_at(window, position, segment.size)
                if found is None:
                    resume = _next_valid(window, position, segment.size)  # > position
                    self._note_damage(segment, position, resume)
                    position = resume
                    continue
            except OSError as exc:
                self._note_damage(segment, position, segment.size, f"cannot be read: {exc}")
                return
            payload, position = found
            yield payload, position

    def _fd_for(self, segment: _Segment) -> int | None:
        if segment.fd is None:
            with contextlib.suppress(OSError):
                segment.fd = os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC)
        return segment.fd

    def _note_damage(
        self, segment: _Segment, start: int, end: int, why: str = "a torn write or disk damage"
    ) -> None:
        bisect.insort(segment.skips, (start, end))
        self.corrupt_skipped += 1
        log.warning(
            "spool %s: skipped %d damaged bytes at %s offset %d (%s)",
            self.directory,
            end - start,
            segment.path.name,
            start,
            why,
        )

    def _reconcile(self, ends: list[tuple[_Segment, int]]) -> None:
        """A peek read everything: the records it found are the truth (fewer than
        counted only if damage appeared on disk after they were written)."""
        found = dict.fromkeys(self._segments, 0)
        for segment, _ in ends:
            found[segment] += 1
        for segment, count in found.items():
            segment.pending = count
        log.warning(
            "spool %s: %d messages counted but unreadable (damaged on disk)",
            self.directory,
            self._messages - len(ends),
        )
        self._messages = len(ends)

    def _retire_read_segments(self) -> None:
        """Delete the head segments the read position has passed entirely."""
        while self._segments:
            head = self._segments[0]
            offset = self._read_offset
            while (skipped_to := _skip_end(head, offset)) is not None:
                offset = skipped_to
            if offset < head.size or head is self._tail:
                return
            self._delete_head()
            self._read_offset = 0

    def _delete_head(self) -> None:
        segment = self._segments.popleft()
        if segment is self._tail:
            self._tail = None
        self._messages -= segment.pending  # only damage leaves any
        self._bytes -= segment.size
        _close_fd(segment)
        _unlink(segment.path)

    # -- writing --------------------------------------------------------------------------

    def _start_segment(self) -> bool:
        seq = self._next_seq
        path = self.directory / f"{_SEGMENT_PREFIX}{seq:012d}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            if self.fsync:
                _fsync_directory(self.directory)
        except OSError as exc:
            self._append_failed(exc)
            return False
        self._next_seq = seq + 1
        segment = _Segment(seq, path, 0, fd=fd)
        self._segments.append(segment)
        self._tail = segment
        return True

    def _write(self, chunk: bytearray, ends: list[int]) -> int:
        """Write whole records to the tail; return how many are on disk."""
        tail = self._tail
        assert tail is not None and tail.fd is not None
        base = tail.size
        written = 0
        try:
            view = memoryview(chunk)
            while written < len(chunk):
                count = os.pwrite(tail.fd, view[written:], base + written)
                if count <= 0:
                    raise OSError(errno.EIO, "write returned nothing")
                written += count
            if self.fsync:
                os.fsync(tail.fd)
        except OSError as exc:
            # The whole records before the failure are kept -- unless the fsync failed:
            # then none of this write is known to be on disk (the kernel may even have
            # dropped the dirty pages), so all of it is cut and reported not accepted.
            kept = 0 if written == len(chunk) else bisect.bisect_right(ends, written)
            good = ends[kept - 1] if kept else 0
            self._drop_partial(tail, base + good, base + written)
            self._account(tail, good, kept)
            self._append_failed(exc)
            return kept
        self._account(tail, len(chunk), len(ends))
        if self._append_failing:
            self._append_failing = False
            log.info("spool %s: writable again", self.directory)
        return len(ends)

    def _account(self, segment: _Segment, size: int, records: int) -> None:
        segment.size += size
        segment.pending += records
        self._messages += records
        self._bytes += size

    def _drop_partial(self, tail: _Segment, good_end: int, written_end: int) -> None:
        """Cut a partly written record off; if even that fails, remember the garbage as
        already counted damage and start a new segment for the next append."""
        if written_end <= good_end:
            return
        assert tail.fd is not None
        try:
            os.ftruncate(tail.fd, good_end)
        except OSError as exc:
            log.warning(
                "spool %s: cannot truncate %s (%s); its tail is skipped",
                self.directory,
                tail.path.name,
                exc,
            )
            bisect.insort(tail.skips, (good_end, written_end))
            self._bytes += written_end - good_end
            tail.size += written_end - good_end
            self._tail = None

    def _append_failed(self, exc: OSError) -> None:
        self.write_errors += 1
        if not self._append_failing:
            self._append_failing = True
            log.warning(
                "spool %s: cannot write (%s); messages are not accepted until it can",
                self.directory,
                exc.strerror or exc,
            )

    def _write_position(self) -> None:
        if self._segments:
            seq, offset = self._segments[0].seq, self._read_offset
        else:
            seq, offset = self._next_seq, 0
        body = _POSITION_MAGIC + seq.to_bytes(8, "big") + offset.to_bytes(8, "big")
        record = body + zlib.crc32(body).to_bytes(4, "big")
        try:
            if os.pwrite(self._position_fd, record, 0) != len(record):
                raise OSError(errno.EIO, "short write")
            if self.fsync:
                os.fsync(self._position_fd)
        except OSError as exc:
            self.write_errors += 1
            if not self._position_failing:
                self._position_failing = True
                log.warning(
                    "spool %s: cannot save the read position (%s); after a restart some "
                    "messages may be sent again",
                    self.directory,
                    exc.strerror or exc,
                )
            return
        self._position_failing = False

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the spool {str(self.directory)!r} is closed")


def _skip_end(segment: _Segment, position: int) -> int | None:
    for start, end in segment.skips:
        if start <= position < end:
            return end
    return None


def _close_fd(segment: _Segment) -> None:
    if segment.fd is not None:
        with contextlib.suppress(OSError):
            os.close(segment.fd)
        segment.fd = None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("spool: cannot delete %s (%s)", path, exc)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
