"""Message-type names: what auditd writes after ``type=`` and what ``-F msgtype=`` takes.

No data of its own: every fact comes from :mod:`trioaudit._tables.msgtypes`, which
``scripts/gen_msgtypes.py`` generates from the kernel's ``linux/audit.h`` and
audit-userspace's ``lib/audit-records.h`` and ``lib/msg_typetab.h``:

* a number's name is its ``AUDIT_*`` macro name (the enum member), unless
  ``msg_typetab.h`` spells it otherwise (``LOG_NAME_OVERRIDES``: ``AUDIT_AA`` = 1500
  is logged, printed and accepted as ``APPARMOR``);
* auditctl names only the types ``msg_typetab.h`` lists: the numbers in
  ``NOT_IN_MSG_TYPETAB`` (control messages such as ``GET``, ``DAEMON_RECONFIG``,
  ``REPLACE``) are neither accepted by ``-F msgtype=`` nor printed by ``auditctl -l``
  under a name.
"""

from __future__ import annotations

from .msgtypes import LOG_NAME_OVERRIDES, NOT_IN_MSG_TYPETAB, AuditMessageType

__all__ = ["LOG_NAMES", "LOG_NUMBERS", "MSGTYPE_NAMES", "MSGTYPE_NUMBERS"]

#: Record type number -> the name auditd logs after ``type=``.
LOG_NAMES: dict[int, str] = {
    member.value: LOG_NAME_OVERRIDES.get(member.value, member.name) for member in AuditMessageType
}

#: Logged name -> number; the macro spelling of a renamed type (``AA``) is accepted too.
LOG_NUMBERS: dict[str, int] = {
    **{member.name: member.value for member in AuditMessageType},
    **{name: number for number, name in LOG_NAMES.items()},
}

#: Number -> name as ``auditctl -l`` prints ``-F msgtype=`` (``msg_typetab.h``'s entries).
MSGTYPE_NAMES: dict[int, str] = {
    number: name for number, name in LOG_NAMES.items() if number not in NOT_IN_MSG_TYPETAB
}

#: Name -> number as ``-F msgtype=NAME`` accepts it.
MSGTYPE_NUMBERS: dict[str, int] = {name: number for number, name in MSGTYPE_NAMES.items()}
