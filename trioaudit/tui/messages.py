"""Messages up: from the audit source and from the screens to the app.

The app sets attributes (and calls methods) down; nothing below it holds the
app or the source. A screen that needs the kernel posts
:class:`CommandRequested`; the app sends the command to the source, whose
answer comes back as :class:`CommandFinished` carrying the command, so it is
routed by the command's ``action``.

The source posts its messages from trio code running as a guest on Textual's own
asyncio loop, i.e. on the same thread, so ``App.post_message`` is a plain call.
Events travel in batches: Textual's message queue is unbounded, so one
message per event under a flood would grow memory and starve rendering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from textual.message import Message

from .._records.model import AuditEvent
from .model import Command, StatusSnapshot


@dataclass
class EventsArrived(Message):
    """A batch of reassembled events, oldest first.

    ``consumed`` is called by the app once the batch is handled: the source
    posts its next batch only then, so at most one batch waits in Textual's
    (unbounded) message queue and a flood backs up into the source's bounded
    channels instead, where drops are counted.
    """

    events: tuple[AuditEvent, ...]
    consumed: Callable[[], object] | None = None


@dataclass
class StatusUpdated(Message):
    """A fresh status snapshot; only the newest matters, so older ones are replaced."""

    snapshot: StatusSnapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StatusUpdated)


@dataclass
class CommandRequested(Message):
    """A screen asks for *command* to be sent to the kernel.

    Screens never hold the source: the app does, and it alone decides whether
    the command can go (a replay has no kernel, a full queue means busy).
    """

    command: Command


@dataclass
class CommandFinished(Message):
    """The kernel answered *command* (``error`` is None on success; ``result`` its reply)."""

    command: Command
    error: str | None = None
    result: object = field(default=None)


@dataclass
class SourceFailed(Message):
    """The audit source stopped with an error (shown, never a crash).

    ``denied`` means the kernel refused us for lack of privileges: the app then
    explains what is missing and how to replay a log instead.
    """

    error: str
    denied: bool = False
