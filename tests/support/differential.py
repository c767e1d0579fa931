"""Field-by-field comparison of trioaudit's interpretation with libauparse's.

Used by tests/peer/test_differential_auparse.py and runnable by hand:

    .venv/bin/python -m tests.differential FILE [--raw]

``--raw`` first strips auditd's ENRICHED translations (everything after the
``\\x1d`` separator), so both sides must compute every interpretation themselves
instead of reading auditd's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from trioaudit._records.interpret import Interpreter
from trioaudit._records.parse import RecordParseError, parse_log_line

AUPARSE_PYTHON = "/usr/bin/python3"
DUMP_SCRIPT = Path(__file__).with_name("auparse_dump.py")


@dataclass(frozen=True)
class Mismatch:
    """One field on which the two sides differ (``ours_*`` ``None``: we have no such field)."""

    record_type: str
    serial: int
    name: str
    theirs: str | None
    ours_name: str | None
    ours: str | None

    def __repr__(self) -> str:
        return (
            f"{self.record_type}:{self.serial} {self.name}={self.theirs!r} "
            f"ours {self.ours_name}={self.ours!r}"
        )


@dataclass
class Comparison:
    fields: int = 0
    agree: int = 0
    records: int = 0
    missing_records: int = 0
    #: Fields of records whose syscall libauparse 3.0.9 does not know but our newer
    #: (kernel-ABI superset) syscall table does: a documented, deliberate divergence.
    newer_table: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    #: libauparse's text of each record we did not read as the same record.
    missing: list[str] = field(default_factory=list)
    by_field: Counter[str] = field(default_factory=Counter)

    @property
    def ratio(self) -> float:
        """Strict agreement: every field compared."""
        return self.agree / self.fields if self.fields else 0.0

    @property
    def adjusted_ratio(self) -> float:
        """Agreement outside the documented newer-syscall-table divergence."""
        compared = self.fields - self.newer_table
        return self.agree / compared if compared else 0.0


def auparse_available() -> bool:
    if not os.path.exists(AUPARSE_PYTHON):
        return False
    probe = subprocess.run([AUPARSE_PYTHON, "-c", "import auparse"], capture_output=True)
    return probe.returncode == 0


def strip_enrichment(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        for line in fin:
            fout.write(line.rstrip(b"\n").split(b"\x1d", 1)[0] + b"\n")


def auparse_records(path: Path) -> list[dict[str, object]]:
    proc = subprocess.run(
        [AUPARSE_PYTHON, str(DUMP_SCRIPT), str(path)], capture_output=True, check=True
    )
    return [json.loads(line) for line in proc.stdout.splitlines()]


def compare(path: Path, *, raw: bool = False) -> Comparison:
    if raw:
        with tempfile.TemporaryDirectory() as tmp:
            stripped = Path(tmp) / "raw.log"
            strip_enrichment(path, stripped)
            return _compare(stripped, use_enrichment=False)
    return _compare(path, use_enrichment=True)


def _compare(path: Path, *, use_enrichment: bool) -> Comparison:
    interpreter = Interpreter(use_enrichment=use_enrichment)
    ours: dict[tuple[str | None, int, int, int, str, int], list[tuple[str, str]]] = {}
    seen: Counter[tuple[str | None, int, int, int, str]] = Counter()
    with open(path, "rb") as handle:
        for line in handle:
            try:
                record = parse_log_line(line)
            except RecordParseError:
                continue
            sec = int(record.raw.split("audit(", 1)[1].split(".", 1)[0])
            milli = round(record.timestamp * 1000) - sec * 1000
            base = (record.node, sec, milli, record.sequence, record.type_name)
            key = (*base, seen[base])
            seen[base] += 1
            ours[key] = interpreter.interpret_items(record)
    result = Comparison()
    theirs_seen: Counter[tuple[str | None, int, int, int, str]] = Counter()
    for rec in auparse_records(path):
        base = (rec["node"], rec["sec"], rec["milli"], rec["serial"], rec["type"])  # type: ignore[assignment]
        key = (*base, theirs_seen[base])
        theirs_seen[base] += 1
        result.records += 1
        mine = ours.get(key)  # type: ignore[arg-type]
        fields = rec["fields"]
        assert isinstance(fields, list)
        if mine is None:
            result.missing_records += 1
            result.missing.append(str(rec.get("text")))
            result.fields += len(fields)
            continue
        theirs_syscall = dict(fields).get("syscall") or ""
        newer = theirs_syscall.startswith("unknown-syscall(") and not dict(mine).get(
            "syscall", ""
        ).startswith("unknown-syscall(")
        for index, (name, value) in enumerate(fields):
            result.fields += 1
            got = mine[index] if index < len(mine) else None
            if got is not None and got[0] == name and got[1] == value:
                result.agree += 1
            elif newer:
                result.newer_table += 1
            else:
                result.by_field[f"{rec['type']}.{name}"] += 1
                result.mismatches.append(
                    Mismatch(
                        str(rec["type"]),
                        int(rec["serial"]),  # type: ignore[call-overload]
                        name,
                        value,
                        got[0] if got else None,
                        got[1] if got else None,
                    )
                )
    return result


def main() -> None:
    path = Path(sys.argv[1])
    raw = "--raw" in sys.argv
    result = compare(path, raw=raw)
    print(
        f"{path} ({'raw' if raw else 'enriched'}): {result.agree}/{result.fields} fields agree "
        f"({100 * result.ratio:.3f}%); outside the newer-syscall-table divergence "
        f"({result.newer_table} fields): {100 * result.adjusted_ratio:.3f}%; "
        f"{result.records} records, {result.missing_records} missing"
    )
    for mismatch in result.mismatches[:40]:
        print("  ", mismatch)


if __name__ == "__main__":
    main()
