"""``trioaudit status | enable | disable | set``: the kernel's audit settings.

``status`` prints what ``auditctl -s`` prints (same keys, same order, including
``loginuid_immutable`` from ``AUDIT_GET_FEATURE``) or, with ``--json``, the
same data typed. ``status --watch`` is in :mod:`trioaudit.cli.statuswatch`.
"""

from __future__ import annotations

import argparse
import errno
import json
from typing import Any

import trio

from .._errors import AuditUsageError, NetlinkError
from .._trio.client import AuditClient, open_audit_client
from .._wire.control import AuditFeature, AuditFeatures
from .._wire.status import AuditStatus, FailureMode

_FAILURE_NAMES = {mode.name.lower(): mode for mode in FailureMode}
#: ``auditctl -s -i`` words for ``enabled`` and ``failure`` (its own spelling, "disable" included).
_INTERPRETED = {
    "enabled": {0: "disable", 1: "enabled", 2: "enabled+immutable"},
    "failure": {0: "silent", 1: "printk", 2: "panic"},
}


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


def status_lines(
    status: AuditStatus, features: AuditFeatures | None = None, *, interpret: bool = False
) -> list[str]:
    """``auditctl -s`` lines for *status* (absent fields are left out, as auditctl does).

    *features* (the ``AUDIT_GET_FEATURE`` reply) adds the ``loginuid_immutable``
    line auditctl prints last; None (a kernel without the feature API) omits it.
    *interpret* spells ``enabled`` and ``failure`` as ``auditctl -s -i`` does.
    """
    lines = []
    for name, value in status.as_dict().items():
        if name == "mask" or name == "feature_bitmap" or value is None:
            continue
        if interpret and name in _INTERPRETED:
            lines.append(f"{name} {_INTERPRETED[name].get(value, 'unknown')}")
            continue
        lines.append(f"{name} {value}")
    state = features.state(AuditFeature.LOGINUID_IMMUTABLE) if features else None
    if state is not None:
        lines.append(state.status_line())
    return lines


def status_json(status: AuditStatus, features: AuditFeatures | None = None) -> dict[str, Any]:
    """The data of :func:`status_lines`, typed, for ``--json``."""
    data: dict[str, Any] = status.as_dict()
    del data["mask"]
    data["features"] = [flag.name.lower() for flag in status.features if flag.name]
    state = features.state(AuditFeature.LOGINUID_IMMUTABLE) if features else None
    if state is not None:
        data["loginuid_immutable"] = {"value": int(state.value), "locked": state.locked}
    return data


async def read_status(client: AuditClient) -> tuple[AuditStatus, AuditFeatures | None]:
    """Status and features, as ``auditctl -s`` asks for them (features may be absent)."""
    status = await client.get_status()
    try:
        features: AuditFeatures | None = await client.get_features()
    except NetlinkError as exc:
        if exc.errno != errno.EINVAL:  # EINVAL: a kernel without the feature API
            raise
        features = None
    return status, features


def _status(args: argparse.Namespace) -> int:
    if args.watch is not None:
        from .statuswatch import watch_status

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
