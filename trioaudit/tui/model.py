"""Plain data the TUI displays: no Textual, no trio (easy to test and to fake)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._normalize import normalize as normalize_event
from .._output.formats import neutralise
from .._records.model import AuditEvent
from .._trio.client import ClientStatistics
from .._wire.status import AuditStatus

#: Default number of events the feed keeps.
DEFAULT_RING_SIZE = 10_000
#: Rate-limit step of the ``+``/``-`` keys.
RATE_LIMIT_STEP = 100
#: Backlog-limit step of the ``b``/``B`` keys.
BACKLOG_LIMIT_STEP = 1024


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """What the status panel shows, assembled by the source once a second.

    Attributes:
        mode: ``"unicast"``, ``"multicast"`` or ``"replay"``.
        status: The kernel's status (None in replay mode).
        daemon_name: Process name of ``status.pid``, when /proc knows it.
        daemon_is_us: Whether the registered daemon is this process.
        client: The client's counters (None in replay mode).
        events_per_second: Events delivered during the last interval.
        records_per_second: Records delivered during the last interval.
        lost_per_second: Growth of the kernel's ``lost`` during the last interval.
        source: Where events come from (a file name in replay mode).
        replayed: Events a replay has delivered so far (replay mode only).
        replay_done: Whether the replay reached the end of its file.
    """

    mode: str
    status: AuditStatus | None = None
    daemon_name: str | None = None
    daemon_is_us: bool = False
    client: ClientStatistics | None = None
    events_per_second: float = 0.0
    records_per_second: float = 0.0
    lost_per_second: float = 0.0
    source: str = "kernel"
    replayed: int = 0
    replay_done: bool = False


@dataclass(frozen=True, slots=True)
class Command:
    """A request from the UI for the kernel (the source runs it, see :mod:`.bridge`).

    The :class:`~.messages.CommandFinished` that reports the answer carries it
    back, so the app knows by :attr:`action` what the answer is for.

    Attributes:
        action: One of ``set_enabled``, ``set_rate_limit``, ``set_backlog_limit``,
            ``list_rules``, ``add_rule``, ``delete_rule``.
        value: Its argument.
        description: Words for the notification that reports the answer.
    """

    action: str
    value: Any = None
    description: str = ""


ENABLED_WORDS = {0: "disabled", 1: "enabled", 2: "immutable (locked)"}
FAILURE_WORDS = {0: "silent", 1: "printk", 2: "panic"}


def safe(text: object) -> str:
    """Text from audit data made harmless for a terminal (no escape sequences)."""
    return neutralise(str(text))


def event_kind(event: AuditEvent) -> str:
    """A colour class for the feed: failure, denial, config, user or plain."""
    names = event.type_names
    if any("AVC" in n or n.endswith("_DENIED") or n.startswith("ANOM_") for n in names):
        return "denial"
    if event.success is False:
        return "failure"
    if any(n in ("CONFIG_CHANGE", "DAEMON_CONFIG", "FEATURE_CHANGE") for n in names):
        return "config"
    if names and names[0].startswith(("USER_", "CRED_", "LOGIN")):
        return "user"
    return "plain"


def event_summary(event: AuditEvent) -> str:
    """One short, human line about what happened (the feed's last column)."""
    first = event.records[0] if event.records else None
    if first is None:
        return ""
    name = first.type_name
    fields = first.fields
    if name == "SYSCALL":
        path = event.record("PATH")
        target = path.fields.get("name") if path is not None else None
        proctitle = event.record("PROCTITLE")
        command = proctitle.fields.get("proctitle") if proctitle is not None else None
        parts = [part for part in (command, target) if part and part != "(null)"]
        return " · ".join(parts)
    if name == "CONFIG_CHANGE":
        skip = {"auid", "ses", "subj", "res"}
        return " ".join(f"{k}={v}" for k, v in fields.items() if k not in skip)
    if "msg" in fields:
        return fields["msg"]
    return " ".join(f"{k}={v}" for k, v in list(fields.items())[:6])


def normalized_summary(event: AuditEvent) -> str:
    """The feed's summary with normalisation on: who did what to which object, how
    (aucoalesce's summary: docs/normalize.md), or the plain summary when it has none."""
    members = normalize_event(event)
    summary = members.get("summary", {}) if members is not None else {}
    action = summary.get("action")
    if not action:
        return event_summary(event)
    actor = summary.get("actor", {}).get("primary", "")
    target = summary.get("object", {})
    parts = [actor, action, target.get("primary") or target.get("type", "")]
    text = " ".join(part for part in parts if part)
    how = summary.get("how")
    return f"{text} · {how}" if how else text
