"""Where a sqlglot node sits in its SQL text: line, column and the offending text.

sqlglot records ``line``/``col``/``start``/``end`` only on some leaf tokens (identifiers,
literals, function names).  :func:`position_of` takes the span covering every token below a node
and widens it, best effort, to a leading keyword (``CAST``, ``CASE``, ``NOT`` ...), to the
closing parenthesis of a call and to the ``END`` of a ``CASE``.
"""

from __future__ import annotations

import re
from typing import TypedDict

from sqlglot import exp


class Position(TypedDict):
    """Keyword arguments for :class:`~feldera_nb.errors.SqlError`."""

    line: int | None
    col: int | None
    highlight: str | None


# Keywords that open a construct before its first child token.
_LEADING_KEYWORDS = frozenset(
    {
        "CAST", "TRY_CAST", "CASE", "NOT", "EXTRACT", "TRIM", "SUBSTRING", "POSITION",
        "EXISTS", "INTERVAL", "DATE", "TIME", "TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
    }
)
_WORD_BEFORE = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)[\s(]*$")


def _token_span(node: exp.Expression) -> tuple[int, int] | None:
    starts: list[int] = []
    ends: list[int] = []
    for sub in node.walk():
        meta = sub.meta if sub._meta is not None else None  # noqa: SLF001 - avoid creating meta
        if meta and "start" in meta and "end" in meta:
            starts.append(meta["start"])
            ends.append(meta["end"])
    if not starts:
        return None
    return min(starts), max(ends)


def _widen(sql: str, start: int, end: int, node: exp.Expression) -> tuple[int, int]:
    match = _WORD_BEFORE.search(sql, 0, start)
    if isinstance(node, exp.Case):
        opening = [m.start() for m in re.finditer(r"(?i)\bCASE\b", sql[:start])]
        start = opening[-1] if opening else start
    elif match and match.group(1).upper() in _LEADING_KEYWORDS:
        start = match.start(1)
    text = sql[start : end + 1]
    depth = text.count("(") - text.count(")")
    i = end + 1
    if depth == 0 and isinstance(node, exp.Func) and sql[i:].lstrip().startswith("("):
        i = sql.index("(", i) + 1
        depth = 1
    in_string = False
    while depth > 0 and i < len(sql):
        ch = sql[i]
        if ch == "'":
            in_string = not in_string
        elif not in_string and ch == "(":
            depth += 1
        elif not in_string and ch == ")":
            depth -= 1
        i += 1
    end = i - 1 if i > end + 1 else end
    if isinstance(node, exp.Case):
        tail = re.match(r"(?is)(.*?\bEND\b)", sql[end + 1 :])
        if tail:
            end += len(tail.group(1))
    return start, end


def position_of(node: exp.Expression | None, sql: str | None) -> Position:
    """Best-effort ``line``/``col`` (1-based) and ``highlight`` text of ``node`` in ``sql``.

    ``sql`` must be the text the node was parsed from (offsets are absolute); without it the
    line and column of the first token are still reported.
    """
    none: Position = {"line": None, "col": None, "highlight": None}
    if node is None:
        return none
    span = _token_span(node)
    if span is None:
        return {"line": None, "col": None, "highlight": node.sql() or None}
    start, end = span
    if sql is None or end >= len(sql):
        first = min(
            (s.meta for s in node.walk() if s._meta and "start" in s.meta),  # noqa: SLF001
            key=lambda m: m["start"],
        )
        col = first["col"] - (first["end"] - first["start"])
        return {"line": first["line"], "col": col, "highlight": node.sql()}
    start, end = _widen(sql, start, end, node)
    line = sql.count("\n", 0, start) + 1
    col = start - (sql.rfind("\n", 0, start) + 1) + 1
    return {"line": line, "col": col, "highlight": sql[start : end + 1]}
