"""The start-up line of ``trioaudit tail``, word for word (no root).

What it says on the live kernel is checked in tests/kernel/test_tail_startup.py.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from trioaudit.cli.tail import EXAMPLE_RULE, listening_line


def test_listening_line_unicast_counts_rules() -> None:
    line = listening_line("unicast", pid=123, daemon_pid=123, daemon_name="python3", rules=3)
    assert line == "listening as the audit daemon (unicast, pid 123); 3 rules loaded"
    one = listening_line("unicast", pid=123, daemon_pid=123, daemon_name=None, rules=1)
    assert one.endswith("; 1 rule loaded")


def test_listening_line_multicast_names_the_daemon() -> None:
    assert listening_line("multicast", pid=9, daemon_pid=77, daemon_name="auditd", rules=12) == (
        "listening on multicast beside the audit daemon (pid 77, auditd); 12 rules loaded"
    )
    assert listening_line("multicast", pid=9, daemon_pid=77, daemon_name=None, rules=2) == (
        "listening on multicast beside the audit daemon (pid 77); 2 rules loaded"
    )
    assert listening_line("multicast", pid=9, daemon_pid=0, daemon_name=None, rules=2) == (
        "listening on multicast (no audit daemon registered); 2 rules loaded"
    )


def test_listening_line_without_rules_says_how_to_add_one() -> None:
    line = listening_line("unicast", pid=5, daemon_pid=5, daemon_name=None, rules=0)
    assert line == (
        "listening as the audit daemon (unicast, pid 5); no rules loaded, so only records that "
        "need none (config changes, logins) will arrive; add one with: "
        "trioaudit rules add '-a always,exit -F arch=b64 -S execve -k exec'"
    )
    assert EXAMPLE_RULE in line and "\n" not in line


def test_only_files_and_sinks_are_written_inline(tmp_path: Path) -> None:
    """tail writes regular files and /dev/null inline; pipes and terminals, which can
    stall, from a worker thread."""
    from trioaudit.cli.tail import _never_blocks

    with open(tmp_path / "out.jsonl", "w") as regular, open(os.devnull, "w") as sink:
        assert _never_blocks(regular)
        assert _never_blocks(sink)
    read_end, write_end = os.pipe()
    with os.fdopen(read_end) as reader, os.fdopen(write_end, "w") as pipe:
        assert not _never_blocks(pipe)
        assert reader.readable()
    leader, follower = os.openpty()
    with os.fdopen(leader, "w") as pty_leader, os.fdopen(follower, "w") as terminal:
        assert not _never_blocks(terminal)
        assert pty_leader.writable()
    assert not _never_blocks(io.StringIO())
