"""Fuzz interpretation with kernel-encoded hostile values (sockaddr, hex, EXECVE).

The input is split by FuzzedDataProvider into untrusted byte strings that
are encoded the way the kernel encodes them (quoted when plain printable
ASCII, upper-case hex otherwise) into SYSCALL, EXECVE (plain and split
``aN[i]`` forms), PROCTITLE, SOCKADDR and PATH records, plus free-form
values for classified fields (uid, mode, perm, exit, cap_*...). Invariants:

* parsing gives back exactly the encoded bytes (comm, argv, proctitle);
* ``decode_sockaddr`` and interpretation never raise;
* JSON output is valid UTF-8 JSON with nothing a terminal acts on, and the
  text output holds only printable characters.

Run: ``.venv/bin/python fuzz/fuzz_interpret.py -atheris_runs=1000000``
"""

from __future__ import annotations

import json
import re

import atheris

with atheris.instrument_imports(include=["trioaudit"]):
    from trioaudit._output.formats import render_event
    from trioaudit._records.interpret import (
        Interpreter,
        StaticSystemDatabase,
        decode_sockaddr,
    )
    from trioaudit._records.parse import RecordParseError, parse_kernel_record
    from trioaudit._records.reassembly import Reassembler

from _common import run

STAMP = "audit(1795714536.840:4771): "
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
INTERPRETER = Interpreter(StaticSystemDatabase({0: "root"}, {0: "root"}), use_enrichment=False)
FIELDS = ["uid", "gid", "auid", "mode", "perm", "exit", "a0", "a2", "cap_fp", "ouid", "res",
          "success", "flags", "proto", "family", "sig", "inode", "oflag", "prot", "syscall",
          "arch", "saddr", "proctitle", "name", "nametype", "cap_pe", "item"]  # fmt: skip


def kernel_value(data: bytes) -> str:
    if all(0x21 <= byte <= 0x7E and byte != 0x22 for byte in data):
        return f'"{data.decode("ascii")}"'
    return data.hex().upper()


def back(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def check(record_type: int, body: str) -> None:
    try:
        record = parse_kernel_record(record_type, STAMP + body)
    except RecordParseError:
        return
    INTERPRETER.interpret_items(record)
    reassembler = Reassembler()
    for event in reassembler.feed(record, 0.0) + reassembler.flush_all():
        for raw in (False, True):
            text = render_event(event, "json", raw=raw)
            assert UNSAFE.search(text) is None, text
            json.loads(text.encode("utf-8"))
            for line in render_event(event, "text", raw=raw).split("\n"):
                assert line.isprintable(), line


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    which = fdp.ConsumeIntInRange(0, 4)
    if which == 0:
        comm = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))
        exe = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))
        body = (
            "arch=c000003e syscall=59 success=yes exit=0 uid=0 "
            f"comm={kernel_value(comm)} exe={kernel_value(exe)}"
        )
        record = parse_kernel_record(1300, STAMP + body)
        assert back(record.raw_fields["comm"]) == comm
        assert back(record.raw_fields["exe"]) == exe
        check(1300, body)
    elif which == 1:
        argv = [
            fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 20))
            for _ in range(fdp.ConsumeIntInRange(1, 6))
        ]
        split = fdp.ConsumeIntInRange(0, len(argv))
        parts = [f"argc={len(argv)}"]
        for index, arg in enumerate(argv):
            if index == split and len(arg) >= 2:
                encoded = arg.hex().upper()
                cut = (len(encoded) // 4) * 2
                parts += [
                    f"a{index}_len={len(encoded)}",
                    f"a{index}[0]={encoded[:cut]}",
                    f"a{index}[1]={encoded[cut:]}",
                ]
            else:
                parts.append(f"a{index}={kernel_value(arg)}")
        body = " ".join(parts)
        record = parse_kernel_record(1309, STAMP + body)
        assert record.argv is not None and [back(arg) for arg in record.argv] == argv, (
            argv,
            record.argv,
        )
        check(1309, body)
    elif which == 2:
        raw = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
        decode_sockaddr(raw)
        check(1306, f"saddr={raw.hex().upper() or '00'}")
    elif which == 3:
        title = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 60))
        body = f"proctitle={kernel_value(title)}"
        record = parse_kernel_record(1327, STAMP + body)
        assert record.argv is not None
        assert (
            b"\0".join(back(arg) for arg in record.argv) == title.rstrip(b"\0") or b"\0\0" in title
        )
        check(1327, body)
    else:
        record_type = fdp.PickValueInList(
            [1300, 1302, 1306, 1309, 1327, 1400, 1100, 1124, 1324, 1005]
        )
        items = []
        for _ in range(fdp.ConsumeIntInRange(0, 8)):
            name = fdp.PickValueInList(FIELDS)
            value = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 24)).replace(" ", "")
            items.append(f"{name}={value or '0'}")
        check(record_type, "arch=c000003e syscall=2 " + " ".join(items))


SEEDS = [
    bytes([0]) + b"\x05abc\x1b[31m",
    bytes([1, 3]) + b"ls\x00-l\xff",
    bytes([2]) + bytes.fromhex("02000050c0a80001"),
    bytes([4]) * 40,
]

if __name__ == "__main__":
    run("interpret", test_one_input, SEEDS)
