"""Message-type names: one generated source (msgtypes.py), two readers.

auditd logs, and auditctl accepts and prints, the names of audit-userspace's
lib/msg_typetab.h; the enum carries the ``AUDIT_*`` macro names of the headers.
They differ at 1500 (``AUDIT_AA``, named ``APPARMOR``), and msg_typetab.h leaves
the control messages and a few others unnamed. The expectations are written out
here, from those headers, so that a regenerated table that changes them fails.
"""

from __future__ import annotations

import pytest

from trioaudit import AuditMessageType
from trioaudit._records.values import type_name, type_number
from trioaudit._tables.msgtype_names import LOG_NAMES, MSGTYPE_NAMES, MSGTYPE_NUMBERS
from trioaudit.rules import RuleSyntaxError, parse_rule, render_rule

#: The numbers lib/msg_typetab.h has commented out (or never listed).
UNNAMED = {
    1000, 1001, 1002, 1003, 1004, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015,
    1016, 1017, 1018, 1019, 1204, 1329,
}  # fmt: skip


def test_1500_is_apparmor_in_logs_and_rules_and_aa_in_the_enum() -> None:
    assert AuditMessageType(1500).name == "AA"  # the macro, AUDIT_AA
    assert type_name(1500) == "APPARMOR"  # what auditd writes after type=
    assert type_number("APPARMOR") == type_number("AA") == 1500
    assert MSGTYPE_NAMES[1500] == "APPARMOR"
    assert MSGTYPE_NUMBERS["APPARMOR"] == 1500
    assert "AA" not in MSGTYPE_NUMBERS  # auditctl does not know the macro spelling


def test_auditctl_names_exactly_the_msg_typetab_entries() -> None:
    assert set(LOG_NAMES) - set(MSGTYPE_NAMES) == UNNAMED
    assert len(MSGTYPE_NAMES) == len(MSGTYPE_NUMBERS) == 199
    assert all(MSGTYPE_NUMBERS[name] == number for number, name in MSGTYPE_NAMES.items())
    assert type_name(1204) == "DAEMON_RECONFIG"  # logs still name it, from the enum
    assert "DAEMON_RECONFIG" not in MSGTYPE_NUMBERS


def test_rules_accept_and_render_the_msg_typetab_names_only() -> None:
    assert render_rule(parse_rule("-a never,exclude -F msgtype=APPARMOR")) == (
        "-a never,exclude -F msgtype=APPARMOR"
    )
    # Unnamed in msg_typetab.h: auditctl -l prints the number.
    assert render_rule(parse_rule("-a never,exclude -F msgtype=1204")) == (
        "-a never,exclude -F msgtype=1204"
    )
    for name in ("AA", "DAEMON_RECONFIG"):
        with pytest.raises(RuleSyntaxError, match="unknown message type"):
            parse_rule(f"-a never,exclude -F msgtype={name}")
