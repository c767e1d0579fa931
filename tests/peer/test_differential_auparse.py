"""Differential test: every field's interpretation against libauparse's (python3-audit).

Corpora: every real log (``tests/peer/logs.py``: our own captures and the logs from
the wild), each read with auditd's ENRICHED translations where it has them and again
with them stripped so both sides compute everything; and the synthetic corpus
(tests/support/synthetic.py) that drives every printer with odd values on every
architecture libauparse 3.0.9 knows.

On our own captures agreement is total. On the logs from the wild every differing
field and every record one side lacks must be a departure of
:mod:`tests.peer.departures` (documented in docs/events.md), and every departure must
still occur. On the synthetic corpus, thresholds only ever go up; its one documented
divergence: our syscall tables are a superset of libauparse 3.0.9's (newer kernels'
syscalls), so where libauparse says ``unknown-syscall(N)`` we give the name; those
records are counted apart.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from tests.peer.departures import (
    AUPARSE_FIELD_DEPARTURES,
    AUPARSE_MISSING_DEPARTURES,
    classify_field,
    classify_missing,
)
from tests.peer.logs import ALL, OWN, has_enrichment, log_id
from tests.support.differential import Comparison, auparse_available, compare
from tests.support.synthetic import synthetic_lines

pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(
        not auparse_available(), reason="/usr/bin/python3 cannot import auparse (python3-audit)"
    ),
]

#: Minimum agreement on the synthetic corpus outside the documented divergence.
SYNTHETIC_THRESHOLD = 1.0
#: Minimum strict agreement on the synthetic corpus (newer syscall names included).
SYNTHETIC_STRICT_THRESHOLD = 0.999

READINGS = [(log, False) for log in ALL] + [(log, True) for log in ALL if has_enrichment(log)]


def _reading_id(reading: tuple[Path, bool]) -> str:
    return f"{log_id(reading[0])}-{'raw' if reading[1] else 'enriched'}"


@cache
def _compare(log: Path, raw: bool) -> Comparison:
    return compare(log, raw=raw)


@pytest.mark.parametrize("reading", READINGS, ids=_reading_id)
def test_every_field_agrees_with_libauparse_or_is_a_known_departure(
    reading: tuple[Path, bool],
) -> None:
    result = _compare(*reading)
    assert result.records > 0
    unexplained = [m for m in result.mismatches if classify_field(m) is None]
    assert unexplained == [], unexplained[:20]
    lacking = [text for text in result.missing if classify_missing(text) is None]
    assert lacking == [], lacking[:5]


@pytest.mark.parametrize("reading", [r for r in READINGS if r[0] in OWN], ids=_reading_id)
def test_own_captures_agree_with_libauparse_on_every_field(reading: tuple[Path, bool]) -> None:
    result = _compare(*reading)
    assert result.missing_records == 0
    assert result.fields > 3000
    assert result.ratio == 1.0, result.mismatches[:20]


def test_every_libauparse_departure_still_occurs() -> None:
    seen: Counter[str] = Counter()
    for reading in READINGS:
        result = _compare(*reading)
        for mismatch in result.mismatches:
            departure = classify_field(mismatch)
            if departure is not None:
                seen[departure.name] += 1
        for text in result.missing:
            departure = classify_missing(text)
            if departure is not None:
                seen[departure.name] += 1
    expected = {d.name for d in (*AUPARSE_FIELD_DEPARTURES, *AUPARSE_MISSING_DEPARTURES)}
    assert set(seen) == expected, seen


def test_synthetic_corpus_agrees_with_libauparse(tmp_path: Path) -> None:
    path = tmp_path / "synthetic.log"
    path.write_text("\n".join(synthetic_lines()) + "\n", encoding="utf-8")
    result = compare(path, raw=True)
    assert result.missing_records == 0
    assert result.fields > 250_000
    assert result.adjusted_ratio >= SYNTHETIC_THRESHOLD, result.mismatches[:20]
    assert result.ratio >= SYNTHETIC_STRICT_THRESHOLD
