"""``trioaudit status | enable | disable | set``: the kernel's audit settings.

``status`` prints what ``auditctl -s`` prints (same keys, same order, including
``loginuid_immutable`` from ``AUDIT_GET_FEATURE``) or, with ``--json``, the
same data typed (the report itself is :mod:`.statusreport`); ``status --watch``
is :mod:`.statuswatch`.
"""

from __future__ import annotations

import argparse
import json

import trio

from .._errors import AuditUsageError
from .._trio.client import open_audit_client
from .._wire.control import AuditFeatures
from .._wire.status import AuditStatus, FailureMode
from .statusreport import read_status, status_json, status_lines
from .statuswatch import watch_status

_FAILURE_NAMES = {mode.name.lower(): mode for mode in FailureMode}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``status``, ``enable``, ``disable`` and ``set`` subcommands."""
    status = subparsers.add_parser("status", help="show the kernel's audit status (auditctl -s)")
    status.add_argument("--json", action="store_true", help="one JSON object instead of text")
    status.add_argument(
        "-i",
        "--interpret",
        action="store_true",
        help="enabled and failure as words (auditctl -s -i)",
    )
    status.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=1.0,
        default=None,
        metavar="INTERVAL",
        help="refresh every INTERVAL seconds (default 1) with per-interval deltas of lost and "
        "backlog_wait_time_actual; one JSON object per interval when piped",
    )
    status.add_argument(
        "--count", type=int, metavar="N", help="with --watch: stop after N refreshes"
    )
    status.set_defaults(func=_status)

    enable = subparsers.add_parser("enable", help="enable auditing (auditctl -e 1)")
    enable.set_defaults(func=_enable, enabled=True)
    disable = subparsers.add_parser("disable", help="disable auditing (auditctl -e 0)")
    disable.set_defaults(func=_enable, enabled=False)

    setter = subparsers.add_parser(
        "set",
        help="change kernel audit settings",
        description="Change kernel audit settings; each given option is sent as its own request.",
    )
    setter.add_argument("--rate-limit", type=int, metavar="N", help="records/s, 0 = unlimited")
    setter.add_argument("--backlog-limit", type=int, metavar="N", help="queued records")
    setter.add_argument(
        "--backlog-wait-time", type=int, metavar="JIFFIES", help="0 = drop instead of waiting"
    )
    setter.add_argument(
        "--failure",
        choices=sorted(_FAILURE_NAMES, key=lambda name: _FAILURE_NAMES[name]),
        help="what the kernel does when it cannot record",
    )
    setter.add_argument(
        "--force", action="store_true", help="required with --failure panic (halts the machine)"
    )
    setter.set_defaults(func=_set)


def _status(args: argparse.Namespace) -> int:
    if args.watch is not None:
        return watch_status(args.watch, json_output=args.json, count=args.count)
    if args.count is not None:
        raise AuditUsageError("--count only makes sense with --watch")

    async def run() -> tuple[AuditStatus, AuditFeatures | None]:
        async with open_audit_client("control") as client:
            return await read_status(client)

    status, features = trio.run(run)
    if args.json:
        print(json.dumps(status_json(status, features)))
    else:
        print("\n".join(status_lines(status, features, interpret=args.interpret)))
    return 0


def _enable(args: argparse.Namespace) -> int:
    async def run() -> None:
        async with open_audit_client("control") as client:
            await client.set_enabled(args.enabled)

    trio.run(run)
    return 0


def _set(args: argparse.Namespace) -> int:
    failure = _FAILURE_NAMES[args.failure] if args.failure else None
    if failure is FailureMode.PANIC and not args.force:
        raise AuditUsageError("--failure panic halts the machine on audit failure; add --force")
    if all(
        value is None
        for value in (args.rate_limit, args.backlog_limit, args.backlog_wait_time, failure)
    ):
        raise AuditUsageError("nothing to set: give at least one option (see trioaudit set -h)")

    async def run() -> None:
        async with open_audit_client("control") as client:
            if args.rate_limit is not None:
                await client.set_rate_limit(args.rate_limit)
            if args.backlog_limit is not None:
                await client.set_backlog_limit(args.backlog_limit)
            if args.backlog_wait_time is not None:
                await client.set_backlog_wait_time(args.backlog_wait_time)
            if failure is not None:
                await client.set_failure(failure, confirm=args.force)

    trio.run(run)
    return 0
