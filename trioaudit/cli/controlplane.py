"""The rest of ``auditctl``'s non-rule control operations as ``trioaudit`` subcommands.

==============================================  ==========================================
``trioaudit reset-lost``                        ``auditctl --reset-lost``
``trioaudit reset-backlog-wait-time-actual``    ``auditctl --reset_backlog_wait_time_actual``
``trioaudit log TEXT``                          ``auditctl -m TEXT``
``trioaudit features [set NAME 0|1 [--lock]]``  ``auditctl --loginuid-immutable`` (and more)
``trioaudit signal-info``                       (libaudit ``audit_request_signal_info``)
``trioaudit tty [set on|off -- COMMAND]``       (pam_tty_audit's ``AUDIT_TTY_GET/SET``)
``trioaudit trim``                              ``auditctl -t``
``trioaudit signal-daemon TERM|HUP|...``        ``auditctl --signal``
``trioaudit immutable --force``                 ``auditctl -e 2``
==============================================  ==========================================

TTY auditing is a per-process setting that children inherit, so setting it for
the short-lived ``trioaudit`` process alone would be pointless: ``tty set``
therefore runs a COMMAND (``exec``) with the new setting, the way ``nice`` or
``env`` do.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from .._errors import AuditUsageError
from .._trio.client import AuditClient, open_audit_client
from .._wire.control import (
    DAEMON_SIGNALS,
    AuditFeature,
    FeatureState,
    daemon_signal,
    feature_by_name,
    user_message_type,
)
from . import exitcodes

__all__ = ["compose_user_message", "register"]

_T = TypeVar("_T")
_ON_OFF = {"on": True, "1": True, "yes": True, "off": False, "0": False, "no": False}
#: The smallest byte auditctl -m lets through (it refuses control characters).
_FIRST_PRINTABLE = 0x20


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the control-plane subcommands."""
    reset = subparsers.add_parser(
        "reset-lost", help="reset the kernel's lost counter, print its old value (--reset-lost)"
    )
    reset.add_argument("--json", action="store_true", help='print {"lost": N}')
    reset.set_defaults(func=_reset_lost)

    reset_wait = subparsers.add_parser(
        "reset-backlog-wait-time-actual",
        help="reset backlog_wait_time_actual, print its old value",
    )
    reset_wait.add_argument("--json", action="store_true", help="print a JSON object")
    reset_wait.set_defaults(func=_reset_backlog_wait_time_actual)

    log = subparsers.add_parser(
        "log",
        help="write a message into the audit trail (auditctl -m)",
        description="Send a user message to the kernel, which records it with the sender's "
        "pid, uid, auid and session (needs CAP_AUDIT_WRITE). By default the text is wrapped "
        "the way auditctl -m does: 'text=TEXT exe=... hostname=... addr=? terminal=... "
        "res=success'. Auditing must be enabled for the kernel to record it.",
    )
    log.add_argument("text", help="the message")
    log.add_argument(
        "--type",
        default="USER",
        help="USER (1005, default) or a type in 1100-1199 / 2100-2999, by number or name",
    )
    log.add_argument("--raw", action="store_true", help="send TEXT as is, without the fields")
    log.add_argument("--failed", action="store_true", help="res=failed instead of res=success")
    log.set_defaults(func=_log)

    features = subparsers.add_parser(
        "features",
        help="show or set kernel audit features (loginuid_immutable...)",
        description="Without arguments: each feature's value and lock, as auditctl -s prints "
        "loginuid_immutable.",
    )
    features.add_argument("--json", action="store_true", help="one JSON object")
    features.set_defaults(func=_features_get)
    feature_actions = features.add_subparsers(dest="action", metavar="ACTION")
    feature_set = feature_actions.add_parser("set", help="set one feature")
    feature_set.add_argument(
        "name", choices=[feature.feature_name for feature in AuditFeature], help="the feature"
    )
    feature_set.add_argument("value", choices=sorted(_ON_OFF), help="new value")
    feature_set.add_argument(
        "--lock", action="store_true", help="lock it until reboot (needs --force)"
    )
    feature_set.add_argument(
        "--force", action="store_true", help="confirm --lock: it cannot be undone"
    )
    feature_set.add_argument("--json", action="store_true", help="print the new state as JSON")
    feature_set.set_defaults(func=_features_set)

    signal_info = subparsers.add_parser(
        "signal-info",
        help="who last signalled the audit daemon (AUDIT_SIGNAL_INFO)",
        description="uid, pid and security context of the process that last sent "
        "SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 to the registered audit daemon (pid 0: nobody).",
    )
    signal_info.add_argument("--json", action="store_true", help="one JSON object")
    signal_info.set_defaults(func=_signal_info)

    tty = subparsers.add_parser(
        "tty",
        help="show TTY auditing of this session, or run a command with it set",
        description="TTY auditing is per process and inherited: 'trioaudit tty' shows the "
        "setting it inherited from its parent; 'trioaudit tty set on -- bash' runs bash "
        "(and everything it starts) with keystroke auditing.",
    )
    tty.add_argument("--json", action="store_true", help="one JSON object")
    tty.set_defaults(func=_tty_get)
    tty_actions = tty.add_subparsers(dest="action", metavar="ACTION")
    tty_set = tty_actions.add_parser("set", help="run COMMAND with TTY auditing on or off")
    tty_set.add_argument("value", choices=sorted(_ON_OFF), help="TTY auditing on or off")
    tty_set.add_argument(
        "--log-passwd", action="store_true", help="also record input while echo is off"
    )
    tty_set.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    tty_set.set_defaults(func=_tty_set)

    trim = subparsers.add_parser(
        "trim", help="drop watch subtrees whose mounts are gone (auditctl -t)"
    )
    trim.set_defaults(func=_trim)

    signal_daemon = subparsers.add_parser(
        "signal-daemon",
        help="send the registered audit daemon a signal (auditctl --signal)",
        description="; ".join(f"{name}: {what}" for name, (_, what) in DAEMON_SIGNALS.items()),
    )
    signal_daemon.add_argument("signal", type=str.upper, choices=sorted(DAEMON_SIGNALS))
    signal_daemon.set_defaults(func=_signal_daemon)

    immutable = subparsers.add_parser(
        "immutable",
        help="lock the audit configuration until reboot (auditctl -e 2)",
        description="After this no setting or rule can change until the machine reboots "
        "(every attempt fails with EPERM). Needs --force.",
    )
    immutable.add_argument("--force", action="store_true", help="yes, lock it until reboot")
    immutable.set_defaults(func=_immutable)


def _run(operation: Callable[[AuditClient], Awaitable[_T]]) -> _T:
    async def main() -> _T:
        async with open_audit_client("control") as client:
            return await operation(client)

    return trio.run(main)


def _print(args: argparse.Namespace, data: dict[str, Any], text: str) -> int:
    print(json.dumps(data) if getattr(args, "json", False) else text)
    return exitcodes.OK


# ---- counters ------------------------------------------------------------------------


def _reset_lost(args: argparse.Namespace) -> int:
    old = _run(lambda client: client.reset_lost())
    return _print(args, {"lost": old}, f"lost: {old}")


def _reset_backlog_wait_time_actual(args: argparse.Namespace) -> int:
    old = _run(lambda client: client.reset_backlog_wait_time_actual())
    return _print(args, {"backlog_wait_time_actual": old}, f"backlog_wait_time_actual: {old}")


# ---- user messages -------------------------------------------------------------------


def _encode_value(value: str) -> str:
    """Quote *value*, or hex-encode it when quoting would be ambiguous (as libaudit does)."""
    data = value.encode("utf-8", "surrogateescape")
    if any(byte == 0x22 or byte < 0x21 or byte == 0x7F for byte in data):
        return data.hex().upper()
    return f'"{value}"'


def _terminal() -> str | None:
    for fd in (0, 1, 2):
        try:
            name = os.ttyname(fd)
        except OSError:
            continue
        return name.removeprefix("/dev/")
    return None


def compose_user_message(
    text: str, *, exe: str | None, terminal: str | None, hostname: str | None, success: bool
) -> str:
    """The message ``auditctl -m TEXT`` sends (libaudit's ``audit_log_user_message``).

    ``text=TEXT exe="/path" hostname=H addr=? terminal=T res=success``; the
    hostname is only filled in for a local terminal, and no address is known.
    """
    exe_field = _encode_value(exe) if exe else '"?"'
    local = terminal is not None and terminal.startswith(("pts", "tty", "/dev/tty"))
    host = hostname if local and hostname else "?"
    return (
        f"text={text} exe={exe_field} hostname={host} addr=? "
        f"terminal={terminal or '?'} res={'success' if success else 'failed'}"
    )


def _log(args: argparse.Namespace) -> int:
    if any(ord(char) < _FIRST_PRINTABLE for char in args.text):
        raise AuditUsageError("illegal (control) character in the message")
    msg_type = user_message_type(args.type)
    if args.raw:
        message = args.text
    else:
        try:
            exe: str | None = os.readlink("/proc/self/exe")
        except OSError:
            exe = None
        message = compose_user_message(
            args.text,
            exe=exe,
            terminal=_terminal(),
            hostname=socket.gethostname(),
            success=not args.failed,
        )
    _run(lambda client: client.send_user_message(message, type=msg_type))
    return exitcodes.OK


# ---- features ------------------------------------------------------------------------


def _feature_json(states: list[FeatureState]) -> dict[str, Any]:
    return {state.name: {"value": int(state.value), "locked": state.locked} for state in states}


def _features_get(args: argparse.Namespace) -> int:
    features = _run(lambda client: client.get_features())
    states = features.states()
    return _print(args, _feature_json(states), "\n".join(s.status_line() for s in states))


def _features_set(args: argparse.Namespace) -> int:
    if args.lock and not args.force:
        raise AuditUsageError(f"--lock keeps {args.name} as it is until reboot; add --force")
    feature = feature_by_name(args.name)
    value = _ON_OFF[args.value]
    state = _run(
        lambda client: client.set_feature(feature, value, lock=args.lock, confirm=args.force)
    )
    return _print(args, _feature_json([state]), state.status_line())


# ---- signal info ---------------------------------------------------------------------


def _signal_info(args: argparse.Namespace) -> int:
    info = _run(lambda client: client.get_signal_info())
    text = f"uid {info.uid}\npid {info.pid}"
    if info.context is not None:
        text += f"\ncontext {info.context}"
    data = {"uid": info.uid, "pid": info.pid, "context": info.context}
    return _print(args, data, text)


# ---- TTY -----------------------------------------------------------------------------


def _tty_get(args: argparse.Namespace) -> int:
    status = _run(lambda client: client.get_tty_audit())
    data = {"enabled": status.enabled, "log_passwd": status.log_passwd}
    text = f"enabled {int(status.enabled)}\nlog_passwd {int(status.log_passwd)}"
    return _print(args, data, text)


def _tty_set(args: argparse.Namespace) -> int:
    command = list(args.command)
    log_passwd = args.log_passwd
    # REMAINDER keeps options written after the value ('set on --log-passwd -- sh').
    while command and command[0] == "--log-passwd":
        log_passwd = True
        command = command[1:]
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise AuditUsageError(
            "TTY auditing applies to a process and its children: give the command to run, "
            "e.g. 'trioaudit tty set on -- bash'"
        )
    enabled = _ON_OFF[args.value]
    _run(lambda client: client.set_tty_audit(enabled, log_passwd))
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        raise AuditUsageError(f"command not found: {command[0]}") from None


# ---- trim, daemon signals, immutable -------------------------------------------------


def _trim(args: argparse.Namespace) -> int:
    _run(lambda client: client.trim())
    return exitcodes.OK


def _signal_daemon(args: argparse.Namespace) -> int:
    signum = daemon_signal(args.signal)
    pid = _run(lambda client: client.signal_daemon(signum))
    print(f"sent SIG{args.signal} to the audit daemon (pid {pid})")
    return exitcodes.OK


def _immutable(args: argparse.Namespace) -> int:
    if not args.force:
        raise AuditUsageError(
            "immutable locks audit rules and settings until reboot; add --force if you mean it"
        )
    _run(lambda client: client.set_immutable(confirm=True))
    return exitcodes.OK
