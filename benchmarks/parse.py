"""Parse benchmark: trioaudit parse vs libauparse vs ``ausearch -i`` on one big log.

Theory of operation
-------------------
The corpus is built from records captured from this kernel: auditd (our own
config, Debian's default ENRICHED format) logs a short, bounded burst of varied
activity (execve of /bin/true, reads under /etc, getppid calls) under rules
keyed ``trioaudit-bench*``. That seed log is cached in CACHE_DIR and then
replicated, with serial numbers and timestamps shifted per copy so events
never collide, until the corpus holds at least the requested number of
records. Neither file is committed.

Each tool then reads the whole corpus once, output to /dev/null:

* ``trioaudit parse FILE`` (events, interpreted, JSON lines);
* ``trioaudit parse --raw FILE`` (events, uninterpreted);
* ``trioaudit parse --format text FILE`` (interpreted text, like ``ausearch -i``);
* ``trioaudit parse --normalize FILE`` (JSON lines with go-libaudit's normalised members);
* ``trioaudit parse --context FILE`` (JSON lines with each event's process ancestry);
* a libauparse walk (``auparse_walk.py`` under Debian's python3) that calls
  ``interpret_field`` on every field of every record;
* ``ausearch -i -if FILE`` (events, interpreted, text).

Records/s = corpus records / wall seconds; peak RSS and CPU come from GNU
``time`` (package ``time``) wrapped around each tool. auditd does not write EOE records, so the
records counted are the log's lines.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import _build, drain

CACHE_DIR = Path("/var/tmp/trioaudit-bench")
SEED_NAME = "seed.log"
#: Extra capture rules (deleted with the benchmark's key prefix afterwards).
CAPTURE_RULES = (
    ("-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", f"key={drain.RULE_KEY}-exec"),
    (
        "-a",
        "always,exit",
        "-F",
        "arch=b64",
        "-S",
        "openat",
        "-F",
        "dir=/etc",
        "-F",
        f"key={drain.RULE_KEY}-etc",
    ),
)
#: Shell activity during the capture: exec, reads under /etc (bounded loop).
CAPTURE_ACTIVITY = (
    "for i in $(seq 400); do /bin/true; cat /etc/hostname /etc/passwd >/dev/null; done"
)
#: getppid calls (paced, per second) alongside, for a realistic share of small events.
CAPTURE_STORM = (4000, 5.0, 2000)
#: A record's header in the log: ``msg=audit(SECONDS.MILLIS:SERIAL)``.
HEADER = re.compile(rb"msg=audit\((\d+)\.(\d+):(\d+)\)")
#: Longest any one tool may take on the corpus.
TOOL_TIMEOUT = 900.0
AUPARSE_PYTHON = "/usr/bin/python3"
#: GNU time (Debian package ``time``) reports the tool's own peak RSS.
GNU_TIME = shutil.which("time", path="/usr/bin:/bin") or ""


@dataclass(slots=True)
class ParseResult:
    """One tool over the corpus."""

    tool: str
    records: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_rss_kib: int = 0
    note: str = ""
    available: bool = True

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def capture_seed(path: Path) -> None:
    """Capture a seed log from this kernel with auditd (needs root and no running daemon)."""
    workdir = Path(tempfile.mkdtemp(prefix="trioaudit-capture-"))
    log = workdir / "audit.log"
    (workdir / "plugins.d").mkdir()
    conf = workdir / "auditd.conf"
    conf.write_text(drain.AUDITD_CONF.format(log=log, plugins=workdir / "plugins.d"))
    conf.chmod(0o640)
    storm = _build.build("storm")
    try:
        with drain.bench_kernel_state():
            for rule in CAPTURE_RULES:
                subprocess.run(["auditctl", *rule], check=True, capture_output=True)
            daemon = subprocess.Popen(
                [drain.AUDITD, "-n", "-s", "nochange", "-c", str(workdir)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_pid(daemon)
                count, seconds, rate = CAPTURE_STORM
                storm_proc = subprocess.Popen(
                    [str(storm), str(count), str(seconds), str(rate)], stdout=subprocess.DEVNULL
                )
                subprocess.run(["sh", "-c", CAPTURE_ACTIVITY], check=True, timeout=120)
                storm_proc.wait(timeout=seconds + 10)
                time.sleep(1.0)
            finally:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(timeout=20)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_pid(proc: subprocess.Popen[bytes]) -> None:
    from . import _netlink

    deadline = time.monotonic() + drain.START_TIMEOUT
    with _netlink.AuditControl() as control:
        while control.status().pid != proc.pid:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("auditd did not register for the capture")
            time.sleep(drain.SAMPLE_INTERVAL)


def build_corpus(seed: Path, target_records: int, out: Path) -> int:
    """Replicate ``seed`` (shifting serials and times per copy) to >= target records.

    Returns the number of records (lines) written. Lines that are not records
    (no ``msg=audit(...)`` header) are dropped.
    """
    lines = [line for line in seed.read_bytes().splitlines(keepends=True) if HEADER.search(line)]
    if not lines:
        raise RuntimeError(f"no audit records in the seed log {seed}")
    headers = [HEADER.search(line) for line in lines]
    serials = [int(m.group(3)) for m in headers if m]
    seconds = [int(m.group(1)) for m in headers if m]
    serial_span = max(serials) - min(serials) + 1
    time_span = max(seconds) - min(seconds) + 1
    written = 0
    copy = 0
    with out.open("wb") as sink:
        while written < target_records:
            serial_shift, time_shift = copy * serial_span, copy * time_span

            def shift(match: re.Match[bytes], s: int = serial_shift, t: int = time_shift) -> bytes:
                sec, millis, serial = match.groups()
                return b"msg=audit(%d.%s:%d)" % (int(sec) + t, millis, int(serial) + s)

            chunk = [HEADER.sub(shift, line, count=1) for line in lines]
            take = min(len(chunk), target_records - written)
            sink.writelines(chunk[:take])
            written += take
            copy += 1
    return written


def _run_tool(
    tool: str, argv: list[str], records: int, *, env: dict[str, str] | None = None
) -> ParseResult:
    """Run one tool to completion, timed, with its peak RSS.

    Peak RSS comes from GNU time when installed: the rusage ``wait4`` gives a
    child of this process starts from *our* high-water mark (Linux carries
    ``maxrss`` over fork and exec), which would hide the tool's own figure.
    """
    result = ParseResult(tool, records=records)
    with tempfile.NamedTemporaryFile(prefix="trioaudit-time-", suffix=".txt") as report:
        timed = [GNU_TIME, "-f", "%U %S %M", "-o", report.name, *argv] if GNU_TIME else argv
        start = time.monotonic()
        try:
            done = subprocess.run(
                timed,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                timeout=TOOL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            result.note = "timed out"
            return result
        result.seconds = time.monotonic() - start
        if done.returncode != 0:
            result.note = f"exit {done.returncode}: {done.stderr.decode(errors='replace')[:120]}"
        figures = Path(report.name).read_text().split()[-3:] if GNU_TIME else []
        if len(figures) == 3:
            result.cpu_seconds = float(figures[0]) + float(figures[1])
            result.peak_rss_kib = int(figures[2])
    return result


def _auparse_available() -> str:
    if not Path(AUPARSE_PYTHON).exists():
        return "n/a (no /usr/bin/python3)"
    done = subprocess.run(
        [AUPARSE_PYTHON, "-c", "import auparse"], capture_output=True, check=False
    )
    return "" if done.returncode == 0 else "n/a (python3-audit not installed)"


#: Name suffix of the rows that force trioaudit's pure-Python path (TRIOAUDIT_NO_EXTENSIONS=1).
FALLBACK = " -- pure-Python fallback"


def tools(corpus: Path) -> list[tuple[str, list[str] | None, str]]:
    """(name, argv or None, why unavailable) for every tool, in table order.

    Each trioaudit row runs on the compiled core, and again on the pure-Python
    fallback (the row named with :data:`FALLBACK`), in the same run.
    """
    parse_ok = (
        subprocess.run(
            [str(drain.VENV_PYTHON), "-m", "trioaudit.cli.main", "parse", "--help"],
            capture_output=True,
            check=False,
            cwd=drain.REPO,
        ).returncode
        == 0
    )
    trioaudit = [*drain._tail_command(), "parse"]
    missing = "n/a (not yet available)"
    walk = str(Path(__file__).with_name("auparse_walk.py"))
    auparse_missing = _auparse_available()
    ausearch = shutil.which("ausearch")
    ours: list[tuple[str, list[str] | None, str]] = [
        ("trioaudit parse", [*trioaudit, str(corpus)] if parse_ok else None, missing),
        (
            f"trioaudit parse --jobs 0 ({os.cpu_count()} workers + the reading process)",
            [*trioaudit, "--jobs", "0", str(corpus)] if parse_ok else None,
            missing,
        ),
        (
            "trioaudit parse --raw",
            [*trioaudit, "--raw", str(corpus)] if parse_ok else None,
            missing,
        ),
        (
            "trioaudit parse --format text (like ausearch -i)",
            [*trioaudit, "--format", "text", str(corpus)] if parse_ok else None,
            missing,
        ),
        (
            "trioaudit parse --normalize (go-libaudit's normalised members too)",
            [*trioaudit, "--normalize", str(corpus)] if parse_ok else None,
            missing,
        ),
        (
            "trioaudit parse --context (process ancestry too)",
            [*trioaudit, "--context", str(corpus)] if parse_ok else None,
            missing,
        ),
    ]
    fallbacks = [
        (name + FALLBACK, argv, why)
        for name, argv, why in ours
        if "--jobs" not in name and "--normalize" not in name and "--context" not in name
    ]
    return [
        *ours,
        *fallbacks,
        (
            "libauparse walk + interpret_field",
            None if auparse_missing else [AUPARSE_PYTHON, walk, str(corpus)],
            auparse_missing,
        ),
        (
            "ausearch -i",
            [ausearch, "-i", "-if", str(corpus)] if ausearch else None,
            "n/a (ausearch not installed)",
        ),
    ]


def run(target_records: int, *, progress: Callable[[str], None]) -> tuple[int, list[ParseResult]]:
    """Build (or reuse) the corpus and time every tool; returns (records, results)."""
    seed = CACHE_DIR / SEED_NAME
    if not seed.exists():
        progress("parse: capturing a seed log from this kernel with auditd")
        capture_seed(seed)
    workdir = Path(tempfile.mkdtemp(prefix="trioaudit-parse-", dir="/var/tmp"))
    try:
        corpus = workdir / "audit.log"
        progress(f"parse: building a {target_records:,}-record corpus")
        records = build_corpus(seed, target_records, corpus)
        results: list[ParseResult] = []
        for name, argv, missing in tools(corpus):
            if argv is None:
                results.append(ParseResult(name, available=False, note=missing))
                continue
            progress(f"parse: {name}")
            env = dict(os.environ, PYTHONPATH=str(drain.REPO))
            if name.endswith(FALLBACK):
                env["TRIOAUDIT_NO_EXTENSIONS"] = "1"
            results.append(_run_tool(name, argv, records, env=env))
        return records, results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


__all__ = ["ParseResult", "build_corpus", "capture_seed", "run"]
