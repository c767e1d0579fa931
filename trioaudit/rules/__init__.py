"""The audit rules language: auditctl syntax <-> :class:`AuditRule` <-> kernel bytes.

Sans-IO: nothing here talks to the kernel. ``AuditClient.add_rule()`` and the
``trioaudit rules`` CLI do that with these pieces::

    rule = parse_rule("-a always,exit -F arch=b64 -S openat -F exit=-EACCES -k access")
    payload = rule.to_bytes()              # struct audit_rule_data, for AUDIT_ADD_RULE
    AuditRule.from_bytes(payload) == rule  # True
    render_rule(rule)                      # exactly what `auditctl -l` prints
    render_rules(rules)                    # the whole listing, with auditctl's arch carry-over

One spelling for each conversion: text is ``parse_rule``/``render_rule`` (the
inverse of each other), the wire is ``AuditRule.from_bytes``/``to_bytes``, as
for :class:`~trioaudit.AuditStatus`.
"""

from trioaudit.rules._errors import RuleSyntaxError
from trioaudit.rules._file import RulesFile, parse_rules_file
from trioaudit.rules._model import AuditRule, RuleField
from trioaudit.rules._parser import (
    CommandKind,
    ControlSetting,
    RuleCommand,
    RuleContext,
    default_context,
    parse_command,
    parse_rule,
)
from trioaudit.rules._render import render_rule, render_rules

__all__ = [
    "AuditRule",
    "CommandKind",
    "ControlSetting",
    "RuleCommand",
    "RuleContext",
    "RuleField",
    "RuleSyntaxError",
    "RulesFile",
    "default_context",
    "parse_command",
    "parse_rule",
    "parse_rules_file",
    "render_rule",
    "render_rules",
]
