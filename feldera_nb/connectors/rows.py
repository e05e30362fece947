"""Turn rows (Polars, pandas, JSON) into a table's Z-set, validating them first (used by the
``input_*`` calls and by input connectors).

Validation happens before anything reaches the circuit, so a bad batch is rejected whole
and the pipeline keeps running with everything accepted before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from feldera_nb.engine.zset import WEIGHT
from feldera_nb.errors import InputError
from feldera_nb.sql.compiler import CompiledTable
from feldera_nb.sql.types import SqlType, to_polars

UPDATE_FORMATS = ("raw", "insert_delete")


def _coerce(series: pl.Series, t: SqlType, table: str, column: str) -> pl.Series:
    """Cast ``series`` to the column's dtype; a value that does not fit is an InputError."""
    target = to_polars(t)
    if series.dtype == target:
        return series
    try:
        if series.dtype == pl.String and t.kind in ("DATE", "TIME", "TIMESTAMP"):
            if t.kind == "DATE":
                return series.str.to_date(strict=True)
            if t.kind == "TIME":
                return series.str.to_time(strict=True)
            return series.str.replace("T", " ").str.to_datetime(time_unit="us", strict=True)
        if series.dtype == pl.Null:
            return series.cast(target)
        if t.kind == "BOOLEAN" and series.dtype != pl.Boolean:
            raise TypeError
        if t.kind in ("VARCHAR", "CHAR") and series.dtype != pl.String:
            raise TypeError
        if t.is_numeric and series.dtype == pl.Boolean:
            raise TypeError
        if t.is_numeric and t.kind != "DECIMAL" and series.dtype == pl.String:
            raise TypeError
        out = series.cast(target, strict=True)
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        bad = _first_bad(series, target)
        raise InputError(
            f"table '{table}', column '{column}': expected {t}, got {series.dtype}"
            + (f" (row {bad[0]}: {bad[1]!r})" if bad else "")
        ) from None
    if t.is_integer:
        # A float like 1.5 must not silently become 1.
        if series.dtype.is_float():
            lossy = (out.cast(pl.Float64) != series.cast(pl.Float64)).fill_null(False)
            if lossy.any():
                i = int(lossy.arg_true()[0])
                raise InputError(f"table '{table}', column '{column}': {series[i]!r} at row {i} "
                                 f"is not a valid {t}")
    return out


def _first_bad(series: pl.Series, target: pl.DataType) -> tuple[int, Any] | None:
    try:
        ok = series.cast(target, strict=False)
    except pl.exceptions.PolarsError:
        return (0, series[0]) if len(series) else None
    bad = ok.is_null() & series.is_not_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        return i, series[i]
    return None


def to_zset(table: CompiledTable, df: pl.DataFrame, weights: pl.Series | None = None
            ) -> pl.DataFrame:
    """Validate ``df`` against ``table`` and return it as a Z-set over c0..cN."""
    cols = {c.lower(): c for c in df.columns}
    known = {name for name, _ in table.columns}
    extra = [c for c in cols if c not in known]
    if extra:
        raise InputError(f"table '{table.name}' has no column '{extra[0]}' "
                         f"(columns: {', '.join(n for n, _ in table.columns)})")
    is_delete = weights < 0 if weights is not None else None
    out: dict[str, pl.Series] = {}
    key = set(table.definition.primary_key)
    for i, (name, t) in enumerate(table.columns):
        if name in cols:
            s = _coerce(df[cols[name]], t, table.name, name)
        else:
            s = pl.Series(name, [None] * df.height, dtype=to_polars(t))
        if not t.nullable and s.null_count():
            nulls = s.is_null()
            if is_delete is not None and key and name not in key:
                nulls = nulls & ~is_delete  # a delete by primary key needs only the key
            if nulls.any():
                row = int(nulls.arg_true()[0])
                what = "missing" if name not in cols else "NULL"
                raise InputError(f"table '{table.name}', column '{name}' is NOT NULL but row "
                                 f"{row} has it {what}")
        out[f"c{i}"] = s.alias(f"c{i}")
    w = weights.cast(pl.Int64) if weights is not None else pl.Series([1] * df.height, dtype=pl.Int64)
    return pl.DataFrame(list(out.values()) + [w.alias(WEIGHT)])


def from_json(table: CompiledTable, rows: Any, update_format: str) -> pl.DataFrame:
    """Rows as Feldera's JSON formats: ``raw`` (each object an insert) or ``insert_delete``
    (``{"insert": {...}}`` / ``{"delete": {...}}``)."""
    if update_format not in UPDATE_FORMATS:
        raise InputError(f"update_format must be one of {', '.join(UPDATE_FORMATS)}, "
                         f"not {update_format!r}")
    if isinstance(rows, (str, bytes)):
        text = rows.decode() if isinstance(rows, bytes) else rows
        try:
            rows = json.loads(text)
        except json.JSONDecodeError:
            try:
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            except json.JSONDecodeError as e:
                raise InputError(f"input for table '{table.name}' is not valid JSON: {e}") from None
    if isinstance(rows, Mapping):
        rows = [rows]
    records: list[Mapping[str, Any]] = []
    weights: list[int] = []
    for i, r in enumerate(rows if isinstance(rows, Iterable) else []):
        if not isinstance(r, Mapping):
            raise InputError(f"row {i} for table '{table.name}' is not a JSON object")
        if update_format == "raw":
            records.append(r)
            weights.append(1)
            continue
        if len(r) != 1 or next(iter(r)) not in ("insert", "delete"):
            raise InputError(f"row {i} for table '{table.name}': insert_delete rows look like "
                             '{"insert": {...}} or {"delete": {...}}')
        op, value = next(iter(r.items()))
        if not isinstance(value, Mapping):
            raise InputError(f"row {i} for table '{table.name}': '{op}' must hold an object")
        records.append(value)
        weights.append(1 if op == "insert" else -1)
    names = {name for name, _ in table.columns}
    for i, r in enumerate(records):
        for k in r:
            if k.lower() not in names:
                raise InputError(f"row {i}: table '{table.name}' has no column '{k}'")
    data = {name: [_json_value(r, name) for r in records] for name, _ in table.columns
            if any(_has(r, name) for r in records)}
    if data:
        try:
            df = pl.DataFrame(data, strict=False)
        except (pl.exceptions.PolarsError, TypeError, ValueError) as e:
            raise InputError(f"input for table '{table.name}' has values of mixed types: {e}"
                             ) from None
    else:
        df = _nulls(table, len(records))
    return to_zset(table, df, pl.Series(weights, dtype=pl.Int64))


def _nulls(table: CompiledTable, n: int) -> pl.DataFrame:
    return pl.DataFrame({name: pl.Series([None] * n, dtype=to_polars(t)) for name, t in table.columns})


def _has(r: Mapping[str, Any], name: str) -> bool:
    return any(k.lower() == name for k in r)


def _json_value(r: Mapping[str, Any], name: str) -> Any:
    for k, v in r.items():
        if k.lower() == name:
            return v
    return None
