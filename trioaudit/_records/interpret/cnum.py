"""C-style number parsing, so that odd values read the way libauparse reads them.

libauparse converts field values with ``strtoul``/``strtol``/``strtoull``: leading
blanks skipped, an optional sign (a ``-`` negates modulo 2**64), digits up to the
first non-digit, ``0`` when there are none, and ``ERANGE`` (which it prints as
``conversion error(...)``) only on overflow. Values are then cast to ``int`` or
``unsigned int``. Reproducing those rules is what makes ``uid=-1`` print ``unset``
and ``uid=?`` print ``root``, exactly like ``ausearch -i``.
"""

from __future__ import annotations

import re

__all__ = ["ConversionError", "as_int32", "as_uint32", "strtol", "strtoul"]

_ULONG_MAX = (1 << 64) - 1
_HEX_DIGITS = re.compile("[0-9a-fA-F]+").fullmatch
_DIGITS = {c: i for i, c in enumerate("0123456789abcdefghijklmnopqrstuvwxyz")}


class ConversionError(ValueError):
    """``strtoul`` would have set ``ERANGE``."""


def strtoul(text: str, base: int) -> int:
    """Parse like C ``strtoul`` (64-bit ``unsigned long``); never raises except on overflow.

    Raises:
        ConversionError: The number does not fit in 64 bits.
    """
    if text.isascii() and (
        (base == 10 and text.isdigit()) or (base == 16 and _HEX_DIGITS(text) is not None)
    ):
        # The common case (plain digits): int() agrees with strtoul on it, 20x faster.
        value = int(text, base)
        if value > _ULONG_MAX:
            raise ConversionError(text)
        return value
    return strtoul_general(text, base)


def strtoul_general(text: str, base: int) -> int:
    """:func:`strtoul` without its fast path (blanks, signs, ``0x``, trailing junk).

    Raises:
        ConversionError: The number does not fit in 64 bits.
    """
    i = 0
    n = len(text)
    while i < n and text[i] in " \t\n\v\f\r":
        i += 1
    negative = False
    if i < n and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    if (
        base == 16
        and text[i : i + 2].lower() == "0x"
        and i + 2 < n
        and text[i + 2] in "0123456789abcdefABCDEF"
    ):
        i += 2
    value = 0
    start = i
    while i < n:
        digit = _DIGITS.get(text[i].lower(), 99)
        if digit >= base:
            break
        value = value * base + digit
        i += 1
    if i == start:
        return 0
    if value > _ULONG_MAX:
        raise ConversionError(text)
    if negative:
        value = (-value) & _ULONG_MAX
    return value


def strtol(text: str, base: int) -> int:
    """Parse like C ``strtol`` (64-bit ``long``): ``ERANGE`` outside the signed range.

    Raises:
        ConversionError: The number does not fit in a signed 64-bit ``long``.
    """
    stripped = text.lstrip(" \t\n\v\f\r")
    negative = stripped.startswith("-")
    body = stripped[1:] if stripped.startswith(("+", "-")) else stripped
    if body.startswith(("+", "-")):
        return 0  # a second sign: no number at all
    magnitude = strtoul(body, base)
    if negative:
        if magnitude > 1 << 63:
            raise ConversionError(text)
        return -magnitude
    if magnitude > (1 << 63) - 1:
        raise ConversionError(text)
    return magnitude


def as_int32(value: int) -> int:
    """Cast to C ``int`` (two's complement truncation)."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def as_uint32(value: int) -> int:
    """Cast to C ``unsigned int``."""
    return value & 0xFFFFFFFF
