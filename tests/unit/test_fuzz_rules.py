"""Property tests (hypothesis) of the rules language: hostile text, grammar, wire blobs.

* Arbitrary text, and token soups built from auditctl's own vocabulary, may
  only raise :class:`RuleSyntaxError` (never an IndexError, KeyError...).
* Rules generated from the grammar (lists, actions, arch, syscalls, fields
  with every operator, keys and paths with hostile characters) survive
  ``parse -> render -> parse`` and ``encode -> decode`` unchanged.
* Any byte string given to the rule decoder (a kernel reply we do not
  trust) raises nothing but :class:`AuditProtocolError`.
* Rules files of arbitrary lines never raise anything else either.

``fuzz/fuzz_rules.py`` runs the same invariants under atheris.
"""

from __future__ import annotations

import itertools
import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from trioaudit import AuditProtocolError
from trioaudit.rules import (
    AuditRule,
    RuleSyntaxError,
    parse_command,
    parse_rule,
    parse_rules_file,
    render_rule,
)

VOCABULARY = [
    "-a", "-A", "-d", "-w", "-W", "-p", "-k", "-F", "-S", "-C", "-D", "-e", "-f", "-b", "-r",
    "always,exit", "never,exit", "exit,always", "always,exclude", "always,user", "always,task",
    "always,filesystem", "always,io_uring", "arch=b64", "arch=b32", "all", "openat", "execve",
    "uid=0", "auid>=1000", "auid!=unset", "auid=-1", "exit=-EACCES", "success=0", "a0=0x10",
    "msgtype=SYSCALL", "msgtype>=1300", "path=/etc/shadow", "dir=/home", "exe=/bin/sh",
    "key=x", "perm=wa", "filetype=file", "fstype=tracefs", "uid!=euid", "auid=obj_uid",
    "rwxa", "/etc/passwd", "=", "==", "!=", "&=", "&", ">", "<=", ",", "'", '"', "\\", "--",
    "--loginuid-immutable", "--backlog_wait_time", "1", "2", "0x7fffffff", "99999999999",
    "-F", "inode=", "devmajor=8", "sessionid=3", "pers=0", "obj_uid=0", "saddr_fam=2",
]  # fmt: skip

token_soup = st.lists(st.sampled_from(VOCABULARY), max_size=12).map(" ".join)

#: Keys and watched paths may hold anything auditctl accepts: spaces, quotes, escapes.
hostile_word = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n"),
    min_size=1,
    max_size=30,
)
#: What ``auditctl -l`` can print so that it reads back: no blanks, quotes or backslashes
#: (it prints strings bare, so ``-k "a b"`` lists as ``key=a b``, as auditctl's own does).
listable_word = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\"'\\"
    ),
    min_size=1,
    max_size=30,
)

SYSCALLS = ["open", "openat", "execve", "connect", "unlink", "chmod", "ptrace", "bpf"]
NUMERIC_FIELDS = ["uid", "gid", "auid", "euid", "pid", "ppid", "exit", "a0", "a1", "success"]
OPERATORS = ["=", "!=", ">", ">=", "<", "<=", "&", "&="]


@st.composite
def syscall_rules(draw: st.DrawFn, word: st.SearchStrategy[str] = listable_word) -> str:
    action = draw(st.sampled_from(["always", "never"]))
    parts = [f"-a {action},exit", f"-F arch={draw(st.sampled_from(['b64', 'b32']))}"]
    for syscall in draw(st.lists(st.sampled_from(SYSCALLS), min_size=1, max_size=3, unique=True)):
        parts.append(f"-S {syscall}")
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(NUMERIC_FIELDS))
        op = draw(st.sampled_from(OPERATORS if name not in ("exit", "success") else ["=", "!="]))
        value = draw(st.integers(0, 60000)) if name != "success" else draw(st.integers(0, 1))
        parts.append(f"-F {name}{op}{value}")
    if draw(st.booleans()):
        parts.append(f"-F path={shlex.quote('/' + draw(word))}")
    if draw(st.booleans()):
        parts.append(f"-k {shlex.quote(draw(word))}")
    return " ".join(parts)


@st.composite
def watch_rules(draw: st.DrawFn, word: st.SearchStrategy[str] = listable_word) -> str:
    path = "/" + draw(word).lstrip("/")
    perms = draw(st.lists(st.sampled_from("rwxa"), min_size=1, max_size=4, unique=True))
    rule = f"-w {shlex.quote(path)} -p {''.join(perms)}"
    if draw(st.booleans()):
        rule += f" -k {shlex.quote(draw(word))}"
    return rule


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=120), token_soup))
def test_arbitrary_rule_text_only_raises_syntax_errors(text: str) -> None:
    for dialect in ("shell", "auditctl"):
        try:
            command = parse_command(text, dialect=dialect)
        except RuleSyntaxError as exc:
            assert exc.reason
            continue
        if command.rule is not None:
            AuditRule.from_bytes(command.rule.to_bytes())
            render_rule(command.rule)


@settings(max_examples=300, deadline=None)
@given(st.one_of(syscall_rules(), watch_rules()))
def test_generated_rules_round_trip_through_text_and_wire(text: str) -> None:
    try:
        rule = parse_rule(text)
    except RuleSyntaxError as exc:
        # Only what auditctl refuses too (e.g. a key over 256 bytes, a path too long).
        assert exc.reason, text
        return
    assert AuditRule.from_bytes(rule.to_bytes()) == rule
    assert parse_rule(render_rule(rule)) == rule, (text, render_rule(rule))


@settings(max_examples=200, deadline=None)
@given(st.one_of(syscall_rules(hostile_word), watch_rules(hostile_word)))
def test_hostile_keys_and_paths_are_kept_exactly(text: str) -> None:
    try:
        rule = parse_rule(text)
    except RuleSyntaxError:
        return
    assert AuditRule.from_bytes(rule.to_bytes()) == rule
    words = shlex.split(text)
    strings = [f.string for f in rule.fields if f.string is not None]
    for option, value in itertools.pairwise(words):
        if option in ("-k", "-w"):
            assert value.rstrip("/") in [s.rstrip("/") for s in strings] or value == "/", value
    render_rule(rule)  # rendering never fails, whatever the strings hold


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=1200))
def test_rule_decoder_only_raises_protocol_error(data: bytes) -> None:
    try:
        rule = AuditRule.from_bytes(data)
    except AuditProtocolError:
        return
    render_rule(rule)
    rule.to_bytes()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=60), token_soup, syscall_rules()), max_size=8))
def test_rules_files_only_raise_syntax_errors(lines: list[str]) -> None:
    try:
        parsed = parse_rules_file("\n".join(lines))
    except RuleSyntaxError as exc:
        assert exc.line is None or 1 <= exc.line <= max(1, len("\n".join(lines).splitlines()))
        return
    for command in parsed.commands:
        if command.rule is not None:
            assert AuditRule.from_bytes(command.rule.to_bytes()) == command.rule


# ---- regressions found by the atheris harnesses ------------------------------------


def test_regression_nul_in_user_name_is_a_syntax_error() -> None:
    # fuzz/fuzz_rules.py: pwd.getpwnam() raised ValueError("embedded null byte").
    for text in ("-a always,exit -F arch=b64 -S openat -F auid>=\0-a", "-a always,exit -F gid=a\0"):
        try:
            parse_command(text)
        except RuleSyntaxError:
            continue
