"""``trioaudit daemon``: the audit daemon, first part -- rules at start, an auditd log.

What runs today: register as the audit daemon (unicast; refused when another holds the
pid), load the rules (a file, or a ``rules.d`` directory in ``augenrules`` order: its
``*.rules`` files sorted by name; every failing line reported as ``file:line``, the rest
loaded), then write every record the kernel sends to an audit.log in auditd's RAW or
ENRICHED format with auditd's rotation (``trioaudit._output.auditlog``). Settings come
from a TOML file (``--config``) and the same as flags (flags win). Signals as auditd's:
SIGTERM or SIGINT write out and fsync the log, unregister the pid and exit 0; SIGUSR1
rotates the log; SIGHUP loads the rules again. Outputs to the network, the spool,
metrics and the systemd unit are not built yet (docs/design.md).
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
import tomllib
from pathlib import Path
from typing import Any

import trio

from .._errors import AuditUsageError
from .._output.auditlog import LOG_FORMATS, AuditLogFile
from .._records.model import AuditRecord, KernelRecord
from .._records.parse import RecordParseError, parse_kernel_record
from .._tables.msgtype_names import LOG_NAMES
from .._tables.msgtypes import AuditMessageType
from .._trio.client import AuditClient, open_audit_client
from .._trio.signals import StoppedBySignal, UnfinishedCleanup, run_until_signalled
from ..rules import parse_rules_file
from . import exitcodes
from .rules import _apply

__all__ = ["register", "run_daemon"]

#: Settings: name -> (type, default). The TOML file's keys and the flags' names.
SETTINGS: dict[str, tuple[type, Any]] = {
    "log_file": (str, "/var/log/audit/audit.log"),
    "log_format": (str, "enriched"),
    "max_log_file": (int, 8),
    "num_logs": (int, 5),
    "fsync_every": (int, 50),
    "rules": (str, ""),
}
_EOE = int(AuditMessageType.EOE)
#: Records taken per turn of the loop.
BATCH = 2048


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``daemon`` subcommand."""
    parser = subparsers.add_parser(
        "daemon",
        help="run as the audit daemon: load rules, write an auditd-format log",
        description="Register as the audit daemon, load the rules, and write every record "
        "to an audit.log in auditd's RAW or ENRICHED format, rotated as auditd does. "
        "SIGTERM/SIGINT stop it cleanly, SIGUSR1 rotates the log, SIGHUP reloads the rules.",
    )
    parser.add_argument("--config", metavar="FILE", help="a TOML file of the settings below")
    parser.add_argument("--log-file", metavar="PATH", help="default /var/log/audit/audit.log")
    parser.add_argument("--log-format", choices=LOG_FORMATS, help="default enriched")
    parser.add_argument("--max-log-file", type=int, metavar="MIB", help="rotate at (default 8)")
    parser.add_argument("--num-logs", type=int, metavar="N", help="files kept (default 5)")
    parser.add_argument(
        "--fsync-every", type=int, metavar="N", help="fsync after N records (default 50)"
    )
    parser.add_argument(
        "--rules", metavar="PATH", help="a rules file, or a rules.d directory (augenrules order)"
    )
    parser.set_defaults(func=run_daemon)


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """The settings: defaults, then the config file, then the flags. Errors name the
    setting (a usage error)."""
    settings = {name: default for name, (_, default) in SETTINGS.items()}
    if args.config:
        try:
            with open(args.config, "rb") as file:
                loaded = tomllib.load(file)
        except OSError as exc:
            raise AuditUsageError(f"--config {args.config}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise AuditUsageError(f"--config {args.config}: {exc}") from None
        for key, value in loaded.items():
            if key not in SETTINGS:
                raise AuditUsageError(f"{args.config}: unknown setting {key!r}")
            kind = SETTINGS[key][0]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise AuditUsageError(f"{args.config}: {key} must be {kind.__name__}")
            settings[key] = value
    for key in SETTINGS:
        value = getattr(args, key, None)
        if value is not None:
            settings[key] = value
    if settings["log_format"] not in LOG_FORMATS:
        raise AuditUsageError(f"log_format must be one of {', '.join(LOG_FORMATS)}")
    for key in ("max_log_file", "num_logs", "fsync_every"):
        if settings[key] < 0:
            raise AuditUsageError(f"{key} cannot be negative")
    return settings


def rules_files(path: str) -> list[Path]:
    """The rules files of *path*: itself, or a directory's ``*.rules`` sorted by name
    (augenrules' order)."""
    where = Path(path)
    if where.is_dir():
        return sorted(p for p in where.iterdir() if p.suffix == ".rules" and p.is_file())
    return [where]


async def load_rules(client: AuditClient, path: str) -> int:
    """Apply every rules file; report each failing line as ``file:line``; load the rest.
    Returns the number of failures."""
    failures = 0
    for file in rules_files(path):
        try:
            text = file.read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            print(f"trioaudit: {file}: {exc.strerror}", file=sys.stderr)
            failures += 1
            continue
        parsed = parse_rules_file(text)
        for error in parsed.errors:
            print(f"trioaudit: {file}:{error.line}: {error.reason}", file=sys.stderr)
        failures += len(parsed.errors)
        failures += await _apply(client, parsed, f"trioaudit: {file}", True, False)
    return failures


def _record_of(kernel: KernelRecord) -> AuditRecord:
    """The record to log; one the parser refuses is still logged as the kernel sent it."""
    try:
        record = parse_kernel_record(kernel.type, kernel.text)
    except RecordParseError:
        record = None
    if record is not None:
        return record
    name = LOG_NAMES.get(kernel.type) or f"UNKNOWN[{kernel.type}]"
    return AuditRecord(kernel.type, name, 0.0, 0, None, kernel.text)


async def _daemon(
    settings: dict[str, Any], log: AuditLogFile, unfinished: UnfinishedCleanup
) -> None:
    async with open_audit_client("unicast") as client:
        if settings["rules"]:
            await load_rules(client, settings["rules"])
        async with client.records() as records, trio.open_nursery() as nursery:
            nursery.start_soon(_signals, client, settings, log)
            print(
                f"trioaudit: daemon listening (pid {os.getpid()}), logging to {log.path}",
                file=sys.stderr,
                flush=True,
            )
            try:
                while True:
                    batch = await records.receive_batch(BATCH)
                    log.write(_record_of(r) for r in batch if r.type != _EOE)  # as auditd
                    log.flush()
            finally:
                log.close()
                # Also on SIGTERM: losses are never silent.
                stats = client.statistics()
                if stats.records_dropped or stats.overflows:
                    print(
                        f"trioaudit: {stats.records_dropped} records dropped (the log fell "
                        f"behind), {stats.overflows} socket overflows",
                        file=sys.stderr,
                    )


async def _signals(client: AuditClient, settings: dict[str, Any], log: AuditLogFile) -> None:
    """auditd's signals besides stopping: SIGUSR1 rotates, SIGHUP reloads the rules."""
    with trio.open_signal_receiver(signal.SIGUSR1, signal.SIGHUP) as signals:
        async for signum in signals:
            if signum == signal.SIGUSR1:
                log.rotate()
            elif settings["rules"]:
                await load_rules(client, settings["rules"])


def run_daemon(args: argparse.Namespace) -> int:
    """Run ``trioaudit daemon`` until SIGTERM or SIGINT (exit 0)."""
    settings = settings_of(args)
    if settings["rules"] and not Path(settings["rules"]).exists():
        raise AuditUsageError(f"rules: {settings['rules']} does not exist")
    try:
        log = AuditLogFile(
            settings["log_file"],
            max_log_file=settings["max_log_file"],
            num_logs=settings["num_logs"],
            fsync_every=settings["fsync_every"],
            log_format=settings["log_format"],
        )
    except OSError as exc:
        raise AuditUsageError(f"log_file {settings['log_file']}: {exc.strerror}") from None
    try:
        run_until_signalled(functools.partial(_daemon, settings, log))
    except StoppedBySignal:
        return exitcodes.OK  # SIGTERM, SIGINT: a clean stop is the daemon's normal end
    return exitcodes.OK
