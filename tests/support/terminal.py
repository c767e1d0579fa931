"""Run a full-screen program in a pseudo-terminal and check what it left of the terminal.

The test keeps the terminal's other end (the slave) open, so the terminal
settings can still be read after the program has exited: a program that dies
in raw mode leaves them changed, and one that dies on the alternate screen
never wrote the sequence that leaves it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Sequence
from typing import Any

#: Switch to / back from the alternate screen (what Textual writes on start / exit).
ENTER_ALTERNATE_SCREEN = b"\x1b[?1049h"
LEAVE_ALTERNATE_SCREEN = b"\x1b[?1049l"
#: A control sequence (CSI), such as the mode switches written around the exit.
_CONTROL_SEQUENCE = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]")


class PtyProcess:
    """*argv* with a fresh pseudo-terminal as stdin, stdout and stderr.

    The program gets its own session, so the terminal is not its controlling
    terminal: signals come only from the test, never from the terminal.
    """

    def __init__(
        self, argv: Sequence[str], *, size: tuple[int, int] = (140, 40), env: dict[str, str]
    ) -> None:
        self.master, self.slave = os.openpty()
        columns, rows = size
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        #: The terminal settings before the program touched them.
        self.settings_before: list[Any] = termios.tcgetattr(self.slave)
        #: Everything the program wrote to the terminal.
        self.output = bytearray()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=self.slave,
            stdout=self.slave,
            stderr=self.slave,
            start_new_session=True,
            env={**env, "TERM": "xterm-256color"},
        )

    def read_for(self, seconds: float) -> None:
        """Collect output for *seconds* (the terminal must be drained, or the program blocks)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.output.extend(os.read(self.master, 65536))
                except OSError:
                    return

    def read_until(self, condition: Callable[[], bool], limit: float = 10.0) -> None:
        """Collect output until *condition* holds; fail after *limit* seconds."""
        deadline = time.monotonic() + limit
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met in {limit}s; output ends {self.tail()!r}")
            self.read_for(0.1)

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the exit (draining the terminal meanwhile); the return code."""
        self.read_until(lambda: self.proc.poll() is not None, timeout)
        self.read_for(0.2)
        return self.proc.returncode

    def tail(self, size: int = 400) -> bytes:
        return bytes(self.output[-size:])

    def after_alternate_screen(self) -> str:
        """The text written after leaving the alternate screen, control sequences removed."""
        end = self.output.rfind(LEAVE_ALTERNATE_SCREEN)
        text = self.output[end + len(LEAVE_ALTERNATE_SCREEN) :].decode(errors="replace")
        return _CONTROL_SEQUENCE.sub("", text)

    def terminal_problems(self) -> list[str]:
        """What the program left changed in the terminal (empty: it was restored)."""
        problems = []
        if termios.tcgetattr(self.slave) != self.settings_before:
            problems.append("terminal settings (raw mode) not restored")
        if self.output.rfind(ENTER_ALTERNATE_SCREEN) > self.output.rfind(LEAVE_ALTERNATE_SCREEN):
            problems.append("left on the alternate screen")
        return problems

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)
        os.close(self.slave)

    def __enter__(self) -> PtyProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
