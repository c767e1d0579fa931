"""The filter language on real events."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioaudit import FilterSyntaxError, compile_filter, open_log, parse_log
from trioaudit._records.model import AuditEvent

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture(scope="module")
def events() -> list[AuditEvent]:
    with open_log(str(DATA / "audit_enriched.log")) as lines:
        return list(parse_log(lines))


def select(events: list[AuditEvent], text: str) -> list[AuditEvent]:
    predicate = compile_filter(text)
    return [e for e in events if predicate(e)]


def test_empty_filter_matches_everything(events: list[AuditEvent]) -> None:
    assert select(events, "") == events
    assert select(events, "   ") == events


def test_type_and_key(events: list[AuditEvent]) -> None:
    hits = select(events, "type=SYSCALL key=exec")
    assert hits and all(e.key == "exec" and "SYSCALL" in e.type_names for e in hits)
    assert select(events, "type=1300 key=exec") == hits
    assert select(events, "type=syscall KEY=EXEC") == hits


def test_syscall_list_and_success(events: list[AuditEvent]) -> None:
    hits = select(events, "syscall=execve,openat success=no")
    assert hits
    assert all(e.syscall in ("execve", "openat") and e.success is False for e in hits)
    assert not select(events, "syscall=openat success=yes key=openfail")


def test_uid_by_name_or_number(events: list[AuditEvent]) -> None:
    by_name = select(events, "uid=nobody")
    assert by_name and by_name == select(events, "uid=65534")


def test_substring_and_negation(events: list[AuditEvent]) -> None:
    hits = select(events, "comm~ev")
    assert hits and all("ev" in (e.comm or "") for e in hits)
    assert len(select(events, "not comm~ev")) == len(events) - len(hits)
    assert len(select(events, "comm!~ev")) <= len(events) - len(hits)


def test_or_and_parentheses(events: list[AuditEvent]) -> None:
    a = select(events, "key=exec")
    b = select(events, "key=net")
    both = select(events, "key=exec or key=net")
    assert len(both) == len(a) + len(b)
    assert select(events, "(key=exec or key=net) type=SYSCALL") == [
        e for e in both if "SYSCALL" in e.type_names
    ]


def test_free_words(events: list[AuditEvent]) -> None:
    hits = select(events, "shadow")
    assert hits and all(any("shadow" in r.raw for r in e.records) for e in hits)
    assert select(events, '"/etc/shadow"')


@pytest.mark.parametrize(
    ("text", "position"),
    [("key=", 4), ("(key=a", 0), ("key=a )", 6), ('comm="x', 5), ("=x", 0), ("not", 3)],
)
def test_syntax_errors_carry_a_position(text: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        compile_filter(text)
    assert info.value.position == position


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab=!~,()" \tnotor')), max_size=40))
def test_compiler_raises_only_its_own_error(text: str) -> None:
    try:
        predicate = compile_filter(text)
    except FilterSyntaxError as exc:
        assert 0 <= exc.position <= len(text)
        return
    event = next(iter(parse_log(['type=SYSCALL msg=audit(1.000:1): a=b key="or"'])))
    assert predicate(event) in (True, False)
