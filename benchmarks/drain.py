"""Live drain benchmark: how fast each reader empties the kernel's audit queue.

Theory of operation
-------------------
For one storm rate, every reader runs in turn under identical kernel settings
(``backlog_limit`` BACKLOG_LIMIT, ``backlog_wait_time`` 0 so the kernel drops
instead of stalling, ``rate_limit`` 0, ``enabled`` 1, one dedicated rule on
``getppid``):

1. start the reader and wait until the kernel reports its pid as the audit
   daemon (all readers are unicast);
2. note ``lost`` and the reader's CPU time, start the storm (``storm.c``: a
   bounded ``getppid`` loop, COUNT calls or SECONDS, optionally paced);
3. sample AUDIT_GET every SAMPLE_INTERVAL from this process (peak backlog) and
   the reader's output size, until the storm is over, the backlog is empty and
   the output stopped growing for IDLE_SECONDS;
4. read the reader's CPU time and peak RSS, stop it (SIGINT, or SIGTERM for
   auditd), count what it delivered.

Every storm call is one event of RECORDS_PER_EVENT kernel records (SYSCALL,
PROCTITLE, EOE). Readers differ in what they output (auditd drops EOE, event
readers group records), so each reader's delivery is counted in storm events --
the ones carrying the rule's key -- and converted to kernel records (x 3).
Delivered rate = those records / (last delivery - storm start); ``offered`` is
calls x 3, and a reader keeping up delivers ``offered - lost``. Output goes
to a file on tmpfs (/dev/shm) rather than /dev/null so it can be counted; for
the kernel that is the same, a memory copy.

The kernel state (status and rules) is saved before and restored in a
``finally``, then checked: pid 0 and the rules as they were.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _build, _netlink, _proc

#: Kernel settings shared by every reader.
BACKLOG_LIMIT = 8192
RULE_KEY = "trioaudit-bench"
RULE = ("-a", "always,exit", "-F", "arch=b64", "-S", "getppid", "-F", f"key={RULE_KEY}")
#: How the key appears in each storm event's SYSCALL record, whatever the output format
#: (the quote excludes the capture rules' longer keys).
KEY_MARK = f'{RULE_KEY}"'

#: Records per storm call: SYSCALL + PROCTITLE + EOE (checked by the C reader at low rates).
RECORDS_PER_EVENT = 3
#: How often the orchestrator samples the kernel status and the reader's output.
SAMPLE_INTERVAL = 0.05
#: Quiet time after the storm (empty backlog, output unchanged) that ends a run.
IDLE_SECONDS = 0.6
#: CPU seconds a reader may burn during the idle window and still count as idle.
BUSY_CPU_SECONDS = 0.03
#: Longest a reader may take to drain after the storm before we give up on it.
MAX_DRAIN_SECONDS = 60.0
#: Longest a reader may take to register as the audit daemon.
START_TIMEOUT = 20.0
#: Longest a reader may take to exit once told to.
STOP_TIMEOUT = 20.0
#: Socket receive buffer the C reader forces (trioaudit uses its own default).
C_RCVBUF = 64 * 1024 * 1024
#: The kernel's default socket buffer (net.core.rmem_default): what a reader gets
#: without asking; the C reader runs with it too, to show what the buffer buys.
SMALL_RCVBUF = 212992
STDERR_NAME = "stderr.txt"
LOSS_WORDS = re.compile(r"drop|overflow|lost|ENOBUFS", re.IGNORECASE)
#: How often to look again while another user of the kernel's audit state is busy.
QUIET_POLL = 0.5
#: How long to wait for other users of the audit state before starting at all.
START_QUIET_TIMEOUT = 120.0
#: Scratch space on tmpfs: readers write their output here.
SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())

REPO = Path(__file__).resolve().parent.parent
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
AUDITD = shutil.which("auditd") or "/usr/sbin/auditd"


@dataclass(frozen=True, slots=True)
class StormSettings:
    """One storm: at most ``count`` calls, at most ``seconds``, ``rate`` calls/s (0 = flat out)."""

    count: int
    seconds: float
    rate: int = 0

    @property
    def label(self) -> str:
        return "flood (unpaced)" if self.rate == 0 else f"{self.rate:,} events/s"


@dataclass(slots=True)
class ReaderResult:
    """The measurements of one reader under one storm."""

    reader: str
    available: bool = True
    note: str = ""
    calls: int = 0
    storm_seconds: float = 0.0
    events: int = 0
    drain_seconds: float = 0.0
    lost: int = 0
    peak_backlog: int = 0
    cpu_seconds: float = 0.0
    peak_rss_kib: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def offered(self) -> int:
        return self.calls * RECORDS_PER_EVENT

    @property
    def records(self) -> int:
        """Kernel records the reader delivered: storm events x RECORDS_PER_EVENT."""
        return self.events * RECORDS_PER_EVENT

    @property
    def silent(self) -> int:
        """Offered records neither delivered nor counted in ``lost`` (dropped silently)."""
        return max(0, self.offered - self.records - self.lost)

    @property
    def rate(self) -> float:
        return self.records / self.drain_seconds if self.drain_seconds > 0 else 0.0

    @property
    def cpu_percent(self) -> float:
        return 100.0 * self.cpu_seconds / self.drain_seconds if self.drain_seconds > 0 else 0.0


@dataclass(slots=True)
class Running:
    """A started reader: its process, output file and how to count its delivery."""

    proc: subprocess.Popen[bytes]
    output: Path | None
    stop_signal: int
    count: Callable[[str, Path | None], tuple[int, float | None, dict[str, str]]]


# ---- readers ---------------------------------------------------------------------------


def _trioaudit_tail_help() -> str | None:
    if not VENV_PYTHON.exists():
        return None
    done = subprocess.run(
        [str(VENV_PYTHON), "-m", "trioaudit.cli.main", "tail", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout if done.returncode == 0 else None


def _tail_command() -> list[str]:
    return [
        str(VENV_PYTHON),
        "-c",
        "import sys; from trioaudit.cli.main import main; sys.exit(main())",
    ]


def _count_c(stdout: str, _output: Path | None) -> tuple[int, float | None, dict[str, str]]:
    values = dict(re.findall(r"(\w+)=([\d.]+)", stdout))
    return (
        int(values.get("keyed", 0)),
        float(values["last"]) if float(values.get("last", 0)) > 0 else None,
        {"overflows": values.get("overflows", "0")},
    )


def _count_events_reader(
    stdout: str, _output: Path | None
) -> tuple[int, float | None, dict[str, str]]:
    values = dict(re.findall(r"(\w+)=([\d.]+)", stdout))
    last = float(values.get("last", 0))
    return (
        int(values.get("keyed", 0)),
        last if last > 0 else None,
        {"events": values.get("events", "0")},
    )


def _count_auditd_log(
    _stdout: str, output: Path | None
) -> tuple[int, float | None, dict[str, str]]:
    assert output is not None
    events = 0
    key = KEY_MARK.encode()
    for log in sorted(output.parent.glob(output.name + "*")):
        with log.open("rb") as lines:
            events += sum(1 for line in lines if key in line)
    return events, None, {}


def _count_json_lines(
    _stdout: str, output: Path | None
) -> tuple[int, float | None, dict[str, str]]:
    """Storm events in trioaudit JSON output: the lines that carry the rule key (in the
    SYSCALL record; --normalize repeats it in the tags, so lines are counted, not keys)."""
    assert output is not None
    data = output.read_bytes()
    mark = KEY_MARK.encode()
    lines = data.splitlines()
    return sum(1 for line in lines if mark in line), None, {"lines": str(len(lines))}


def _start_c(rcvbuf: int) -> Callable[[Path, StormSettings], Running]:
    def start(workdir: Path, settings: StormSettings) -> Running:
        binary = _build.build("recv_loop")
        limit = settings.seconds + MAX_DRAIN_SECONDS + START_TIMEOUT
        proc = subprocess.Popen(
            [str(binary), str(limit), str(rcvbuf)],
            stdout=subprocess.PIPE,
            stderr=_stderr(workdir),
        )
        return Running(proc, None, signal.SIGINT, _count_c)

    return start


def _stderr(workdir: Path) -> Any:
    """Where a reader's diagnostics go (read back into the result's notes)."""
    return (workdir / STDERR_NAME).open("wb")


def _diagnostics(workdir: Path) -> str:
    """The reader's own loss reports (drops, overflows), one line each."""
    path = workdir / STDERR_NAME
    if not path.exists():
        return ""
    lines = path.read_text(errors="replace").splitlines()
    return "; ".join(line.strip() for line in lines if LOSS_WORDS.search(line))[:200]


AUDITD_CONF = """\
local_events = yes
write_logs = yes
log_file = {log}
log_group = root
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 4096
num_logs = 2
priority_boost = 4
name_format = NONE
max_log_file_action = IGNORE
space_left = 64
space_left_action = IGNORE
admin_space_left = 32
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
q_depth = 2000
overflow_action = SYSLOG
max_restarts = 10
plugin_dir = {plugins}
end_of_event_timeout = 2
"""


def _start_auditd(workdir: Path, _settings: StormSettings) -> Running:
    log = workdir / "audit.log"
    plugins = workdir / "plugins.d"
    plugins.mkdir()
    conf = workdir / "auditd.conf"
    conf.write_text(AUDITD_CONF.format(log=log, plugins=plugins))
    conf.chmod(0o640)
    proc = subprocess.Popen(
        [AUDITD, "-n", "-s", "nochange", "-c", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=_stderr(workdir),
    )
    return Running(proc, log, signal.SIGTERM, _count_auditd_log)


def daemon_command(log: Path, log_format: str) -> list[str]:
    """``trioaudit daemon`` writing *log* as auditd does here (no rotation, fsync every 50
    records: ``flush = INCREMENTAL_ASYNC``, ``freq = 50``), no other output."""
    return [
        *_tail_command(),
        "daemon",
        "--log-file",
        str(log),
        "--log-format",
        log_format,
        "--max-log-file",
        "0",
        "--fsync-every",
        os.environ.get("BENCH_FSYNC", "50"),
    ]


def _start_daemon(log_format: str) -> Callable[[Path, StormSettings], Running]:
    def start(workdir: Path, _settings: StormSettings) -> Running:
        log = workdir / "audit.log"
        proc = subprocess.Popen(
            daemon_command(log, log_format),
            stdout=subprocess.DEVNULL,
            stderr=_stderr(workdir),
            cwd=REPO,
        )
        return Running(proc, log, signal.SIGTERM, _count_auditd_log)

    return start


def _start_tail(args: list[str]) -> Callable[[Path, StormSettings], Running]:
    def start(workdir: Path, _settings: StormSettings) -> Running:
        output = workdir / "tail.jsonl"
        with output.open("wb") as out:
            proc = subprocess.Popen(
                [*_tail_command(), "-v", "tail", *args, "--unicast"],
                stdout=out,
                stderr=_stderr(workdir),
                cwd=REPO,
            )
        return Running(proc, output, signal.SIGINT, _count_json_lines)

    return start


def _start_app(what: str) -> Callable[[Path, StormSettings], Running]:
    def start(workdir: Path, settings: StormSettings) -> Running:
        return _start_events(workdir, settings, what)

    return start


def _start_events(workdir: Path, _settings: StormSettings, what: str = "events") -> Running:
    output = workdir / "progress"
    script = str(Path(__file__).with_name("events_reader.py"))
    proc = subprocess.Popen(
        [str(VENV_PYTHON), script, str(output), what],
        stdout=subprocess.PIPE,
        stderr=_stderr(workdir),
        cwd=REPO,
    )
    return Running(proc, output, signal.SIGINT, _count_events_reader)


@dataclass(frozen=True, slots=True)
class Reader:
    """A reader under test: its name, how to start it, or why it cannot run here."""

    name: str
    start: Callable[[Path, StormSettings], Running] | None
    unavailable: str = ""


def readers() -> list[Reader]:
    """Every reader, in table order; those missing here carry the reason."""
    found: list[Reader] = []
    if _build.compiler():
        found.append(Reader(f"C recv loop ({C_RCVBUF >> 20} MiB rcvbuf)", _start_c(C_RCVBUF)))
        found.append(
            Reader(
                f"C recv loop ({SMALL_RCVBUF >> 10} KiB rcvbuf)",
                _start_c(SMALL_RCVBUF),
            )
        )
    else:
        found.append(Reader("C recv loop", None, "n/a (no C compiler)"))
    found.append(
        Reader("auditd 3.0.9 (log file)", _start_auditd)
        if Path(AUDITD).exists()
        else Reader("auditd", None, "n/a (auditd not installed)")
    )
    found.append(Reader("trioaudit daemon (ENRICHED log)", _start_daemon("enriched")))
    help_text = _trioaudit_tail_help()
    if help_text is None:
        found.append(Reader("trioaudit tail --raw", None, "n/a (not yet available)"))
        found.append(Reader("trioaudit tail", None, "n/a (not yet available)"))
    elif "--raw" in help_text:
        found.append(Reader("trioaudit tail --raw", _start_tail(["--raw"])))
        found.append(Reader("trioaudit tail", _start_tail([])))
        if "--normalize" in help_text:
            found.append(Reader("trioaudit tail --normalize", _start_tail(["--normalize"])))
        if "--context" in help_text:
            found.append(Reader("trioaudit tail --context", _start_tail(["--context"])))
        if "--jobs" in help_text:
            found.append(
                Reader(
                    f"trioaudit tail --jobs 0 ({os.cpu_count()} worker processes)",
                    _start_tail(["--jobs", "0"]),
                )
            )
    else:
        # Before events landed in tail, it printed raw records only.
        found.append(Reader("trioaudit tail (raw records)", _start_tail([])))
        found.append(Reader("trioaudit tail", None, "n/a (not yet available)"))
    try:
        import trioaudit

        has_events = hasattr(trioaudit.AuditClient, "open_events")
    except ImportError:
        has_events = False
    found.append(
        Reader("client.open_events() trio app", _start_app("events"))
        if has_events
        else Reader("client.open_events() trio app", None, "n/a (not yet available)")
    )
    found.append(
        Reader("client.records() trio app (no parsing)", _start_app("records"))
        if has_events
        else Reader("client.records() trio app (no parsing)", None, "n/a (not yet available)")
    )
    found.append(
        Reader("client.records() batched receive_nowait", _start_app("records-batched"))
        if has_events
        else Reader("client.records() batched receive_nowait", None, "n/a (not yet available)")
    )
    return found


# ---- one measured run --------------------------------------------------------------------


def _wait_registered(control: _netlink.AuditControl, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"reader exited early with status {proc.returncode}")
        if control.status().pid == proc.pid:
            return
        time.sleep(SAMPLE_INTERVAL)
    raise RuntimeError("reader did not register as the audit daemon in time")


def _size(path: Path | None) -> int:
    if path is None:
        return 0
    try:
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    except FileNotFoundError:
        return 0


def _stop(proc: subprocess.Popen[bytes], stop_signal: int) -> str:
    if proc.poll() is None:
        proc.send_signal(stop_signal)
    try:
        stdout, _ = proc.communicate(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, _ = proc.communicate()
    return (stdout or b"").decode(errors="replace")


def measure(reader: Reader, settings: StormSettings, storm: Path) -> ReaderResult:
    """Run one reader under one storm; the kernel must already be configured."""
    result = ReaderResult(reader.name)
    if reader.start is None:
        result.available = False
        result.note = reader.unavailable
        return result
    workdir = Path(tempfile.mkdtemp(prefix="trioaudit-bench-", dir=SCRATCH))
    running: Running | None = None
    try:
        with _netlink.AuditControl() as control:
            # The previous reader may still be unregistering (after a flood its
            # socket holds thousands of records): let it finish first.
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                holder = control.status().pid
                if holder == 0 or not Path(f"/proc/{holder}").exists():
                    break
                time.sleep(SAMPLE_INTERVAL)
            running = reader.start(workdir, settings)
            pid = running.proc.pid
            _wait_registered(control, running.proc)
            time.sleep(SAMPLE_INTERVAL * 4)  # let start-up records drain
            lost_before = control.status().lost
            cpu_before = _proc.cpu_seconds(pid)
            start = time.monotonic()
            storm_proc = subprocess.Popen(
                [str(storm), str(settings.count), str(settings.seconds), str(settings.rate)],
                stdout=subprocess.PIPE,
            )
            last_size, last_growth = _size(running.output), start
            last_cpu = cpu_before
            quiet_since: float | None = None
            while True:
                time.sleep(SAMPLE_INTERVAL)
                now = time.monotonic()
                status = control.status()
                result.peak_backlog = max(result.peak_backlog, status.backlog)
                size = _size(running.output)
                if size != last_size:
                    last_size, last_growth = size, now
                    quiet_since = None
                cpu = _proc.cpu_seconds(pid) if running.proc.poll() is None else last_cpu
                if cpu - last_cpu >= BUSY_CPU_SECONDS:
                    # Still working (e.g. rendering a large batch before writing it).
                    last_cpu = cpu
                    quiet_since = None
                storm_done = storm_proc.poll() is not None
                if storm_done and status.backlog == 0:
                    quiet_since = quiet_since or now
                    if now - quiet_since >= IDLE_SECONDS and now - last_growth >= IDLE_SECONDS:
                        break
                else:
                    quiet_since = None
                if running.proc.poll() is not None:
                    result.note = f"reader exited with status {running.proc.returncode}"
                    break
                if storm_done and now - start > settings.seconds + MAX_DRAIN_SECONDS:
                    result.note = "gave up waiting for the drain"
                    break
            storm_out = (storm_proc.communicate()[0] or b"").decode()
            values = dict(re.findall(r"(\w+)=([\d.]+)", storm_out))
            result.calls = int(values.get("calls", 0))
            result.storm_seconds = float(values.get("seconds", 0))
            result.lost = control.status().lost - lost_before
            if running.proc.poll() is None:
                result.cpu_seconds = _proc.cpu_seconds(pid) - cpu_before
                result.peak_rss_kib = _proc.peak_rss_kib(pid)
            stdout = _stop(running.proc, running.stop_signal)
            events, last, extra = running.count(stdout, running.output)
            result.events = events
            result.extra = extra
            end = last if last is not None else last_growth
            result.drain_seconds = max(end - start, result.storm_seconds)
            said = _diagnostics(workdir)
            if int(extra.get("overflows", "0")):
                said = "; ".join(filter(None, [said, f"{extra['overflows']} ENOBUFS"]))
            if said:
                result.note = "; ".join(filter(None, [result.note, f"reader: {said}"]))
    except Exception as exc:
        # Say why: the last lines the reader wrote on stderr.
        path = workdir / STDERR_NAME
        tail = path.read_text(errors="replace").strip().splitlines()[-2:] if path.exists() else []
        result.note = "; ".join([f"failed: {exc}", *(line.strip()[:160] for line in tail)])
    finally:
        if running is not None and running.proc.poll() is None:
            _stop(running.proc, running.stop_signal)
        shutil.rmtree(workdir, ignore_errors=True)
    return result


# ---- the kernel setup around a whole benchmark ------------------------------------------------


def _configure() -> None:
    """Apply the benchmark's settings and rule (again: a concurrent test may have reset them)."""
    with _netlink.AuditControl() as control:
        control.set_status(
            _netlink.MASK_BACKLOG_LIMIT
            | _netlink.MASK_BACKLOG_WAIT_TIME
            | _netlink.MASK_RATE_LIMIT,
            backlog_limit=BACKLOG_LIMIT,
            backlog_wait_time=0,
            rate_limit=0,
        )
        present = any(RULE_KEY.encode() in blob for blob in control.rules())
    if not present:
        done = subprocess.run(["auditctl", *RULE], capture_output=True, text=True, check=False)
        if done.returncode != 0 and "exists" not in done.stderr:
            raise RuntimeError(f"auditctl could not add the benchmark rule: {done.stderr.strip()}")
    with _netlink.AuditControl() as control:
        control.set_status(_netlink.MASK_ENABLED, enabled=1)


def wait_for_quiet(timeout: float, baseline: frozenset[bytes] = frozenset()) -> str:
    """Wait until no other audit daemon runs and no rule beyond ``baseline`` is loaded.

    On a machine shared with test suites, rules loaded meanwhile add records or
    (exclude rules) suppress ours, and a registered daemon blocks our readers.
    Rules already there when the benchmark started are part of the setup
    (reported in the document). Returns "" when quiet, else a note describing
    what was still there at the timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        holder = _netlink.foreign_daemon()
        others = len(foreign_rules() - baseline)
        if holder is None and others == 0:
            return ""
        if time.monotonic() >= deadline:
            return f"{others} rules added by others" + (f", daemon pid {holder}" if holder else "")
        time.sleep(QUIET_POLL)


@contextlib.contextmanager
def bench_kernel_state(
    quiet_timeout: float = START_QUIET_TIMEOUT, baseline: frozenset[bytes] | None = None
) -> Iterator[_netlink.Status]:
    """Configure the kernel for the benchmark and put it back afterwards.

    Other processes (test suites) may change rules concurrently on a shared
    machine, so this touches only what it owns: it deletes only its own rule
    (by key) and restores only the status fields it set.
    """
    wait_for_quiet(quiet_timeout, foreign_rules() if baseline is None else baseline)
    holder = _netlink.foreign_daemon()
    if holder is not None:
        raise RuntimeError(f"an audit daemon (pid {holder}) is running; not displacing it")
    with _netlink.AuditControl() as control:
        saved = control.status()
    try:
        _configure()
        yield saved
    finally:
        _netlink.restore_own(saved, RULE_KEY.encode())
        if not kernel_clean():
            print("benchmarks: WARNING: kernel state not fully restored", file=sys.stderr)


def run(
    rates: list[StormSettings],
    *,
    progress: Callable[[str], None],
    quiet_timeout: float = 60.0,
    only: str | None = None,
) -> list[tuple[StormSettings, list[ReaderResult]]]:
    """Run every reader under every storm; returns results grouped by storm."""
    storm = _build.build("storm")
    _build.build("recv_loop")
    all_readers = [r for r in readers() if only is None or only.lower() in r.name.lower()]
    results: list[tuple[StormSettings, list[ReaderResult]]] = []
    baseline = foreign_rules()
    if baseline:
        progress(f"drain: {len(baseline)} rules were already loaded; they stay (noted)")
    with bench_kernel_state(quiet_timeout, baseline):
        for settings in rates:
            row: list[ReaderResult] = []
            for reader in all_readers:
                progress(f"drain: {settings.label}: {reader.name}")
                busy = wait_for_quiet(quiet_timeout, baseline) if reader.start is not None else ""
                try:
                    if reader.start is not None:
                        _configure()
                except (OSError, RuntimeError) as exc:
                    result = ReaderResult(reader.name, note=f"failed: {exc}")
                else:
                    result = measure(reader, settings, storm)
                if busy:
                    result.note = "; ".join(filter(None, [result.note, f"shared kernel: {busy}"]))
                row.append(result)
            results.append((settings, row))
    return results


def kernel_clean() -> bool:
    """True when no pid is registered by a dead process and no benchmark rule is left."""
    with _netlink.AuditControl() as control:
        status = control.status()
        rules = control.rules()
    return not any(RULE_KEY.encode() in blob for blob in rules) and (
        status.pid == 0 or _netlink._alive(status.pid)
    )


def foreign_rules() -> frozenset[bytes]:
    """Rules loaded by someone else (they may add records, or exclude ours)."""
    with _netlink.AuditControl() as control:
        return frozenset(blob for blob in control.rules() if RULE_KEY.encode() not in blob)


__all__ = ["ReaderResult", "StormSettings", "foreign_rules", "kernel_clean", "readers", "run"]
