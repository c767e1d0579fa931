"""``/etc/audit/rules.d/*.rules`` files -> commands with line numbers.

A rules file is what ``auditctl -R`` (and augenrules) reads: one command per
line, ``#`` comments, blank lines, words split on spaces with ``\\ `` for a
space inside a word. Each line is parsed independently; a bad line becomes a
:class:`RuleSyntaxError` carrying its line number and does not stop the others,
so a loader can report every problem at once and decide what to apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from trioaudit.rules._errors import RuleSyntaxError
from trioaudit.rules._model import AuditRule
from trioaudit.rules._parser import (
    CommandKind,
    ControlSetting,
    RuleCommand,
    RuleContext,
    default_context,
    parse_command,
)

__all__ = ["RulesFile", "parse_rules_file"]


@dataclass(frozen=True, slots=True)
class RulesFile:
    """The parsed content of a rules file.

    Attributes:
        commands: Every valid command, in file order, each with its ``line``.
        errors: One :class:`RuleSyntaxError` per bad line (``error.line`` set).
    """

    commands: tuple[RuleCommand, ...]
    errors: tuple[RuleSyntaxError, ...]

    @property
    def rules(self) -> tuple[AuditRule, ...]:
        """The rules the file adds, in order."""
        return tuple(
            c.rule for c in self.commands if c.kind is CommandKind.ADD and c.rule is not None
        )

    @property
    def controls(self) -> tuple[tuple[int, ControlSetting], ...]:
        """(line, setting) for every control setting, in order."""
        return tuple(
            (c.line or 0, s)
            for c in self.commands
            if c.kind is CommandKind.CONTROL
            for s in c.controls
        )


def parse_rules_file(text: str, *, context: RuleContext | None = None) -> RulesFile:
    """Parse a whole rules file; never raises for bad lines (see :attr:`RulesFile.errors`)."""
    ctx = context if context is not None else default_context()
    commands: list[RuleCommand] = []
    errors: list[RuleSyntaxError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        try:
            command = parse_command(line, context=ctx, dialect="auditctl")
        except RuleSyntaxError as exc:
            errors.append(exc.at_line(number))
            continue
        commands.append(
            RuleCommand(
                command.kind,
                rule=command.rule,
                key=command.key,
                controls=command.controls,
                line=number,
                text=line,
                warnings=command.warnings,
            )
        )
    return RulesFile(tuple(commands), tuple(errors))
