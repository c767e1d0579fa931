"""Reassembler: EOE, timeout, interleaving, out-of-order, gaps, floods, resets."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from trioaudit import Reassembler, parse_log
from trioaudit._records.model import AuditEvent, AuditRecord
from trioaudit._records.parse import parse_kernel_record
from trioaudit._records.reassembly import GAP_RESET_WINDOW

DATA = Path(__file__).parents[1] / "data"


def rec(msg_type: int, serial: int, ts: float = 100.0, body: str = "x=1") -> AuditRecord:
    return parse_kernel_record(msg_type, f"audit({ts:.3f}:{serial}): {body}")


def feed_all(r: Reassembler, records: list[AuditRecord], now: float = 0.0) -> list[AuditEvent]:
    out: list[AuditEvent] = []
    for record in records:
        out.extend(r.feed(record, now))
    return out


def test_eoe_completes_event_without_keeping_eoe() -> None:
    r = Reassembler()
    assert r.feed(rec(1300, 1), 0.0) == []
    assert r.feed(rec(1307, 1), 0.0) == []
    events = r.feed(rec(1320, 1), 0.0)
    assert len(events) == 1
    assert events[0].type_names == ("SYSCALL", "CWD")
    assert events[0].sequence == 1
    stats = r.statistics()
    assert (stats.open, stats.completed, stats.by_eoe) == (0, 1, 1)


def test_timeout_completes_event() -> None:
    r = Reassembler(timeout=2.0)
    r.feed(rec(1305, 7), 10.0)
    assert r.flush_expired(11.9) == []
    assert r.next_deadline() == 12.0
    events = r.flush_expired(12.0)
    assert [e.sequence for e in events] == [7]
    assert r.statistics().timed_out == 1


def test_user_records_are_single_record_events() -> None:
    r = Reassembler()
    events = r.feed(rec(1112, 3, body="pid=1 uid=0 msg='op=login res=success'"), 0.0)
    assert len(events) == 1 and events[0].type_name == "USER_LOGIN"


def test_interleaved_events_stay_separate() -> None:
    r = Reassembler()
    out = feed_all(
        r,
        [rec(1300, 1), rec(1300, 2), rec(1302, 1), rec(1302, 2), rec(1320, 2), rec(1320, 1)],
    )
    assert [(e.sequence, e.type_names) for e in out] == [
        (2, ("SYSCALL", "PATH")),
        (1, ("SYSCALL", "PATH")),
    ]


def test_out_of_order_records_and_late_record() -> None:
    r = Reassembler()
    out = feed_all(r, [rec(1327, 5), rec(1300, 5), rec(1320, 5)])
    assert out[0].type_names == ("PROCTITLE", "SYSCALL")
    late = r.feed(rec(1302, 5), 0.0)
    assert len(late) == 1 and late[0].type_names == ("PATH",)
    assert r.statistics().late == 1


def test_same_serial_different_timestamp_are_different_events() -> None:
    r = Reassembler()
    feed_all(r, [rec(1300, 9, ts=1.0), rec(1300, 9, ts=2.0)])
    assert r.statistics().open == 2


def test_gaps_are_counted_and_filled() -> None:
    r = Reassembler()
    feed_all(r, [rec(1300, 10), rec(1300, 14)])
    stats = r.statistics()
    assert (stats.gaps, stats.lost_estimate) == (1, 3)
    r.feed(rec(1300, 12), 0.0)
    assert r.statistics().lost_estimate == 2


def test_counter_reset_is_not_a_huge_loss() -> None:
    r = Reassembler()
    feed_all(r, [rec(1300, 4_000_000_000), rec(1300, 5), rec(1300, 6)])
    stats = r.statistics()
    assert stats.resets == 1
    assert stats.lost_estimate == 0
    r.feed(rec(1300, 6 + GAP_RESET_WINDOW + 10), 0.0)
    assert r.statistics().resets == 2
    assert r.statistics().lost_estimate == 0


def test_daemon_records_do_not_count_as_gaps() -> None:
    r = Reassembler()
    feed_all(r, [rec(1300, 10), rec(1200, 6800), rec(1300, 11)])
    assert r.statistics().gaps == 0


def test_flood_beyond_open_bound_evicts_oldest() -> None:
    r = Reassembler(max_open=8, timeout=1000)
    out = feed_all(r, [rec(1300, i) for i in range(1, 1001)])
    stats = r.statistics()
    assert stats.open == 8
    assert stats.evicted == 992
    assert [e.sequence for e in out[:3]] == [1, 2, 3]
    rest = r.flush_all()
    assert sorted(e.sequence for e in rest) == list(range(993, 1001))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 30), st.sampled_from([1300, 1302, 1307, 1320])), max_size=120)
)
def test_no_record_is_ever_lost_or_duplicated(stream: list[tuple[int, int]]) -> None:
    r = Reassembler(max_open=4)
    records = [rec(t, s) for s, t in stream]
    events = feed_all(r, records, now=0.0) + r.flush_all()
    kept = sorted((x.sequence, x.type) for e in events for x in e.records)
    expected = sorted((x.sequence, x.type) for x in records if x.type != 1320)
    assert kept == expected
    assert r.statistics().open == 0


def test_parse_log_on_real_corpus() -> None:
    with open(DATA / "audit_enriched.log", "rb") as lines:
        events = list(parse_log(lines))
    records = sum(len(e.records) for e in events)
    assert records == len((DATA / "audit_enriched.log").read_bytes().splitlines())
    execs = [e for e in events if e.syscall == "execve" and e.key == "exec"]
    assert execs and all("EXECVE" in e.type_names or e.success is False for e in execs)
    keys = {e.key for e in events}
    assert {"exec", "openfail", "net", "perm", "delete", "signal", "watched"} <= keys


def test_timeout_runs_from_the_latest_record() -> None:
    r = Reassembler(timeout=2.0)
    r.feed(rec(1300, 1), 10.0)
    r.feed(rec(1300, 2), 10.5)
    r.feed(rec(1302, 1), 11.5)  # event 1 is active again
    assert [e.sequence for e in r.flush_expired(12.6)] == [2]
    assert [e.sequence for e in r.flush_expired(13.5)] == [1]


def test_split_execve_argv_is_assembled_across_records() -> None:
    with open(DATA / "audit_enriched_2.log", "rb") as lines:
        events = list(parse_log(lines))
    (event,) = [e for e in events if e.argv and e.argv[0] == "/bin/true"]
    assert event.argv == ("/bin/true", "x" * 9000, "short")
    assert len([r for r in event.records if r.type_name == "EXECVE"]) > 1
    records = event.to_dict()["records"]
    with_argv = [r for r in records if "argv" in r and r["type"] == "EXECVE"]
    assert len(with_argv) == 1 and with_argv[0]["argv"][1] == "x" * 9000
