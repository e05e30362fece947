"""SQL types of Feldera's dialect and their Polars counterparts.

STUB written by the lead; the expressions helper owns and completes this module
(common-type rules, CAST rules, arithmetic result types).  Keep the names below stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

INTEGER_KINDS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")
FLOAT_KINDS = ("REAL", "DOUBLE")


@dataclass(frozen=True)
class SqlType:
    """A SQL type: ``kind`` is one of BOOLEAN, TINYINT, SMALLINT, INTEGER, BIGINT, REAL,
    DOUBLE, DECIMAL, VARCHAR, CHAR, DATE, TIME, TIMESTAMP, NULL; DECIMAL carries precision and
    scale, CHAR/VARCHAR an optional length."""

    kind: str
    nullable: bool = True
    precision: int | None = None
    scale: int | None = None

    @property
    def is_integer(self) -> bool:
        return self.kind in INTEGER_KINDS

    @property
    def is_numeric(self) -> bool:
        return self.kind in INTEGER_KINDS or self.kind in FLOAT_KINDS or self.kind == "DECIMAL"

    def with_nullable(self, nullable: bool) -> SqlType:
        return SqlType(self.kind, nullable, self.precision, self.scale)

    def __str__(self) -> str:
        base = self.kind
        if self.kind == "DECIMAL":
            base = f"DECIMAL({self.precision}, {self.scale})"
        elif self.kind in ("VARCHAR", "CHAR") and self.precision is not None:
            base = f"{self.kind}({self.precision})"
        return base if self.nullable else base + " NOT NULL"


_POLARS = {
    "BOOLEAN": pl.Boolean,
    "TINYINT": pl.Int8,
    "SMALLINT": pl.Int16,
    "INTEGER": pl.Int32,
    "BIGINT": pl.Int64,
    "REAL": pl.Float32,
    "DOUBLE": pl.Float64,
    "VARCHAR": pl.String,
    "CHAR": pl.String,
    "DATE": pl.Date,
    "TIME": pl.Time,
    "TIMESTAMP": pl.Datetime("us"),
    "NULL": pl.Null,
}


def to_polars(t: SqlType) -> pl.DataType:
    """The Polars dtype that stores values of ``t``."""
    if t.kind == "DECIMAL":
        return pl.Decimal(t.precision or 38, t.scale or 0)
    return _POLARS[t.kind]
