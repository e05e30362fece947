"""Render result values the way the reference harness (``slt_sqlite.c``) does, sort and hash.

``slt_sqlite.c`` renders a column by its type letter: ``NULL`` for NULL; ``I`` through
``sqlite3_column_int`` and ``%d`` (a REAL is truncated toward zero, a TEXT parsed as SQLite
casts it, the result kept to 32 bits); ``R`` through ``sqlite3_column_double`` and SQLite's
own ``%.3f`` (which rounds halves up after nudging the value by 3e-16 of itself, so it differs
from C's printf near halves); ``T`` as SQLite's text of the value (a REAL as ``%!.15g``),
``(empty)`` for '' and ``@`` for each byte outside ``' '..'~'``.  The hash is the md5 of every
value followed by a newline.

>>> format_row((1.5, 2, None, ""), "IRTT")
['1', '2.000', 'NULL', '(empty)']
>>> format_value(-19.9985, "R"), format_value(True, "I"), format_value(2.0, "T")
('-19.999', '1', '2.0')
>>> md5_of(["1", "2"]) == md5_of(["1"] + ["2"])
True
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

_SQLITE = sqlite3.connect(":memory:", check_same_thread=False)


def format_row(row: Sequence[Any], types: str) -> list[str]:
    """Render one result row; ``types`` holds one letter per column."""
    return [format_value(value, letter) for value, letter in zip(row, types, strict=True)]


def format_rows(rows: Iterable[Sequence[Any]], types: str) -> list[str]:
    """Render rows into the flat, row-major value list the reference harness builds."""
    out: list[str] = []
    for row in rows:
        out.extend(format_row(row, types))
    return out


def format_value(value: Any, letter: str) -> str:
    """Render one value under the type letter ``I``, ``R`` or ``T``."""
    if value is None:
        return "NULL"
    if letter == "I":
        return str(_wrap32(_to_int(value)))
    if letter == "R":
        return _format_real(_to_float(value))
    return _format_text(value)


def sort_values(values: list[str], ncols: int, mode: str) -> list[str]:
    """Apply a sort mode: ``rowsort`` sorts rows, ``valuesort`` values, ``nosort`` nothing.

    Comparison is ``strcmp`` on the rendered values, as in the reference harness.
    """
    if mode == "valuesort":
        return sorted(values)
    if mode == "rowsort":
        rows = [values[i : i + ncols] for i in range(0, len(values), ncols)]
        rows.sort()
        return [v for row in rows for v in row]
    return list(values)


def md5_of(values: Iterable[str]) -> str:
    """The reference hash: md5 over each value followed by a newline."""
    digest = hashlib.md5()
    for value in values:
        digest.update(value.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def _wrap32(i: int) -> int:
    i &= 0xFFFFFFFF
    return i - (1 << 32) if i & 0x80000000 else i


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return 0
        if math.isinf(value):
            return (1 << 63) - 1 if value > 0 else -(1 << 63)
        return int(value)  # truncates toward zero, as (i64)r does
    if isinstance(value, Decimal):
        return int(value)
    return int(_sqlite_scalar("SELECT CAST(? AS INTEGER)", str(value)))


def _to_float(value: Any) -> float:
    if isinstance(value, (bool, int, float, Decimal)):
        return float(value)
    return float(_sqlite_scalar("SELECT CAST(? AS REAL)", str(value)))


def _format_real(r: float) -> str:
    """SQLite's ``%.3f``; Python's correctly rounded ``%.3f`` agrees away from halves."""
    if r == 0:
        return "0.000"
    a = abs(r)
    if a < 1e9:
        frac = a * 1000 - math.floor(a * 1000)
        if abs(frac - 0.5) > 1e-3:
            return "%.3f" % r
    return str(_sqlite_scalar("SELECT printf('%.3f', ?)", r))


def _format_text(value: Any) -> str:
    if isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, (float, Decimal)):
        text = str(_sqlite_scalar("SELECT CAST(? AS TEXT)", float(value)))
    elif isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    else:
        text = str(value)
    if not text:
        return "(empty)"
    if text.isascii() and text.isprintable():
        return text
    return "".join(chr(b) if 32 <= b <= 126 else "@" for b in text.encode("utf-8"))


def _sqlite_scalar(sql: str, arg: Any) -> Any:
    return _SQLITE.execute(sql, (arg,)).fetchone()[0]
