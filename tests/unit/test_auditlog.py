"""The auditd-format log file: byte for byte what auditd writes, rotated as auditd rotates."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from trioaudit._output.auditlog import (
    MEBIBYTE,
    AuditLogFile,
    _translations,
    enriched_line,
    raw_line,
)
from trioaudit._records.model import AuditRecord
from trioaudit._records.parse import parse_kernel_record

DATA = Path(__file__).parents[1] / "data"


def _kernel_records() -> list[AuditRecord]:
    """tests/data/kernel_payloads.txt: the netlink payloads of audit_enriched.log's capture."""
    records = []
    for line in (DATA / "kernel_payloads.txt").read_text().splitlines():
        number, payload = line.split("\t", 1)
        record = parse_kernel_record(int(number), payload)
        assert record is not None
        records.append(record)
    return records


def test_raw_lines_are_what_auditd_wrote_for_the_same_records() -> None:
    # auditd logged the capture ENRICHED: its RAW line is the text before the \x1d.
    written = {
        line.split(b"\x1d", 1)[0]
        for line in (DATA / "audit_enriched.log").read_bytes().splitlines()
    }
    records = _kernel_records()
    assert len(records) == 120
    for record in records:
        assert raw_line(record) in written, record.raw
    assert raw_line(records[0], node="web1").startswith(b"node=web1 type=SYSCALL msg=audit(")


def test_enriched_lines_are_what_auditd_wrote_byte_for_byte(tmp_path: Path) -> None:
    # The capture's own machine: its users and groups are this machine's (root, nobody).
    written = set((DATA / "audit_enriched.log").read_bytes().splitlines())
    records = _kernel_records()
    for record in records:
        assert enriched_line(record) in written, record.raw
    path = tmp_path / "audit.log"
    with AuditLogFile(path, log_format="enriched") as log:
        log.write(records)
    assert path.read_bytes().splitlines() == [enriched_line(r) for r in records]
    with pytest.raises(ValueError, match="log_format"):
        AuditLogFile(tmp_path / "y.log", log_format="json")


def test_enriched_lines_from_the_memos_are_the_lines_worked_out_afresh() -> None:
    records = _kernel_records()
    acct = parse_kernel_record(
        1100, "audit(1.000:9): pid=1 uid=0 auid=0 ses=1 msg='op=PAM acct=\"root\" res=success'"
    )
    hexacct = parse_kernel_record(
        1100, "audit(1.000:9): pid=1 uid=0 auid=0 ses=1 msg='op=PAM acct=726F6F74 res=success'"
    )
    assert acct is not None and hexacct is not None
    for _ in range(2):  # the second round is answered by the memos
        for record in [*records, acct, hexacct]:
            assert enriched_line(record) == raw_line(record) + _translations(record)


def _record(serial: int, pad: int) -> AuditRecord:
    record = parse_kernel_record(1305, f"audit(1700000000.000:{serial}): op=x{'y' * pad} res=1")
    assert record is not None
    return record


def test_rotation_keeps_every_record_in_order_and_the_modes(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    records = [_record(serial, 1000) for serial in range(1, 4_001)]  # ~4 MiB
    with AuditLogFile(path, max_log_file=1, num_logs=10) as log:
        for start in range(0, len(records), 100):
            log.write(records[start : start + 100])
        assert log.rotations >= 3
    files = sorted(
        tmp_path.iterdir(), key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0
    )
    lines = [line for file in files for line in file.read_bytes().splitlines()]
    assert lines == [raw_line(r) for r in records]  # none lost or reordered across rotations
    for file in files:
        mode = stat.S_IMODE(file.stat().st_mode)
        assert mode == (0o600 if file == path else 0o400), file
        if file != path:
            assert file.stat().st_size // MEBIBYTE >= 1  # rotated once it reached 1 MiB


def test_never_more_than_num_logs_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    with AuditLogFile(path, max_log_file=1, num_logs=3) as log:
        for start in range(0, 6_000, 200):
            log.write([_record(serial, 1000) for serial in range(start, start + 200)])
        assert log.rotations >= 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.log", "audit.log.1", "audit.log.2"]


def test_rotate_at_once_and_without_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    with AuditLogFile(path, num_logs=2) as log:
        log.write([_record(1, 0)])
        log.rotate()  # SIGUSR1
        log.write([_record(2, 0)])
    assert (tmp_path / "audit.log.1").read_bytes() == raw_line(_record(1, 0)) + b"\n"
    assert path.read_bytes() == raw_line(_record(2, 0)) + b"\n"
    single = tmp_path / "single.log"
    with AuditLogFile(single, num_logs=1) as log:
        log.write([_record(3, 0)])
        log.rotate()  # num_logs < 2: auditd skips it
    assert not (tmp_path / "single.log.1").exists()
    with pytest.raises(ValueError):
        AuditLogFile(tmp_path / "x.log", num_logs=-1)


@pytest.mark.skipif(shutil.which("ausearch") is None, reason="ausearch (auditd) missing")
def test_ausearch_reads_the_log(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    records = _kernel_records()
    with AuditLogFile(path) as log:
        log.write(records)
    done = subprocess.run(
        ["ausearch", "-if", str(path), "--raw"],
        capture_output=True,
        env={**os.environ, "TZ": "UTC"},
        check=True,
    )
    assert done.stdout.splitlines() == [raw_line(r) for r in records]
