"""``trioaudit rules list | add | delete | flush | load``: the kernel's audit rules.

The text forms are auditctl's: ``rules list`` prints exactly what ``auditctl -l``
prints (``--json`` gives one JSON object per rule instead), ``rules add`` and
``rules delete`` take rules as auditctl arguments, one quoted string per rule::

    trioaudit rules add '-a always,exit -F arch=b64 -S openat -F exit=-EACCES -k access'
    trioaudit rules load /etc/audit/rules.d/audit.rules --dry-run

``rules load`` reads an augenrules/``auditctl -R`` file. Every bad line is
reported with its number (``FILE:LINE:COLUMN: reason``) before anything is sent;
nothing is loaded when a line is bad unless ``--continue`` is given (or the file
itself says ``-c``/``-i``), in which case the good lines are applied in order.
Settings that cannot be undone before a reboot (``-e 2``, ``-f 2``,
``--loginuid-immutable``) are refused unless ``--allow-irreversible`` is given.

Talks to the kernel in ``control`` mode: no pid registration, no events, like
auditctl, so it is safe beside a running auditd.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import trio

from .._tables import syscalls as _syscalls
from .._trio.client import AuditClient, open_audit_client
from .._trio.rulesload import apply_rules_file, send_rule
from ..rules import (
    AuditRule,
    CommandKind,
    RuleCommand,
    RuleSyntaxError,
    parse_command,
    parse_rules_file,
    render_rule,
    render_rules,
)
from ..rules import _constants as C
from ..rules._render import field_text
from . import exitcodes

__all__ = ["register", "rule_to_json"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``rules`` subcommand and its actions."""
    rules = subparsers.add_parser(
        "rules",
        help="list, add, delete and load audit rules (auditctl -l/-a/-d/-D/-R)",
        description="Audit rules in auditctl syntax.",
    )
    actions = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="print the kernel's rules like auditctl -l")
    listing.add_argument("--json", action="store_true", help="one JSON object per rule")
    listing.add_argument("-k", "--key", help="only rules whose key contains KEY (auditctl -l -k)")
    listing.set_defaults(func=_run_list)

    add = actions.add_parser("add", help="add rules (auditctl -a/-A/-w)")
    add.add_argument("rule", nargs="+", help="one quoted auditctl rule per argument")
    add.set_defaults(func=_run_add)

    delete = actions.add_parser("delete", help="delete rules (auditctl -d/-W)")
    delete.add_argument("rule", nargs="+", help="one quoted auditctl rule per argument")
    delete.set_defaults(func=_run_delete)

    flush = actions.add_parser("flush", help="delete every rule (auditctl -D)")
    flush.add_argument("-k", "--key", help="only rules whose key contains KEY")
    flush.set_defaults(func=_run_flush)

    load = actions.add_parser("load", help="apply a rules file (auditctl -R)")
    load.add_argument("file", help="rules file, e.g. /etc/audit/audit.rules ('-' for stdin)")
    load.add_argument("--dry-run", action="store_true", help="check and print, send nothing")
    load.add_argument(
        "--continue",
        dest="keep_going",
        action="store_true",
        help="apply the good lines even if some are bad or refused by the kernel",
    )
    load.add_argument(
        "--allow-irreversible",
        action="store_true",
        help="apply -e 2, -f 2 and --loginuid-immutable (locks audit until reboot)",
    )
    load.set_defaults(func=_run_load)


# ---- JSON ----------------------------------------------------------------------------------
def rule_to_json(rule: AuditRule) -> dict[str, Any]:
    """A JSON-friendly description of a rule (the ``rules list --json`` objects)."""
    arch = rule.arch
    machine = _syscalls.ARCH_BY_AUDIT_ARCH.get(arch) if arch is not None else None
    table = machine or _host_machine()
    if rule.filter_list == C.FILTER_URING_EXIT:
        table = "io_uring"
    fields = []
    for f in rule.fields:
        entry: dict[str, Any] = {
            "field": f.name or f"f{f.field}",
            "op": C.OPERATOR_SYMBOLS.get(f.op, hex(f.op)),
        }
        entry["value"] = f.string if f.string is not None else f.value
        entry["text"] = field_text(f, watch=False).strip()  # as auditctl -l shows it
        fields.append(entry)
    return {
        "list": rule.list_name,
        "action": rule.action_name,
        "arch": machine,
        "all_syscalls": rule.all_syscalls,
        "syscalls": []
        if rule.all_syscalls
        else [_syscalls.syscall_name(table, n) or n for n in sorted(rule.syscalls)],
        "fields": fields,
        "keys": list(rule.keys),
        "rule": render_rule(rule),
    }


def _host_machine() -> str:
    import os

    return os.uname().machine


# ---- kernel helpers over the AuditClient rule methods ----------------------------------------
async def _list_rules(client: AuditClient) -> list[AuditRule]:
    return await client.list_rules()


def _run_in_client(body: Callable[[AuditClient], Any]) -> Any:
    async def main() -> Any:
        async with open_audit_client(mode="control") as client:
            return await body(client)

    return trio.run(main)


# ---- list / add / delete / flush -------------------------------------------------------------
def _run_list(args: argparse.Namespace) -> int:
    rules: list[AuditRule] = _run_in_client(_list_rules)
    if args.key is not None:
        rules = [rule for rule in rules if rule.matches_key(args.key)]
    if args.json:
        for rule in rules:
            print(json.dumps(rule_to_json(rule)))
    else:
        sys.stdout.write(render_rules(rules))
    return exitcodes.OK


def _parse_each(texts: Sequence[str], *, delete: bool) -> list[AuditRule]:
    rules = []
    for text in texts:
        try:
            command = parse_command(text)
        except RuleSyntaxError as exc:
            print(exc.caret(), file=sys.stderr)  # main() prints the message itself
            raise
        if command.rule is None:
            raise RuleSyntaxError(f"not a rule: {text!r}", text=text)
        if command.kind is CommandKind.DELETE and not delete:
            # "rules delete" accepts both spellings; "rules add" must not delete.
            raise RuleSyntaxError("rules add takes -a/-A/-w rules, not -d/-W", text=text)
        for warning in command.warnings:
            print(f"trioaudit: warning: {warning}", file=sys.stderr)
        rules.append(command.rule)
    return rules


def _run_add(args: argparse.Namespace) -> int:
    return _change(args.rule, delete=False)


def _run_delete(args: argparse.Namespace) -> int:
    return _change(args.rule, delete=True)


def _change(texts: Sequence[str], *, delete: bool) -> int:
    rules = _parse_each(texts, delete=delete)

    async def body(client: AuditClient) -> None:
        for rule in rules:
            await send_rule(client, rule, delete=delete)

    _run_in_client(body)
    return exitcodes.OK


def _run_flush(args: argparse.Namespace) -> int:
    key = args.key

    async def body(client: AuditClient) -> int:
        return await client.delete_all_rules(key=key)

    count = _run_in_client(body)
    print(f"deleted {count} rule{'s' if count != 1 else ''}", file=sys.stderr)
    return exitcodes.OK


# ---- load ----------------------------------------------------------------------------------------
def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def _describe(command: RuleCommand) -> str:
    if command.kind is CommandKind.CONTROL:
        return " ".join(
            f"{s.option}" + (f" {s.value}" if s.value is not None else "") for s in command.controls
        )
    if command.kind is CommandKind.DELETE_ALL:
        return "-D" + (f" -k {command.key}" if command.key else "")
    assert command.rule is not None
    text = render_rule(command.rule)
    if command.kind is CommandKind.DELETE:
        text = "-d" + text[2:] if text.startswith("-a") else "-W" + text[2:]
    return text


def _run_load(args: argparse.Namespace) -> int:
    name = args.file
    parsed = parse_rules_file(_read(name))
    for command in parsed.commands:
        for warning in command.warnings:
            print(f"{name}:{command.line}: warning: {warning}", file=sys.stderr)
    for error in parsed.errors:
        column = f"{error.column + 1}:" if error.column is not None else ""
        token = f" (at {error.token!r})" if error.token else ""
        print(f"{name}:{error.line}:{column} {error.reason}{token}", file=sys.stderr)
    file_says_continue = any(
        s.name in ("continue_on_error", "ignore_errors") for _, s in parsed.controls
    )
    keep_going = args.keep_going or file_says_continue
    if args.dry_run:
        for command in parsed.commands:
            print(f"{command.line}: {_describe(command)}")
        print(
            f"{name}: {len(parsed.commands)} commands, {len(parsed.rules)} rules, "
            f"{len(parsed.errors)} bad lines",
            file=sys.stderr,
        )
        return exitcodes.USAGE if parsed.errors else exitcodes.OK
    if parsed.errors and not keep_going:
        print(
            f"{name}: {len(parsed.errors)} bad line(s); nothing loaded (use --continue to "
            "load the rest)",
            file=sys.stderr,
        )
        return exitcodes.USAGE

    async def body(client: AuditClient) -> int:
        return await apply_rules_file(
            client, parsed, name, keep_going=keep_going, allow=args.allow_irreversible
        )

    failures: int = _run_in_client(body)
    applied = len(parsed.commands) - failures
    print(
        f"{name}: applied {applied} of {len(parsed.commands)} commands"
        + (f", {len(parsed.errors)} bad lines skipped" if parsed.errors else ""),
        file=sys.stderr,
    )
    if parsed.errors:
        return exitcodes.USAGE
    return exitcodes.FAILURE if failures else exitcodes.OK
