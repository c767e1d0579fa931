"""Helpers of the hardening tests: bounded record storms, RSS, a foreign daemon.

A *storm* is made of ``AUDIT_USER`` messages sent on an independent raw
socket (the kernel turns each into one ``USER`` record, type 1005, while
auditing is enabled). They are sent without ``NLM_F_ACK`` so the kernel
answers only on error, and the sender never waits: thousands of records per
second, bounded by ``count``. The records carry a tag so a test can tell its
own records from anything else the machine logs.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.kernelstate import HEADER, NETLINK_AUDIT

AUDIT_USER = 1005
NLM_F_REQUEST = 0x1
#: Hard upper bound on any storm a test may send.
MAX_STORM = 50_000
HOLDER = Path(__file__).with_name("daemon_holder.py")


def storm(count: int, tag: str, *, payload_size: int = 0) -> float:
    """Send *count* tagged user messages as fast as possible; return the seconds it took.

    Each message text is ``"<tag> n=<i>"`` padded with ``x`` up to
    *payload_size* bytes.
    """
    if not 0 < count <= MAX_STORM:
        raise ValueError(f"storm of {count} messages is out of bounds (1..{MAX_STORM})")
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    try:
        sock.bind((0, 0))
        started = time.monotonic()
        for index in range(count):
            # The kernel treats the last byte as the C string terminator.
            text = f"{tag} n={index}".encode().ljust(payload_size, b"x") + b"\0"
            sock.send(HEADER.pack(16 + len(text), AUDIT_USER, NLM_F_REQUEST, index + 1, 0) + text)
        return time.monotonic() - started
    finally:
        sock.close()


def send_user_message(text: bytes) -> None:
    """Send one user message (with ACK) and raise OSError if the kernel refuses it.

    *text* is sent as a C string (a NUL is appended), as libaudit does.
    """
    text += b"\0"
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    try:
        sock.bind((0, 0))
        sock.settimeout(5)
        sock.send(HEADER.pack(16 + len(text), AUDIT_USER, NLM_F_REQUEST | 0x4, 1, 0) + text)
        while True:
            reply = sock.recv(65536)
            _length, msg_type, _flags, seq, _pid = HEADER.unpack_from(reply)
            if msg_type == 2 and seq == 1:
                (error,) = struct.unpack_from("=i", reply, 16)
                if error < 0:
                    raise OSError(-error, os.strerror(-error))
                return
    finally:
        sock.close()


class KernelLog:
    """The kernel log's messages (``/dev/kmsg``, root) from now on.

    When the kernel gives up delivering a record to the audit daemon it writes the
    record to its log instead (``kauditd_printk_skb``), rate-limited: beyond the
    limit it later says only ``kauditd_printk_skb: N callbacks suppressed``. Those
    are the places a record a reader never received can be, if the reader itself
    lost nothing.
    """

    def __init__(self) -> None:
        self._fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self._fd, 0, os.SEEK_END)
        self.texts: list[str] = []

    def read(self) -> list[str]:
        """Every message since this log was opened (reads what is new)."""
        while True:
            try:
                entry = os.read(self._fd, 8192)
            except BlockingIOError:
                return self.texts
            except BrokenPipeError:  # overwritten before we read it: go on
                continue
            self.texts.append(entry.decode("utf-8", "replace").split(";", 1)[-1].rstrip("\n"))

    def suppressed_records(self) -> int:
        """How many audit records the kernel did not print for its rate limit."""
        total = 0
        for text in self.read():
            if text.startswith("kauditd_printk_skb: ") and text.endswith(" callbacks suppressed"):
                total += int(text.split()[1])
        return total

    def close(self) -> None:
        os.close(self._fd)


def rss_bytes() -> int:
    """Resident set size of this process, from /proc."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def foreign_daemon() -> Iterator[subprocess.Popen[str]]:
    """A live process registered as the audit daemon; killed on exit."""
    proc = subprocess.Popen([sys.executable, str(HOLDER)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "ready", f"holder failed to register: {line!r}"
        yield proc
    finally:
        proc.kill()
        proc.wait()
