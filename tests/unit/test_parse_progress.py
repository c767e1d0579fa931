"""``trioaudit parse`` on stderr: the note for files without records, and the progress line.

The note: a file none of whose lines is a record (a binary, an empty file, a text
file) says so in one line and still exits 0. The progress line: drawn only when
stderr is a terminal and stdout is not, redrawn a few times a second, erased at
the end; with stderr piped not one byte of it is written.
"""

from __future__ import annotations

import fcntl
import io
import os
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.support.terminal import PtyProcess
from trioaudit.cli import progress
from trioaudit.cli.main import main
from trioaudit.cli.progress import Progress

DATA = Path(__file__).parents[1] / "data"
LOG = DATA / "audit_enriched.log"
ROOT = Path(__file__).parents[2]

#: ``trioaudit parse`` with its progress line drawn from the first check on, so that a
#: parse of a second or so shows it (the real delay hides it for short parses).
PARSE_AT_ONCE = """
import sys
from trioaudit.cli import main, progress
progress.FIRST_DRAW_AFTER = 0.0
sys.exit(main.main(["parse", *sys.argv[1:]]))
"""


def parse_stderr(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["parse", *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "note"),
    [
        (Path(sys.executable).read_bytes()[:20000], "no audit records in"),
        (b"", "empty, no audit records"),
        (b"just some text\n", "no audit records in 1 line"),
        (b"Jan  1 00:00:00 host sshd[1]: Accepted key\n\n", "no audit records in 2 lines"),
    ],
    ids=["binary", "empty", "one-line", "syslog"],
)
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_file_without_records_says_so_and_exits_0(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, note: str, jobs: str
) -> None:
    path = tmp_path / "not-a-log"
    path.write_bytes(content)
    code, err = parse_stderr(capsys, "--jobs", jobs, str(path))
    assert code == 0
    assert err.splitlines() == [err.strip()]
    assert err.startswith(f"trioaudit: {path}: {note}")


def test_the_note_names_each_file_without_records(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    code, err = parse_stderr(capsys, str(LOG), str(empty), "--count", "100000")
    assert code == 0
    assert err == f"trioaudit: {empty}: empty, no audit records\n"


def test_a_log_with_some_bad_lines_gets_no_note(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "mixed.log"
    path.write_bytes(b"garbage\n" + LOG.read_bytes()[:5000].rsplit(b"\n", 1)[0] + b"\n")
    code, err = parse_stderr(capsys, str(path))
    assert (code, err) == (0, "")
    code, err = parse_stderr(capsys, "--stats", str(path))
    assert code == 0 and ", 1 not records," in err and "no audit records" not in err


def test_stdin_without_records_is_named_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x\ny\n")))
    code, err = parse_stderr(capsys, "-")
    assert (code, err) == (0, "trioaudit: stdin: no audit records in 2 lines\n")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _read_slowly(
    bar: Progress, clock: FakeClock, name: str, lines: BinaryIO, per_line: float
) -> int:
    """Read *lines* through *bar*, each line taking *per_line* seconds and being a record."""
    records = 0
    with bar.track(name, lines, lambda: records) as tracked:
        for _ in tracked:
            records += 1
            clock.now += per_line
    return records


def test_progress_line_of_a_file_shows_share_rate_and_eta(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes((b"z" * 1023 + b"\n") * 4096)  # 4 MiB in 4096 lines
    screen = io.StringIO()
    clock = FakeClock()
    bar = Progress(screen, width=120, clock=clock)
    with open(path, "rb", buffering=0) as lines:
        _read_slowly(bar, clock, "audit.log", lines, per_line=0.001)
    drawn = [part for part in screen.getvalue().split("\r") if part.strip()]
    # 4.1 s of reading, the clock looked at every 512 lines (0.512 s here): the first
    # look is past the first half second and each later one past the 1/4 s pause.
    assert len(drawn) == 8
    assert (
        drawn[0]
        == "trioaudit: audit.log  512.0 KiB of 4.0 MiB (12 %), 1,000 records/s, ETA 0:00:03"
    )
    assert (
        drawn[-1].rstrip()  # padded to cover the longer line drawn before it
        == "trioaudit: audit.log  4.0 MiB of 4.0 MiB (100 %), 1,000 records/s, ETA 0:00:00"
    )
    # Erased at the end: the last write blanks the longest line drawn and returns.
    assert screen.getvalue().endswith("\r" + " " * max(len(d) for d in drawn) + "\r")


def test_progress_line_of_a_pipe_has_no_total() -> None:
    screen = io.StringIO()
    clock = FakeClock()
    bar = Progress(screen, width=120, clock=clock)
    lines = io.BytesIO(b"0123456789\n" * 2048)
    _read_slowly(bar, clock, "stdin", lines, per_line=0.002)
    drawn = [part for part in screen.getvalue().split("\r") if part.strip()]
    assert drawn[0] == "trioaudit: stdin  5.5 KiB read, 500 records/s"


def test_progress_line_is_cut_to_the_terminal_width() -> None:
    screen = io.StringIO()
    clock = FakeClock()
    bar = Progress(screen, width=30, clock=clock)
    _read_slowly(bar, clock, "a-very-long-name.log", io.BytesIO(b"x\n" * 4096), per_line=0.01)
    assert max(len(part) for part in screen.getvalue().split("\r")) == 29


def test_short_parses_show_no_progress() -> None:
    screen = io.StringIO()
    clock = FakeClock()
    _read_slowly(Progress(screen, 80, clock), clock, "f", io.BytesIO(b"x\n" * 4096), 0.0001)
    assert screen.getvalue() == ""


def _big_log(tmp_path: Path) -> Path:
    path = tmp_path / "big.log"
    path.write_bytes(LOG.read_bytes() * 64)  # ~20,000 records, about a second
    return path


def _parse_command(*args: str) -> list[str]:
    return [sys.executable, "-c", PARSE_AT_ONCE, "--raw", *args]


def test_progress_on_a_terminal_is_drawn_and_erased(tmp_path: Path) -> None:
    log = _big_log(tmp_path)
    terminal_master, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    try:
        with open(tmp_path / "out.json", "wb") as out:
            proc = subprocess.Popen(
                _parse_command(str(log)),
                stdout=out,
                stderr=terminal,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            os.close(terminal)
            terminal = -1
            written = bytearray()
            while True:
                try:
                    chunk = os.read(terminal_master, 65536)
                except OSError:  # the program exited and closed its end
                    break
                if not chunk:
                    break
                written.extend(chunk)
            assert proc.wait(timeout=60) == 0
    finally:
        os.close(terminal_master)
        if terminal >= 0:
            os.close(terminal)
    text = written.decode()
    drawn = [part for part in text.split("\r") if part.strip()]
    assert drawn, text
    assert all(part.startswith(f"trioaudit: {log}  ") for part in drawn)
    assert all(" of " in part and "records/s" in part for part in drawn)
    assert text.endswith("\r" + " " * max(len(part) for part in drawn) + "\r")
    events = (tmp_path / "out.json").read_bytes().count(b"\n")
    assert events > 200


def test_no_progress_byte_when_stderr_is_piped_or_stdout_is_the_terminal(
    tmp_path: Path,
) -> None:
    log = _big_log(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    piped = subprocess.run(_parse_command(str(log)), capture_output=True, env=env, check=True)
    assert piped.stderr == b""
    assert piped.stdout.count(b"\n") > 200
    # The whole file read, nothing written (the filter matches nothing): only a progress
    # line could appear on the terminal.
    with PtyProcess(_parse_command(str(log), "--filter", "key=none-such"), env=env) as both:
        assert both.wait(timeout=60) == 0
        assert both.output == b""


def test_progress_needs_stderr_on_a_terminal_and_stdout_elsewhere() -> None:
    master, slave = os.openpty()
    try:
        with open(slave, "w", closefd=False) as terminal:
            assert isinstance(progress.progress_for(terminal, io.StringIO()), Progress)
            assert progress.progress_for(terminal, terminal) is None
            assert progress.progress_for(io.StringIO(), io.StringIO()) is None
    finally:
        os.close(master)
        os.close(slave)
