"""Codecs for the audit control plane beyond ``struct audit_status`` (sans-IO).

Theory of operation
===================

``auditctl`` changes the kernel's audit state through a handful of small
structs besides ``audit_status`` (see :mod:`trioaudit._wire.status`). This module
encodes and decodes them, and knows which values the kernel accepts, so that a
bad request is refused here with a clear message instead of coming back as a
bare ``EINVAL``. It does no I/O; :class:`~trioaudit.AuditClient` sends the bytes.

* ``struct audit_features {u32 vers, mask, features, lock}``
  (``AUDIT_GET_FEATURE`` / ``AUDIT_SET_FEATURE``). Features are bit numbers
  (``only_unset_loginuid`` = 0, ``loginuid_immutable`` = 1). In a *set*
  request, ``mask`` selects the features to touch, ``features`` their new
  values and ``lock`` the ones to lock; **a lock cannot be undone before
  reboot**, so the lock word is only ever non-zero when the caller asked for
  it. In a *get* reply the kernel answers with ``mask`` all ones.
* ``struct audit_sig_info {u32 uid; s32 pid; char ctx[]}``
  (``AUDIT_SIGNAL_INFO``): who last sent SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 to the
  registered audit daemon. ``ctx`` is the sender's LSM security context and is
  absent (reply of exactly 8 bytes) when no LSM supplied one.
* ``struct audit_tty_status {u32 enabled, log_passwd}``
  (``AUDIT_TTY_GET`` / ``AUDIT_TTY_SET``), per process. Kernels before 3.9
  answer with ``enabled`` only; both fields must be 0 or 1.
* User messages: the payload is NUL-terminated text (the kernel overwrites the
  last byte with NUL, so an unterminated text would lose its last character)
  of message type ``AUDIT_USER`` (1005), 1100-1199 or 2100-2999.

Non-goals: rule structs (``trioaudit.rules``) and the status struct.
"""

from __future__ import annotations

import errno
import signal
import struct
from dataclasses import dataclass
from enum import IntEnum

from .._errors import AuditError, AuditProtocolError, AuditUsageError
from .._tables.msgtypes import AuditMessageType as T

__all__ = [
    "AUDIT_FEATURE_VERSION",
    "DAEMON_SIGNALS",
    "FEATURES_SIZE",
    "MAX_USER_MESSAGE",
    "USER_MESSAGE_RANGES",
    "AuditFeature",
    "AuditFeatures",
    "AuditUnsupported",
    "FeatureState",
    "SignalInfo",
    "TtyAuditStatus",
    "control_error_hint",
    "daemon_signal",
    "encode_feature_request",
    "encode_user_message",
    "feature_by_name",
    "user_message_type",
]

#: ``AUDIT_FEATURE_VERSION``: the only ``audit_features.vers`` there is.
AUDIT_FEATURE_VERSION = 1
#: ``AUDIT_MESSAGE_TEXT_MAX``: the kernel logs at most this many bytes of a user message.
MAX_USER_MESSAGE = 8560
#: Message types the kernel accepts as user messages (inclusive ranges).
USER_MESSAGE_RANGES: tuple[tuple[int, int], ...] = ((1100, 1199), (2100, 2999))
#: ``(uid_t)-1``: the uid the kernel reports when nobody signalled the daemon.
UNSET_ID = 0xFFFFFFFF

#: What each signal asks of auditd (``auditctl --signal``): the only ones it accepts.
DAEMON_SIGNALS: dict[str, tuple[signal.Signals, str]] = {
    "TERM": (signal.SIGTERM, "stop"),
    "HUP": (signal.SIGHUP, "reload its configuration"),
    "USR1": (signal.SIGUSR1, "rotate its logs"),
    "USR2": (signal.SIGUSR2, "resume logging after a disk error"),
    "CONT": (signal.SIGCONT, "dump its state report"),
}

_FEATURES = struct.Struct("=4I")
#: ``sizeof(struct audit_features)``.
FEATURES_SIZE = _FEATURES.size
_SIG_INFO = struct.Struct("=Ii")
_TTY = struct.Struct("=2I")
_U32 = struct.Struct("=I")


class AuditUnsupported(AuditError):
    """This kernel does not offer the operation (too old, or compiled without it)."""


class AuditFeature(IntEnum):
    """Kernel audit features (``AUDIT_FEATURE_*``): the value is the bit number."""

    ONLY_UNSET_LOGINUID = 0
    LOGINUID_IMMUTABLE = 1

    @property
    def mask(self) -> int:
        """``AUDIT_FEATURE_TO_MASK``: the feature's bit in mask/features/lock."""
        return 1 << self.value

    @property
    def feature_name(self) -> str:
        """The kernel's name (``"loginuid_immutable"``), as in FEATURE_CHANGE records."""
        return self.name.lower()


def feature_by_name(name: str | AuditFeature) -> AuditFeature:
    """Look a feature up by the kernel's name (``loginuid_immutable``; ``-`` works too).

    Raises:
        AuditUsageError: Unknown name.
    """
    if isinstance(name, AuditFeature):
        return name
    key = name.strip().lower().replace("-", "_")
    for feature in AuditFeature:
        if feature.feature_name == key:
            return feature
    known = ", ".join(feature.feature_name for feature in AuditFeature)
    raise AuditUsageError(f"unknown audit feature {name!r} (known: {known})")


@dataclass(frozen=True, slots=True)
class FeatureState:
    """One feature's state: ``auditctl -s`` prints ``loginuid_immutable 0 unlocked``.

    Attributes:
        feature: Which feature.
        value: Whether it is on.
        locked: Whether it is locked (cannot change until reboot).
    """

    feature: AuditFeature
    value: bool
    locked: bool

    @property
    def name(self) -> str:
        """The kernel's name of the feature."""
        return self.feature.feature_name

    def status_line(self) -> str:
        """The line ``auditctl -s`` prints for this feature."""
        return f"{self.name} {int(self.value)} {'locked' if self.locked else 'unlocked'}"


@dataclass(frozen=True, slots=True)
class AuditFeatures:
    """``struct audit_features`` as ``AUDIT_GET_FEATURE`` reports it.

    Attributes:
        vers: Struct version (1).
        mask: Features the reply speaks about (the kernel sends all ones).
        features: Bits of the features that are on.
        lock: Bits of the features that are locked until reboot.
    """

    vers: int
    mask: int
    features: int
    lock: int

    @classmethod
    def from_bytes(cls, data: bytes) -> AuditFeatures:
        """Decode an ``AUDIT_GET_FEATURE`` reply payload (extra trailing bytes ignored).

        Raises:
            AuditProtocolError: Shorter than the struct.
        """
        if len(data) < _FEATURES.size:
            raise AuditProtocolError(
                f"audit_features reply of {len(data)} bytes (need {_FEATURES.size})", data
            )
        return cls(*_FEATURES.unpack_from(data))

    def to_bytes(self) -> bytes:
        """Encode as the kernel lays the struct out."""
        return _FEATURES.pack(self.vers, self.mask, self.features, self.lock)

    def state(self, feature: AuditFeature | str) -> FeatureState | None:
        """The state of *feature*, or None when the reply's mask does not cover it."""
        feature = feature_by_name(feature)
        if not self.mask & feature.mask:
            return None
        return FeatureState(
            feature, bool(self.features & feature.mask), bool(self.lock & feature.mask)
        )

    def states(self) -> list[FeatureState]:
        """Every known feature the reply covers, in bit order."""
        return [state for feature in AuditFeature if (state := self.state(feature)) is not None]


def encode_feature_request(feature: AuditFeature | str, value: bool, *, lock: bool) -> bytes:
    """Build an ``AUDIT_SET_FEATURE`` payload that touches exactly one feature.

    Args:
        feature: The feature (or its name).
        value: New value.
        lock: Also lock it until reboot. Irreversible: the caller must have
            confirmed it.
    """
    feature = feature_by_name(feature)
    bit = feature.mask
    return _FEATURES.pack(AUDIT_FEATURE_VERSION, bit, bit if value else 0, bit if lock else 0)


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """Who last signalled the audit daemon (``AUDIT_SIGNAL_INFO``).

    Attributes:
        uid: The sender's login uid (or uid when it had none);
            4294967295 when nobody has signalled the daemon since boot.
        pid: The sender's pid; 0 when nobody has.
        context: The sender's LSM security context (e.g. SELinux
            ``system_u:system_r:init_t:s0``), None when the kernel sent none.
    """

    uid: int
    pid: int
    context: str | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> SignalInfo:
        """Decode an ``AUDIT_SIGNAL_INFO`` reply, with or without a context.

        Raises:
            AuditProtocolError: Shorter than uid + pid.
        """
        if len(data) < _SIG_INFO.size:
            raise AuditProtocolError(
                f"audit_sig_info reply of {len(data)} bytes (need {_SIG_INFO.size})", data
            )
        uid, pid = _SIG_INFO.unpack_from(data)
        raw = bytes(data[_SIG_INFO.size :]).split(b"\0", 1)[0]
        context = raw.decode("utf-8", "surrogateescape") if raw else None
        return cls(uid, pid, context)

    def to_bytes(self) -> bytes:
        """Encode as the kernel sends it (the context NUL-terminated, if any)."""
        tail = self.context.encode("utf-8", "surrogateescape") + b"\0" if self.context else b""
        return _SIG_INFO.pack(self.uid, self.pid) + tail

    @property
    def signalled(self) -> bool:
        """True when some process has signalled the audit daemon since boot."""
        return self.pid != 0


@dataclass(frozen=True, slots=True)
class TtyAuditStatus:
    """TTY auditing of the calling process (``AUDIT_TTY_GET``/``AUDIT_TTY_SET``).

    Attributes:
        enabled: Keystrokes on this process's TTY are audited (TTY records).
        log_passwd: Also while echo is off (password entry). Always False on
            kernels before 3.9, which do not report it.
    """

    enabled: bool
    log_passwd: bool = False

    @classmethod
    def from_bytes(cls, data: bytes) -> TtyAuditStatus:
        """Decode an ``AUDIT_TTY_GET`` reply (4 bytes on kernels before 3.9).

        Raises:
            AuditProtocolError: Shorter than ``enabled``.
        """
        if len(data) < _U32.size:
            raise AuditProtocolError(f"audit_tty_status reply of {len(data)} bytes", data)
        if len(data) < _TTY.size:
            (enabled,) = _U32.unpack_from(data)
            return cls(bool(enabled))
        enabled, log_passwd = _TTY.unpack_from(data)
        return cls(bool(enabled), bool(log_passwd))

    def to_bytes(self) -> bytes:
        """Encode an ``AUDIT_TTY_SET`` payload (the kernel accepts 0 or 1 only)."""
        return _TTY.pack(int(self.enabled), int(self.log_passwd))


def daemon_signal(name: str | int) -> signal.Signals:
    """Validate a signal for the audit daemon: TERM, HUP, USR1, USR2 or CONT.

    Args:
        name: ``"TERM"``, ``"SIGTERM"`` (any case) or the signal number.

    Raises:
        AuditUsageError: Any other signal (auditctl --signal refuses them too).
    """
    allowed = {sig for sig, _ in DAEMON_SIGNALS.values()}
    if isinstance(name, int):
        if name in allowed:
            return signal.Signals(name)
    else:
        entry = DAEMON_SIGNALS.get(name.strip().upper().removeprefix("SIG"))
        if entry is not None:
            return entry[0]
    raise AuditUsageError(
        f"{name} is not a signal the audit daemon takes (TERM, HUP, USR1, USR2, CONT)"
    )


def user_message_type(value: int | str) -> int:
    """Validate a user-message type: ``AUDIT_USER`` (1005), 1100-1199 or 2100-2999.

    Args:
        value: A number, or a type name (``"USER_CMD"``, ``"TRUSTED_APP"``).

    Raises:
        AuditUsageError: Unknown name, or a type the kernel does not take from
            user space (it would answer EINVAL, or EPERM for control types).
    """
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            number = int(text)
        else:
            try:
                number = int(T[text.upper().removeprefix("AUDIT_")])
            except KeyError:
                raise AuditUsageError(f"unknown audit message type {value!r}") from None
    else:
        number = int(value)
    if number == T.USER or any(low <= number <= high for low, high in USER_MESSAGE_RANGES):
        return number
    raise AuditUsageError(
        f"message type {number} is not a user message type "
        "(allowed: 1005 USER, 1100-1199, 2100-2999)"
    )


def encode_user_message(text: str) -> bytes:
    """Encode the payload of a user message: UTF-8 text, NUL-terminated.

    Raises:
        AuditUsageError: Empty text, a NUL inside (the kernel would cut the
            message there) or more than :data:`MAX_USER_MESSAGE` bytes (the
            kernel would truncate it silently).
    """
    data = text.encode("utf-8", "surrogateescape")
    if not data:
        raise AuditUsageError("a user message needs at least one character")
    if b"\0" in data:
        raise AuditUsageError("a user message cannot contain NUL characters")
    if len(data) > MAX_USER_MESSAGE:
        raise AuditUsageError(
            f"user message of {len(data)} bytes; the kernel logs at most {MAX_USER_MESSAGE}"
        )
    return data + b"\0"


#: What an errno means for a given control operation, beyond its strerror.
_HINTS: dict[tuple[str, int], str] = {
    ("reset lost", errno.EINVAL): "this kernel cannot reset 'lost' (needs Linux 3.12 or newer)",
    ("reset backlog_wait_time_actual", errno.EINVAL): (
        "this kernel has no backlog_wait_time_actual (needs Linux 5.10 or newer)"
    ),
    ("set feature", errno.EPERM): (
        "the feature is locked until reboot, or CAP_AUDIT_CONTROL is missing"
    ),
    ("set feature", errno.EINVAL): "this kernel has no feature API (needs Linux 3.13 or newer)",
    ("get features", errno.EINVAL): "this kernel has no feature API (needs Linux 3.13 or newer)",
    ("send user message", errno.EPERM): "needs CAP_AUDIT_WRITE",
    ("send user message", errno.EINVAL): "the kernel refused the message type or an empty text",
    ("set tty auditing", errno.EINVAL): "enabled and log_passwd must each be 0 or 1",
    ("get tty auditing", errno.EINVAL): "this kernel has no TTY auditing (needs Linux 2.6.26)",
    ("get signal info", errno.EINVAL): "this kernel has no AUDIT_SIGNAL_INFO",
}
_GENERIC_HINTS: dict[int, str] = {
    errno.EOPNOTSUPP: "this kernel does not support the operation",
    errno.ECONNREFUSED: "audit is unavailable here (user namespace or container)",
}


def control_error_hint(operation: str, code: int) -> str | None:
    """A hint naming the likely cause of *code* for *operation*, if there is one."""
    return _HINTS.get((operation, code)) or _GENERIC_HINTS.get(code)
