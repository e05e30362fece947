"""The CAST matrix and the table of named scalar functions.

:func:`lookup` maps a sqlglot node (a ``exp.Func`` subclass, or ``exp.Anonymous`` by name) to
its handler; :func:`cast_expr` implements ``CAST`` between every pair of supported types.

CAST rules (Feldera's, see ``docs/sql/casts.md`` there):

* numeric to integer truncates toward zero; a value out of range is a runtime error;
* to DECIMAL(p, s) rounds half away from zero; a value that does not fit is a runtime error;
* string to number/BOOLEAN: surrounding spaces are ignored, anything unparsable is a runtime
  error; string to DATE/TIME/TIMESTAMP yields NULL when the text is malformed;
* to CHAR(n) truncates or pads with spaces, to VARCHAR(n) truncates; CHAR to VARCHAR drops
  trailing spaces;
* BOOLEAN to string is 'TRUE'/'FALSE'; numbers and booleans do not convert into each other;
* REAL/DOUBLE to string is refused (Feldera's float formatting is not reproduced).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
from sqlglot import exp

from feldera_nb.sql import types as T
from feldera_nb.sql.expressions import (
    Compiler,
    TypedExpr,
    arithmetic,
    from_unscaled,
    literal,
)
from feldera_nb.sql.types import SqlType, to_polars

# ---------------------------------------------------------------------------------------------
# CAST


def _family(t: SqlType) -> str:
    if t.is_integer:
        return "int"
    if t.is_float:
        return "float"
    if t.is_string:
        return "str"
    return {"DECIMAL": "dec", "BOOLEAN": "bool", "DATE": "date", "TIME": "time",
            "TIMESTAMP": "ts"}[t.kind]


CastFn = Callable[[Compiler, pl.Expr, SqlType, SqlType], pl.Expr]


def _plain(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    return e.cast(to_polars(dst))


def _checked(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    return c.strict_cast(e, to_polars(dst))


def _int_to_int(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    if T.INTEGER_BITS[dst.kind] >= T.INTEGER_BITS[src.kind]:
        return e.cast(to_polars(dst))
    return c.strict_cast(e, to_polars(dst))


def _to_decimal(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    if src.scale is None or (dst.scale or 0) < src.scale:
        e = e.round(dst.scale or 0, mode="half_away_from_zero")
    return c.strict_cast(e, to_polars(dst))


def _strip(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars(" \t\n\r")


def _str_to_number(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    return c.strict_cast(_strip(e), to_polars(dst))


def _str_to_decimal(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    # Keep one digit past the target scale, so rounding half away from zero is exact.
    scale = dst.scale or 0
    keep = min(scale + 1, T.MAX_DECIMAL_PRECISION)
    text = _strip(e).str.replace(rf"^([+-]?\d*\.\d{{{keep}}})\d+$", "${1}")
    parsed = c.strict_cast(text, pl.Decimal(T.MAX_DECIMAL_PRECISION, keep))
    return c.strict_cast(parsed.round(scale, mode="half_away_from_zero"), to_polars(dst))


def _str_to_bool(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    word = _strip(e).str.to_lowercase()
    code = (
        pl.when(word == "true").then(pl.lit("1"))
        .when(word == "false").then(pl.lit("0"))
        .otherwise(pl.concat_str([pl.lit("not a boolean: "), e]))
    )
    return c.strict_cast(code, pl.Int8) == 1


def _str_to_date(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    return _strip(e).str.to_date("%Y-%m-%d", strict=False)


def _str_to_time(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    text = _strip(e)
    return pl.coalesce(
        text.str.to_time("%H:%M:%S%.f", strict=False), text.str.to_time("%H:%M", strict=False)
    )


def _str_to_timestamp(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    text = _strip(e)
    formats = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M")
    parsed = [text.str.to_datetime(f, time_unit="us", strict=False) for f in formats]
    date_only = text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us"))
    return pl.coalesce(*parsed, date_only)


def _str_to_str(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    if src.kind == "CHAR" and dst.kind == "VARCHAR":
        return e.str.strip_chars_end(" ")
    return e


def _bool_to_str(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    return pl.when(e).then(pl.lit("TRUE")).when(~e).then(pl.lit("FALSE"))


_TO_STRING_FORMATS = {"date": "%Y-%m-%d", "time": "%H:%M:%S%.f", "ts": "%Y-%m-%d %H:%M:%S%.f"}


def _temporal_to_str(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    return e.dt.to_string(_TO_STRING_FORMATS[_family(src)])


def _to_string(c: Compiler, e: pl.Expr, src: SqlType, dst: SqlType) -> pl.Expr:
    return e.cast(pl.String)


_CASTS: dict[tuple[str, str], CastFn] = {
    ("int", "int"): _int_to_int,
    ("int", "dec"): _to_decimal,
    ("int", "float"): _plain,
    ("dec", "int"): _checked,
    ("dec", "dec"): _to_decimal,
    ("dec", "float"): _plain,
    ("float", "int"): _checked,
    ("float", "dec"): _to_decimal,
    ("float", "float"): _plain,
    ("str", "int"): _str_to_number,
    ("str", "float"): _str_to_number,
    ("str", "dec"): _str_to_decimal,
    ("str", "bool"): _str_to_bool,
    ("str", "date"): _str_to_date,
    ("str", "time"): _str_to_time,
    ("str", "ts"): _str_to_timestamp,
    ("str", "str"): _str_to_str,
    ("int", "str"): _to_string,
    ("dec", "str"): _to_string,
    ("bool", "str"): _bool_to_str,
    ("date", "str"): _temporal_to_str,
    ("time", "str"): _temporal_to_str,
    ("ts", "str"): _temporal_to_str,
    ("date", "ts"): _plain,
    ("ts", "date"): lambda c, e, s, d: e.dt.date(),
    ("ts", "time"): lambda c, e, s, d: e.dt.time(),
}


def _fit_length(e: pl.Expr, t: SqlType) -> pl.Expr:
    if t.precision is None:
        return e
    e = e.str.slice(0, t.precision)
    return e.str.pad_end(t.precision) if t.kind == "CHAR" else e


def cast_expr(c: Compiler, e: TypedExpr, target: SqlType, node: exp.Expression | None) -> TypedExpr:
    """``CAST(e AS target)``: see the module docstring for the rules."""
    src = e.type
    if target.is_null:
        raise c.error("cannot CAST to NULL", node)
    if src.is_null:
        return literal(None, target)
    if src.same_domain(target):
        return TypedExpr(e.expr, target.with_nullable(src.nullable), e.literal)
    pair = (_family(src), _family(target))
    fn = _CASTS.get(pair)
    if fn is None:
        if pair == ("float", "str"):
            raise c.unsupported(f"CAST from {src.kind} to {target.kind}", node)
        raise c.error(
            f"cannot CAST {src.with_nullable(True)} to {target.with_nullable(True)}", node
        )
    expr = fn(c, e.expr, src, target)
    if target.is_string:
        expr = _fit_length(expr, target)
    nullable = src.nullable or (src.is_string and target.is_temporal)
    return TypedExpr(expr, target.with_nullable(nullable))


# ---------------------------------------------------------------------------------------------
# function table

FunctionHandler = Callable[[Compiler, Any], TypedExpr]
FUNCTIONS: dict[type[exp.Expression], FunctionHandler] = {}
FUNCTIONS_BY_NAME: dict[str, FunctionHandler] = {}


def _register(*keys: type[exp.Expression] | str) -> Callable[[FunctionHandler], FunctionHandler]:
    def add(fn: FunctionHandler) -> FunctionHandler:
        for key in keys:
            if isinstance(key, str):
                FUNCTIONS_BY_NAME[key] = fn
            else:
                FUNCTIONS[key] = fn
        return fn

    return add


def lookup(node: exp.Expression) -> FunctionHandler | None:
    """The handler for a function-call node, or None."""
    if isinstance(node, exp.Anonymous):
        return FUNCTIONS_BY_NAME.get(str(node.name).upper())
    return FUNCTIONS.get(type(node))


def _args(node: exp.Expression) -> list[exp.Expression]:
    """Positional arguments of a function node, in order."""
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    out: list[exp.Expression] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if isinstance(value, list):
            out.extend(value)
        elif isinstance(value, exp.Expression):
            out.append(value)
    return out


def _nullable(*items: TypedExpr) -> bool:
    return any(e.type.nullable for e in items)


def _require(c: Compiler, e: TypedExpr, node: exp.Expression, what: str, ok: bool) -> None:
    if not ok and not e.type.is_null:
        raise c.error(f"{what} expected, got {e.type.with_nullable(True)}", node)


def _string_arg(c: Compiler, node: exp.Expression) -> TypedExpr:
    e = c.compile(node)
    _require(c, e, node, "a string", e.type.is_string)
    return c.cast(e, SqlType("VARCHAR"), node) if e.type.is_null else e


def _integer_arg(c: Compiler, node: exp.Expression) -> TypedExpr:
    e = c.compile(node)
    _require(c, e, node, "an integer", e.type.is_integer)
    return c.cast(e, SqlType("BIGINT"), node) if e.type.is_null else e


def _numeric_arg(c: Compiler, node: exp.Expression) -> TypedExpr:
    e = c.compile(node)
    _require(c, e, node, "a number", e.type.is_numeric)
    return c.cast(e, SqlType("DOUBLE"), node) if e.type.is_null else e


# -- conditional --------------------------------------------------------------------------------


@_register(exp.Coalesce)
def _coalesce(c: Compiler, node: exp.Coalesce) -> TypedExpr:
    # Later arguments are only evaluated (their runtime checks only apply) where the earlier
    # ones are NULL.
    items: list[TypedExpr] = []
    all_null: pl.Expr = pl.lit(True)
    for arg in _args(node):
        with c.guarded(all_null):
            e = c.compile(arg)
        items.append(e)
        all_null = all_null & e.expr.is_null()
    t, items = c.coerce(items, node)
    nullable = all(e.type.nullable for e in items)
    return TypedExpr(pl.coalesce([e.expr for e in items]), t.with_nullable(nullable))


@_register(exp.Nullif)
def _nullif(c: Compiler, node: exp.Nullif) -> TypedExpr:
    a, b = c.compile(node.this), c.compile(node.expression)
    t, (ca, cb) = c.coerce([a, b], node)
    same = (ca.expr == cb.expr).fill_null(False)
    return TypedExpr(pl.when(~same).then(ca.expr), t.with_nullable(True))


def _extreme(c: Compiler, node: exp.Expression, horizontal: Callable[..., pl.Expr]) -> TypedExpr:
    items = [c.compile(a) for a in _args(node)]
    t, items = c.coerce(items, node)
    exprs = [e.expr for e in items]
    any_null = pl.any_horizontal([e.is_null() for e in exprs])
    # SQL (Calcite): NULL if any argument is NULL; Polars' horizontal min/max skip NULLs.
    return TypedExpr(pl.when(~any_null).then(horizontal(exprs)), t)


@_register(exp.Greatest)
def _greatest(c: Compiler, node: exp.Greatest) -> TypedExpr:
    return _extreme(c, node, pl.max_horizontal)


@_register(exp.Least)
def _least(c: Compiler, node: exp.Least) -> TypedExpr:
    return _extreme(c, node, pl.min_horizontal)


# -- non-deterministic: refused ------------------------------------------------------------------


def _nondeterministic(c: Compiler, node: exp.Expression) -> TypedExpr:
    name = node.name.upper() if isinstance(node, exp.Anonymous) else node.sql_name()
    raise c.unsupported(f"non-deterministic function {name}", node)


for _key in (exp.CurrentDate, exp.CurrentTime, exp.CurrentTimestamp, exp.Rand):
    _register(_key)(_nondeterministic)
for _name in ("NOW", "RANDOM", "RAND", "UUID", "LOCALTIME", "LOCALTIMESTAMP"):
    _register(_name)(_nondeterministic)
