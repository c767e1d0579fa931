"""``trioaudit daemon``: the audit daemon's command line (the work is trioaudit._daemon).

Every setting of the TOML file (``--config``) is also a flag, and the flags win;
``--check`` prints the resolved settings and exits, so a unit's ``ExecStartPre`` or a
configuration manager can refuse a bad file before the running daemon is touched.
docs/daemon.md describes the settings, the outputs and their delivery guarantees.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
from pathlib import Path
from typing import Any

from .._daemon.config import DaemonConfig, load_config
from .._daemon.service import Daemon, check_rules
from .._errors import AuditUsageError
from .._output.auditlog import LOG_FORMATS
from .._trio.signals import StoppedBySignal, run_until_signalled
from . import exitcodes

__all__ = ["flags_of", "register", "run_daemon"]

#: Flag destination -> the setting it overrides (load_config's keys).
_FLAGS = {
    "rules": "rules",
    "node": "node",
    "metrics_listen": "metrics_listen",
    "spool_dir": "spool_dir",
    "drain_timeout": "drain_timeout",
    "allow_irreversible": "allow_irreversible",
    "log_file": "log.file",
    "log_format": "log.format",
    "max_log_file": "log.max_log_file",
    "num_logs": "log.num_logs",
    "fsync_every": "log.fsync_every",
    "enabled": "status.enabled",
    "failure": "status.failure",
    "backlog_limit": "status.backlog_limit",
    "rate_limit": "status.rate_limit",
    "backlog_wait_time": "status.backlog_wait_time",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``daemon`` subcommand."""
    parser = subparsers.add_parser(
        "daemon",
        help="run as the audit daemon: rules, an auditd-format log, syslog/RELP, metrics",
        description="Register as the audit daemon, load the rules, apply the status "
        "settings, and write every event to an audit.log in auditd's formats and to any "
        "number of outputs (JSON lines files, stdout, syslog over UDP/TCP/TLS, RELP), with "
        "bounded queues, a disk spool and Prometheus metrics. SIGTERM/SIGINT stop it "
        "cleanly, SIGHUP reloads the settings and rules, SIGUSR1 rotates the logs. "
        "See docs/daemon.md.",
    )
    parser.add_argument("--config", metavar="FILE", help="a TOML file of the settings")
    parser.add_argument(
        "--check", action="store_true", help="print the resolved settings as JSON and exit"
    )
    parser.add_argument(
        "--rules", metavar="PATH", help="a rules file, or a rules.d directory (augenrules order)"
    )
    parser.add_argument(
        "--output",
        dest="outputs",
        action="append",
        metavar="URL",
        help="jsonl:PATH, stdout, syslog+udp|tcp|tls://HOST:PORT, relp[+tls]://HOST:PORT; "
        "settings after '?' (format=raw|enriched|json, filter=..., normalize=1); repeatable",
    )
    parser.add_argument("--log-file", metavar="PATH", help="the audit.log ('' for none)")
    parser.add_argument("--log-format", choices=LOG_FORMATS, help="default enriched")
    parser.add_argument("--max-log-file", type=int, metavar="MIB", help="rotate at (default 8)")
    parser.add_argument("--num-logs", type=int, metavar="N", help="files kept (default 5)")
    parser.add_argument(
        "--fsync-every", type=int, metavar="N", help="fsync the log after N records (default 50)"
    )
    parser.add_argument(
        "--metrics-listen", metavar="HOST:PORT", help="serve Prometheus /metrics there"
    )
    parser.add_argument("--spool-dir", metavar="DIR", help="default /var/lib/trioaudit/spool")
    parser.add_argument("--node", metavar="NAME", help="node= name on every log line")
    parser.add_argument(
        "--drain-timeout", type=float, metavar="S", help="seconds to deliver at stop (default 5)"
    )
    status = parser.add_argument_group("kernel status at start (left alone when not given)")
    status.add_argument("--enabled", type=int, choices=(0, 1, 2))
    status.add_argument("--failure", type=int, choices=(0, 1, 2))
    status.add_argument("--backlog-limit", type=int, metavar="N")
    status.add_argument("--rate-limit", type=int, metavar="N")
    status.add_argument("--backlog-wait-time", type=int, metavar="JIFFIES")
    parser.add_argument(
        "--allow-irreversible",
        action="store_true",
        default=None,
        help="allow -e 2 / -f 2 (in the rules or the status settings)",
    )
    parser.set_defaults(func=run_daemon)


def flags_of(args: argparse.Namespace) -> dict[str, Any]:
    """The flags given, as :func:`~trioaudit._daemon.config.load_config` takes them."""
    flags: dict[str, Any] = {key: getattr(args, dest, None) for dest, key in _FLAGS.items()}
    flags["outputs"] = args.outputs or []
    return flags


def _check_text(config: DaemonConfig) -> str:
    return json.dumps(dataclasses.asdict(config), indent=2)


def run_daemon(args: argparse.Namespace) -> int:
    """Run ``trioaudit daemon`` until SIGTERM or SIGINT (exit 0)."""
    flags = flags_of(args)
    config = load_config(args.config, flags)
    if config.rules and not Path(config.rules).exists():
        raise AuditUsageError(f"rules: {config.rules} does not exist")
    if config.rules:
        check_rules(config.rules)
    if args.check:
        print(_check_text(config))
        return exitcodes.OK
    logging.getLogger("trioaudit.daemon").setLevel(logging.INFO)
    daemon = Daemon(config, reload=lambda: load_config(args.config, flags))
    daemon.build_routes()  # every file, spool and filter checked before the kernel
    try:
        run_until_signalled(daemon.run, stop_signals=(signal.SIGINT, signal.SIGTERM))
    except StoppedBySignal:
        return exitcodes.OK  # SIGTERM, SIGINT: a clean stop is the daemon's normal end
    return exitcodes.OK
