"""systemd's readiness protocol (``sd_notify``), spoken without libsystemd.

Under ``Type=notify`` systemd passes ``$NOTIFY_SOCKET``, a ``AF_UNIX`` datagram
socket (a path, or ``@name`` in the abstract namespace), and waits for ``READY=1``
before it counts the service as started -- so units ordered after the daemon start
only once the rules are loaded and the outputs are open. ``STOPPING=1`` says a stop
has begun, ``RELOADING=1`` (then ``READY=1``) brackets a SIGHUP reload, ``STATUS=``
is what ``systemctl status`` shows and ``WATCHDOG=1`` keeps a ``WatchdogSec=``
service alive. The facts are systemd's ``sd_notify(3)``; the code is ours.

Without ``$NOTIFY_SOCKET`` (not started by systemd) every call does nothing. A
failure to send is logged once and never stops the daemon: readiness is a courtesy
to the service manager, not part of auditing.
"""

from __future__ import annotations

import logging
import os
import socket

__all__ = ["Notifier", "watchdog_interval"]

log = logging.getLogger("trioaudit.daemon")


class Notifier:
    """Sends ``sd_notify`` states to ``$NOTIFY_SOCKET`` (when there is one)."""

    def __init__(self, address: str | None = None) -> None:
        if address is None:
            address = os.environ.get("NOTIFY_SOCKET") or None
        if address is not None and address.startswith("@"):
            address = "\0" + address[1:]  # the abstract namespace
        self.address = address
        self.sent: list[str] = []
        self._failed = False

    def notify(self, *states: str) -> bool:
        """Send ``KEY=VALUE`` states in one datagram; whether it was sent."""
        if self.address is None:
            return False
        message = "\n".join(states)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message.encode("utf-8", "replace"), self.address)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot notify systemd at %r: %s", self.address, exc)
                self._failed = True
            return False
        self.sent.append(message)
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def reloading(self) -> bool:
        return self.notify("RELOADING=1", "STATUS=reloading the configuration and rules")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1", "STATUS=stopping: flushing the outputs")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")


def watchdog_interval() -> float | None:
    """Half of ``$WATCHDOG_USEC`` in seconds, when the watchdog is meant for us
    (``$WATCHDOG_PID`` unset or ours), as ``sd_watchdog_enabled`` decides."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2e6 if value > 0 else None
