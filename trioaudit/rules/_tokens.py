"""Split a rule line into tokens that remember their column.

Two dialects, because they differ in the wild:

* ``"shell"`` -- what a user types after ``auditctl`` at a shell prompt: blanks
  separate words, single quotes are literal, double quotes allow ``\\"``,
  ``\\\\``, ``\\$`` and ``\\``` escapes, a backslash outside quotes escapes the
  next character. Used by :func:`trioaudit.rules.parse_rule`.
* ``"auditctl"`` -- what ``auditctl -R`` does with a rules-file line: words are
  separated by spaces only, ``\\ `` is a space inside a word and ``\\\\`` a
  backslash; quotes have no meaning. Used by the rules-file parser, so a file
  loads here exactly as it loads with augenrules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from trioaudit.rules._errors import RuleSyntaxError

__all__ = ["Dialect", "Token", "tokenize"]

Dialect = Literal["shell", "auditctl"]
_DQ_ESCAPABLE = frozenset('"\\$`\n')


@dataclass(frozen=True, slots=True)
class Token:
    """A word of a rule line and the 0-based column where it starts.

    ``offsets`` maps each character of :attr:`text` to its column in the source
    line when quoting or escapes made them differ (None when they do not), so a
    slice of a quoted token still points at the right place.
    """

    text: str
    column: int
    offsets: tuple[int, ...] | None = None

    def sub(self, start: int, end: int | None = None) -> Token:
        """A slice of this token, with the column of its first character in the source."""
        text = self.text[start:end]
        offsets = self.offsets[start:end] if self.offsets is not None else None
        if offsets is not None:
            column = (
                offsets[0] if offsets else (self.offsets[-1] + 1 if self.offsets else self.column)
            )
            return Token(text, column, offsets)
        return Token(text, self.column + start)


def tokenize(text: str, dialect: Dialect = "shell") -> list[Token]:
    """Split ``text`` into tokens.

    Raises:
        RuleSyntaxError: An unterminated quote or a trailing backslash (shell dialect).
    """
    if dialect == "auditctl":
        return _split_auditctl(text)
    return _split_shell(text)


def _token(word: list[str], cols: list[int], start: int) -> Token:
    text = "".join(word)
    plain = cols == list(range(start, start + len(text)))
    return Token(text, cols[0] if cols else start, None if plain else tuple(cols))


def _split_auditctl(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == " ":
            i += 1
            continue
        start = i
        word: list[str] = []
        cols: list[int] = []
        while i < n and text[i] != " ":
            if text[i] == "\\" and i + 1 < n and text[i + 1] in " \\":
                word.append(text[i + 1])
                cols.append(i + 1)
                i += 2
                continue
            word.append(text[i])
            cols.append(i)
            i += 1
        tokens.append(_token(word, cols, start))
    return tokens


def _split_shell(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        word: list[str] = []
        cols: list[int] = []
        while i < n and not text[i].isspace():
            ch = text[i]
            if ch == "\\":
                if i + 1 >= n:
                    raise RuleSyntaxError("trailing backslash", token="\\", column=i, text=text)
                word.append(text[i + 1])
                cols.append(i + 1)
                i += 2
            elif ch == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise RuleSyntaxError(
                        "unterminated single quote", token=text[i:], column=i, text=text
                    )
                word.append(text[i + 1 : end])
                cols.extend(range(i + 1, end))
                i = end + 1
            elif ch == '"':
                i += 1
                while True:
                    if i >= n:
                        raise RuleSyntaxError(
                            "unterminated double quote",
                            token=text[start:],
                            column=start,
                            text=text,
                        )
                    if text[i] == '"':
                        i += 1
                        break
                    if text[i] == "\\" and i + 1 < n and text[i + 1] in _DQ_ESCAPABLE:
                        word.append(text[i + 1])
                        cols.append(i + 1)
                        i += 2
                        continue
                    word.append(text[i])
                    cols.append(i)
                    i += 1
            else:
                word.append(ch)
                cols.append(i)
                i += 1
        tokens.append(_token(word, cols, start))
    return tokens
