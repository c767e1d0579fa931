"""``trioaudit status | enable | disable | set``: the kernel's audit settings.

``status`` prints what ``auditctl -s`` prints (same keys, same order) or, with
``--json``, the same data typed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import trio

from .._client import open_audit_client
from .._errors import AuditUsageError
from .._status import AuditStatus, FailureMode

_FAILURE_NAMES = {mode.name.lower(): mode for mode in FailureMode}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``status``, ``enable``, ``disable`` and ``set`` subcommands."""
    status = subparsers.add_parser("status", help="show the kernel's audit status (auditctl -s)")
    status.add_argument("--json", action="store_true", help="one JSON object instead of text")
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


def status_lines(status: AuditStatus) -> list[str]:
    """``auditctl -s`` lines for *status* (absent fields are left out, as auditctl does)."""
    lines = []
    for name, value in status.as_dict().items():
        if name == "mask" or name == "feature_bitmap" or value is None:
            continue
        lines.append(f"{name} {value}")
    return lines


def _status(args: argparse.Namespace) -> int:
    async def run() -> AuditStatus:
        async with open_audit_client("control") as client:
            return await client.get_status()

    status = trio.run(run)
    if args.json:
        data: dict[str, Any] = status.as_dict()
        del data["mask"]
        data["features"] = [flag.name.lower() for flag in status.features if flag.name]
        print(json.dumps(data))
    else:
        print("\n".join(status_lines(status)))
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
