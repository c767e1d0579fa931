"""The local "system database" interpretation consults: users, groups, protocols.

Interpretation is otherwise pure; these three lookups are the only places it asks
the machine something (``getpwuid``, ``getgrgid``, ``getprotobynumber`` in
libauparse). They sit behind the small :class:`SystemDatabase` protocol so that
tests inject fixed answers (:class:`StaticSystemDatabase`) and logs from another
machine can be read with that machine's names.

:class:`LocalSystemDatabase` caches every answer (hits and misses) in a bounded
dictionary: audit streams repeat the same few ids endlessly, and NSS lookups can
be slow (LDAP, sssd).
"""

from __future__ import annotations

import grp
import pwd
from collections.abc import Callable, Mapping
from typing import Protocol

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "LocalSystemDatabase",
    "StaticSystemDatabase",
    "SystemDatabase",
]

#: Entries kept per cache before the oldest is dropped.
DEFAULT_CACHE_SIZE = 4096

PROTOCOLS_FILE = "/etc/protocols"


class SystemDatabase(Protocol):
    """Name lookups interpretation needs; ``None`` means "no such entry"."""

    def user_name(self, uid: int) -> str | None: ...

    def group_name(self, gid: int) -> str | None: ...

    def protocol_name(self, number: int) -> str | None: ...


class _BoundedCache:
    __slots__ = ("_data", "_limit", "_lookup")

    def __init__(self, lookup: Callable[[int], str | None], limit: int) -> None:
        self._data: dict[int, str | None] = {}
        self._lookup = lookup
        self._limit = limit

    def get(self, key: int) -> str | None:
        try:
            return self._data[key]
        except KeyError:
            pass
        value = self._lookup(key)
        if len(self._data) >= self._limit:
            del self._data[next(iter(self._data))]
        self._data[key] = value
        return value


def _getpw(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return None


def _getgr(gid: int) -> str | None:
    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, OverflowError):
        return None


def _read_protocols(path: str) -> dict[int, str]:
    table: dict[int, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                words = line.split("#", 1)[0].split()
                if len(words) >= 2 and words[1].isascii() and words[1].isdigit():
                    table.setdefault(int(words[1]), words[0])
    except OSError:
        pass
    return table


class LocalSystemDatabase:
    """This machine's passwd/group (through NSS) and ``/etc/protocols``, cached."""

    def __init__(self, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._users = _BoundedCache(_getpw, cache_size)
        self._groups = _BoundedCache(_getgr, cache_size)
        self._protocols: dict[int, str] | None = None

    def user_name(self, uid: int) -> str | None:
        return self._users.get(uid)

    def group_name(self, gid: int) -> str | None:
        return self._groups.get(gid)

    def protocol_name(self, number: int) -> str | None:
        if self._protocols is None:
            self._protocols = _read_protocols(PROTOCOLS_FILE)
        return self._protocols.get(number)


class StaticSystemDatabase:
    """Fixed answers, for tests and for reading another machine's logs."""

    def __init__(
        self,
        users: Mapping[int, str] | None = None,
        groups: Mapping[int, str] | None = None,
        protocols: Mapping[int, str] | None = None,
    ) -> None:
        self._users = dict(users or {})
        self._groups = dict(groups or {})
        self._protocols = dict(protocols or {})

    def user_name(self, uid: int) -> str | None:
        return self._users.get(uid)

    def group_name(self, gid: int) -> str | None:
        return self._groups.get(gid)

    def protocol_name(self, number: int) -> str | None:
        return self._protocols.get(number)
