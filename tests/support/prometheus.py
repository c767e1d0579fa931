"""A real Prometheus (Debian's ``/usr/bin/prometheus``) started by a test, on loopback.

:func:`running_prometheus` writes a ``prometheus.yml`` into a work directory with one
scrape job (``trioaudit``, every second) over the given ``HOST:PORT`` targets, starts
Prometheus with its storage in that directory and its web API on a free loopback
port, waits until ``/-/ready`` answers, and always stops it when the block ends.
:meth:`PrometheusServer.query` runs an instant PromQL query through the HTTP API;
:meth:`PrometheusServer.wait_for` polls one until a predicate holds.

Everything here blocks (``subprocess``, ``urllib``). From a trio test whose metrics
server runs in the same trio loop, run the whole block in a thread, so that the
loop keeps answering scrapes meanwhile::

    def check() -> list[dict[str, Any]]:
        with running_prometheus(tmp_path, [f"127.0.0.1:{port}"]) as prometheus:
            return prometheus.wait_for("up", lambda r: r and r[0]["value"][1] == "1")

    result = await trio.to_thread.run_sync(check)

(``trio.to_thread.run_sync`` is not cancellable by default, so the block always
finishes -- every wait in it is bounded -- and Prometheus is always stopped.)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.rsyslog import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

#: One query result: ``{"metric": {"__name__": ..., labels...}, "value": [time, "text"]}``.
Series = dict[str, Any]


def have_prometheus() -> bool:
    """Whether Prometheus is installed (``./test`` installs it; a bare venv may not)."""
    return os.access(PROMETHEUS, os.X_OK)


@dataclass
class PrometheusServer:
    """One Prometheus scraping *targets*; see the module docstring."""

    workdir: Path
    targets: Sequence[str]
    scrape_interval: str = "1s"
    port: int = 0
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = self.workdir / "prometheus.yml"
        self.stderr_path = self.workdir / "prometheus.stderr"
        self.config.write_text(self._config_text())

    def _config_text(self) -> str:
        # JSON is YAML: quoting every target and label that way is safe whatever they are.
        targets = json.dumps(list(self.targets))
        return (
            "global:\n"
            f"  scrape_interval: {self.scrape_interval}\n"
            f"  scrape_timeout: {self.scrape_interval}\n"
            "scrape_configs:\n"
            "  - job_name: trioaudit\n"
            "    static_configs:\n"
            f"      - targets: {targets}\n"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0, attempts: int = 3) -> None:
        """Start Prometheus and wait until it reports ready.

        The web port comes from :func:`free_port`, which another process could take
        before Prometheus binds it; when Prometheus exits at startup that is retried
        on a new port, *attempts* times.
        """
        assert self.proc is None or self.proc.poll() is not None, "already running"
        for attempt in range(attempts):
            self.port = free_port()
            argv = [
                PROMETHEUS,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ]
            with open(self.stderr_path, "ab") as stderr:
                self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
            if self._wait_ready(timeout):
                return
            if attempt == attempts - 1:
                self.stop()
                raise RuntimeError(f"prometheus did not start: {self.stderr_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        """True once ``/-/ready`` answers 200; False when Prometheus exited."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as reply:
                    if reply.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"prometheus not ready within {timeout}s: {self.stderr_tail()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stderr_tail(self, size: int = 2000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-size:]
        except FileNotFoundError:
            return ""

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>`` with *params*; the ``data`` of a successful answer."""
        query = urllib.parse.urlencode(params)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                answer = json.load(reply)
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"prometheus {path} {params}: {exc.read()[:500]!r}") from exc
        if answer.get("status") != "success":
            raise RuntimeError(f"prometheus {path} {params}: {answer}")
        return answer["data"]

    def query(self, expr: str) -> list[Series]:
        """An instant query; the result vector (``[]`` when nothing matches)."""
        data = self.api("query", query=expr)
        if data["resultType"] != "vector":
            raise RuntimeError(f"{expr!r} is a {data['resultType']}, not a vector")
        result: list[Series] = data["result"]
        return result

    def wait_for(
        self,
        expr: str,
        predicate: Callable[[list[Series]], bool] = bool,
        timeout: float = 30.0,
    ) -> list[Series]:
        """Query *expr* every 0.2 s until *predicate* accepts the result; return it.

        Raises:
            TimeoutError: not within *timeout* seconds (the message has the last
                result, the scrape targets' state and Prometheus's stderr).
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{expr!r} never satisfied the predicate in {timeout}s; last {result}; "
                    f"targets {self.targets_state()}; stderr {self.stderr_tail()}"
                )
            time.sleep(0.2)

    def targets_state(self) -> list[dict[str, Any]]:
        """The active targets: ``scrapeUrl``, ``health`` (``up``/``down``), ``lastError``."""
        with contextlib.suppress(RuntimeError, OSError):
            active: list[dict[str, Any]] = self.api("targets")["activeTargets"]
            keys = ("scrapeUrl", "health", "lastError")
            return [{key: target.get(key) for key in keys} for target in active]
        return []

    def metadata(self, metric: str) -> list[dict[str, str]]:
        """What Prometheus learnt of *metric* from ``# TYPE`` and ``# HELP`` lines."""
        found: list[dict[str, str]] = self.api("metadata", metric=metric).get(metric, [])
        return found


@contextlib.contextmanager
def running_prometheus(workdir: Path, targets: list[str]) -> Iterator[PrometheusServer]:
    """A started :class:`PrometheusServer` scraping *targets* every second, always
    stopped when the block ends."""
    server = PrometheusServer(workdir, targets)
    try:
        server.start()
        yield server
    finally:
        server.stop()
