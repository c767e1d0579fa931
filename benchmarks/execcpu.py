"""CPU at a paced exec rate: each reader's CPU while /bin/true is exec'd N times a second.

The realistic load of a production host is not a flood but a steady trickle of audited
syscalls, where a reader's *fixed* costs per wake-up dominate. One rule,
``-a always,exit -F arch=b64 -S execve`` (key ``trioaudit-bench-exec``; 5 records per
exec: SYSCALL, EXECVE, CWD, 2 PATH, PROCTITLE -- whatever the kernel writes), and
``benchmarks/exec_storm.c`` fork+execs ``/bin/true`` at RATE per second for SECONDS.
Each reader runs alone, as the registered audit daemon: auditd 3.0.9 writing its log in
RAW and in ENRICHED format (the drain benchmark's auditd.conf), and full ``trioaudit
tail`` (interpreted JSON lines) on the compiled core and on the pure-Python fallback, both
writing to a tmpfs file. CPU = the reader's user + system seconds from the storm's start
until 1.5 s after its end (/proc/PID/stat); the ratio is against auditd ENRICHED.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import _build, _netlink, _proc, drain

EXEC_KEY = f"{drain.RULE_KEY}-exec"
EXEC_RULE = ("-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", f"key={EXEC_KEY}")
DRAIN_AFTER = 1.5


@dataclass(slots=True)
class CpuResult:
    reader: str
    rate: int
    execs: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    lost: int = 0
    note: str = ""


def _auditd(log_format: str) -> Callable[[Path], drain.Running]:
    def start(workdir: Path) -> drain.Running:
        log = workdir / "audit.log"
        plugins = workdir / "plugins.d"
        plugins.mkdir()
        conf = workdir / "auditd.conf"
        text = drain.AUDITD_CONF.format(log=log, plugins=plugins)
        conf.write_text(text.replace("log_format = ENRICHED", f"log_format = {log_format}"))
        conf.chmod(0o640)
        proc = subprocess.Popen(
            [drain.AUDITD, "-n", "-s", "nochange", "-c", str(workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return drain.Running(proc, log, signal.SIGTERM, drain._count_auditd_log)

    return start


def _daemon(log_format: str) -> Callable[[Path], drain.Running]:
    def start(workdir: Path) -> drain.Running:
        log = workdir / "audit.log"
        proc = subprocess.Popen(
            drain.daemon_command(log, log_format),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=drain.REPO,
        )
        return drain.Running(proc, log, signal.SIGTERM, drain._count_auditd_log)

    return start


def _tail(fallback: bool) -> Callable[[Path], drain.Running]:
    def start(workdir: Path) -> drain.Running:
        output = workdir / "tail.jsonl"
        env = dict(os.environ)
        if fallback:
            env["TRIOAUDIT_NO_EXTENSIONS"] = "1"
        with output.open("wb") as out:
            proc = subprocess.Popen(
                [*drain._tail_command(), "tail", "--unicast", "-q"],
                stdout=out,
                stderr=subprocess.DEVNULL,
                cwd=drain.REPO,
                env=env,
            )
        return drain.Running(proc, output, signal.SIGINT, drain._count_json_lines)

    return start


READERS: list[tuple[str, Callable[[Path], drain.Running]]] = [
    ("auditd 3.0.9 RAW", _auditd("RAW")),
    ("auditd 3.0.9 ENRICHED", _auditd("ENRICHED")),
    ("trioaudit daemon RAW log", _daemon("raw")),
    ("trioaudit daemon ENRICHED log", _daemon("enriched")),
    ("trioaudit tail (native core)", _tail(False)),
    ("trioaudit tail (pure-Python fallback)", _tail(True)),
]


def _measure(name: str, start: Callable[[Path], drain.Running], rate: int, seconds: float,
             storm: Path) -> CpuResult:  # fmt: skip
    result = CpuResult(name, rate)
    workdir = Path(tempfile.mkdtemp(prefix="trioaudit-execcpu-", dir=drain.SCRATCH))
    running = start(workdir)
    try:
        with _netlink.AuditControl() as control:
            drain._wait_registered(control, running.proc)
            time.sleep(0.5)
            lost_before = control.status().lost
            cpu_before = _proc.cpu_seconds(running.proc.pid)
            done = subprocess.run(
                [str(storm), str(int(rate * seconds)), str(seconds), str(rate)],
                capture_output=True,
                text=True,
                check=True,
                timeout=seconds + 30,
            )
            time.sleep(DRAIN_AFTER)
            result.cpu_seconds = _proc.cpu_seconds(running.proc.pid) - cpu_before
            result.lost = control.status().lost - lost_before
        execs, took = done.stdout.split()
        result.execs, result.seconds = int(execs), float(took)
    except (OSError, subprocess.SubprocessError, RuntimeError, ValueError) as exc:
        result.note = str(exc)[:120]
    finally:
        drain._stop(running.proc, running.stop_signal)
    return result


def run(rates: list[int], seconds: float, *, progress: Callable[[str], None]) -> list[CpuResult]:
    """Every reader at every rate (the kernel configured as the drain benchmark does)."""
    storm = _build.build("exec_storm")
    results: list[CpuResult] = []
    with drain.bench_kernel_state():
        done = subprocess.run(["auditctl", *EXEC_RULE], capture_output=True, text=True)
        if done.returncode != 0 and "exists" not in done.stderr:
            raise RuntimeError(f"auditctl could not add the exec rule: {done.stderr.strip()}")
        for rate in rates:
            for name, start in READERS:
                progress(f"cpu: {name} at {rate:,} exec/s")
                results.append(_measure(name, start, rate, seconds, storm))
    return results


__all__ = ["CpuResult", "run"]
