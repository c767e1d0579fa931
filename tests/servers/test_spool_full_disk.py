"""The disk spool on a really full (and a read-only) file system: small tmpfs mounts,
made and removed by the tests (root)."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from trioaudit._output.spool import POSITION_FILE, DiskSpool, SpoolUnavailable, decode_records

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")

TMPFS_BYTES = 256 * 1024


def _mount_tmpfs(path: Path, options: str) -> Iterator[Path]:
    path.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        check=True,
        capture_output=True,
        timeout=10,
    )
    try:
        yield path
    finally:
        result = subprocess.run(["umount", str(path)], capture_output=True, timeout=10)
        if result.returncode != 0:  # something still open: detach it anyway
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount_tmpfs(tmp_path / "small", f"size={TMPFS_BYTES},mode=0700")


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount_tmpfs(tmp_path / "ro", "size=64k,ro")


def _message(index: int) -> bytes:
    """1000 bytes that say which message they are, so that any damage shows."""
    digest = hashlib.sha256(b"%d" % index).digest()
    return (b"%08d:" % index + digest * 32)[:1000]


def _on_disk(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name != POSITION_FILE)


def test_a_full_disk_refuses_appends_cleanly_and_recovers_after_consuming(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = small_disk / "spool"
    spool = DiskSpool(directory, 10 * TMPFS_BYTES, segment_bytes=16 * 1024)
    accepted: list[bytes] = []
    next_index = 0
    with caplog.at_level(logging.WARNING, "trioaudit"):
        for _ in range(100):  # bounded: the disk is full long before
            batch = [_message(next_index + i) for i in range(10)]
            count = spool.append(batch)  # never raises
            accepted += batch[:count]
            next_index += count
            if count < len(batch):
                break
        for _ in range(3):  # still full: refused again, counted, no exception
            assert spool.append([_message(next_index)]) == 0
    assert spool.write_errors >= 4
    assert "No space left on device" in caplog.text
    assert caplog.text.count("cannot write") == 1  # logged once for the episode
    assert 150 <= len(accepted) < 256  # about the tmpfs's size
    assert spool.messages == len(accepted)
    # No partial record was left behind: the files hold exactly the accepted records.
    files = _on_disk(directory)
    assert spool.bytes_used == sum(p.stat().st_size for p in files)
    stored = [decode_records(p.read_bytes()) for p in files]
    assert [m for payloads, _ in stored for m in payloads] == accepted
    assert all(skipped == 0 for _, skipped in stored)

    # Consuming deletes whole segments: the disk has room again.
    delivered = spool.peek(60)
    spool.consume(60)
    assert len(_on_disk(directory)) < len(files)
    more = [_message(next_index + i) for i in range(20)]
    assert spool.append(more) == 20
    accepted += more
    spool.close()

    # Everything accepted comes back intact and in order, after a restart too.
    with DiskSpool(directory, 10 * TMPFS_BYTES, segment_bytes=16 * 1024) as reopened:
        assert reopened.corrupt_skipped == 0
        assert delivered + reopened.peek(1000) == accepted


def test_a_read_only_file_system_is_refused_at_construction_naming_the_path(
    read_only_disk: Path,
) -> None:
    with pytest.raises(SpoolUnavailable) as refused:
        DiskSpool(read_only_disk / "spool", 1000)
    assert refused.value.errno == errno.EROFS
    assert str(read_only_disk / "spool") in str(refused.value)
    with pytest.raises(SpoolUnavailable) as refused_root:
        DiskSpool(read_only_disk, 1000)  # exists, but cannot be written
    assert refused_root.value.errno == errno.EROFS
