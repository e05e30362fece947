"""Parse a sqllogictest script into records.

The format is the one ``sqllogictest.c`` reads (https://www.sqlite.org/sqllogictest/): records
are separated by blank lines; ``#`` starts a comment line; a record may be preceded by
``skipif <db>`` / ``onlyif <db>`` lines.  We are none of the named engines, so a record under
``onlyif X`` is skipped and one under ``skipif X`` is kept (as Feldera's own port does).

>>> recs = parse_text("hash-threshold 8\\n\\nquery I rowsort lbl\\nSELECT 1\\n----\\n1\\n")
>>> [type(r).__name__ for r in recs]
['HashThreshold', 'Query']
>>> recs[1].types, recs[1].sort, recs[1].label, recs[1].sql, recs[1].expected.values
('I', 'rowsort', 'lbl', 'SELECT 1', ('1',))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SORT_MODES = ("nosort", "rowsort", "valuesort")
_HASH_LINE = re.compile(r"^(\d+) values hashing to ([0-9a-f]{32})$")


@dataclass(frozen=True)
class Expected:
    """A query's expected result: the listed values, or a value count and an md5 hash."""

    values: tuple[str, ...] | None = None
    count: int | None = None
    md5: str | None = None

    @property
    def is_hash(self) -> bool:
        return self.md5 is not None


@dataclass(frozen=True)
class Statement:
    """``statement ok|error`` followed by one SQL statement."""

    line: int
    sql: str
    expect_error: bool


@dataclass(frozen=True)
class Query:
    """``query <types> <sort> [label]``, its SQL and its expected result."""

    line: int
    sql: str
    types: str
    sort: str
    label: str | None
    expected: Expected


@dataclass(frozen=True)
class HashThreshold:
    """``hash-threshold N``: results with more than N values are given as a hash."""

    line: int
    value: int


Record = Statement | Query | HashThreshold


@dataclass(frozen=True)
class ParsedScript:
    """A script's records in file order, with the count of records skipped by ``onlyif``."""

    path: str
    records: tuple[Record, ...]
    skipped: int
    skipped_queries: int


class ScriptFormatError(ValueError):
    """A record the parser cannot read; names the file and line."""


def parse_file(path: str | Path) -> ParsedScript:
    """Read and parse one ``.test`` file."""
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    return parse_script(text, str(path))


def parse_text(text: str) -> list[Record]:
    """Parse script text; return only the kept records."""
    return list(parse_script(text, "<text>").records)


def parse_script(text: str, path: str) -> ParsedScript:
    """Parse script text into a :class:`ParsedScript`."""
    lines = [_clean(line) for line in text.split("\n")]
    records: list[Record] = []
    skipped = skipped_queries = 0
    i, n = 0, len(lines)
    while i < n:
        if not lines[i] or lines[i].startswith("#"):
            i += 1
            continue
        start = i
        block: list[tuple[int, str]] = []
        while i < n and lines[i]:
            if not lines[i].startswith("#"):
                block.append((i + 1, lines[i]))
            i += 1
        skip = False
        while block and block[0][1].split()[0] in ("skipif", "onlyif"):
            words = block[0][1].split()
            if words[0] == "onlyif":
                skip = True
            block = block[1:]
        if not block:
            continue
        if skip:
            skipped += 1
            skipped_queries += block[0][1].startswith("query")
            continue
        records.append(_record(block, path, start + 1))
    return ParsedScript(path, tuple(records), skipped, skipped_queries)


def _clean(line: str) -> str:
    line = line.rstrip("\r")
    return "" if not line.strip() else line


def _record(block: list[tuple[int, str]], path: str, line: int) -> Record:
    head = block[0][1].split()
    kind = head[0]
    body = [text for _, text in block[1:]]
    if kind == "statement":
        if len(head) < 2 or head[1] not in ("ok", "error"):
            raise ScriptFormatError(f"{path}:{line}: statement must be 'ok' or 'error'")
        return Statement(line, _sql("\n".join(body)), head[1] == "error")
    if kind == "query":
        return _query(head, body, path, line)
    if kind == "hash-threshold":
        return HashThreshold(line, int(head[1]))
    raise ScriptFormatError(f"{path}:{line}: unknown record type {kind!r}")


def _query(head: list[str], body: list[str], path: str, line: int) -> Query:
    if len(head) < 2 or not head[1] or set(head[1]) - set("ITR"):
        raise ScriptFormatError(f"{path}:{line}: bad type string in {' '.join(head)!r}")
    sort = head[2] if len(head) > 2 else "nosort"
    if sort not in SORT_MODES:
        raise ScriptFormatError(f"{path}:{line}: unknown sort mode {sort!r}")
    label = head[3] if len(head) > 3 else None
    if "----" in body:
        cut = body.index("----")
        sql_lines, result = body[:cut], body[cut + 1 :]
    else:
        sql_lines, result = body, []
    match = _HASH_LINE.match(result[0].strip()) if len(result) == 1 else None
    if match:
        expected = Expected(count=int(match.group(1)), md5=match.group(2))
    else:
        expected = Expected(values=tuple(result))
    return Query(line, _sql("\n".join(sql_lines)), head[1], sort, label, expected)


def _sql(text: str) -> str:
    return text.strip().rstrip(";").strip()
