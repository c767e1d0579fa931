"""The contract between an output's queue and its network destination.

An output (:mod:`trioaudit._daemon.outputs`) owns a bounded queue and a disk spool;
it hands batches of already-encoded messages (one syslog message each, no framing)
to a :class:`Sender`, which frames them for its transport and delivers them. A
sender never retries by itself: when the destination fails it raises
:class:`SendFailed` saying how many leading messages of the batch are known to be
delivered, and the output decides what to do with the rest (spool them, reconnect
with backoff, send them again). That keeps one place -- the output -- responsible
for "nothing lost silently".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["SendFailed", "Sender"]


class SendFailed(OSError):
    """The destination failed during :meth:`Sender.connect` or :meth:`Sender.send`.

    Attributes:
        delivered: How many leading messages of the batch are known delivered
            (RELP: acknowledged; TCP: written to the socket before the error;
            UDP: sent). The output resends from there on.
    """

    def __init__(self, message: str, delivered: int = 0) -> None:
        super().__init__(message)
        self.delivered = delivered


class Sender(Protocol):
    """One connection to one destination, opened and closed by its output."""

    #: Where it sends, for logs and metrics labels (``syslog+tcp://127.0.0.1:514``).
    url: str

    async def connect(self) -> None:
        """Open the connection (and the TLS or RELP session); raise :class:`SendFailed`."""

    async def send(self, messages: Sequence[bytes]) -> None:
        """Deliver every message, in order, to this transport's guarantee; raise
        :class:`SendFailed` (with ``delivered``) when the destination fails."""

    async def aclose(self) -> None:
        """Close the connection; never raises, also after a failure."""
