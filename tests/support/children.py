"""Child processes for CLI tests: started and always reaped, read without hanging."""

from __future__ import annotations

import contextlib
import os
import selectors
import subprocess
import time
from collections.abc import Iterator
from typing import IO


def read_line(stream: IO[str] | None, timeout: float = 10.0) -> str:
    """The next line of a child's pipe, failing after *timeout* instead of hanging.

    Read byte by byte from the file descriptor, past the text layer: nothing
    is buffered that a later call or ``communicate()`` would not see.
    """
    assert stream is not None
    line = bytearray()
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stream.fileno(), selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0 and selector.select(left), f"no whole line in {timeout}s: {line!r}"
            byte = os.read(stream.fileno(), 1)
            if not byte:  # end of file: the child closed it
                break
            line += byte
    return line.decode()


@contextlib.contextmanager
def started(*argv: str, stdout: int = subprocess.DEVNULL) -> Iterator[subprocess.Popen[str]]:
    """*argv* with stderr piped (text); killed and reaped when the block ends."""
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def wait_until_listening(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> str:
    """Wait for ``trioaudit tail``'s start-up line; return the stderr read up to it.

    The line comes once the client is registered, ``--enable`` has taken effect
    and the event stream is open. Waiting for the pid alone races with
    ``--enable``: the kernel logs a CONFIG_CHANGE only while auditing is on, so
    a change made in between produces no record at all.
    """
    seen = ""
    deadline = time.monotonic() + 10
    while "trioaudit: listening" not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"tail never said it was listening; stderr so far: {seen!r}"
        line = read_line(proc.stderr, timeout=left)  # type: ignore[arg-type]
        assert line, f"tail closed stderr before listening: {seen!r}"
        seen += line
    return seen
