"""``trioaudit daemon``: the audit daemon -- rules at start, outputs, metrics, signals.

Theory of operation
===================

Start-up checks everything a user can get wrong *before* it touches the kernel:
the settings (:mod:`.config`), every filter, every file and spool directory, and
the metrics port. Then it registers as the audit daemon (unicast; another live
daemon is refused, never displaced), loads the rules (a file, or a ``rules.d`` in
``augenrules`` order; each bad line reported as ``file:line``, the rest loaded),
applies the ``[status]`` settings, and tells systemd it is ready.

One task reads events and does nothing that can wait: for each output it keeps
the events its filter wants, renders them in its format (:mod:`trioaudit._output.
messages`) and *offers* them to the output, which queues them (bounded) and, for a
network output, spools what does not fit or cannot be sent to disk
(:mod:`.outputs`). Every output sends or writes in its own task, so a dead
network peer or a full disk stalls that output alone -- never the reader, never
the kernel's backlog, never the audited processes. What is dropped is counted per
output, logged, and exported in ``/metrics``.

Signals are auditd's: SIGTERM and SIGINT stop (read what the kernel already sent,
complete the open events, unregister, give every output ``drain_timeout`` seconds to
deliver and persist the rest in its spool, exit 0); SIGHUP reloads the settings and
applies the rules, the status settings and the filters again (other changes are
named in the log as needing a restart); SIGUSR1 rotates the log files.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import socket
import stat
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Literal

import trio

from .._errors import AuditUsageError
from .._output.auditlog import AuditLogFile, RotatingFile
from .._output.filter import Predicate, compile_filter
from .._output.messages import MessageFormat, event_messages
from .._output.metrics import MetricFamily, Sample
from .._output.spool import DiskSpool
from .._output.syslog import FACILITIES, SEVERITIES, rfc5424_message
from .._records.model import AuditEvent
from .._trio.client import (
    LOG_WAKEUP_DELAY,
    AuditClient,
    collapse_single_exception_group,
    open_audit_client,
)
from .._trio.rulesload import apply_rules_file
from .._trio.signals import UnfinishedCleanup, registration_left
from .._trio.streams import EventStream
from .._wire.status import AuditStatus, FailureMode
from ..rules import parse_rules_file
from .config import DaemonConfig, OutputConfig, StatusConfig
from .metrics import MetricsListenError, parse_listen, serve_metrics
from .notify import Notifier, watchdog_interval
from .outputs import LocalOutput, NetworkOutput, OutputStatistics
from .relp import RelpSender, parse_relp_url
from .senders import Sender
from .syslog import SyslogSender, parse_syslog_url, tls_context

__all__ = ["Daemon", "check_rules", "rules_files"]

log = logging.getLogger("trioaudit.daemon")

#: Events taken per turn of the reader.
BATCH = 2048
#: Seconds between kernel status polls for /metrics.
STATUS_INTERVAL = 1.0

ClientFactory = Callable[[], AbstractAsyncContextManager[AuditClient]]
Output = NetworkOutput | LocalOutput


def rules_files(path: str) -> list[Path]:
    """The rules files of *path*: itself, or a directory's ``*.rules`` sorted by name
    (augenrules' order). Raises OSError when the directory cannot be listed."""
    where = Path(path)
    if where.is_dir():
        return sorted(p for p in where.iterdir() if p.suffix == ".rules" and p.is_file())
    return [where]


def check_rules(path: str) -> None:
    """Refuse rules that cannot be read, before the kernel is touched (a usage error
    naming the setting): a daemon started without its rules audits nothing."""
    try:
        for file in rules_files(path):
            with open(file, "rb"):
                pass
    except OSError as exc:
        raise AuditUsageError(f"rules: {exc.filename or path}: {exc.strerror}") from None


def _slug(name: str) -> str:
    """A spool directory name for an output (its URL, made a file name)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "output"


@dataclass
class Route:
    """One output and what it is given: its filter, format and (syslog) header."""

    name: str
    fmt: MessageFormat
    output: Output
    predicate: Predicate | None = None
    normalize: bool = False
    filter_text: str = ""
    wrap: Callable[[float, bytes], bytes] | None = None
    files: list[RotatingFile] = field(default_factory=list)
    filtered: int = 0


class Daemon:
    """The daemon of one :class:`~.config.DaemonConfig` (see the module docstring)."""

    def __init__(
        self,
        config: DaemonConfig,
        *,
        open_client: ClientFactory | None = None,
        notifier: Notifier | None = None,
        reload: Callable[[], DaemonConfig] | None = None,
        stdout: BinaryIO | None = None,
    ) -> None:
        self.config = config
        # As tail's: 50 ms of a 60k events/s storm is ~15k records to hold per wake-up.
        self._open_client = open_client or (
            lambda: open_audit_client(
                "unicast",
                queue_size=self.config.reader_queue_size,
                wakeup_delay=LOG_WAKEUP_DELAY,
            )
        )
        self.notifier = notifier or Notifier()
        self._reload = reload
        self._stdout = stdout
        self.routes: list[Route] = []
        self.client: AuditClient | None = None
        self.events: EventStream | None = None
        self.kernel_status: AuditStatus | None = None
        self.rule_failures = 0
        self.events_read = 0
        self.rotations = 0
        self.reloads = 0
        self.metrics_address: tuple[str, int] | None = None
        self._hostname = socket.gethostname()

    # ---- start-up: everything checked before the kernel is touched --------------
    def build_routes(self) -> None:
        """Every output opened and every filter compiled; errors name the setting."""
        config = self.config
        if config.metrics_listen:
            parse_listen(config.metrics_listen)  # a bad HOST:PORT names the setting
        routes = []
        if config.log.file:
            try:
                logfile = AuditLogFile(
                    config.log.file,
                    max_log_file=config.log.max_log_file,
                    num_logs=config.log.num_logs,
                    fsync_every=config.log.fsync_every,
                    node=config.node or None,
                    log_format=config.log.format,
                )
            except OSError as exc:
                raise AuditUsageError(f"log.file {config.log.file}: {exc.strerror}") from None
            fmt: MessageFormat = "enriched" if config.log.format == "enriched" else "raw"
            output = LocalOutput(
                f"log:{config.log.file}",
                logfile.write_lines,
                queue_size=config.log.queue_size,
                inline=_local_file(logfile.path),
            )
            routes.append(Route(output.name, fmt, output, files=[logfile]))
        for index, out in enumerate(config.outputs):
            routes.append(self._route(index, out))
        self.routes = routes

    def _route(self, index: int, out: OutputConfig) -> Route:
        where = f"output[{index}] {out.name}"
        predicate = _compile(where, out.filter)
        files: list[RotatingFile] = []
        wrap = None
        output: Output
        if out.kind == "jsonl":
            try:
                file = RotatingFile(
                    out.path,
                    max_log_file=out.max_file,
                    num_logs=out.num_files,
                    fsync_every=out.fsync_every,
                )
            except OSError as exc:
                raise AuditUsageError(f"{where}: {exc.strerror}") from None
            files.append(file)
            output = LocalOutput(
                out.name, file.write_lines, queue_size=out.queue_size, inline=_local_file(file.path)
            )
        elif out.kind == "stdout":
            stdout = self._stdout or sys.stdout.buffer
            output = LocalOutput(
                out.name,
                self._write_stdout,
                queue_size=out.queue_size,
                inline=_never_blocks(stdout),
            )
        else:
            wrap = self._syslog_header(where, out)
            factory = self._sender_factory(where, out)
            spool = None
            if out.spool and out.spool_max_bytes:
                directory = Path(self.config.spool_dir) / _slug(out.name)
                try:
                    spool = DiskSpool(directory, out.spool_max_bytes)
                except OSError as exc:
                    raise AuditUsageError(f"{where}.spool ({directory}): {exc}") from None
            output = NetworkOutput(out.name, factory, queue_size=out.queue_size, spool=spool)
        return Route(
            out.name,
            out.format,  # type: ignore[arg-type]  # checked by the config
            output,
            predicate,
            out.normalize,
            out.filter,
            wrap,
            files,
        )

    def _syslog_header(self, where: str, out: OutputConfig) -> Callable[[float, bytes], bytes]:
        facility = FACILITIES.get(out.facility)
        severity = SEVERITIES.get(out.severity)
        if facility is None:
            raise AuditUsageError(f"{where}.facility: unknown {out.facility!r}")
        if severity is None:
            raise AuditUsageError(f"{where}.severity: unknown {out.severity!r}")
        hostname = out.hostname or self.config.node or self._hostname
        procid = str(os.getpid())

        def wrap(timestamp: float, payload: bytes) -> bytes:
            return rfc5424_message(
                payload,
                timestamp=timestamp,
                hostname=hostname,
                app_name="trioaudit",
                procid=procid,
                msgid="audit",
                facility=facility,
                severity=severity,
            )

        return wrap

    def _sender_factory(self, where: str, out: OutputConfig) -> Callable[[], Sender]:
        """The output's sender, its URL and TLS files checked now (a config error),
        not at the first connection."""
        for key, path in (("ca", out.ca), ("cert", out.cert), ("key", out.key)):
            if path and not os.access(path, os.R_OK):
                raise AuditUsageError(f"{where}.{key}: cannot read {path}")
        tls = {
            "ca": out.ca or None,
            "cert": out.cert or None,
            "key": out.key or None,
            "server_name": out.server_name or None,
        }
        try:
            if out.kind == "relp":
                relp = parse_relp_url(out.name)
                if relp.tls:
                    relp = relp.with_tls_options(verify=out.verify, **tls)
                RelpSender(relp, window=out.window)  # loads the TLS files: errors now
                return lambda: RelpSender(relp, window=out.window)
            target = parse_syslog_url(out.name)
            if target.transport == "tls":
                target = target.with_tls_options(verify=out.verify, **tls)
                tls_context(target)  # loads the TLS files: errors now
            if out.max_message_size:
                target = replace(target, max_message_size=out.max_message_size)
            return lambda: SyslogSender(target)
        except ValueError as exc:
            raise AuditUsageError(f"{where}: {exc}") from None

    def _write_stdout(self, messages: list[bytes]) -> None:
        out = self._stdout or sys.stdout.buffer
        out.write(b"".join(message + b"\n" for message in messages))
        out.flush()

    # ---- running ----------------------------------------------------------------
    async def run(
        self, unfinished: UnfinishedCleanup, *, task_status: Any = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until cancelled (SIGTERM); then stop as the module docstring says."""
        if not self.routes:
            self.build_routes()
        async with collapse_single_exception_group(), trio.open_nursery() as services:
            if self.config.metrics_listen:
                try:
                    self.metrics_address = await services.start(
                        serve_metrics, self.config.metrics_listen, self.collect_metrics
                    )
                except MetricsListenError as exc:  # before the kernel is touched
                    raise AuditUsageError(str(exc)) from None
            outputs_scope = await services.start(self._run_outputs)
            try:
                await self._read(unfinished, task_status)
            finally:
                with trio.CancelScope(shield=True):
                    self.notifier.stopping()
                    await self._drain()
                outputs_scope.cancel()
                services.cancel_scope.cancel()

    async def _run_outputs(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Every output's task, shielded from the stop: a SIGTERM cancels the reader,
        while the outputs keep delivering until :meth:`_drain` has given them their
        ``drain_timeout`` (it then cancels this scope)."""
        with trio.CancelScope(shield=True) as scope:
            async with trio.open_nursery() as nursery:
                for route in self.routes:
                    await nursery.start(route.output.run)
                task_status.started(scope)
                await trio.sleep_forever()

    async def _read(self, unfinished: UnfinishedCleanup, task_status: Any) -> None:
        # AuditDaemonRunning (another daemon holds the pid) goes to the caller.
        async with self._open_client() as client:
            self.client = client
            unfinished.add(lambda: registration_left(client))
            try:
                await self.apply_rules_and_status(self.config)
                # The helpers use the client: they end with it, before the drain.
                async with client.open_events() as events, trio.open_nursery() as helpers:
                    self.events = events
                    if self.config.metrics_listen:
                        helpers.start_soon(self._poll_status)
                    helpers.start_soon(self._signals)
                    interval = watchdog_interval()
                    if interval:
                        helpers.start_soon(self._watchdog, interval)
                    self._announce()
                    task_status.started()
                    try:
                        while True:
                            batch = await events.receive_batch(BATCH)
                            self.dispatch(batch)
                    finally:
                        # Stopping: what the kernel already sent is not lost.
                        self._take_the_rest(events)
                        helpers.cancel_scope.cancel()
            finally:
                self._report_client_losses(client)

    def _take_the_rest(self, events: EventStream) -> None:
        rest: list[AuditEvent] = []
        while True:
            try:
                rest.append(events.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        rest.extend(events.complete_open_events())
        if rest:
            self.dispatch(rest)

    def dispatch(self, batch: Sequence[AuditEvent]) -> None:
        """Hand a batch of events to every output (never waits)."""
        self.events_read += len(batch)
        rendered: dict[tuple[str, bool, str], tuple[list[float], list[bytes]]] = {}
        node = self.config.node or None
        for route in self.routes:
            kept = batch
            if route.predicate is not None:
                predicate = route.predicate
                kept = [event for event in batch if predicate(event)]
                route.filtered += len(batch) - len(kept)
            if not kept:
                continue
            key = (route.fmt, route.normalize, route.filter_text)
            if key not in rendered:
                rendered[key] = event_messages(
                    kept, route.fmt, node=node, normalize=route.normalize
                )
            stamps, messages = rendered[key]
            if route.wrap is not None:
                wrap = route.wrap
                messages = [wrap(t, m) for t, m in zip(stamps, messages, strict=True)]
            route.output.offer(messages)

    async def _drain(self) -> None:
        """Give every output ``drain_timeout`` to deliver (they keep the rest in their
        spools), then close the files."""
        timeout = self.config.drain_timeout
        async with trio.open_nursery() as nursery:
            for route in self.routes:
                nursery.start_soon(route.output.aclose_and_drain, timeout)
        for route in self.routes:
            for file in route.files:
                try:
                    await trio.to_thread.run_sync(file.close)
                except OSError as exc:
                    log.error("%s: closing: %s", route.name, exc)
            stats = route.output.statistics()
            if stats.dropped:
                log.warning("%s: %d messages dropped in all", route.name, stats.dropped)
            if stats.spooled_messages:
                log.warning(
                    "%s: %d messages left in the spool for the next start",
                    route.name,
                    stats.spooled_messages,
                )

    def _report_client_losses(self, client: AuditClient) -> None:
        stats = client.statistics()
        if stats.records_dropped or stats.overflows:
            log.warning(
                "%d records dropped (the daemon fell behind), %d socket overflows",
                stats.records_dropped,
                stats.overflows,
            )

    def _announce(self) -> None:
        outputs = ", ".join(route.name for route in self.routes) or "no outputs"
        line = f"daemon listening (pid {os.getpid()}), {outputs}"
        if self.metrics_address is not None:
            host, port = self.metrics_address
            line += f", metrics on {host}:{port}"
        log.info("%s", line)
        self.notifier.ready(line)

    # ---- rules, status, signals -------------------------------------------------
    async def apply_rules_and_status(self, config: DaemonConfig) -> None:
        """Load the rules, then apply the status settings (rules first: a rules file
        may end with ``-e 1``; the config's settings are the last word)."""
        assert self.client is not None
        if config.rules:
            self.rule_failures = await self.load_rules(config.rules)
        await self._apply_status(config.status)

    async def load_rules(self, path: str) -> int:
        """Apply every rules file; report each failing line as ``file:line``; load the
        rest. Returns the number of failures."""
        assert self.client is not None
        failures = 0
        try:
            files = rules_files(path)
        except OSError as exc:  # a reload: the running rules stay
            log.error("rules: %s: %s", path, exc.strerror)
            return 1
        if not files:
            log.warning("rules: no *.rules file in %s", path)
        for file in files:
            try:
                text = file.read_text(encoding="utf-8", errors="surrogateescape")
            except OSError as exc:
                log.error("rules: %s: %s", file, exc.strerror)
                failures += 1
                continue
            parsed = parse_rules_file(text)
            for error in parsed.errors:
                log.error("rules: %s:%s: %s", file, error.line, error.reason)
            failures += len(parsed.errors)
            failures += await apply_rules_file(
                self.client,
                parsed,
                f"rules: {file}",
                keep_going=True,
                allow=self.config.allow_irreversible,
                report=lambda line: log.error("%s", line),
            )
        return failures

    async def _apply_status(self, status: StatusConfig) -> None:
        client = self.client
        assert client is not None
        allow = self.config.allow_irreversible
        if status.backlog_limit is not None:
            await client.set_backlog_limit(status.backlog_limit)
        if status.backlog_wait_time is not None:
            await client.set_backlog_wait_time(status.backlog_wait_time)
        if status.rate_limit is not None:
            await client.set_rate_limit(status.rate_limit)
        if status.failure is not None:
            await client.set_failure(FailureMode(status.failure), confirm=allow)
        if status.enabled is not None:
            if status.enabled == 2:
                await client.set_immutable(confirm=allow)
            else:
                await client.set_enabled(bool(status.enabled))

    async def _signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGUSR1, signal.SIGHUP) as signals:
            async for signum in signals:
                if signum == signal.SIGUSR1:
                    await self.rotate()
                else:
                    await self.reload()

    async def rotate(self) -> None:
        """SIGUSR1: rotate every log file now (in a thread: it fsyncs and renames)."""
        for route in self.routes:
            for file in route.files:
                try:
                    await trio.to_thread.run_sync(file.rotate)
                except OSError as exc:
                    log.error("%s: rotating: %s", route.name, exc)
        self.rotations += 1
        log.info("rotated the log files")

    async def reload(self) -> None:
        """SIGHUP: read the settings again; apply the rules, the status settings and
        the filters; name what needs a restart. A bad file changes nothing."""
        if self._reload is None:
            return
        self.notifier.reloading()
        try:
            new = self._reload()
            filters = {out.name: _compile(f"output {out.name}", out.filter) for out in new.outputs}
        except AuditUsageError as exc:
            log.error("reload refused, the running settings stay: %s", exc)
            self.notifier.ready("reload refused; running with the previous settings")
            return
        old = self.config
        self.config = new
        await self.apply_rules_and_status(new)
        for route in self.routes:
            out = next((o for o in new.outputs if o.name == route.name), None)
            if out is not None and out.filter != route.filter_text:
                route.predicate, route.filter_text = filters[out.name], out.filter
        unchanged = (
            old.log == new.log
            and old.metrics_listen == new.metrics_listen
            and [replace(o, filter="") for o in old.outputs]
            == [replace(o, filter="") for o in new.outputs]
        )
        if not unchanged:
            log.warning("reload: outputs, log or metrics settings changed: restart to apply")
        self.reloads += 1
        log.info("reloaded %s (%d rule failures)", new.source or "settings", self.rule_failures)
        self.notifier.ready("reloaded")

    async def _watchdog(self, interval: float) -> None:
        while True:
            self.notifier.watchdog()
            await trio.sleep(interval)

    # ---- metrics ----------------------------------------------------------------
    async def _poll_status(self) -> None:
        assert self.client is not None
        while True:
            try:
                self.kernel_status = await self.client.get_status()
            except OSError as exc:  # never fatal: the metrics say the poll failed
                log.debug("status poll failed: %s", exc)
            await trio.sleep(STATUS_INTERVAL)

    def collect_metrics(self) -> list[MetricFamily]:
        """The exposition's families (names and meanings in docs/daemon.md)."""
        single: list[tuple[str, str, str, float]] = []
        status = self.kernel_status
        if status is not None:
            single += [
                ("kernel_enabled", "gauge", "audit_status.enabled", status.enabled),
                ("kernel_lost", "gauge", "Records the kernel lost (audit_status.lost)",
                 status.lost),
                ("kernel_backlog", "gauge", "Records queued in the kernel", status.backlog),
                ("kernel_backlog_limit", "gauge", "audit_status.backlog_limit",
                 status.backlog_limit),
            ]  # fmt: skip
            if status.backlog_wait_time_actual is not None:
                single.append(
                    ("kernel_backlog_wait_time_actual", "gauge",
                     "Jiffies audited tasks waited for backlog space",
                     status.backlog_wait_time_actual)
                )  # fmt: skip
        if self.client is not None:
            client = self.client.statistics()
            single += [
                ("records_received_total", "counter", "Records read from the kernel",
                 client.records_received),
                ("records_dropped_total", "counter",
                 "Records dropped because the daemon fell behind", client.records_dropped),
                ("socket_overflows_total", "counter",
                 "ENOBUFS: the audit socket's buffer overflowed", client.overflows),
            ]  # fmt: skip
        if self.events is not None:
            events = self.events.statistics()
            single += [
                ("events_total", "counter", "Events reassembled", events.events),
                ("records_unparsable_total", "counter",
                 "Records skipped as unparsable (each logged)", events.unparsable),
            ]  # fmt: skip
        single.append(
            ("rule_failures", "gauge", "Rules lines that failed at the last load",
             self.rule_failures)
        )  # fmt: skip
        families = [
            MetricFamily(f"trioaudit_{name}", kind, text, [Sample((), value)])  # type: ignore[arg-type]
            for name, kind, text, value in single
        ]
        samples: dict[str, list[Sample]] = {name: [] for name in _OUTPUT_METRICS}
        for route in self.routes:
            out: OutputStatistics = route.output.statistics()
            labels = (("output", route.name),)
            values = (
                out.delivered, out.dropped, out.spooled_bytes, out.spooled_messages,
                out.queue_depth, int(out.connected), out.reconnects, route.filtered,
            )  # fmt: skip
            for name, value in zip(_OUTPUT_METRICS, values, strict=True):
                samples[name].append(Sample(labels, value))
        for name, (kind, text) in _OUTPUT_METRICS.items():
            families.append(MetricFamily(f"trioaudit_output_{name}", kind, text, samples[name]))
        return families


#: The per-output families, in the order collect_metrics reads them: kind, help.
_OUTPUT_METRICS: dict[str, tuple[Literal["counter", "gauge"], str]] = {
    "events_total": (
        "counter",
        "Messages delivered (raw/enriched: one per record; json: per event)",
    ),
    "dropped_total": ("counter", "Messages dropped: queue and spool full, or unwritable"),
    "spooled_bytes": ("gauge", "Bytes waiting in the output's disk spool"),
    "spooled_messages": ("gauge", "Messages waiting in the output's disk spool"),
    "queue_depth": ("gauge", "Messages waiting in the output's memory queue"),
    "connected": ("gauge", "1 while the destination is connected (files: always)"),
    "reconnects_total": ("counter", "Connections (re)made to the destination"),
    "filtered_total": ("counter", "Events the output's filter left out"),
}


def _local_file(path: Path) -> bool:
    """Whether writes to *path* land in the page cache (a regular file, not on NFS or
    FUSE, where a write can wait on the network): then it is written inline."""
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as mounts:
            table = [line.split()[1:3] for line in mounts if len(line.split()) > 2]
    except OSError:
        return False
    where = str(path.resolve().parent)
    best, kind = "", ""
    for point, fstype in table:
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, fstype
    return path.is_file() and not kind.startswith(_REMOTE)


_REMOTE = ("nfs", "cifs", "smb", "fuse", "9p", "ceph", "glusterfs", "sshfs")


def _never_blocks(out: BinaryIO) -> bool:
    """Whether writing to *out* cannot stall (a regular file): stdout redirected to a
    file is written inline, a pipe or terminal from a thread."""
    try:
        return stat.S_ISREG(os.fstat(out.fileno()).st_mode)
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


def _compile(where: str, text: str) -> Predicate | None:
    if not text:
        return None
    try:
        return compile_filter(text)
    except AuditUsageError as exc:
        raise AuditUsageError(f"{where}.filter: {exc}") from None
