"""``trioaudit parse``: files, .gz, stdin, formats, filters, constant memory."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from trioaudit.cli.main import main

DATA = Path(__file__).parents[1] / "data"
LOG = DATA / "audit_enriched.log"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["parse", *args])
    out = capsys.readouterr().out
    return code, out.splitlines()


def test_parse_json_events(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run(capsys, str(LOG))
    assert code == 0
    events = [json.loads(line) for line in lines]
    assert sum(len(e["records"]) for e in events) == len(LOG.read_bytes().splitlines())
    assert {"timestamp", "sequence", "node", "records"} == set(events[0])


def test_parse_gz_equals_plain(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    gz = tmp_path / "audit.log.gz"
    gz.write_bytes(gzip.compress(LOG.read_bytes()))
    _, plain = run(capsys, str(LOG))
    code, zipped = run(capsys, str(gz))
    assert code == 0 and zipped == plain


def test_parse_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(LOG.read_bytes())))
    code, lines = run(capsys, "-", "--count", "5")
    assert code == 0 and len(lines) == 5


def test_parse_formats_and_filter(capsys: pytest.CaptureFixture[str]) -> None:
    _, records = run(capsys, str(LOG), "--format", "records", "--filter", "key=exec")
    assert records and all(json.loads(x)["record_type"] for x in records)
    _, text = run(capsys, str(LOG), "--format", "text", "--filter", "comm~ev")
    assert text[0] == "----" and all(line.isprintable() for line in text)
    _, raw = run(capsys, str(LOG), "--raw", "--filter", "syscall=execve", "--count", "1")
    fields = json.loads(raw[0])["records"][0]["fields"]
    assert fields["syscall"] == "59"


def test_bad_filter_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["parse", str(LOG), "--filter", "key="]) == 2
    assert "position" in capsys.readouterr().err


def test_missing_file_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["parse", str(tmp_path / "nope.log")]) == 1


def test_garbage_lines_are_skipped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "mixed.log"
    path.write_bytes(b"junk\n\n" + LOG.read_bytes()[:2000].rsplit(b"\n", 1)[0] + b"\n\xff\xfe\n")
    code = main(["parse", str(path), "--stats"])
    captured = capsys.readouterr()
    assert code == 0
    assert "2 not records" in captured.err


def test_constant_memory_on_a_large_file(tmp_path: Path) -> None:
    """~50k records through a subprocess: peak RSS must not grow with the file."""
    body = LOG.read_bytes().splitlines()
    path = tmp_path / "big.log"
    serial = 0
    with open(path, "wb") as out:
        for _ in range(150):
            for line in body:
                serial += 1
                head, rest = line.split(b"):", 1)
                stamp = head.rsplit(b":", 1)[0]
                out.write(stamp + b":" + str(serial).encode() + b"):" + rest + b"\n")
    # VmHWM, not ru_maxrss: the latter survives exec, so a child forked from a
    # big pytest process would report the parent's peak.
    script = (
        "import sys\n"
        "from trioaudit.cli.main import main\n"
        "sys.stdout = open('/dev/null', 'w')\n"
        "main(['parse', sys.argv[1], '--format', 'json'])\n"
        "hwm = [x for x in open('/proc/self/status') if x.startswith('VmHWM')][0]\n"
        "print(hwm.split()[1], file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    peak_kib = int(proc.stderr.strip().splitlines()[-1])
    assert peak_kib < 120_000, peak_kib


def test_stats_count_the_repeated_events_split(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The same SYSCALL + PATH event logged twice (a merged log): two events, said so.
    event = (
        "type=SYSCALL msg=audit(1700000000.100:7): arch=c000003e syscall=2 success=yes\n"
        'type=PATH msg=audit(1700000000.100:7): item=0 name="/etc/x"\n'
    )
    log = tmp_path / "twice.log"
    log.write_text(event * 2)
    assert main(["parse", "--stats", str(log)]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    assert (
        f"trioaudit: {log}: 4 lines, 4 records, 0 not records, 2 events (0 evicted, "
        "0 late records, 1 repeated events split, 0 serial gaps, 0 resets)"
    ) in err
