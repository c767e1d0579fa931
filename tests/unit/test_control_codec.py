"""Pure tests of the control-plane codecs (no kernel): features, signal info, TTY, user messages."""

from __future__ import annotations

import errno
import signal
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trioaudit import AuditProtocolError, AuditUsageError
from trioaudit._wire.control import (
    MAX_USER_MESSAGE,
    AuditFeature,
    AuditFeatures,
    FeatureState,
    SignalInfo,
    TtyAuditStatus,
    control_error_hint,
    daemon_signal,
    encode_feature_request,
    encode_user_message,
    feature_by_name,
    user_message_type,
)
from trioaudit._wire.status import AuditStatus
from trioaudit.cli.statusreport import status_json, status_lines
from trioaudit.cli.statuswatch import counter_delta, render_screen

U32 = st.integers(0, 0xFFFFFFFF)

# ---- features ------------------------------------------------------------------------


def test_feature_bits_match_the_kernel() -> None:
    # include/uapi/linux/audit.h: AUDIT_FEATURE_ONLY_UNSET_LOGINUID 0, _LOGINUID_IMMUTABLE 1
    assert AuditFeature.ONLY_UNSET_LOGINUID.mask == 0x1
    assert AuditFeature.LOGINUID_IMMUTABLE.mask == 0x2
    assert feature_by_name("loginuid-immutable") is AuditFeature.LOGINUID_IMMUTABLE
    assert feature_by_name(" LOGINUID_IMMUTABLE ") is AuditFeature.LOGINUID_IMMUTABLE
    with pytest.raises(AuditUsageError, match="known: only_unset_loginuid, loginuid_immutable"):
        feature_by_name("immutable")


def test_get_feature_reply_as_the_kernel_sends_it() -> None:
    # A 6.x kernel answers with vers=1, mask=all ones.
    reply = struct.pack("=4I", 1, 0xFFFFFFFF, 0x2, 0x0)
    features = AuditFeatures.from_bytes(reply)
    assert features == AuditFeatures(1, 0xFFFFFFFF, 2, 0)
    state = features.state("loginuid_immutable")
    assert state == FeatureState(AuditFeature.LOGINUID_IMMUTABLE, True, False)
    assert state.status_line() == "loginuid_immutable 1 unlocked"
    assert [s.name for s in features.states()] == ["only_unset_loginuid", "loginuid_immutable"]
    locked = AuditFeatures(1, 0xFFFFFFFF, 0, 2).state(AuditFeature.LOGINUID_IMMUTABLE)
    assert locked is not None and locked.status_line() == "loginuid_immutable 0 locked"


def test_feature_outside_the_mask_is_unknown() -> None:
    # auditctl prints nothing for a feature whose bit is not in the reply's mask.
    assert AuditFeatures(1, 0x1, 0, 0).state("loginuid_immutable") is None
    assert status_lines(AuditStatus(), AuditFeatures(1, 0x1, 0, 0))[-1] != "loginuid_immutable"


def test_short_feature_reply_is_a_protocol_error() -> None:
    with pytest.raises(AuditProtocolError, match="12 bytes"):
        AuditFeatures.from_bytes(b"\0" * 12)


def test_feature_request_touches_one_feature_and_never_locks_by_accident() -> None:
    on = encode_feature_request("loginuid_immutable", True, lock=False)
    assert struct.unpack("=4I", on) == (1, 0x2, 0x2, 0)
    off = encode_feature_request(AuditFeature.LOGINUID_IMMUTABLE, False, lock=False)
    assert struct.unpack("=4I", off) == (1, 0x2, 0, 0)
    locked = encode_feature_request(AuditFeature.ONLY_UNSET_LOGINUID, False, lock=True)
    assert struct.unpack("=4I", locked) == (1, 0x1, 0, 0x1)


@given(U32, U32, U32, U32)
@settings(max_examples=50)
def test_features_round_trip(vers: int, mask: int, features: int, lock: int) -> None:
    value = AuditFeatures(vers, mask, features, lock)
    assert AuditFeatures.from_bytes(value.to_bytes() + b"extra") == value


# ---- signal info ---------------------------------------------------------------------


def test_signal_info_without_context() -> None:
    # libaudit recognises the no-LSM reply by its length: header + 8 bytes.
    info = SignalInfo.from_bytes(struct.pack("=Ii", 0, 4242))
    assert info == SignalInfo(uid=0, pid=4242, context=None)
    assert info.signalled


def test_signal_info_with_context() -> None:
    ctx = b"system_u:system_r:init_t:s0\0"
    info = SignalInfo.from_bytes(struct.pack("=Ii", 1000, 1) + ctx)
    assert info == SignalInfo(1000, 1, "system_u:system_r:init_t:s0")
    assert info.to_bytes() == struct.pack("=Ii", 1000, 1) + ctx


def test_signal_info_never_signalled() -> None:
    info = SignalInfo.from_bytes(struct.pack("=Ii", 0xFFFFFFFF, 0))
    assert not info.signalled and info.uid == 0xFFFFFFFF


def test_signal_info_context_without_nul_and_with_padding() -> None:
    assert SignalInfo.from_bytes(struct.pack("=Ii", 0, 1) + b"unconfined").context == "unconfined"
    padded = struct.pack("=Ii", 0, 1) + b"kernel\0\0\0"
    assert SignalInfo.from_bytes(padded).context == "kernel"


def test_short_signal_info_is_a_protocol_error() -> None:
    with pytest.raises(AuditProtocolError):
        SignalInfo.from_bytes(b"\0" * 7)


@given(
    U32,
    st.integers(-(2**31), 2**31 - 1),
    st.text(st.characters(min_codepoint=1, exclude_categories=("Cs",))),
)
@settings(max_examples=50)
def test_signal_info_round_trip(uid: int, pid: int, context: str) -> None:
    info = SignalInfo(uid, pid, context or None)
    assert SignalInfo.from_bytes(info.to_bytes()) == info


# ---- TTY -----------------------------------------------------------------------------


def test_tty_status_codec() -> None:
    assert TtyAuditStatus.from_bytes(struct.pack("=2I", 1, 0)) == TtyAuditStatus(True, False)
    assert TtyAuditStatus.from_bytes(struct.pack("=2I", 1, 1)) == TtyAuditStatus(True, True)
    # Kernels before 3.9 answer with 'enabled' only.
    assert TtyAuditStatus.from_bytes(struct.pack("=I", 1)) == TtyAuditStatus(True, False)
    assert TtyAuditStatus(True, True).to_bytes() == struct.pack("=2I", 1, 1)
    with pytest.raises(AuditProtocolError):
        TtyAuditStatus.from_bytes(b"\x01")


# ---- user messages -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1005, 1005), (1100, 1100), (1199, 1199), (2100, 2100), (2999, 2999), ("USER_CMD", 1123),
     ("audit_trusted_app", 1121), ("1107", 1107)],
)  # fmt: skip
def test_user_message_types_allowed(value: int | str, expected: int) -> None:
    assert user_message_type(value) == expected


@pytest.mark.parametrize("value", [1000, 1001, 1099, 1200, 1300, 2000, 2099, 3000, "SYSCALL"])
def test_user_message_types_refused(value: int | str) -> None:
    with pytest.raises(AuditUsageError, match="not a user message type"):
        user_message_type(value)


def test_unknown_type_name_refused() -> None:
    with pytest.raises(AuditUsageError, match="unknown audit message type"):
        user_message_type("NO_SUCH_TYPE")


def test_user_message_payload_is_nul_terminated() -> None:
    # The kernel overwrites the last payload byte with NUL: without our
    # terminator the last character of the text would be lost.
    assert encode_user_message("hello wörld") == "hello wörld".encode() + b"\0"
    assert len(encode_user_message("x" * MAX_USER_MESSAGE)) == MAX_USER_MESSAGE + 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "at least one"), ("a\0b", "NUL"), ("x" * (MAX_USER_MESSAGE + 1), "at most")],
)
def test_user_message_text_refused(text: str, reason: str) -> None:
    with pytest.raises(AuditUsageError, match=reason):
        encode_user_message(text)


# ---- errors, status rendering --------------------------------------------------------


def test_error_hints_name_the_cause() -> None:
    assert "locked" in (control_error_hint("set feature", errno.EPERM) or "")
    assert "CAP_AUDIT_WRITE" in (control_error_hint("send user message", errno.EPERM) or "")
    assert "5.10" in (control_error_hint("reset backlog_wait_time_actual", errno.EINVAL) or "")
    assert "does not support" in (control_error_hint("anything", errno.EOPNOTSUPP) or "")
    assert control_error_hint("get features", errno.ENOMEM) is None


def test_status_lines_in_auditctl_order() -> None:
    status = AuditStatus(0, 1, 1, 0, 0, 64, 3, 0, 0x7F, 15000, 7)
    features = AuditFeatures(1, 0xFFFFFFFF, 0, 0)
    assert status_lines(status, features) == [
        "enabled 1",
        "failure 1",
        "pid 0",
        "rate_limit 0",
        "backlog_limit 64",
        "lost 3",
        "backlog 0",
        "backlog_wait_time 15000",
        "backlog_wait_time_actual 7",
        "loginuid_immutable 0 unlocked",
    ]
    # An older kernel: no backlog_wait_time_actual, no feature API.
    old = AuditStatus(0, 1, 1, 0, 0, 64, 3, 0, 0x7F, 15000, None)
    assert status_lines(old, None)[-1] == "backlog_wait_time 15000"
    data = status_json(status, features)
    assert data["loginuid_immutable"] == {"value": 0, "locked": False}
    assert "loginuid_immutable" not in status_json(old, None)


def test_status_lines_interpreted_like_auditctl_s_i() -> None:
    lines = status_lines(AuditStatus(0, 0, 2, 0, 0, 64, 0, 0, None, None, None), interpret=True)
    assert lines[:2] == ["enabled disable", "failure panic"]
    lines = status_lines(AuditStatus(0, 2, 7), interpret=True)
    assert lines[:2] == ["enabled enabled+immutable", "failure unknown"]


def test_counter_delta() -> None:
    assert counter_delta(None, 5) is None
    assert counter_delta(5, None) is None
    assert counter_delta(5, 9) == 4
    assert counter_delta(9, 2) == 2  # reset in between: what accumulated since


def test_render_screen_redraws_in_place_with_deltas() -> None:
    status = AuditStatus(0, 1, 1, 0, 0, 64, 10, 0, 0x7F, 15000, 7)
    frame = render_screen(
        status, None, {"lost": 4, "backlog_wait_time_actual": 0}, interval=2.0, now=0.0
    )
    assert frame.startswith("\x1b[H") and frame.endswith("\x1b[J")
    assert "lost 10  (+4 in 2s)\x1b[K\n" in frame
    assert "backlog_wait_time_actual 7  (+0 in 2s)\x1b[K\n" in frame
    assert "enabled 1\x1b[K\n" in frame


def test_compose_user_message_like_auditctl_m() -> None:
    from trioaudit.cli.controlplane import compose_user_message

    message = compose_user_message(
        "backup started", exe="/usr/bin/python3", terminal="pts/0", hostname="box", success=True
    )
    assert message == (
        'text=backup started exe="/usr/bin/python3" hostname=box addr=? terminal=pts/0 res=success'
    )
    # No terminal: no hostname either (libaudit only names the host for a local tty);
    # an exe path with a space is hex-encoded, as libaudit does.
    message = compose_user_message(
        "x", exe="/opt/my app", terminal=None, hostname="box", success=False
    )
    assert message == (
        f"text=x exe={b'/opt/my app'.hex().upper()} hostname=? addr=? terminal=? res=failed"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [("TERM", signal.SIGTERM), ("sighup", signal.SIGHUP), ("usr1", signal.SIGUSR1),
     ("USR2", signal.SIGUSR2), ("CONT", signal.SIGCONT), (int(signal.SIGTERM), signal.SIGTERM)],
)  # fmt: skip
def test_daemon_signals_allowed(name: str | int, expected: signal.Signals) -> None:
    assert daemon_signal(name) is expected


@pytest.mark.parametrize("name", ["KILL", "SIGSTOP", int(signal.SIGKILL), "INT", ""])
def test_daemon_signals_refused(name: str | int) -> None:
    with pytest.raises(AuditUsageError, match="not a signal the audit daemon takes"):
        daemon_signal(name)
