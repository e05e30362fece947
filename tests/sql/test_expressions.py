"""Scalar expression compiler: SQL text over a small frame with NULLs -> expected values.

Oracle: hand-checked expected values (SQL semantics); DuckDB where its semantics agree with
Feldera's (it types integer ``/`` as DOUBLE, so integer division is checked by hand).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import duckdb
import polars as pl
import pytest
import sqlglot
from polars.exceptions import PolarsError
from sqlglot import exp

from feldera_nb.errors import SqlError, SqlTypeError, UnsupportedSqlError
from feldera_nb.sql.expressions import TypedExpr, cast_to, compile_expr, literal, predicate
from feldera_nb.sql.types import SqlType, to_polars

TYPES = {
    "i": SqlType("INTEGER"),
    "j": SqlType("INTEGER"),
    "t": SqlType("TINYINT"),
    "g": SqlType("BIGINT"),
    "n": SqlType("INTEGER", False),
    "d": SqlType("DECIMAL", True, 10, 2),
    "f": SqlType("DOUBLE"),
    "s": SqlType("VARCHAR"),
    "p": SqlType("BOOLEAN"),
    "q": SqlType("BOOLEAN"),
    "day": SqlType("DATE"),
    "ts": SqlType("TIMESTAMP"),
}

FRAME = pl.DataFrame(
    {
        "i": [7, -7, 7, -7, None, 0],
        "j": [2, 2, -2, -2, 1, 0],
        "t": [100, -100, 1, 2, None, 0],
        "g": [2**62, -(2**62), 1, 2, None, 0],
        "n": [1, 2, 3, 4, 5, 6],
        "d": [D("1.25"), D("-1.25"), None, D("0.05"), D("3.00"), D("-0.50")],
        "f": [1.5, -2.5, None, 0.0, 3.0, -0.0],
        "s": ["ab%c", "x_y", None, "héllo", " 12 ", ""],
        "p": [True, False, None, True, False, None],
        "q": [None, None, None, True, True, False],
        "day": [dt.date(2024, 1, 31), None, dt.date(2000, 2, 29), dt.date(1969, 12, 31), None,
                dt.date(2024, 3, 1)],
        "ts": [dt.datetime(2024, 1, 31, 10, 20, 30, 123000), None, dt.datetime(2000, 2, 29),
               dt.datetime(1969, 12, 31, 23, 59, 59), None, dt.datetime(2024, 3, 1, 0, 0, 1)],
    },
    schema={k: to_polars(v) for k, v in TYPES.items()},
)


class ColumnResolver:
    """Columns of FRAME by name; every other node compiles normally."""

    def resolve(self, node: exp.Expression) -> TypedExpr | None:
        if isinstance(node, exp.Column):
            return TypedExpr(pl.col(node.name), TYPES[node.name])
        return None


def compile_sql(text: str) -> TypedExpr:
    sql = f"SELECT {text} FROM t"
    return compile_expr(sqlglot.parse_one(sql).expressions[0], ColumnResolver(), sql=sql)


def evaluate(text: str, frame: pl.DataFrame = FRAME) -> list[Any]:
    te = compile_sql(text)
    return frame.with_columns(te.expr.alias("__r")).get_column("__r").to_list()


def typeof(text: str) -> str:
    return str(compile_sql(text).type)


# --------------------------------------------------------------------------------------------
# three-valued logic

BOOLS = pl.DataFrame(
    {"p": [True, True, True, False, False, False, None, None, None],
     "q": [True, False, None] * 3},
    schema={"p": pl.Boolean, "q": pl.Boolean},
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("p AND q", [True, False, None, False, False, False, None, False, None]),
        ("p OR q", [True, True, True, True, False, None, True, None, None]),
        ("NOT p", [False] * 3 + [True] * 3 + [None] * 3),
        ("p IS TRUE", [True] * 3 + [False] * 6),
        ("p IS NOT TRUE", [False] * 3 + [True] * 6),
        ("p IS FALSE", [False] * 3 + [True] * 3 + [False] * 3),
        ("p IS NULL", [False] * 6 + [True] * 3),
        ("p = q", [True, False, None, False, True, None, None, None, None]),
        ("p IS NOT DISTINCT FROM q", [True, False, False, False, True, False, False, False, True]),
        ("p IS DISTINCT FROM q", [False, True, True, True, False, True, True, True, False]),
    ],
)
def test_truth_tables(text: str, expected: list[Any]) -> None:
    assert evaluate(text, BOOLS) == expected


def test_truth_tables_match_duckdb() -> None:
    rows = duckdb.sql(
        "SELECT p AND q, p OR q, NOT p FROM (VALUES (true),(false),(NULL)) a(p), "
        "(VALUES (true),(false),(NULL)) b(q)"
    ).fetchall()
    ours = set(zip(evaluate("p AND q", BOOLS), evaluate("p OR q", BOOLS), evaluate("NOT p", BOOLS)))
    assert ours == set(rows)


# --------------------------------------------------------------------------------------------
# arithmetic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i / j", [3, -3, -3, 3, None, None]),  # truncates toward zero; x / 0 is NULL
        ("i % j", [1, -1, 1, -1, None, None]),  # sign of the dividend
        ("MOD(i, j)", [1, -1, 1, -1, None, None]),
        ("i + j", [9, -5, 5, -9, None, 0]),
        ("i - j", [5, -9, 9, -5, None, 0]),
        ("i * j", [14, -14, -14, 14, None, 0]),
        ("-i", [-7, 7, -7, 7, None, 0]),
        ("f / j", [0.75, -1.25, None, -0.0, 3.0, None]),
        ("f % 2", [1.5, -0.5, None, 0.0, 1.0, -0.0]),
        ("d * d", [D("1.5625"), D("1.5625"), None, D("0.0025"), D("9.0000"), D("0.2500")]),
        ("d + i", [D("8.25"), D("-8.25"), None, D("-6.95"), None, D("-0.50")]),
        ("d / 4", [D("0.3125000000000"), D("-0.3125000000000"), None, D("0.0125000000000"),
                   D("0.7500000000000"), D("-0.1250000000000")]),
        ("d % 0.3", [D("0.05"), D("-0.05"), None, D("0.05"), D("0.00"), D("-0.20")]),
        ("d / 0", [None] * 6),
        ("d % 0", [None] * 6),
        ("i * 2.5", [D("17.5"), D("-17.5"), D("17.5"), D("-17.5"), None, D("0.0")]),
        ("day + 1", [dt.date(2024, 2, 1), None, dt.date(2000, 3, 1), dt.date(1970, 1, 1), None,
                     dt.date(2024, 3, 2)]),
        ("day - 1", [dt.date(2024, 1, 30), None, dt.date(2000, 2, 28), dt.date(1969, 12, 30), None,
                     dt.date(2024, 2, 29)]),
        ("NULL + i", [None] * 6),
    ],
)
def test_arithmetic(text: str, expected: list[Any]) -> None:
    assert evaluate(text, FRAME) == expected


def test_integer_division_and_modulo_match_duckdb_truncation() -> None:
    pairs = [(a, b) for a in (-9, -7, -1, 0, 1, 7, 9) for b in (-4, -3, -1, 1, 3, 4)]
    frame = pl.DataFrame({"i": [a for a, _ in pairs], "j": [b for _, b in pairs]},
                         schema={"i": pl.Int32, "j": pl.Int32})
    duck = duckdb.sql(
        "SELECT CAST(trunc(a / b) AS INTEGER), a % b FROM (VALUES "
        + ", ".join(f"({a}, {b})" for a, b in pairs)
        + ") v(a, b)"
    ).fetchall()
    assert list(zip(evaluate("i / j", frame), evaluate("i % j", frame))) == duck


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i + j", "INTEGER"),
        ("t + t", "TINYINT"),
        ("t + 1", "INTEGER"),
        ("t + g", "BIGINT"),
        ("n + n", "INTEGER NOT NULL"),
        ("n / n", "INTEGER"),  # x / 0 is NULL
        ("n / 2", "INTEGER NOT NULL"),
        ("g % t", "TINYINT"),
        ("d + d", "DECIMAL(11, 2)"),
        ("d * d", "DECIMAL(20, 4)"),
        ("d / d", "DECIMAL(23, 13)"),
        ("d % d", "DECIMAL(10, 2)"),
        ("d + i", "DECIMAL(13, 2)"),
        ("d + f", "DOUBLE"),
        ("CAST(i AS REAL) + CAST(i AS REAL)", "REAL"),
        ("CAST(i AS REAL) + i", "DOUBLE"),
        ("1.5", "DECIMAL(2, 1) NOT NULL"),
        ("1e3", "DOUBLE NOT NULL"),
        ("3000000000", "BIGINT NOT NULL"),
        ("'x'", "VARCHAR NOT NULL"),
        ("NULL", "NULL"),
    ],
)
def test_result_types(text: str, expected: str) -> None:
    assert typeof(text) == expected


@pytest.mark.parametrize("text", ["t + t", "t * t", "-CAST(-128 AS TINYINT) + t",
                                  "g * g", "g + g + g"])
def test_integer_overflow_is_a_runtime_error(text: str) -> None:
    with pytest.raises(PolarsError):
        evaluate(text)


def test_overflow_check_skips_rows_a_case_does_not_reach() -> None:
    assert evaluate("CASE WHEN t < 50 AND t > -50 THEN t + t ELSE 0 END") == [0, 0, 2, 4, 0, 0]
    assert evaluate("COALESCE(CASE WHEN t < 50 THEN t END, 0)") == [0, -100, 1, 2, 0, 0]


def test_nested_case_and_coalesce_stay_small() -> None:
    """Guards hold earlier branches; constant branches fold away, so nesting does not multiply
    the expression (this one, from sqllogictest, once compiled to 13 MB and exhausted memory)."""
    text = ("-19 * -COALESCE(-i, -35, CASE COALESCE(-32, 43 * 48 - 82, 56 + 15) WHEN 82 THEN NULL"
            " WHEN 53 / 1 / -56 THEN - - j WHEN i THEN NULL END)")
    assert len(str(compile_sql(text).expr)) < 2_000
    assert evaluate(text) == [-133, 133, -133, 133, -665, 0]


def test_case_nested_past_the_guard_limit_is_refused_with_position() -> None:
    text = "i"
    for depth in range(10):  # each level's guard holds the level below: exponential growth
        text = f"CASE WHEN ({text}) > j THEN i + {depth} ELSE i - {depth} END"
    with pytest.raises(UnsupportedSqlError) as info:
        compile_sql(text)
    assert "nested this deeply" in str(info.value)
    assert "column " in str(info.value)


# --------------------------------------------------------------------------------------------
# comparisons, BETWEEN, IN, CASE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i = 7", [True, False, True, False, None, False]),
        ("i <> 7", [False, True, False, True, None, True]),
        ("i < j", [False, True, False, True, None, False]),
        ("d >= 1", [True, False, None, False, True, False]),
        ("d = i", [False, False, None, False, None, False]),
        ("day = '2024-01-31'", [True, None, False, False, None, False]),
        ("ts < DATE '2000-03-01'", [False, None, True, True, None, False]),
        ("i BETWEEN 0 AND 7", [True, False, True, False, None, True]),
        ("i NOT BETWEEN 0 AND 7", [False, True, False, True, None, False]),
        ("i BETWEEN SYMMETRIC 7 AND 0", [True, False, True, False, None, True]),
        ("i BETWEEN 7 AND 0", [False, False, False, False, None, False]),
        ("i IN (7, 0)", [True, False, True, False, None, True]),
        ("i IN (7, NULL)", [True, None, True, None, None, None]),
        ("i NOT IN (7, NULL)", [False, None, False, None, None, None]),
        ("i NOT IN (1, 2)", [True, True, True, True, None, True]),
        ("i IN (j, 0)", [False, False, False, False, None, True]),
        ("CASE WHEN i > 0 THEN 'pos' WHEN i < 0 THEN 'neg' END",
         ["pos", "neg", "pos", "neg", None, None]),
        ("CASE i WHEN 7 THEN 1 WHEN -7 THEN 2 ELSE 3 END", [1, 2, 1, 2, 3, 3]),
        ("CASE WHEN p THEN 1 ELSE 2.5 END", [D("1.0"), D("2.5"), D("2.5"), D("1.0"), D("2.5"),
                                             D("2.5")]),
        ("CASE WHEN s = ' 12 ' THEN CAST(s AS INT) END", [None, None, None, None, 12, None]),
    ],
)
def test_predicates(text: str, expected: list[Any]) -> None:
    assert evaluate(text) == expected


def test_string_number_comparison_is_a_type_error() -> None:
    with pytest.raises(SqlTypeError, match="incompatible types: INTEGER, VARCHAR"):
        compile_sql("i = s")


def test_predicate_treats_null_as_false() -> None:
    te = compile_sql("i > 0")
    assert FRAME.filter(predicate(te)).height == 2
    with pytest.raises(SqlTypeError):
        predicate(compile_sql("i"))


# --------------------------------------------------------------------------------------------
# CAST


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CAST(i AS VARCHAR)", ["7", "-7", "7", "-7", None, "0"]),
        ("CAST(i AS DECIMAL(5, 1))", [D("7.0"), D("-7.0"), D("7.0"), D("-7.0"), None, D("0.0")]),
        ("CAST(i AS CHAR(3))", ["7  ", "-7 ", "7  ", "-7 ", None, "0  "]),
        ("CAST(i AS DOUBLE)", [7.0, -7.0, 7.0, -7.0, None, 0.0]),
        ("CAST(d AS INT)", [1, -1, None, 0, 3, 0]),  # truncates toward zero
        ("CAST(d AS DECIMAL(3, 1))", [D("1.3"), D("-1.3"), None, D("0.1"), D("3.0"), D("-0.5")]),
        ("CAST(d AS VARCHAR)", ["1.25", "-1.25", None, "0.05", "3.00", "-0.50"]),
        ("CAST(f AS INT)", [1, -2, None, 0, 3, 0]),
        ("CAST(f AS DECIMAL(4, 0))", [D(2), D(-3), None, D(0), D(3), D(0)]),
        ("CAST(p AS VARCHAR)", ["TRUE", "FALSE", None, "TRUE", "FALSE", None]),
        ("CAST(s AS VARCHAR(2))", ["ab", "x_", None, "hé", " 1", ""]),
        ("CAST(day AS VARCHAR)", ["2024-01-31", None, "2000-02-29", "1969-12-31", None,
                                  "2024-03-01"]),
        ("CAST(ts AS VARCHAR)", ["2024-01-31 10:20:30.123", None, "2000-02-29 00:00:00",
                                 "1969-12-31 23:59:59", None, "2024-03-01 00:00:01"]),
        ("CAST(ts AS DATE)", [dt.date(2024, 1, 31), None, dt.date(2000, 2, 29),
                              dt.date(1969, 12, 31), None, dt.date(2024, 3, 1)]),
        ("CAST(day AS TIMESTAMP)", [dt.datetime(2024, 1, 31), None, dt.datetime(2000, 2, 29),
                                    dt.datetime(1969, 12, 31), None, dt.datetime(2024, 3, 1)]),
        ("CAST(ts AS TIME)", [dt.time(10, 20, 30, 123000), None, dt.time(0), dt.time(23, 59, 59),
                              None, dt.time(0, 0, 1)]),
        ("CAST(s AS DATE)", [None] * 6),
        ("CAST(NULL AS INT)", [None] * 6),
    ],
)
def test_cast_matrix(text: str, expected: list[Any]) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CAST(' 12 ' AS INT)", 12),
        ("CAST('-3' AS BIGINT)", -3),
        ("CAST('1.125' AS DECIMAL(5, 2))", D("1.13")),  # half away from zero
        ("CAST('-1.125' AS DECIMAL(5, 2))", D("-1.13")),
        ("CAST('1.12499' AS DECIMAL(5, 2))", D("1.12")),
        ("CAST(' 2.5 ' AS DOUBLE)", 2.5),
        ("CAST(' TRUE' AS BOOLEAN)", True),
        ("CAST('false' AS BOOLEAN)", False),
        ("CAST('2024-02-29' AS DATE)", dt.date(2024, 2, 29)),
        ("CAST('2024-02-29 01:02:03' AS TIMESTAMP)", dt.datetime(2024, 2, 29, 1, 2, 3)),
        ("CAST('2024-02-29' AS TIMESTAMP)", dt.datetime(2024, 2, 29)),
        ("CAST('01:02:03.5' AS TIME)", dt.time(1, 2, 3, 500000)),
        ("CAST(2.5 AS INT)", 2),
        ("CAST(-2.9 AS INT)", -2),
        ("CAST(1.25 AS DECIMAL(2, 1))", D("1.3")),
        ("CAST(-1.25 AS DECIMAL(2, 1))", D("-1.3")),
        ("DATE '2024-01-01'", dt.date(2024, 1, 1)),
        ("TIMESTAMP '2024-01-01 10:00:00'", dt.datetime(2024, 1, 1, 10)),
        ("TIME '10:00:00'", dt.time(10)),
    ],
)
def test_constant_casts_fold(text: str, expected: object) -> None:
    te = compile_sql(text)
    assert te.is_literal
    assert te.literal == expected


@pytest.mark.parametrize(
    "text",
    ["CAST(s AS INT)", "CAST('abc' AS INT)", "CAST('1.5' AS INT)", "CAST('yes' AS BOOLEAN)",
     "CAST(1000 AS TINYINT)", "CAST(d * 100 AS DECIMAL(2, 0))", "CAST('x' AS DECIMAL(5, 2))"],
)
def test_bad_casts_are_runtime_errors(text: str) -> None:
    with pytest.raises(PolarsError):
        evaluate(text)


def test_impossible_casts_are_refused() -> None:
    with pytest.raises(SqlTypeError, match="cannot CAST BOOLEAN to INTEGER"):
        compile_sql("CAST(p AS INT)")
    with pytest.raises(UnsupportedSqlError, match="not supported: CAST from DOUBLE to VARCHAR"):
        compile_sql("CAST(f AS VARCHAR)")
    with pytest.raises(UnsupportedSqlError, match="not supported: type ARRAY<INT>"):
        compile_sql("CAST(i AS INT ARRAY)")
    with pytest.raises(SqlError, match="invalid DATE literal"):
        compile_sql("DATE '2024-13-01'")
    with pytest.raises(SqlError, match="invalid DATE literal '2024-02-30'"):
        compile_sql("CAST('2024-02-30' AS DATE)")  # a malformed column value would be NULL


def test_cast_to_public_api() -> None:
    out = cast_to(literal(D("1.25"), SqlType("DECIMAL", False, 3, 2)), SqlType("DECIMAL", True, 2, 1))
    assert str(out.type) == "DECIMAL(2, 1) NOT NULL"
    assert pl.select(out.expr).item() == D("1.3")


# --------------------------------------------------------------------------------------------
# strings


def test_concat_is_null_if_any_side_is() -> None:
    assert evaluate("s || '!'") == ["ab%c!", "x_y!", None, "héllo!", " 12 !", "!"]
    with pytest.raises(SqlTypeError):
        compile_sql("s || i")


# --------------------------------------------------------------------------------------------
# errors carry positions


def test_error_position_in_a_multi_line_expression() -> None:
    sql = "SELECT i +\n  CASE WHEN p\n    THEN FOO(i, 'x') END\nFROM t"
    node = sqlglot.parse_one(sql).expressions[0]
    with pytest.raises(SqlError) as info:
        compile_expr(node, ColumnResolver(), sql=sql)
    err = info.value
    assert (err.description, err.line, err.col, err.highlight) == (
        "unknown function FOO", 3, 10, "FOO(i, 'x')"
    )


def test_unsupported_nodes_are_refused_with_position() -> None:
    sql = "SELECT 1 +\n   SUM(i) FROM t"
    node = sqlglot.parse_one(sql).expressions[0]
    with pytest.raises(UnsupportedSqlError) as info:
        compile_expr(node, ColumnResolver(), sql=sql)
    assert str(info.value).startswith("line 2, column 4: not supported: aggregate function SUM")
    assert info.value.highlight == "SUM(i)"
    for text in ("EXISTS (SELECT 1)", "i IN (SELECT 1)", "(SELECT 1)", "CURRENT_DATE"):
        with pytest.raises(UnsupportedSqlError):
            compile_sql(text)


def test_type_error_position() -> None:
    sql = "SELECT\n  i + 1 = s FROM t"
    node = sqlglot.parse_one(sql).expressions[0]
    with pytest.raises(SqlTypeError) as info:
        compile_expr(node, ColumnResolver(), sql=sql)
    assert (info.value.line, info.value.col, info.value.highlight) == (2, 3, "i + 1 = s")


# --------------------------------------------------------------------------------------------
# functions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"s LIKE 'ab\%c'", [True, False, None, False, False, False]),
        ("s LIKE 'ab!%c' ESCAPE '!'", [True, False, None, False, False, False]),
        ("s LIKE 'x!_y' ESCAPE '!'", [False, True, None, False, False, False]),
        ("s LIKE 'x_y'", [False, True, None, False, False, False]),
        ("s LIKE '%'", [True, True, None, True, True, True]),
        ("s LIKE '_'", [False, False, None, False, False, False]),
        ("s NOT LIKE 'h%o'", [True, True, None, False, True, True]),
        ("s ILIKE 'AB%'", [True, False, None, False, False, False]),
        ("s NOT ILIKE 'HÉ%'", [True, True, None, False, True, True]),
        ("s LIKE NULL", [None] * 6),
        ("UPPER(s)", ["AB%C", "X_Y", None, "HÉLLO", " 12 ", ""]),
        ("LOWER(UPPER(s))", ["ab%c", "x_y", None, "héllo", " 12 ", ""]),
        ("CHAR_LENGTH(s)", [4, 3, None, 5, 4, 0]),
        ("CHARACTER_LENGTH(s)", [4, 3, None, 5, 4, 0]),
        ("LENGTH(s)", [4, 3, None, 5, 4, 0]),
        ("SUBSTRING(s FROM 2 FOR 2)", ["b%", "_y", None, "él", "12", ""]),
        ("SUBSTRING(s, 2)", ["b%c", "_y", None, "éllo", "12 ", ""]),
        ("SUBSTRING(s, 0, 2)", ["a", "x", None, "h", " ", ""]),
        ("SUBSTRING(s, -1, 3)", ["a", "x", None, "h", " ", ""]),
        ("SUBSTRING(s, -5)", ["ab%c", "x_y", None, "héllo", " 12 ", ""]),
        ("SUBSTRING(s, 9, 2)", ["", "", None, "", "", ""]),
        ("SUBSTRING(s, 2, -1)", ["", "", None, "", "", ""]),
        ("SUBSTRING(s, i, 1)", ["", "", None, "", None, ""]),
        ("SUBSTRING(s, 1, NULL)", [None] * 6),
        ("TRIM(s)", ["ab%c", "x_y", None, "héllo", "12", ""]),
        ("TRIM(BOTH 'ah' FROM s)", ["b%c", "x_y", None, "éllo", " 12 ", ""]),
        ("TRIM(LEADING ' ' FROM s)", ["ab%c", "x_y", None, "héllo", "12 ", ""]),
        ("TRIM(TRAILING ' ' FROM s)", ["ab%c", "x_y", None, "héllo", " 12", ""]),
        ("POSITION('l' IN s)", [0, 0, None, 3, 0, 0]),
        ("POSITION('' IN s)", [1, 1, None, 1, 1, 1]),
        ("REPLACE(s, 'l', 'L')", ["ab%c", "x_y", None, "héLLo", " 12 ", ""]),
        ("REPLACE(s, '', 'L')", ["ab%c", "x_y", None, "héllo", " 12 ", ""]),
        ("ABS(i)", [7, 7, 7, 7, None, 0]),
        ("ABS(d)", [D("1.25"), D("1.25"), None, D("0.05"), D("3.00"), D("0.50")]),
        ("CEIL(d)", [D(2), D(-1), None, D(1), D(3), D(0)]),
        ("FLOOR(d)", [D(1), D(-2), None, D(0), D(3), D(-1)]),
        ("CEIL(f)", [2.0, -2.0, None, 0.0, 3.0, -0.0]),
        ("FLOOR(i)", [7, -7, 7, -7, None, 0]),
        ("ROUND(d, 1)", [D("1.30"), D("-1.30"), None, D("0.10"), D("3.00"), D("-0.50")]),
        ("ROUND(d)", [D("1.00"), D("-1.00"), None, D("0.00"), D("3.00"), D("-1.00")]),
        ("ROUND(f)", [2.0, -3.0, None, 0.0, 3.0, -0.0]),
        ("SIGN(i)", [1, -1, 1, -1, None, 0]),
        ("SIGN(d)", [D("1.00"), D("-1.00"), None, D("1.00"), D("1.00"), D("-1.00")]),
        ("POWER(i, 2)", [49.0, 49.0, 49.0, 49.0, None, 0.0]),
        ("SQRT(CAST(n AS DOUBLE) * 4)", [2.0, 8 ** 0.5, 12 ** 0.5, 4.0, 20 ** 0.5, 24 ** 0.5]),
        ("LN(n) < 2", [True, True, True, True, True, True]),
        ("LOG10(n * 10) = 1", [True, False, False, False, False, False]),
        ("EXP(NULL)", [None] * 6),
        ("GREATEST(i, j)", [7, 2, 7, -2, None, 0]),
        ("LEAST(i, j, 0)", [0, -7, -2, -7, None, 0]),
        ("GREATEST(day, DATE '2000-01-01')", [dt.date(2024, 1, 31), None, dt.date(2000, 2, 29),
                                              dt.date(2000, 1, 1), None, dt.date(2024, 3, 1)]),
        ("COALESCE(i, j)", [7, -7, 7, -7, 1, 0]),
        ("COALESCE(NULL, i, 0)", [7, -7, 7, -7, 0, 0]),
        ("NULLIF(i, 7)", [None, -7, None, -7, None, 0]),
        ("EXTRACT(YEAR FROM day)", [2024, None, 2000, 1969, None, 2024]),
        ("EXTRACT(MONTH FROM ts)", [1, None, 2, 12, None, 3]),
        ("EXTRACT(DAY FROM day)", [31, None, 29, 31, None, 1]),
        ("EXTRACT(HOUR FROM ts)", [10, None, 0, 23, None, 0]),
        ("EXTRACT(SECOND FROM ts)", [30, None, 0, 59, None, 1]),
        ("EXTRACT(QUARTER FROM day)", [1, None, 1, 4, None, 1]),
        ("EXTRACT(DOY FROM day)", [31, None, 60, 365, None, 61]),
    ],
)
def test_functions(text: str, expected: list[Any]) -> None:
    assert evaluate(text) == expected


@pytest.mark.parametrize(
    "text",
    ["UPPER(NULL)", "LOWER(NULL)", "CHAR_LENGTH(NULL)", "SUBSTRING(NULL, 1, 2)",
     "SUBSTRING('abc', NULL)", "TRIM(NULL)", "POSITION(NULL IN 'a')", "POSITION('a' IN NULL)",
     "REPLACE(NULL, 'a', 'b')", "REPLACE('a', NULL, 'b')", "REPLACE('a', 'a', NULL)",
     "ABS(NULL)", "CEIL(NULL)", "FLOOR(NULL)", "ROUND(NULL)", "SIGN(NULL)", "POWER(NULL, 2)",
     "POWER(2, NULL)", "SQRT(NULL)", "LN(NULL)", "LOG10(NULL)", "EXP(NULL)",
     "GREATEST(1, NULL)", "LEAST(NULL, 1)", "COALESCE(NULL, NULL)", "NULLIF(NULL, 1)",
     "EXTRACT(YEAR FROM CAST(NULL AS DATE))", "'a' || NULL", "NULL LIKE 'a'", "'a' LIKE NULL",
     "CAST(NULL AS VARCHAR)", "NULL IN (1, 2)", "NULL BETWEEN 1 AND 2", "1 + NULL", "-NULL",
     "NOT NULL", "NULL = 1", "MOD(NULL, 2)", "CASE WHEN NULL THEN 1 END"],
)
def test_null_propagation(text: str) -> None:
    te = compile_sql(text)
    assert te.type.nullable
    assert evaluate(text) == [None] * FRAME.height


def test_like_escapes_regex_characters() -> None:
    frame = pl.DataFrame({"s": ["a.b", "axb", "(x)*", "a+b|c", "a\\b", "a^$b", "x\ny"]})
    TYPES["s2"] = SqlType("VARCHAR")
    try:
        te = compile_expr(sqlglot.parse_one("SELECT s LIKE 'a.b'").expressions[0], ColumnResolver())
        assert frame.select(te.expr).to_series().to_list() == [True] + [False] * 6
        for pattern, expected in [
            ("'(x)*'", [False, False, True, False, False, False, False]),
            ("'a+b|c'", [False, False, False, True, False, False, False]),
            (r"'a\\b'", [False, False, False, False, True, False, False]),
            ("'a^$b'", [False, False, False, False, False, True, False]),
            ("'x_y'", [False, False, False, False, False, False, True]),
            ("'%'", [True] * 7),
        ]:
            node = sqlglot.parse_one(f"SELECT s LIKE {pattern}").expressions[0]
            te = compile_expr(node, ColumnResolver())
            assert frame.select(te.expr).to_series().to_list() == expected, pattern
    finally:
        del TYPES["s2"]


def test_like_refuses_bad_patterns() -> None:
    with pytest.raises(SqlTypeError, match="invalid escape sequence"):
        compile_sql("s LIKE 'a!b' ESCAPE '!'")
    with pytest.raises(UnsupportedSqlError, match="non-constant pattern"):
        compile_sql("s LIKE s")


@pytest.mark.parametrize("text", ["LN(i)", "LOG10(j)"])
def test_logarithm_of_non_positive_is_a_runtime_error(text: str) -> None:
    with pytest.raises(PolarsError, match="of a value <= 0"):
        evaluate(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("CURRENT_DATE", "not supported: non-deterministic function CURRENT_DATE"),
        ("NOW()", "not supported: non-deterministic function NOW"),
        ("EXTRACT(DOW FROM day)", "not supported: EXTRACT(DOW"),
        ("ROUND(d, -1)", "not supported: ROUND digits"),
        ("UPPER(i)", "a string expected, got INTEGER"),
        ("ABS(s)", "a number expected, got VARCHAR"),
        ("EXTRACT(HOUR FROM day)", "cannot EXTRACT HOUR from DATE"),
    ],
)
def test_function_errors(text: str, message: str) -> None:
    with pytest.raises(SqlError, match=message.replace("(", r"\(")):
        compile_sql(text)
