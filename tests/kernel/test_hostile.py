"""Hostile content from a real process, end to end (live kernel, root).

The test creates a program whose path, name and arguments are attacker
controlled -- terminal escape sequences (colour, title, clear screen, OSC),
carriage returns and newlines, bytes that are not UTF-8, bidi overrides,
``key=value`` look-alikes, thousands of arguments and one argument longer
than an EXECVE record can hold -- runs it under an audit rule, and checks
the events trioaudit delivers:

* **faithful**: comm, exe, the PATH name and every argument come back as
  exactly the bytes the process used (surrogate escapes in Python, ``\\xNN``
  in JSON);
* **JSON valid**: valid UTF-8, parses, nothing a terminal acts on;
* **text neutralised**: the ``text`` format (``ausearch -i``-like) and the CLI's
  stdout contain only printable characters.

User messages (``AUDIT_USER``) that try to forge fields are checked the same
way: the kernel's own ``pid``/``uid`` are never overridden.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tests.support.children import wait_until_listening
from tests.support.hardening_helpers import send_user_message
from tests.support.kernelstate import MASK_ENABLED, RawAudit
from trioaudit import AuditMessageType, open_audit_client
from trioaudit._output.formats import render_event
from trioaudit._records.model import AuditEvent

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

KEY = f"trioaudit-hostile-{os.getpid()}"
#: A directory and program name an attacker could choose.
EVIL_DIR = b"evil\x1b[2J\x1b]0;owned\x07dir\nline\xff\xfe"
EVIL_NAME = b"\x1b[31mred\r\xe2\x80\xaeexe"
#: Arguments: escapes, invalid UTF-8, fake fields, quotes, a bidi override.
EVIL_ARGS = [
    b"\x1b[1;31mALERT\x1b[0m",
    b"\xff\xfe\xc3\x28",
    b' uid=0 auid=0 res=success key="x"',
    b"'\"quoted\" msg='fake'",
    b"\xe2\x80\xaeevil-bidi",
    b"\r\nfake line",
    b"\x9b31mC1",
]
#: Many arguments (the kernel spreads them over several EXECVE records).
MANY = 3000
#: One argument longer than an EXECVE record holds (the kernel splits it a<i>[n]).
LONG = 20_000
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
CLI = [sys.executable, "-m", "trioaudit.cli.main"]


def raw_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def json_bytes(text: str) -> bytes:
    """The bytes a JSON string stands for (``\\xNN`` marks a byte that was not UTF-8)."""
    return raw_bytes(re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(0xDC00 + int(m[1], 16)), text))


@pytest.fixture
def evil_program(tmp_path: Path) -> Iterator[bytes]:
    """A copy of /bin/true at a hostile path; yields the path as bytes."""
    directory = os.path.join(bytes(tmp_path), EVIL_DIR)
    os.mkdir(directory)
    program = os.path.join(directory, EVIL_NAME)
    shutil.copy(b"/bin/true", program)
    os.chmod(program, 0o755)
    yield program


@pytest.fixture
def hostile_rule() -> Iterator[str]:
    # Only our own children: other processes on the machine must not match.
    rule = ["-A", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", f"ppid={os.getpid()}"]
    rule += ["-F", f"key={KEY}"]
    subprocess.run(["auditctl", *rule], check=True, capture_output=True)
    yield KEY
    subprocess.run(["auditctl", "-d", *rule[1:]], capture_output=True)


def _run(program: bytes, args: list[bytes]) -> None:
    subprocess.run([program, *args], check=True, timeout=10)


def _check_outputs(event: AuditEvent) -> None:
    for raw in (False, True):
        document = render_event(event, "json", raw=raw)
        assert UNSAFE.search(document) is None
        json.loads(document.encode("utf-8"))
        for line in render_event(event, "records", raw=raw).split("\n"):
            assert UNSAFE.search(line) is None
            json.loads(line.encode("utf-8"))
        for line in render_event(event, "text", raw=raw).split("\n"):
            assert line.isprintable(), line


async def test_hostile_process_is_faithful_and_neutralised(
    raw_audit: RawAudit, evil_program: bytes, hostile_rule: str
) -> None:
    raw_audit.set_status(MASK_ENABLED, enabled=1)
    many = [f"m{i}".encode() for i in range(MANY)]
    argv_tail = [*EVIL_ARGS, b"L" * LONG, *many]
    found: AuditEvent | None = None
    with trio.fail_after(30):
        async with open_audit_client("unicast") as client, client.open_events() as events:
            await trio.to_thread.run_sync(_run, evil_program, argv_tail)
            async for event in events:
                if KEY in (event.keys or ()) and event.record("EXECVE") is not None:
                    found = event
                    break
    assert found is not None
    syscall = found.record("SYSCALL")
    assert syscall is not None
    assert raw_bytes(syscall.raw_fields["exe"]) == evil_program
    assert raw_bytes(syscall.raw_fields["comm"]) == os.path.basename(evil_program)[:15]
    paths = [
        raw_bytes(r.raw_fields.get("name", "")) for r in found.records if r.type_name == "PATH"
    ]
    assert evil_program in paths
    execve = [r for r in found.records if r.type == AuditMessageType.EXECVE]
    longest = max(len(r.raw) for r in found.records)
    print(
        f"\nFIGURES hostile-execve: argc={1 + len(argv_tail)} execve_records={len(execve)} "
        f"longest_record={longest}"
    )
    assert len(execve) > 1, "thousands of arguments span several EXECVE records"
    argv = found.argv
    assert argv is not None
    assert [raw_bytes(arg) for arg in argv] == [evil_program, *argv_tail]
    _check_outputs(found)
    # The JSON carries the whole argv once, faithfully (non-UTF-8 bytes as \xNN).
    document = json.loads(render_event(found, "json"))
    argvs = [r["argv"] for r in document["records"] if "argv" in r and r["type"] == "EXECVE"]
    assert len(argvs) == 1
    assert [json_bytes(arg) for arg in argvs[0]] == [evil_program, *argv_tail]


async def test_forged_user_messages_do_not_override_kernel_fields(raw_audit: RawAudit) -> None:
    raw_audit.set_status(MASK_ENABLED, enabled=1)
    tag = f"trioaudit-forge-{os.getpid()}"
    forgeries = [
        f"{tag} pid=1 uid=0 auid=0 ses=1 res=success",
        f"{tag}' pid=1 uid=0 res=success msg='",
        f'{tag} \x1b[2J\x1b]0;owned\x07 exe="/bin/su" hostname=? addr=? terminal=ssh',
        f"{tag} " + "x" * 8000,
    ]
    seen: dict[str, AuditEvent] = {}
    with trio.fail_after(20):
        async with open_audit_client("unicast") as client, client.open_events() as events:
            for text in forgeries:
                await trio.to_thread.run_sync(send_user_message, text.encode())
            async for event in events:
                record = event.records[0]
                if record.type == AuditMessageType.USER and tag in record.raw:
                    seen[record.raw] = event
                    if len(seen) == len(forgeries):
                        break
    for event in seen.values():
        record = event.records[0]
        assert record.raw_fields["pid"] == str(os.getpid())
        assert record.raw_fields["uid"] == str(os.getuid())
        assert event.pid == os.getpid()
        _check_outputs(event)
    longest = max(len(raw) for raw in seen)
    print(f"\nFIGURES hostile-user: messages={len(seen)} longest_record={longest}")


def test_cli_tail_stdout_is_neutralised(
    raw_audit: RawAudit, evil_program: bytes, hostile_rule: str
) -> None:
    outputs = {}
    for fmt in ("text", "json"):
        proc = subprocess.Popen(
            [
                *CLI,
                "tail",
                "--unicast",
                "--enable",
                "--duration",
                "10",
                "--format",
                fmt,
                "--filter",
                f"key={KEY}",
                "--count",
                "1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_until_listening(proc)
        _run(evil_program, EVIL_ARGS)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        outputs[fmt] = out
        text = out.decode("utf-8")  # valid UTF-8
        assert text, err
        for line in text.split("\n"):
            assert UNSAFE.search(line) is None, line
    event = json.loads(outputs["json"])
    assert any(r["type"] == "EXECVE" for r in event["records"])
    assert b"\x1b" not in outputs["text"] and b"\r" not in outputs["text"]
