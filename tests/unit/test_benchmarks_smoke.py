"""The benchmark harness in a tiny mode: tables come out, the kernel is put back.

Benchmarks are not tests; this only checks the harness still runs end to end
(seconds, not minutes) and that the generated document keeps hand-written text.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from benchmarks import __main__ as benchmarks_main
from benchmarks import _report, drain, parse, tui
from benchmarks.__main__ import main as bench_main

SMOKE_STORM = drain.StormSettings(count=2000, seconds=0.5)
SMOKE_RECORDS = 2000
#: audit_rule_data.flags without AUDIT_FILTER_PREPEND: the list (4 exit, 5 exclude).
LIST_MASK = 0x0F


def test_splice_preserves_hand_written_sections(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    _report.write(doc, {"drain": "first"})
    doc.write_text(doc.read_text() + "\n## TUI flood\n\nhand-written\n")
    _report.write(doc, {"drain": "second", "parse": "table"})
    text = doc.read_text()
    assert "second" in text and "first" not in text
    assert "hand-written" in text and "table" in text
    assert text.count("<!-- drain:begin -->") == 1


def test_corpus_replication_shifts_serials(tmp_path: Path) -> None:
    seed = tmp_path / "seed.log"
    seed.write_bytes(
        b"type=SYSCALL msg=audit(100.001:7): a=1\n"
        b"type=PROCTITLE msg=audit(100.001:7): b=2\n"
        b"not a record\n"
        b"type=SYSCALL msg=audit(101.500:9): a=3\n"
    )
    out = tmp_path / "corpus.log"
    assert parse.build_corpus(seed, 7, out) == 7
    headers = re.findall(rb"audit\((\d+)\.(\d+):(\d+)\)", out.read_bytes())
    serials = [int(serial) for _, _, serial in headers]
    assert serials == [7, 7, 9, 10, 10, 12, 13]
    assert headers[3][0] == b"102"


def test_tui_log_is_whole_copies_of_the_seed(tmp_path: Path) -> None:
    out = tmp_path / "flood.log"
    seed_events = len(set(re.findall(rb"audit\((\d+\.\d+:\d+)\)", tui.FALLBACK_SEED.read_bytes())))
    events, records = tui.build_log(tui.FALLBACK_SEED, seed_events + 1, out)
    assert events == 2 * seed_events
    assert len(set(re.findall(rb"audit\((\d+\.\d+:\d+)\)", out.read_bytes()))) == events
    assert records == len(out.read_bytes().splitlines())


def test_tui_section_quick_without_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--only tui`` replays into the app in a child process: no root, no kernel, seconds."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # as an ordinary user
    doc = tmp_path / "benchmarks.md"
    assert bench_main(["--only", "parse", "--quick", "--output", str(doc)]) == 77
    assert not doc.exists()
    assert bench_main(["--only", "tui", "--quick", "--output", str(doc)]) == 0
    text = doc.read_text()
    body = text.split("<!-- tui:begin -->", 1)[1].split("<!-- tui:end -->", 1)[0]
    assert "## TUI under flood" in text and "| % of run |" in body
    assert "Failed" not in body, body
    events = benchmarks_main.QUICK_TUI.events
    match = re.search(
        r"events in the log / posted by the source / taken by the feed \| (.*) \|", body
    )
    assert match is not None, body
    log_events, posted, fed = (int(n.replace(",", "")) for n in match.group(1).split(" / "))
    assert log_events >= events and log_events == posted == fed
    assert "| lost (in the log, never reached the feed) | 0 " in body


def test_cpu_section_renders_ratios_against_auditd() -> None:
    from benchmarks._report import cpu_section
    from benchmarks.execcpu import CpuResult

    rows = [
        CpuResult(name, 1000, execs=execs, seconds=10.0, cpu_seconds=cpu)
        for name, execs, cpu in (
            ("auditd RAW", 10_000, 0.5),
            ("auditd ENRICHED", 10_000, 1.0),
            ("trioaudit tail", 5_000, 2.0),  # fewer execs done: the ratio is per exec
            ("nothing ran", 0, 0.1),
        )
    ]
    text = cpu_section(10.0, rows)
    assert "### 1,000 exec/s" in text
    assert "| trioaudit tail | 5,000 | 10.0 | 2.00 | 17.4 | 400 | 4.00x | 8.00x | 0 |" in text
    assert "| nothing ran | 0 | 10.0 | 0.10 | 0.9 | - | - | - | 0 |" in text
