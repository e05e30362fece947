"""SQL type parsing, Polars mapping and the type algebra (common type, arithmetic types)."""

from __future__ import annotations

import polars as pl
import pytest
from sqlglot import exp

from feldera_nb.errors import SqlTypeError, UnsupportedSqlError
from feldera_nb.sql.types import (
    SqlType,
    arithmetic_type,
    common_type,
    decimal,
    from_sqlglot,
    to_polars,
)


@pytest.mark.parametrize(
    ("text", "expected", "dtype"),
    [
        ("BOOLEAN", "BOOLEAN", pl.Boolean),
        ("TINYINT", "TINYINT", pl.Int8),
        ("SMALLINT", "SMALLINT", pl.Int16),
        ("INT", "INTEGER", pl.Int32),
        ("INTEGER", "INTEGER", pl.Int32),
        ("BIGINT", "BIGINT", pl.Int64),
        ("REAL", "REAL", pl.Float32),
        ("FLOAT4", "REAL", pl.Float32),
        ("FLOAT", "REAL", pl.Float32),  # Feldera: FLOAT is 32-bit
        ("DOUBLE", "DOUBLE", pl.Float64),
        ("FLOAT8", "DOUBLE", pl.Float64),
        ("DECIMAL", "DECIMAL(38, 0)", pl.Decimal(38, 0)),
        ("NUMERIC(5)", "DECIMAL(5, 0)", pl.Decimal(5, 0)),
        ("DECIMAL(10, 2)", "DECIMAL(10, 2)", pl.Decimal(10, 2)),
        ("VARCHAR", "VARCHAR", pl.String),
        ("VARCHAR(3)", "VARCHAR(3)", pl.String),
        ("TEXT", "VARCHAR", pl.String),
        ("STRING", "VARCHAR", pl.String),
        ("CHAR(4)", "CHAR(4)", pl.String),
        ("CHAR", "CHAR(1)", pl.String),
        ("DATE", "DATE", pl.Date),
        ("TIME", "TIME", pl.Time),
        ("TIMESTAMP", "TIMESTAMP", pl.Datetime("us")),
    ],
)
def test_from_sqlglot(text: str, expected: str, dtype: pl.DataType) -> None:
    t = from_sqlglot(exp.DataType.build(text))
    assert str(t) == expected
    assert to_polars(t) == dtype


@pytest.mark.parametrize("text", ["ARRAY<INT>", "MAP<INT, INT>", "VARBINARY", "TIMESTAMPTZ"])
def test_unsupported_types(text: str) -> None:
    with pytest.raises(UnsupportedSqlError, match="not supported: type"):
        from_sqlglot(exp.DataType.build(text))


def test_bad_decimal() -> None:
    with pytest.raises(SqlTypeError):
        from_sqlglot(exp.DataType.build("DECIMAL(40, 2)"))
    with pytest.raises(SqlTypeError):
        from_sqlglot(exp.DataType.build("DECIMAL(4, 5)"))


I, B, T, D = SqlType("INTEGER"), SqlType("BIGINT"), SqlType("TINYINT"), decimal(10, 2)


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ([I, B], "BIGINT"),
        ([T, SqlType("SMALLINT", False)], "SMALLINT"),
        ([I.with_nullable(False), SqlType("NULL")], "INTEGER"),
        ([I.with_nullable(False), T.with_nullable(False)], "INTEGER NOT NULL"),
        ([I, D], "DECIMAL(12, 2)"),
        ([decimal(5, 4), decimal(10, 0)], "DECIMAL(14, 4)"),
        ([I, SqlType("REAL")], "DOUBLE"),
        ([SqlType("REAL"), SqlType("REAL")], "REAL"),
        ([SqlType("VARCHAR", True, 3), SqlType("VARCHAR", True, 5)], "VARCHAR(5)"),
        ([SqlType("CHAR", True, 3), SqlType("VARCHAR", True, 5)], "VARCHAR(5)"),
        ([SqlType("CHAR", True, 3), SqlType("CHAR", True, 5)], "CHAR(5)"),
        ([SqlType("VARCHAR"), SqlType("VARCHAR", True, 5)], "VARCHAR"),
        ([SqlType("DATE"), SqlType("TIMESTAMP")], "TIMESTAMP"),
        ([SqlType("NULL"), SqlType("NULL")], "NULL"),
    ],
)
def test_common_type(types: list[SqlType], expected: str) -> None:
    assert str(common_type(types)) == expected


@pytest.mark.parametrize(
    "types",
    [[I, SqlType("VARCHAR")], [SqlType("BOOLEAN"), I], [SqlType("DATE"), I],
     [SqlType("TIME"), SqlType("DATE")]],
)
def test_incompatible_types(types: list[SqlType]) -> None:
    with pytest.raises(SqlTypeError, match="incompatible types"):
        common_type(types)


@pytest.mark.parametrize(
    ("op", "a", "b", "expected"),
    [
        ("+", T, T, "TINYINT"),
        ("*", I, B, "BIGINT"),
        ("/", B, I, "BIGINT"),
        ("%", B, T, "TINYINT"),
        ("+", D, D, "DECIMAL(11, 2)"),
        ("-", decimal(5, 4), decimal(10, 0), "DECIMAL(15, 4)"),
        ("*", D, D, "DECIMAL(20, 4)"),
        ("*", decimal(38, 10), decimal(38, 10), "DECIMAL(38, 20)"),
        ("/", D, I, "DECIMAL(21, 13)"),
        ("/", decimal(38, 0), decimal(38, 0), "DECIMAL(38, 6)"),
        ("%", D, decimal(5, 3), "DECIMAL(5, 3)"),
        ("+", I, SqlType("DOUBLE"), "DOUBLE"),
    ],
)
def test_arithmetic_type(op: str, a: SqlType, b: SqlType, expected: str) -> None:
    result = arithmetic_type(op, a, b)
    assert result is not None
    assert str(result) == expected
