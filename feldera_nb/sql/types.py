"""SQL types of Feldera's dialect, their Polars counterparts and the type algebra.

The rules follow Calcite (which Feldera inherits) where they are known; the choices are:

==========================  ===============================================================
operation                   result type
==========================  ===============================================================
int op int (+ - * /)        the wider integer (TINYINT+TINYINT is TINYINT, INT+BIGINT BIGINT)
int % int                   the type of the divisor (Calcite: ``|x % y| < |y|``)
int/decimal op decimal      DECIMAL; integers count as DECIMAL(3|5|10|19, 0)
DECIMAL + -                 scale max(s1, s2), precision max(p1-s1, p2-s2) + scale + 1
DECIMAL *                   scale s1 + s2, precision p1 + p2
DECIMAL /                   scale max(6, s1 + p2 + 1), integer digits p1 - s1 + s2; when that
                            exceeds 38 digits the scale shrinks (not below 6)
DECIMAL %                   scale max(s1, s2), precision min(p1-s1, p2-s2) + scale
REAL op REAL                REAL
other op REAL/DOUBLE        DOUBLE
==========================  ===============================================================

Precision is capped at :data:`MAX_DECIMAL_PRECISION` (38, what Polars' Int128-backed decimal
holds, and Feldera's maximum).  ``DECIMAL``/``NUMERIC`` without arguments is DECIMAL(38, 0),
as in Feldera; ``DECIMAL(p)`` is DECIMAL(p, 0).  String literals are VARCHAR (Calcite types
them CHAR(n), which pads CASE results with spaces; we do not).  A result is nullable when any
operand is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from sqlglot import exp

from feldera_nb.errors import SqlTypeError, UnsupportedSqlError
from feldera_nb.sql.positions import position_of

INTEGER_KINDS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")
FLOAT_KINDS = ("REAL", "DOUBLE")
STRING_KINDS = ("VARCHAR", "CHAR")
TEMPORAL_KINDS = ("DATE", "TIME", "TIMESTAMP", "INTERVAL")

MAX_DECIMAL_PRECISION = 38
DEFAULT_DECIMAL_PRECISION = 38
MIN_DIVISION_SCALE = 6

# Digits an integer type needs as a DECIMAL(p, 0).
INTEGER_DIGITS = {"TINYINT": 3, "SMALLINT": 5, "INTEGER": 10, "BIGINT": 19}
# Range of each integer type.
INTEGER_BITS = {"TINYINT": 8, "SMALLINT": 16, "INTEGER": 32, "BIGINT": 64}


@dataclass(frozen=True)
class SqlType:
    """A SQL type: ``kind`` is one of BOOLEAN, TINYINT, SMALLINT, INTEGER, BIGINT, REAL,
    DOUBLE, DECIMAL, VARCHAR, CHAR, DATE, TIME, TIMESTAMP, NULL; DECIMAL carries precision and
    scale, CHAR/VARCHAR an optional length (in ``precision``)."""

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

    @property
    def is_float(self) -> bool:
        return self.kind in FLOAT_KINDS

    @property
    def is_decimal(self) -> bool:
        return self.kind == "DECIMAL"

    @property
    def is_string(self) -> bool:
        return self.kind in STRING_KINDS

    @property
    def is_temporal(self) -> bool:
        return self.kind in TEMPORAL_KINDS

    @property
    def is_null(self) -> bool:
        """The type of the bare ``NULL`` literal."""
        return self.kind == "NULL"

    def with_nullable(self, nullable: bool) -> SqlType:
        return SqlType(self.kind, nullable, self.precision, self.scale)

    def same_domain(self, other: SqlType) -> bool:
        """Equal ignoring nullability."""
        return self.with_nullable(True) == other.with_nullable(True)

    def __str__(self) -> str:
        base = self.kind
        if self.kind == "DECIMAL":
            base = f"DECIMAL({self.precision}, {self.scale})"
        elif self.kind in ("VARCHAR", "CHAR") and self.precision is not None:
            base = f"{self.kind}({self.precision})"
        return base if self.nullable else base + " NOT NULL"


def sql_type(kind: str, *, nullable: bool = True) -> SqlType:
    """A parameterless type (``sql_type("INTEGER")``)."""
    return SqlType(kind, nullable)


def decimal(precision: int, scale: int, *, nullable: bool = True) -> SqlType:
    """DECIMAL(precision, scale), with the precision capped at 38."""
    precision = min(precision, MAX_DECIMAL_PRECISION)
    return SqlType("DECIMAL", nullable, precision, min(scale, precision))


NULL = SqlType("NULL", True)
BOOLEAN = SqlType("BOOLEAN", False)

_POLARS = {
    "INTERVAL": pl.Duration("us"),  # day-time intervals only
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
        precision = DEFAULT_DECIMAL_PRECISION if t.precision is None else t.precision
        return pl.Decimal(precision, t.scale or 0)
    return _POLARS[t.kind]


_SQLGLOT_KINDS = {
    exp.DType.BOOLEAN: "BOOLEAN",
    exp.DType.TINYINT: "TINYINT",
    exp.DType.SMALLINT: "SMALLINT",
    exp.DType.INT: "INTEGER",
    exp.DType.BIGINT: "BIGINT",
    exp.DType.FLOAT: "REAL",
    exp.DType.DOUBLE: "DOUBLE",
    exp.DType.DECIMAL: "DECIMAL",
    exp.DType.VARCHAR: "VARCHAR",
    exp.DType.NVARCHAR: "VARCHAR",
    exp.DType.TEXT: "VARCHAR",
    exp.DType.CHAR: "CHAR",
    exp.DType.NCHAR: "CHAR",
    exp.DType.DATE: "DATE",
    exp.DType.TIME: "TIME",
    exp.DType.TIMESTAMP: "TIMESTAMP",
    exp.DType.DATETIME: "TIMESTAMP",
}


def _type_params(dt: exp.DataType) -> list[int]:
    params = []
    for p in dt.expressions:
        value = p.this if isinstance(p, exp.DataTypeParam) else p
        if not isinstance(value, exp.Literal) or value.is_string:
            raise ValueError(p.sql())
        params.append(int(value.this))
    return params


def from_sqlglot(
    dt: exp.DataType, *, node: exp.Expression | None = None, sql: str | None = None
) -> SqlType:
    """The :class:`SqlType` (nullable) of a sqlglot type: CREATE TABLE columns, CAST targets.

    ``TIME(p)``/``TIMESTAMP(p)`` accept and ignore the precision (values are kept in
    microseconds).  Other types (arrays, maps, intervals, binary, time zones) are refused.
    """
    where = node if node is not None else dt
    kind = _SQLGLOT_KINDS.get(dt.this)
    if kind is None:
        raise UnsupportedSqlError(f"type {dt.sql()}", sql=sql, **position_of(where, sql))
    try:
        params = _type_params(dt)
    except ValueError as err:
        raise SqlTypeError(
            f"bad type parameter {err} in {dt.sql()}", sql=sql, **position_of(where, sql)
        ) from None
    if kind == "DECIMAL":
        if len(params) > 2:
            raise SqlTypeError(f"bad type {dt.sql()}", sql=sql, **position_of(where, sql))
        precision = params[0] if params else DEFAULT_DECIMAL_PRECISION
        scale = params[1] if len(params) > 1 else 0
        if not 1 <= precision <= MAX_DECIMAL_PRECISION or not 0 <= scale <= precision:
            raise SqlTypeError(
                f"DECIMAL({precision}, {scale}): precision must be 1..{MAX_DECIMAL_PRECISION}"
                " and scale 0..precision",
                sql=sql,
                **position_of(where, sql),
            )
        return SqlType("DECIMAL", True, precision, scale)
    if kind in STRING_KINDS:
        if len(params) > 1 or (params and params[0] < 1):
            raise SqlTypeError(f"bad type {dt.sql()}", sql=sql, **position_of(where, sql))
        length = params[0] if params else (1 if kind == "CHAR" else None)
        return SqlType(kind, True, length)
    if params and kind not in ("TIME", "TIMESTAMP"):
        raise SqlTypeError(f"bad type {dt.sql()}", sql=sql, **position_of(where, sql))
    return SqlType(kind, True)


# ---------------------------------------------------------------------------------------------
# type algebra


def as_decimal(t: SqlType) -> SqlType:
    """An exact numeric type viewed as DECIMAL(p, s)."""
    if t.is_integer:
        return SqlType("DECIMAL", t.nullable, INTEGER_DIGITS[t.kind], 0)
    return t


def _integer_digits(t: SqlType) -> int:
    return (t.precision or 0) - (t.scale or 0)


def _wider_integer(a: SqlType, b: SqlType) -> str:
    return max(a.kind, b.kind, key=INTEGER_KINDS.index)


def _numeric_common(types: Sequence[SqlType]) -> SqlType:
    kinds = {t.kind for t in types}
    if "DOUBLE" in kinds or ("REAL" in kinds and kinds != {"REAL"}):
        return SqlType("DOUBLE")
    if kinds == {"REAL"}:
        return SqlType("REAL")
    if "DECIMAL" in kinds:
        decs = [as_decimal(t) for t in types]
        scale = max(t.scale or 0 for t in decs)
        digits = max(_integer_digits(t) for t in decs)
        return decimal(digits + scale, scale)
    return SqlType(max(kinds, key=INTEGER_KINDS.index))


def _string_common(types: Sequence[SqlType]) -> SqlType:
    if all(t.kind == "CHAR" for t in types):
        return SqlType("CHAR", True, max(t.precision or 1 for t in types))
    lengths = [t.precision for t in types]
    if any(n is None for n in lengths):
        return SqlType("VARCHAR")
    return SqlType("VARCHAR", True, max(n for n in lengths if n is not None))


def common_type(
    types: Sequence[SqlType], *, node: exp.Expression | None = None, sql: str | None = None
) -> SqlType:
    """The least restrictive type all ``types`` convert to implicitly (UNION, CASE, COALESCE,
    IN, comparisons); nullable if any input is.  Incompatible families (string vs number, date
    vs number, boolean vs anything else) raise :class:`SqlTypeError`."""
    nullable = any(t.nullable for t in types)
    known = [t for t in types if not t.is_null]
    if not known:
        return NULL
    first = known[0]
    if all(t.same_domain(first) for t in known):
        result = first
    elif all(t.is_numeric for t in known):
        result = _numeric_common(known)
    elif all(t.is_string for t in known):
        result = _string_common(known)
    elif {t.kind for t in known} <= {"DATE", "TIMESTAMP"}:
        result = SqlType("TIMESTAMP")
    else:
        names = ", ".join(dict.fromkeys(str(t.with_nullable(True)) for t in known))
        raise SqlTypeError(f"incompatible types: {names}", sql=sql, **position_of(node, sql))
    return result.with_nullable(nullable)


def _decimal_arith(op: str, a: SqlType, b: SqlType) -> SqlType:
    a, b = as_decimal(a), as_decimal(b)
    p1, s1, p2, s2 = a.precision or 0, a.scale or 0, b.precision or 0, b.scale or 0
    if op in ("+", "-"):
        scale = max(s1, s2)
        return decimal(max(p1 - s1, p2 - s2) + scale + 1, scale)
    if op == "*":
        return decimal(p1 + p2, s1 + s2)
    if op == "%":
        scale = max(s1, s2)
        return decimal(min(p1 - s1, p2 - s2) + scale, scale)
    digits = p1 - s1 + s2
    scale = max(MIN_DIVISION_SCALE, s1 + p2 + 1)
    if digits + scale > MAX_DECIMAL_PRECISION:
        scale = max(MIN_DIVISION_SCALE, MAX_DECIMAL_PRECISION - digits)
        scale = min(scale, MAX_DECIMAL_PRECISION)
    return decimal(min(digits + scale, MAX_DECIMAL_PRECISION), scale)


def arithmetic_type(op: str, a: SqlType, b: SqlType) -> SqlType | None:
    """Result type of ``a op b`` for ``op`` in ``+ - * / %`` on numeric types (None when the
    operands are not both numeric).  Nullability is the caller's business."""
    if not (a.is_numeric and b.is_numeric):
        return None
    if a.is_float or b.is_float:
        return _numeric_common([a, b])
    if a.is_integer and b.is_integer:
        return SqlType(b.kind if op == "%" else _wider_integer(a, b))
    return _decimal_arith(op, a, b)


def literal_type(value: object) -> SqlType:
    """The SQL type of a Python constant (not null)."""
    import datetime as _dt
    from decimal import Decimal

    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return SqlType("INTEGER", False)
        if -(2**63) <= value < 2**63:
            return SqlType("BIGINT", False)
        return decimal(len(str(abs(value))), 0, nullable=False)
    if isinstance(value, Decimal):
        sign, digits, exponent = value.as_tuple()
        scale = max(0, -int(exponent))
        precision = max(len(digits), scale, 1)
        return decimal(precision, scale, nullable=False)
    if isinstance(value, float):
        return SqlType("DOUBLE", False)
    if isinstance(value, str):
        return SqlType("VARCHAR", False)
    if isinstance(value, _dt.datetime):
        return SqlType("TIMESTAMP", False)
    if isinstance(value, _dt.date):
        return SqlType("DATE", False)
    if isinstance(value, _dt.time):
        return SqlType("TIME", False)
    raise TypeError(f"no SQL type for {value!r}")
