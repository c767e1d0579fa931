"""The disk spool: a bounded, persistent FIFO that survives restarts, torn writes and
full disks without raising and without reordering."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import tempfile
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from trioaudit._output.spool import (
    POSITION_FILE,
    RECORD_OVERHEAD,
    DiskSpool,
    SpoolUnavailable,
    decode_records,
    encode_record,
)


def _segments(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name != POSITION_FILE)


def _disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in _segments(directory))


def _messages(count: int, size: int = 10, start: int = 0) -> list[bytes]:
    return [f"{i:0{size}d}".encode() for i in range(start, start + count)]


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


# -- the record format, byte for byte ------------------------------------------------------


def test_a_record_is_magic_length_crc_of_length_and_payload_then_payload() -> None:
    record = encode_record(b"abc")
    assert (
        record
        == (
            b"\xa7TAs" + b"\x00\x00\x00\x03" + zlib.crc32(b"\x00\x00\x00\x03abc").to_bytes(4, "big")
        )
        + b"abc"
    )
    assert RECORD_OVERHEAD == 12
    assert encode_record(b"") == b"\xa7TAs\x00\x00\x00\x00" + zlib.crc32(b"\0\0\0\0").to_bytes(
        4, "big"
    )
    assert decode_records(record + encode_record(b"") + encode_record(b"de")) == (
        [b"abc", b"", b"de"],
        0,
    )


def test_decoding_skips_each_damaged_stretch_once_and_finds_the_records_after_it() -> None:
    good = [encode_record(m) for m in (b"one", b"two", b"three", b"four")]
    damaged_length = bytearray(good[1])
    damaged_length[5] ^= 0x01  # the length: the CRC covers it, the reader resyncs
    damaged_payload = bytearray(good[2])
    damaged_payload[-1] ^= 0x01
    data = good[0] + bytes(damaged_length) + good[3] + bytes(damaged_payload) + good[0]
    assert decode_records(data) == ([b"one", b"four", b"one"], 2)
    # Damage running into a torn end is one stretch; a record between makes two.
    assert decode_records(data + bytes(damaged_payload) + good[3][:7]) == (
        [b"one", b"four", b"one"],
        3,
    )
    assert decode_records(b"") == ([], 0)
    assert decode_records(b"garbage without any record") == ([], 1)


# -- order, bounds, segments ---------------------------------------------------------------


def test_messages_come_back_in_order_across_segments_and_consumed_segments_are_deleted(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "spool"
    record = RECORD_OVERHEAD + 10
    with DiskSpool(directory, 100_000, segment_bytes=3 * record) as spool:
        sent = _messages(10)
        assert spool.append(sent) == 10
        assert len(spool) == spool.messages == 10
        assert len(_segments(directory)) == 4  # 3 + 3 + 3 + 1
        assert spool.bytes_used == 10 * record == _disk_bytes(directory)
        assert spool.peek(4) == sent[:4]
        assert spool.peek(4) == sent[:4]  # peeking removes nothing
        spool.consume(4)  # the first segment and one record of the second
        assert len(_segments(directory)) == 3
        assert spool.bytes_used == 7 * record == _disk_bytes(directory)
        assert spool.peek(100) == sent[4:]
        spool.consume(2)  # exactly the end of the second segment
        assert len(_segments(directory)) == 2
        assert spool.append(_messages(2, start=10)) == 2
        assert spool.peek(100) == sent[6:] + _messages(2, start=10)
        spool.consume(6)
        assert spool.messages == 0
        assert spool.bytes_used == 0
        assert _segments(directory) == []
        assert spool.peek(5) == []
        with pytest.raises(ValueError, match="holds 0"):
            spool.consume(1)
        with pytest.raises(ValueError):
            spool.consume(-1)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_max_bytes_is_respected_exactly_and_only_a_prefix_is_accepted(tmp_path: Path) -> None:
    record = RECORD_OVERHEAD + 10
    with DiskSpool(tmp_path / "s", 3 * record + RECORD_OVERHEAD + 4, segment_bytes=2 * record) as s:
        assert s.append(_messages(5)) == 3
        assert s.bytes_used == 3 * record
        assert s.append([b"12345"]) == 0  # one byte too many
        assert s.append([b"", b"1234"]) == 1  # a prefix: the empty one fits, then full
        assert s.bytes_used == s.max_bytes - 4 == _disk_bytes(tmp_path / "s")
        assert s.append([b"x" * 10_000]) == 0
        s.consume(1)  # the first segment still holds the consumed record
        assert s.append([b"abcd"]) == 0
        s.consume(1)  # now the first segment is deleted: room for two records
        assert s.append(_messages(3, start=7)) == 2
        assert s.bytes_used <= s.max_bytes
        assert s.peek(10) == [*_messages(1, start=2), b"", *_messages(2, start=7)]


def test_a_message_larger_than_a_segment_gets_a_segment_of_its_own(tmp_path: Path) -> None:
    big = os.urandom(300_000)  # larger than a segment, and than the reader's chunk
    with DiskSpool(tmp_path / "s", 1_000_000, segment_bytes=1000) as spool:
        assert spool.append([b"small", big, b"after"]) == 3
        assert len(_segments(tmp_path / "s")) == 3
        assert spool.peek(3) == [b"small", big, b"after"]
        spool.consume(2)
        assert spool.peek(3) == [b"after"]


def test_reopening_recovers_the_content_and_the_read_position(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    sent = _messages(20)
    with DiskSpool(directory, 100_000, segment_bytes=100) as spool:
        assert spool.append(sent) == 20
        spool.consume(7)
        size = spool.bytes_used
    with DiskSpool(directory, 100_000, segment_bytes=100) as spool:
        assert spool.messages == 13
        assert spool.bytes_used == size
        assert spool.corrupt_skipped == 0
        assert spool.peek(100) == sent[7:]
        assert spool.append(_messages(3, start=20)) == 3  # after what was there
        spool.consume(13)
    with DiskSpool(directory, 100_000, segment_bytes=100) as spool:
        assert spool.peek(100) == _messages(3, start=20)
        spool.consume(3)
    with DiskSpool(directory, 100_000, segment_bytes=100) as spool:
        assert spool.messages == 0
        assert spool.append([b"again"]) == 1
        assert spool.peek(9) == [b"again"]


def test_a_second_spool_on_the_same_directory_is_refused_until_the_first_closes(
    tmp_path: Path,
) -> None:
    first = DiskSpool(tmp_path / "s", 1000)
    with pytest.raises(SpoolUnavailable, match="another spool") as refused:
        DiskSpool(tmp_path / "s", 1000)
    assert str(tmp_path / "s") in str(refused.value)
    first.close()
    first.close()
    with pytest.raises(ValueError, match="closed"):
        first.append([b"x"])
    DiskSpool(tmp_path / "s", 1000).close()


def test_a_directory_that_cannot_be_created_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolUnavailable) as under_a_file:
        DiskSpool(blocker / "spool", 1000)
    assert isinstance(under_a_file.value, OSError)
    assert under_a_file.value.errno == errno.ENOTDIR
    assert str(blocker / "spool") in str(under_a_file.value)
    with pytest.raises(SpoolUnavailable, match="file"):
        DiskSpool(blocker, 1000)
    with pytest.raises(ValueError):
        DiskSpool(tmp_path / "x", 0)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_a_directory_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(SpoolUnavailable, match=str(locked)) as refused:
        DiskSpool(locked, 1000)
    assert refused.value.errno == errno.EACCES


def test_spool_files_are_private(tmp_path: Path) -> None:
    with DiskSpool(tmp_path / "s", 1000) as spool:
        spool.append([b"secret"])
        for path in (tmp_path / "s").iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# -- damage -----------------------------------------------------------------------------


def test_a_torn_tail_is_counted_logged_and_the_rest_is_readable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "s"
    sent = _messages(6)
    with DiskSpool(directory, 100_000) as spool:
        spool.append(sent)
    last = _segments(directory)[-1]
    os.truncate(last, last.stat().st_size - 5)  # a crash in the middle of the last write
    with caplog.at_level(logging.WARNING, "trioaudit"):
        spool = DiskSpool(directory, 100_000)
    with spool:
        assert spool.corrupt_skipped == 1
        assert "damaged" in caplog.text
        assert spool.messages == 5
        assert spool.peek(10) == sent[:5]
        assert spool.corrupt_skipped == 1  # counted once, not again at each read
        assert spool.append([b"new"]) == 1
        spool.consume(5)
        assert spool.peek(10) == [b"new"]
    with DiskSpool(directory, 100_000) as spool:
        assert spool.corrupt_skipped == 0  # that segment is gone
        assert spool.peek(10) == [b"new"]


@pytest.mark.parametrize("where", ["payload", "length", "magic", "crc"])
def test_a_flipped_byte_costs_that_record_only(tmp_path: Path, where: str) -> None:
    directory = tmp_path / "s"
    sent = _messages(5)
    with DiskSpool(directory, 100_000) as spool:
        spool.append(sent)
    offset = 2 * (RECORD_OVERHEAD + 10) + {"magic": 1, "length": 6, "crc": 9, "payload": 15}[where]
    _flip(_segments(directory)[0], offset)
    with DiskSpool(directory, 100_000) as spool:
        assert spool.corrupt_skipped == 1
        assert spool.messages == 4
        assert spool.peek(10) == sent[:2] + sent[3:]
        spool.consume(4)
        assert spool.messages == 0
        assert _segments(directory) == []


def test_damage_appearing_while_open_is_counted_once_and_the_counts_follow(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "s"
    sent = _messages(4)
    with DiskSpool(directory, 100_000) as spool:
        spool.append(sent)
        _flip(_segments(directory)[0], RECORD_OVERHEAD + 10 + 14)  # the second record
        assert spool.peek(10) == [sent[0], *sent[2:]]
        assert spool.corrupt_skipped == 1
        assert spool.messages == 3
        assert spool.peek(10) == [sent[0], *sent[2:]]
        assert spool.corrupt_skipped == 1
        spool.consume(3)
        assert spool.messages == 0
        assert spool.bytes_used == 0


def test_a_damaged_position_file_resends_from_the_oldest_rather_than_loses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "s"
    with DiskSpool(directory, 100_000) as spool:
        spool.append(_messages(5))
        spool.consume(2)
    _flip(directory / POSITION_FILE, 10)
    with caplog.at_level(logging.WARNING, "trioaudit"), DiskSpool(directory, 100_000) as spool:
        assert spool.peek(10) == _messages(5)
    assert "sent again" in caplog.text


def test_segments_older_than_the_position_are_removed_at_open(tmp_path: Path) -> None:
    # A stop between saving the position and deleting a consumed segment.
    directory = tmp_path / "s"
    with DiskSpool(directory, 100_000, segment_bytes=50) as spool:
        spool.append(_messages(4))  # two records a segment
        first = _segments(directory)[0]
        saved = first.read_bytes()
        spool.consume(2)
    first.write_bytes(saved)
    with DiskSpool(directory, 100_000, segment_bytes=50) as spool:
        assert spool.peek(10) == _messages(2, start=2)
    assert not first.exists()


# -- write errors ----------------------------------------------------------------------


def _failing_pwrite(
    monkeypatch: pytest.MonkeyPatch, *, allow: int, error: int = errno.ENOSPC
) -> Callable[[], None]:
    """Make writes stop after ``allow`` more bytes with ``error``; return the undo."""
    real = os.pwrite
    budget = [allow]

    def pwrite(fd: int, data: bytes | memoryview, offset: int) -> int:
        if budget[0] <= 0:
            raise OSError(error, os.strerror(error))
        view = memoryview(data)[: budget[0]]
        written = real(fd, view, offset)
        budget[0] -= written
        return written

    monkeypatch.setattr(os, "pwrite", pwrite)
    return lambda: monkeypatch.setattr(os, "pwrite", real)


def test_a_write_error_mid_record_keeps_the_whole_records_and_truncates_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "s"
    record = RECORD_OVERHEAD + 10
    with DiskSpool(directory, 100_000) as spool:
        assert spool.append(_messages(2)) == 2
        restore = _failing_pwrite(monkeypatch, allow=2 * record + 7)
        with caplog.at_level(logging.WARNING, "trioaudit"):
            assert spool.append(_messages(5, start=2)) == 2
            assert spool.append(_messages(5, start=4)) == 0
            assert spool.append([b"x"]) == 0
        assert spool.write_errors == 3
        assert caplog.text.count("cannot write") == 1  # once per episode
        assert spool.bytes_used == 4 * record == _disk_bytes(directory)
        restore()
        assert spool.append(_messages(1, start=4)) == 1
        assert spool.peek(10) == _messages(5)
    with DiskSpool(directory, 100_000) as spool:
        assert spool.corrupt_skipped == 0
        assert spool.peek(10) == _messages(5)


def test_a_failed_fsync_accepts_nothing_of_that_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with DiskSpool(tmp_path / "s", 100_000, fsync=True) as spool:
        assert spool.append([b"durable"]) == 1
        monkeypatch.setattr(os, "fsync", fsync)
        assert spool.append([b"lost", b"too"]) == 0
        assert spool.write_errors >= 1
        monkeypatch.undo()
        assert spool.append([b"later"]) == 1
        assert spool.peek(5) == [b"durable", b"later"]
        assert spool.bytes_used == _disk_bytes(tmp_path / "s")


def test_a_position_that_cannot_be_saved_is_counted_and_reading_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with DiskSpool(tmp_path / "s", 100_000) as spool:
        spool.append(_messages(3))
        _failing_pwrite(monkeypatch, allow=0, error=errno.EIO)
        spool.consume(1)
        assert spool.write_errors == 1
        assert spool.peek(5) == _messages(2, start=1)
    monkeypatch.undo()
    with DiskSpool(tmp_path / "s", 100_000) as spool:  # at least once: resent
        assert spool.peek(5) == _messages(3)


# -- against a model -----------------------------------------------------------------------


class SpoolAgainstADeque(RuleBasedStateMachine):
    """Any sequence of appends, peeks, consumes and restarts behaves as a deque that
    refuses only what does not fit in max_bytes."""

    MAX_BYTES = 1500
    SEGMENT_BYTES = 200

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="spool-model-")) / "s"
        self.spool = DiskSpool(self.directory, self.MAX_BYTES, segment_bytes=self.SEGMENT_BYTES)
        self.model: deque[bytes] = deque()

    @rule(messages=st.lists(st.binary(max_size=120), max_size=12))
    def append(self, messages: list[bytes]) -> None:
        before = self.spool.bytes_used
        accepted = self.spool.append(messages)
        self.model.extend(messages[:accepted])
        if accepted < len(messages):  # refused only because it does not fit
            added = sum(RECORD_OVERHEAD + len(m) for m in messages[:accepted])
            assert before + added + RECORD_OVERHEAD + len(messages[accepted]) > self.MAX_BYTES

    @rule(limit=st.integers(0, 30))
    def peek(self, limit: int) -> None:
        assert self.spool.peek(limit) == list(self.model)[:limit]

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def consume(self, data: st.DataObject) -> None:
        count = data.draw(st.integers(1, len(self.model)))
        self.spool.consume(count)
        for _ in range(count):
            self.model.popleft()

    @rule()
    def restart(self) -> None:
        self.spool.close()
        self.spool = DiskSpool(self.directory, self.MAX_BYTES, segment_bytes=self.SEGMENT_BYTES)
        assert self.spool.corrupt_skipped == 0

    @invariant()
    def agrees(self) -> None:
        assert len(self.spool) == len(self.model)
        assert self.spool.bytes_used <= self.MAX_BYTES
        assert self.spool.bytes_used == _disk_bytes(self.directory)

    def teardown(self) -> None:
        assert self.spool.peek(1000) == list(self.model)
        self.spool.close()
        shutil.rmtree(self.directory.parent)


SpoolAgainstADeque.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_the_spool_behaves_as_a_bounded_deque = SpoolAgainstADeque.TestCase
