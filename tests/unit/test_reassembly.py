"""Reassembler: EOE, timeout, interleaving, out-of-order, gaps, floods, resets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioaudit import Reassembler, parse_log
from trioaudit._records import reassembly
from trioaudit._records.model import AuditEvent, AuditRecord
from trioaudit._records.parse import parse_kernel_record, parse_log_line
from trioaudit._records.reassembly import GAP_RESET_WINDOW
from trioaudit._records.values import type_name

DATA = Path(__file__).parents[1] / "data"


def rec(
    msg_type: int, serial: int, ts: float = 100.0, body: str = "x=1", node: str | None = None
) -> AuditRecord:
    return parse_kernel_record(msg_type, f"audit({ts:.3f}:{serial}): {body}", node=node)


def shape(events: list[AuditEvent]) -> list[tuple[str | None, int, tuple[str, ...]]]:
    return [(e.node, e.sequence, e.type_names) for e in events]


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
    # A late record opens a new event of its stamp, which waits for more.
    assert r.feed(rec(1302, 5), 0.0) == []
    assert r.statistics().late == 1
    assert [e.type_names for e in r.flush_all()] == [("PATH",)]


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


# ---- late records (issue 14, point 1) ----------------------------------------------


def test_late_records_after_a_single_record_event_form_one_event() -> None:
    # systemd's SERVICE_START shares its stamp with the kernel's records of the
    # same sendto(): the user record completes at once, the rest comes late.
    r = Reassembler()
    out = feed_all(
        r, [rec(1130, 4, body="pid=1 uid=0 msg='unit=x res=success'"), rec(1300, 4), rec(1306, 4)]
    )
    assert shape(out) == [(None, 4, ("SERVICE_START",))]
    (late,) = r.feed(rec(1320, 4), 0.0)
    assert late.type_names == ("SYSCALL", "SOCKADDR") and late.eoe
    stats = r.statistics()
    assert (stats.late, stats.completed, stats.by_eoe, stats.open) == (2, 2, 1, 0)


def test_late_records_after_a_timeout_join_each_other() -> None:
    r = Reassembler(timeout=2.0)
    r.feed(rec(1300, 1, ts=10.0), 10.0)
    assert shape(r.feed(rec(1300, 2, ts=13.0), 13.0)) == [(None, 1, ("SYSCALL",))]
    feed_all(r, [rec(1302, 1, ts=10.0), rec(1302, 1, ts=10.0)], now=13.0)
    assert r.statistics().late == 2
    assert sorted(shape(r.flush_all())) == [(None, 1, ("PATH", "PATH")), (None, 2, ("SYSCALL",))]


def test_standalone_eoe_is_eaten_silently() -> None:
    r = Reassembler()
    assert len(feed_all(r, [rec(1300, 3), rec(1320, 3)])) == 1
    before = r.statistics()
    assert r.feed(rec(1320, 3), 0.0) == []  # its event already completed
    assert r.feed(rec(1320, 99), 0.0) == []  # never seen at all
    assert r.statistics() == before
    assert r.flush_all() == []


def test_eoe_flag_says_how_the_event_ended() -> None:
    r = Reassembler(timeout=1.0)
    (by_eoe,) = feed_all(r, [rec(1300, 1), rec(1320, 1)])
    r.feed(rec(1300, 2, ts=1.0), 1.0)
    (timed_out,) = r.flush_expired(5.0)
    r.feed(rec(1300, 3), 5.0)
    (flushed,) = r.flush_all()
    (user,) = r.feed(rec(1112, 4, body="pid=1 msg='op=x res=success'"), 5.0)
    assert (by_eoe.eoe, timed_out.eoe, flushed.eoe, user.eoe) == (True, False, False, False)


# ---- repeated events (issue 14, point 2) -------------------------------------------


def test_a_repeated_event_is_not_merged_into_one() -> None:
    # The same SYSCALL+AVC pair logged twice (merged logs): two events.
    r = Reassembler()
    out = feed_all(r, [rec(1300, 852), rec(1400, 852), rec(1300, 852), rec(1400, 852)])
    assert shape(out) == [(None, 852, ("SYSCALL", "AVC"))]
    assert shape(r.flush_all()) == [(None, 852, ("SYSCALL", "AVC"))]
    stats = r.statistics()
    assert (stats.repeated, stats.late) == (1, 0)


@pytest.mark.parametrize("once", [1300, 1306, 1307, 1317, 1327])
def test_each_once_per_event_type_starts_a_new_copy(once: int) -> None:
    r = Reassembler()
    first = feed_all(r, [rec(once, 1), rec(1302, 1), rec(once, 1)])
    assert [e.type_names for e in first] == [(type_name(once), "PATH")]
    assert [e.type_names for e in r.flush_all()] == [(type_name(once),)]


def test_types_that_repeat_within_an_event_stay_together() -> None:
    # Several AVCs, PATHs, OBJ_PIDs, URINGOPs and a long argv split over EXECVEs.
    kinds = [1400, 1400, 1300, 1309, 1309, 1307, 1302, 1302, 1318, 1318, 1336, 1336, 1327]
    r = Reassembler()
    feed_all(r, [rec(kind, 7) for kind in kinds])
    ((_, _, names),) = shape(r.flush_all())
    assert len(names) == len(kinds) and r.statistics().repeated == 0


# ---- one clock per node (issue 14, point 2) ----------------------------------------


def test_another_nodes_clock_never_completes_an_event() -> None:
    r = Reassembler(timeout=2.0)
    r.feed(rec(1300, 74, ts=1166111074.0, node="bob"), 1166111074.0)
    # A host whose clock is ten years ahead: bob's event stays open...
    assert r.feed(rec(1300, 9, ts=1451781471.0, node="alice"), 1451781471.0) == []
    r.feed(rec(1302, 74, ts=1166111074.0, node="bob"), 1166111074.0)
    # ...and completes on bob's own clock.
    out = r.feed(rec(1300, 75, ts=1166111077.0, node="bob"), 1166111077.0)
    assert shape(out) == [("bob", 74, ("SYSCALL", "PATH"))]
    assert r.statistics().open == 2


def test_a_node_behind_never_keeps_another_nodes_events_open() -> None:
    r = Reassembler(timeout=2.0)
    r.feed(rec(1300, 1, ts=1000.0, node="a"), 1000.0)
    r.feed(rec(1300, 2, ts=10.0, node="b"), 10.0)
    out = r.feed(rec(1300, 3, ts=1003.0, node="a"), 1003.0)
    assert shape(out) == [("a", 1, ("SYSCALL",))]


def test_the_same_stamp_on_two_nodes_is_two_events() -> None:
    r = Reassembler()
    feed_all(r, [rec(1300, 5, node="a"), rec(1300, 5, node="b"), rec(1302, 5, node="a")])
    assert sorted(shape(r.flush_all())) == [("a", 5, ("SYSCALL", "PATH")), ("b", 5, ("SYSCALL",))]


def test_flush_expired_is_a_clock_common_to_all_nodes() -> None:
    r = Reassembler(timeout=2.0)
    r.feed(rec(1300, 1, node="a"), 10.0)
    r.feed(rec(1300, 2, node="b"), 11.0)
    assert r.next_deadline() == 12.0
    assert shape(r.flush_expired(12.0)) == [("a", 1, ("SYSCALL",))]
    assert shape(r.flush_expired(13.0)) == [("b", 2, ("SYSCALL",))]


def test_tracked_nodes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reassembly, "MAX_NODES", 4)
    r = Reassembler()
    out = feed_all(r, [rec(1300, 1, node=f"n{i}") for i in range(10)])
    # Each new node beyond 4 makes the least recently active one forgotten,
    # its open event completed early.
    assert [e.node for e in out] == ["n0", "n1", "n2", "n3", "n4", "n5"]
    stats = r.statistics()
    assert (stats.evicted, stats.open) == (6, 4)
    # A forgotten node starts afresh: its clock and serials are new.
    r.feed(rec(1300, 1_000_000, node="n0"), 0.0)
    assert r.statistics().gaps == 0


# ---- emission order ----------------------------------------------------------------


def test_completion_order_by_default() -> None:
    r = Reassembler()
    r.feed(rec(1300, 1, ts=1.0), 1.0)
    (user,) = r.feed(rec(1112, 2, ts=1.5, body="pid=1 msg='op=x res=success'"), 1.5)
    assert user.sequence == 2  # at once, ahead of the older open event


def test_stamp_order_holds_an_event_until_lower_stamps_complete() -> None:
    r = Reassembler(stamp_order=True)
    r.feed(rec(1300, 1, ts=1.0), 1.0)
    assert r.feed(rec(1112, 2, ts=1.5, body="pid=1 msg='op=x res=success'"), 1.5) == []
    assert r.statistics().held == 1
    assert [e.sequence for e in r.feed(rec(1320, 1, ts=1.0), 1.5)] == [1, 2]
    assert r.statistics().held == 0


def test_stamp_order_at_the_end_and_ties_in_order_of_first_appearance() -> None:
    r = Reassembler(stamp_order=True)
    records = [
        rec(1300, 9, ts=3.0),
        rec(1300, 5, ts=2.0, node="b"),
        rec(1300, 5, ts=2.0, node="a"),
        rec(1300, 4, ts=2.0),
    ]
    assert feed_all(r, records) == []
    assert shape(r.flush_all()) == [
        (None, 4, ("SYSCALL",)),
        ("b", 5, ("SYSCALL",)),
        ("a", 5, ("SYSCALL",)),
        (None, 9, ("SYSCALL",)),
    ]


def test_stamp_order_yields_before_splitting_an_event() -> None:
    # One open event with the lowest stamp holds back everything after it; once
    # open + held reaches max_open, the lowest held goes out of turn -- the open
    # event is never evicted for the order's sake.
    r = Reassembler(stamp_order=True, max_open=4, timeout=1000)
    r.feed(rec(1300, 1, ts=1.0), 1.0)
    user = "pid=1 msg='op=x res=success'"
    out = feed_all(r, [rec(1112, s, ts=1.0 + s, body=user) for s in range(2, 10)], now=1.0)
    assert [e.sequence for e in out] == [2, 3, 4, 5, 6]
    stats = r.statistics()
    assert (stats.open, stats.held, stats.evicted) == (1, 3, 0)
    r.feed(rec(1302, 1, ts=1.0), 1.0)
    assert [(e.sequence, e.type_names) for e in r.flush_all()][:1] == [(1, ("SYSCALL", "PATH"))]


def test_stamp_order_evicts_only_when_nothing_is_held() -> None:
    r = Reassembler(stamp_order=True, max_open=8, timeout=1000)
    out = feed_all(r, [rec(1300, i) for i in range(1, 101)])
    assert [e.sequence for e in out] == list(range(1, 93))
    assert r.statistics().evicted == 92


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 12),
            st.sampled_from([1300, 1302, 1307, 1320, 1400, 1112]),
            st.sampled_from([None, "a", "b"]),
            st.integers(0, 6),
        ),
        max_size=150,
    ),
    st.booleans(),
)
def test_nodes_and_orders_never_lose_or_duplicate_a_record(
    stream: list[tuple[int, int, str | None, int]], stamp_order: bool
) -> None:
    r = Reassembler(max_open=5, timeout=2.0, stamp_order=stamp_order)
    records = [rec(t, s, ts=float(s % 4), node=n) for s, t, n, _ in stream]
    events: list[AuditEvent] = []
    for record, (_, _, _, clock) in zip(records, stream, strict=True):
        events += r.feed(record, float(clock))
        stats = r.statistics()
        assert stats.open + stats.held <= 5
    events += r.flush_all()
    kept = sorted((x.node or "", x.sequence, x.type) for e in events for x in e.records)
    expected = sorted((x.node or "", x.sequence, x.type) for x in records if x.type != 1320)
    assert kept == expected
    for event in events:
        assert {(x.node, x.sequence, x.timestamp) for x in event.records} == {
            (event.node, event.sequence, event.timestamp)
        }
    assert r.statistics().open == r.statistics().held == 0


def test_parse_log_emits_in_stamp_order_like_libauparse() -> None:
    lines = [
        "type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=59",
        "type=USER_LOGIN msg=audit(1700000000.200:11): pid=1 uid=0 msg='op=login res=success'",
        "type=PROCTITLE msg=audit(1700000000.100:10): proctitle=6C73",
        "type=SYSCALL msg=audit(1700000009.000:12): arch=c000003e syscall=1",
    ]
    assert all(parse_log_line(line) for line in lines)
    assert [e.sequence for e in parse_log(lines)] == [10, 11, 12]
