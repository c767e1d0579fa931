"""Applying parsed rules files to the kernel: what ``rules load`` and the daemon share.

A rules file (:func:`trioaudit.rules.parse_rules_file`) is a list of commands:
control settings (``-e``, ``-f``, ``-b`` ...), ``-D``, and rules to add or delete.
They are sent in order; a command the kernel refuses is reported as ``NAME:LINE:
reason`` and, with ``keep_going``, the rest still go (augenrules' ``-c``). Settings
that cannot be undone before a reboot (``-e 2``, ``-f 2``, ``--loginuid-immutable``)
are refused unless *allow* is given: a file must never lock or panic a machine by
accident.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from .._errors import NetlinkError
from .._wire.status import FailureMode
from ..rules import AuditRule, CommandKind, ControlSetting, RulesFile, render_rule
from .client import AuditClient

__all__ = ["IRREVERSIBLE", "apply_control", "apply_rules_file", "send_rule"]

#: Settings that lock the kernel until reboot or can halt it.
IRREVERSIBLE = {("enabled", 2), ("failure", 2), ("loginuid_immutable", None)}


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


async def send_rule(client: AuditClient, rule: AuditRule, *, delete: bool) -> None:
    """Add (or delete) one rule; a refusal carries the rule's text as a note."""
    try:
        if delete:
            # The kernel matches deletes on flags too and never keeps the prepend bit.
            await client.delete_rule(rule.without_prepend())
        else:
            await client.add_rule(rule)
    except NetlinkError as exc:
        exc.add_note(f"rule: {render_rule(rule)}")
        raise


async def apply_control(client: AuditClient, setting: ControlSetting, allow: bool) -> None:
    """Apply one control setting (refusing the irreversible ones unless *allow*)."""
    irreversible = (setting.name, setting.value) in IRREVERSIBLE
    if irreversible and not allow:
        raise PermissionError(
            f"{setting.option} {setting.value if setting.value is not None else ''}".strip()
            + " cannot be undone before reboot; pass --allow-irreversible to apply it"
        )
    value = setting.value if setting.value is not None else 0
    if setting.name == "backlog_limit":
        await client.set_backlog_limit(value)
    elif setting.name == "rate_limit":
        await client.set_rate_limit(value)
    elif setting.name == "backlog_wait_time":
        await client.set_backlog_wait_time(value)
    elif setting.name == "failure":
        await client.set_failure(FailureMode(value), confirm=allow)
    elif setting.name == "enabled":
        if value == 2:
            await client.set_immutable(confirm=allow)
        else:
            await client.set_enabled(bool(value))
    elif setting.name == "loginuid_immutable":
        await client.set_feature("loginuid_immutable", True, lock=True, confirm=allow)
    elif setting.name == "reset_lost":
        await client.reset_lost()
    # ignore_errors / continue_on_error only change how the file is applied.


async def apply_rules_file(
    client: AuditClient,
    parsed: RulesFile,
    name: str,
    *,
    keep_going: bool,
    allow: bool,
    report: Callable[[str], None] = _stderr,
) -> int:
    """Send *parsed*'s commands in order; report each refusal as ``name:line: reason``.
    Returns the number of refusals."""
    failures = 0
    for command in parsed.commands:
        try:
            if command.kind is CommandKind.CONTROL:
                for setting in command.controls:
                    await apply_control(client, setting, allow)
            elif command.kind is CommandKind.DELETE_ALL:
                await client.delete_all_rules(key=command.key)
            else:
                assert command.rule is not None
                await send_rule(client, command.rule, delete=command.kind is CommandKind.DELETE)
        except (NetlinkError, PermissionError) as exc:
            failures += 1
            report(f"{name}:{command.line}: {exc}")
            if not keep_going:
                return failures
    return failures
