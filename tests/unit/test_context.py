"""Process ancestry and container context, without the kernel (see tests/kernel/test_context.py)."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest

from trioaudit._context import Container, ProcessEntry, ProcessTable, container_of, unit_of
from trioaudit._context.procfs import snapshot
from trioaudit._output.formats import events_text
from trioaudit._records.model import AuditEvent
from trioaudit._records.parse import parse_log_line

H = "a" * 32 + "0123456789abcdef" * 2  # 64 hex digits


@pytest.mark.parametrize(
    ("cgroup", "container", "unit"),
    [
        (f"0::/system.slice/docker-{H}.scope\n", Container("docker", H), None),
        (f"12:pids:/docker/{H}\n1:name=systemd:/docker/{H}\n", Container("docker", H), None),
        (
            f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-pod1.slice/cri-containerd-{H}.scope",
            Container("containerd", H),
            None,
        ),
        (f"0::/kubepods/besteffort/pod1234/{H}\n", Container("containerd", H), None),
        (f"0::/machine.slice/crio-{H}.scope\n", Container("cri-o", H), None),
        (
            f"0::/user.slice/user-1000.slice/user@1000.service/libpod-{H}.scope",
            Container("podman", H),
            "user@1000.service",
        ),
        (f"0::/machine.slice/libpod-conmon-{H}.scope\n", None, f"libpod-conmon-{H}.scope"),
        ("0::/lxc.payload.web1/init.scope\n", Container("lxc", "web1"), "init.scope"),
        ("4:memory:/lxc/db2\n0::/\n", Container("lxc", "db2"), None),
        ("4:memory:/process_api/3c992c07d8095c3567eef3ec7155fc08\n0::/\n", None, None),
        (
            "1:name=systemd:/system.slice/ssh.service\n0::/system.slice/ssh.service\n",
            None,
            "ssh.service",
        ),
        ("0::/user.slice/user-1000.slice/session-3.scope\n", None, "session-3.scope"),
        ("garbage without colons\n", None, None),
        ("", None, None),
    ],
)
def test_container_and_unit_from_cgroup_paths(
    cgroup: str, container: Container | None, unit: str | None
) -> None:
    assert container_of(cgroup) == container
    assert unit_of(cgroup) == unit


def _event(serial: int, *records: tuple[str, str]) -> AuditEvent:
    """An event of (type, fields) records stamped serial.000:serial."""
    parsed = []
    for rtype, fields in records:
        record = parse_log_line(f"type={rtype} msg=audit({serial}.000:{serial}): {fields}")
        assert record is not None
        parsed.append(record)
    return AuditEvent(serial, float(serial), None, tuple(parsed))


def _syscall(number: int, pid: int, ppid: int, exe: str) -> tuple[str, str]:
    fields = f"arch=c000003e syscall={number} success=yes exit=0 ppid={ppid} pid={pid}"
    return ("SYSCALL", f'{fields} comm="{Path(exe).name}" exe="{exe}"')


def _exec(serial: int, pid: int, ppid: int, exe: str, *argv: str) -> AuditEvent:
    # The kernel's form of an argument with spaces: hex.
    args = " ".join(f"a{i}={a.encode().hex().upper()}" for i, a in enumerate(argv))
    return _event(serial, _syscall(59, pid, ppid, exe), ("EXECVE", f"argc={len(argv)} {args}"))


def _call(serial: int, pid: int, ppid: int, syscall: int) -> AuditEvent:
    return _event(serial, _syscall(syscall, pid, ppid, "/x"))


def test_ancestry_follows_the_execs_of_the_stream() -> None:
    table = ProcessTable()
    table.observe(_exec(1, 100, 1, "/usr/bin/bash", "bash", "-c", "sh -c x"))
    table.observe(_exec(2, 101, 100, "/usr/bin/dash", "sh", "-c", "x"))
    table.observe(_exec(3, 102, 101, "/usr/bin/true", "/bin/true"))
    chain = table.ancestry(102)
    assert [(e.pid, e.exe, e.args) for e in chain] == [
        (102, "/usr/bin/true", ("/bin/true",)),
        (101, "/usr/bin/dash", ("sh", "-c", "x")),
        (100, "/usr/bin/bash", ("bash", "-c", "sh -c x")),
    ]
    assert chain[0].start == 3.0 and chain[0].ppid == 101
    assert table.statistics().learned == 3


def test_a_loop_in_the_ppid_links_does_not_hang() -> None:
    table = ProcessTable()
    table.seed([ProcessEntry(5, ppid=6), ProcessEntry(6, ppid=5)])
    assert [e.pid for e in table.ancestry(5)] == [5, 6]


def test_an_exited_process_lingers_then_goes_and_its_pid_can_be_reused() -> None:
    table = ProcessTable(linger=10.0)
    table.observe(_exec(1, 200, 1, "/usr/bin/a", "a"))
    table.observe(_call(2, 200, 1, 231))  # exit_group
    entry = table.get(200)
    assert entry is not None and entry.exited == 2.0
    table.observe(_call(5, 300, 1, 39))
    assert table.get(200) is not None  # within the linger
    table.observe(_exec(6, 200, 1, "/usr/bin/b", "b"))  # the pid, reused
    reused = table.get(200)
    assert reused is not None and (reused.exe, reused.exited) == ("/usr/bin/b", None)
    table.observe(_call(7, 200, 1, 231))
    table.observe(_call(30, 300, 1, 39))  # 23 s later
    assert table.get(200) is None
    assert table.statistics().expired == 1


def test_the_table_stays_bounded_under_a_fork_storm() -> None:
    table = ProcessTable(max_entries=1000)
    storm = [_call(pid, pid, 1, 39) for pid in range(2, 20_002)]  # 20,000 short-lived children
    for event in storm:
        assert event.records[0].raw_fields  # parsed before measuring: only the table counts
    tracemalloc.start()
    try:
        for event in storm[:2_000]:
            table.observe(event)
        full, _ = tracemalloc.get_traced_memory()
        for event in storm[2_000:]:
            table.observe(event)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stats = table.statistics()
    assert stats.entries == 1000
    assert stats.evicted == 19_000 and stats.learned == 20_000
    assert after - full < 64 * 1024  # flat once full: evictions, not growth
    assert table.get(20_001) is not None and table.get(2) is None


def test_the_proc_snapshot_holds_this_process_and_its_parent() -> None:
    table = ProcessTable()
    table.seed(snapshot())
    chain = table.ancestry(os.getpid())
    assert chain[0].pid == os.getpid() and chain[0].ppid == os.getppid()
    assert chain[0].exe == os.path.realpath("/proc/self/exe")
    assert len(chain) >= 2 and chain[1].pid == os.getppid()
    assert chain[0].start is not None


def test_a_fake_proc_with_odd_files_is_read_best_effort(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text("cpu 1 2 3\nbtime 1000\n")
    good = tmp_path / "42"
    good.mkdir()
    (good / "stat").write_text("42 (a) b) c) S 7 " + " ".join(["0"] * 17) + " 250 0\n")
    (good / "cmdline").write_bytes(b"one\0two \xff\0")
    (good / "cgroup").write_text(f"0::/system.slice/docker-{H}.scope\n")
    bad = tmp_path / "43"
    bad.mkdir()
    (bad / "stat").write_text("43 no parentheses\n")
    (tmp_path / "44").mkdir()  # gone: no files
    entries = {e.pid: e for e in snapshot(tmp_path)}
    assert set(entries) == {42}
    entry = entries[42]
    assert (entry.name, entry.ppid, entry.exe) == ("a) b) c", 7, None)
    assert entry.args == ("one", "two \udcff")
    assert entry.start == pytest.approx(1000 + 250 / os.sysconf("SC_CLK_TCK"))
    assert (entry.runtime, entry.container) == ("docker", H)


def test_events_text_writes_the_ancestry_member() -> None:
    table = ProcessTable()
    events = [
        _exec(1, 100, 1, "/usr/bin/bash", "bash"),
        _exec(2, 101, 100, "/usr/bin/true", "true"),
    ]
    for event in events:
        table.observe(event)
    lines = events_text(events, ancestry=table.event_ancestry).splitlines()
    chain = json.loads(lines[1])["ancestry"]
    assert [(p["pid"], p["exe"]) for p in chain] == [(101, "/usr/bin/true"), (100, "/usr/bin/bash")]
    assert chain[0]["args"] == ["true"] and chain[0]["start"] == 2.0


def test_the_filter_matches_the_process_context() -> None:
    from trioaudit._output.filter import FilterSyntaxError, compile_filter

    table = ProcessTable(cgroup_of=lambda pid: f"0::/system.slice/docker-{H}.scope\n")
    events = [
        _exec(1, 100, 1, "/usr/sbin/sshd", "sshd"),
        _exec(2, 101, 100, "/usr/bin/bash", "bash"),
        _exec(3, 102, 101, "/usr/bin/true", "true"),
        _exec(4, 200, 1, "/usr/bin/cron", "cron"),
    ]
    for event in events:
        table.observe(event)

    def kept(text: str) -> list[int]:
        predicate = compile_filter(text, ancestry=table.event_ancestry)
        return [e.sequence for e in events if predicate(e)]

    assert kept("ancestry.exe=/usr/sbin/sshd") == [1, 2, 3]
    assert kept("ancestry.name=bash not ancestry.exe=/usr/bin/bash") == []
    assert kept("ancestry.args~tru") == [3]
    assert kept(f"container={H}") == [1, 2, 3, 4]
    assert kept("container=docker ancestry.pid=200") == [4]
    assert kept("unit=x.service") == []
    with pytest.raises(FilterSyntaxError, match="needs the process context"):
        compile_filter("ancestry.exe=/x")
    with pytest.raises(FilterSyntaxError, match="unknown ancestry member"):
        compile_filter("ancestry.colour=red", ancestry=table.event_ancestry)


def test_parse_context_filters_on_the_ancestry_of_a_log() -> None:
    import subprocess
    import sys

    log = str(Path(__file__).parents[1] / "data" / "audit_enriched_2.log")
    cli = [sys.executable, "-m", "trioaudit.cli.main", "parse"]
    done = subprocess.run(
        # The capture's python worker exec'd echo, ls, sleep...: their events name it.
        [*cli, "--context", "--filter", "syscall=execve ancestry.ppid=14982", log],
        capture_output=True,
        text=True,
        check=True,
    )
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(events) >= 4
    for event in events:
        chain = event["ancestry"]
        assert chain[0]["ppid"] == 14982 and chain[1]["exe"] == "/usr/bin/python3.11"
    refused = subprocess.run(
        [*cli, "--filter", "ancestry.name=x", log], capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert "needs the process context (--context)" in refused.stderr
