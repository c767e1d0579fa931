"""The one exception of the rules language: :class:`RuleSyntaxError`.

Every refusal names the token that caused it and where it sits, so a CLI can
underline it and a rules-file loader can say ``line 12, column 30``.
"""

from __future__ import annotations

from trioaudit._errors import AuditUsageError

__all__ = ["RuleSyntaxError"]


class RuleSyntaxError(AuditUsageError):
    """A rule (or rules-file line) that auditctl's language does not allow.

    Attributes:
        reason: What is wrong, without the location.
        token: The offending token exactly as written (``""`` when something is missing).
        column: 0-based offset of the token in ``text`` (None when not applicable).
        line: 1-based line number in a rules file (None for a single rule).
        text: The rule text being parsed.
    """

    def __init__(
        self,
        reason: str,
        *,
        token: str = "",
        column: int | None = None,
        line: int | None = None,
        text: str = "",
    ) -> None:
        self.reason = reason
        self.token = token
        self.column = column
        self.line = line
        self.text = text
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column + 1}")
        prefix = f"{', '.join(where)}: " if where else ""
        shown = f" (at {self.token!r})" if self.token else ""
        return f"{prefix}{self.reason}{shown}"

    def at_line(self, line: int) -> RuleSyntaxError:
        """Return a copy located on ``line`` of a rules file."""
        return RuleSyntaxError(
            self.reason, token=self.token, column=self.column, line=line, text=self.text
        )

    def caret(self) -> str:
        """The rule text with a ``^~~~`` marker under the offending token (for CLIs)."""
        if self.column is None or not self.text:
            return self.text
        width = max(1, len(self.token))
        return f"{self.text}\n{' ' * self.column}^{'~' * (width - 1)}"
