"""Differential test: ``--format text`` against ``ausearch -i -if`` on every real log.

For each log in ``tests/data`` and ``tests/data/wild``, both sides run under
``TZ=UTC``. Identical events (``----`` blocks) are matched in any order; every other
difference must be one of the departures of :mod:`tests.peer.departures` (documented in
``docs/events.md``), and every departure must still occur somewhere. The CLI's output
is checked to be the library's, so what is compared is what users run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from tests.peer.departures import AUSEARCH_DEPARTURES, TextComparison, compare_text
from tests.peer.logs import ALL, OWN, log_id
from trioaudit import parse_log
from trioaudit._records.values import RecordParseError, type_number

pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(shutil.which("ausearch") is None, reason="ausearch (auditd) missing"),
]

UTC = {**os.environ, "TZ": "UTC"}


def _number(name: str) -> int:
    try:
        return type_number(name)
    except RecordParseError:
        return -1


@cache
def _ours(log: Path) -> tuple[str, ...]:
    """Our text rendering, one string per event, in a child process under TZ=UTC."""
    script = (
        "import sys, json\n"
        "from trioaudit import parse_log\n"
        "from trioaudit._output.formats import render_event\n"
        "with open(sys.argv[1], 'rb') as f:\n"
        "    print(json.dumps([render_event(e, 'text') for e in parse_log(f)]))\n"
    )

    out = subprocess.run(
        [sys.executable, "-c", script, str(log)], capture_output=True, env=UTC, check=True
    ).stdout
    return tuple(json.loads(out))


@cache
def _compare(log: Path) -> TextComparison:
    theirs = subprocess.run(
        ["ausearch", "--debug", "-i", "-if", str(log)], capture_output=True, env=UTC
    )
    with open(log, "rb") as lines:
        events = list(parse_log(lines))
    texts = _ours(log)
    assert len(texts) == len(events)
    return compare_text(
        theirs.stdout.decode("utf-8", "backslashreplace"),
        zip(events, texts, strict=True),
        theirs.stderr.decode("utf-8", "replace"),
        _number,
    )


@pytest.mark.parametrize("log", ALL, ids=log_id)
def test_every_difference_from_ausearch_is_a_known_departure(log: Path) -> None:
    result = _compare(log)
    assert result.unexplained == [], result.unexplained[:10]
    assert result.blocks > 0


@pytest.mark.parametrize("log", OWN, ids=log_id)
def test_own_captures_are_ausearch_line_for_line(log: Path) -> None:
    """On the logs auditd wrote on this kind of machine there is no departure at all."""
    result = _compare(log)
    assert result.departures == Counter()
    assert result.identical == result.blocks > 90


def test_every_ausearch_departure_still_occurs() -> None:
    seen: Counter[str] = Counter()
    for log in ALL:
        seen.update(_compare(log).departures or {})
    assert {d.name for d in AUSEARCH_DEPARTURES} == set(seen), seen


def test_cli_text_output_is_the_library_rendering() -> None:
    log = next(p for p in ALL if p.name == "go-libaudit-auparse.log")
    cli = subprocess.run(
        [sys.executable, "-m", "trioaudit.cli.main", "parse", "--format", "text", str(log)],
        capture_output=True,
        env=UTC,
        check=True,
    ).stdout.decode()
    assert cli == "".join(f"{text}\n" for text in _ours(log))
