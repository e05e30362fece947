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
    Cond,
    TypedExpr,
    cond_and,
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
    all_null: Cond = True
    for arg in _args(node):
        with c.guarded(all_null, node):
            e = c.compile(arg)
        items.append(e)
        is_null: Cond = e.expr.is_null()
        if e.is_literal or not e.type.nullable:
            is_null = e.is_literal and e.literal is None
        all_null = cond_and(all_null, is_null)
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


# -- strings -------------------------------------------------------------------------------------

_VARCHAR = SqlType("VARCHAR")
_REGEX_META = set("\\.+*?()|[]{}^$")


def like_regex(pattern: str, escape: str | None) -> str:
    """An anchored regex equivalent to a LIKE pattern (``%``, ``_``, ``escape``)."""
    out = ["(?s)^"]
    chars = iter(pattern)
    for ch in chars:
        if escape is not None and ch == escape:
            nxt = next(chars, None)
            if nxt is None or nxt not in ("%", "_", escape):
                raise ValueError(f"invalid escape sequence in LIKE pattern '{pattern}'")
            ch, special = nxt, False
        else:
            special = ch in ("%", "_")
        if special:
            out.append(".*" if ch == "%" else ".")
        else:
            out.append("\\" + ch if ch in _REGEX_META else ch)
    out.append("$")
    return "".join(out)


def _like(c: Compiler, node: exp.Expression, escape_node: exp.Expression | None = None) -> TypedExpr:
    s = _string_arg(c, node.this)
    pattern = _string_arg(c, node.expression)
    escape: str | None = "\\"
    if escape_node is not None:
        esc = _string_arg(c, escape_node)
        if not esc.is_literal or not isinstance(esc.literal, str) or len(esc.literal) != 1:
            raise c.error("ESCAPE must be a single-character string constant", escape_node)
        escape = esc.literal
    if not pattern.is_literal:
        raise c.unsupported("LIKE with a non-constant pattern", node.expression)
    t = SqlType("BOOLEAN", _nullable(s, pattern))
    if pattern.literal is None:
        return literal(None, t)
    try:
        regex = like_regex(str(pattern.literal), escape)
    except ValueError as err:
        raise c.error(str(err), node.expression) from None
    if isinstance(node, exp.ILike):
        regex = "(?i)" + regex
    matches = s.expr.str.contains(regex)
    return TypedExpr(~matches if node.args.get("negate") else matches, t)


@_register(exp.Like, exp.ILike)
def _like_node(c: Compiler, node: exp.Expression) -> TypedExpr:
    return _like(c, node)


@_register(exp.Escape)
def _escape_node(c: Compiler, node: exp.Escape) -> TypedExpr:
    if not isinstance(node.this, (exp.Like, exp.ILike)):
        raise c.unsupported(f"ESCAPE after {node.this.key.upper()}", node)
    return _like(c, node.this, node.expression)


def _string_map(fn: Callable[[pl.Expr], pl.Expr]) -> FunctionHandler:
    def handler(c: Compiler, node: exp.Expression) -> TypedExpr:
        s = _string_arg(c, node.this)
        return TypedExpr(fn(s.expr), _VARCHAR.with_nullable(s.type.nullable))

    return handler


_register(exp.Upper)(_string_map(lambda e: e.str.to_uppercase()))
_register(exp.Lower)(_string_map(lambda e: e.str.to_lowercase()))


@_register(exp.Length, "CHAR_LENGTH", "CHARACTER_LENGTH")
def _char_length(c: Compiler, node: exp.Expression) -> TypedExpr:
    s = _string_arg(c, _args(node)[0])
    return TypedExpr(s.expr.str.len_chars().cast(pl.Int32), SqlType("INTEGER", s.type.nullable))


@_register(exp.Substring)
def _substring(c: Compiler, node: exp.Substring) -> TypedExpr:
    s = _string_arg(c, node.this)
    start_node, length_node = node.args.get("start"), node.args.get("length")
    start = _integer_arg(c, start_node) if start_node is not None else literal(1, SqlType("BIGINT"))
    first = start.expr.cast(pl.Int64)
    begin = pl.max_horizontal(first, pl.lit(1, pl.Int64))
    items = [s, start]
    if length_node is None:
        expr = s.expr.str.slice(begin - 1)
    else:
        # SQL standard: characters first .. first+length-1, clipped to the string; a negative
        # length gives '' (as Feldera does; the standard raises an error).
        length = _integer_arg(c, length_node)
        items.append(length)
        end = first + length.expr.cast(pl.Int64)
        count = pl.max_horizontal(end - begin, pl.lit(0, pl.Int64))
        expr = s.expr.str.slice(begin - 1, count)
    # str.slice ignores NULL offsets; SQL makes the result NULL.
    any_null = pl.any_horizontal([e.expr.is_null() for e in items[1:]])
    return TypedExpr(pl.when(~any_null).then(expr), _VARCHAR.with_nullable(_nullable(*items)))


@_register(exp.Trim)
def _trim(c: Compiler, node: exp.Trim) -> TypedExpr:
    s = _string_arg(c, node.this)
    chars_node = node.expression
    chars = _string_arg(c, chars_node) if chars_node is not None else literal(" ", _VARCHAR)
    where = str(node.args.get("position") or "BOTH").upper()
    if where == "LEADING":
        expr = s.expr.str.strip_chars_start(chars.expr)
    elif where == "TRAILING":
        expr = s.expr.str.strip_chars_end(chars.expr)
    else:
        expr = s.expr.str.strip_chars(chars.expr)
    if chars.type.nullable:
        expr = pl.when(chars.expr.is_not_null()).then(expr)
    return TypedExpr(expr, _VARCHAR.with_nullable(_nullable(s, chars)))


@_register(exp.StrPosition)
def _position(c: Compiler, node: exp.StrPosition) -> TypedExpr:
    if node.args.get("position") is not None or node.args.get("occurrence") is not None:
        raise c.unsupported("POSITION with a start or occurrence", node)
    s = _string_arg(c, node.this)
    sub = _string_arg(c, node.args["substr"])
    found = s.expr.str.contains(sub.expr, literal=True)
    before = s.expr.str.split(sub.expr).list.first().str.len_chars().cast(pl.Int32)
    expr = (
        pl.when(s.expr.is_null() | sub.expr.is_null()).then(pl.lit(None, pl.Int32))
        .when(sub.expr.str.len_bytes() == 0).then(pl.lit(1, pl.Int32))
        .when(found).then(before + 1)
        .when(~found).then(pl.lit(0, pl.Int32))
    )
    return TypedExpr(expr, SqlType("INTEGER", _nullable(s, sub)))


@_register(exp.Replace)
def _replace(c: Compiler, node: exp.Replace) -> TypedExpr:
    s = _string_arg(c, node.this)
    old = _string_arg(c, node.expression)
    new = _string_arg(c, node.args["replacement"])
    replaced = s.expr.str.replace_all(old.expr.fill_null(""), new.expr.fill_null(""), literal=True)
    any_null = pl.any_horizontal([e.expr.is_null() for e in (s, old, new)])
    expr = pl.when(any_null).then(None).when(old.expr == "").then(s.expr).otherwise(replaced)
    return TypedExpr(expr, _VARCHAR.with_nullable(_nullable(s, old, new)))


# -- numbers -------------------------------------------------------------------------------------


@_register(exp.Abs)
def _abs(c: Compiler, node: exp.Abs) -> TypedExpr:
    x = _numeric_arg(c, node.this)
    if x.type.is_integer:
        wide = pl.Int128 if x.type.kind == "BIGINT" else pl.Int64
        return TypedExpr(c.strict_cast(x.expr.cast(wide).abs(), to_polars(x.type)), x.type)
    return TypedExpr(x.expr.abs(), x.type)


def _ceil_floor(c: Compiler, node: exp.Expression, up: bool) -> TypedExpr:
    if node.args.get("decimals") is not None or node.args.get("to") is not None:
        raise c.unsupported(f"{node.sql_name()} with a second argument", node)
    x = _numeric_arg(c, node.this)
    if x.type.is_integer:
        return x
    if x.type.is_float:
        return TypedExpr(x.expr.ceil() if up else x.expr.floor(), x.type)
    p, s = x.type.precision or 0, x.type.scale or 0
    unit = pl.lit(10**s, pl.Int128)
    u = x.expr.to_physical()
    q = u // unit  # floors: Polars' integer // rounds toward -inf
    if up:
        q = q + (u % unit != 0).cast(pl.Int128)
    t = T.decimal(p - s + 1, 0, nullable=x.type.nullable)
    return TypedExpr(c.strict_cast(from_unscaled(q, 0), to_polars(t)), t)


@_register(exp.Ceil)
def _ceil(c: Compiler, node: exp.Ceil) -> TypedExpr:
    return _ceil_floor(c, node, True)


@_register(exp.Floor)
def _floor(c: Compiler, node: exp.Floor) -> TypedExpr:
    return _ceil_floor(c, node, False)


@_register(exp.Round)
def _round(c: Compiler, node: exp.Round) -> TypedExpr:
    x = _numeric_arg(c, node.this)
    digits_node = node.args.get("decimals")
    digits = 0
    if digits_node is not None:
        d = c.compile(digits_node)
        if not (d.is_literal and isinstance(d.literal, int) and d.literal >= 0):
            raise c.unsupported("ROUND digits other than a non-negative integer constant", node)
        digits = d.literal
    if x.type.is_integer:
        return x
    rounded = x.expr.round(digits, mode="half_away_from_zero")
    if x.type.is_float:
        return TypedExpr(rounded, x.type)
    t = T.decimal((x.type.precision or 0) + 1, x.type.scale or 0, nullable=x.type.nullable)
    return TypedExpr(c.strict_cast(rounded, to_polars(t)), t)


@_register(exp.Sign)
def _sign(c: Compiler, node: exp.Sign) -> TypedExpr:
    x = _numeric_arg(c, node.this)
    zero = pl.lit(0).cast(to_polars(x.type))
    one = pl.lit(1).cast(to_polars(x.type))
    expr = pl.when(x.expr > zero).then(one).when(x.expr < zero).then(-one).when(x.expr == zero)
    return TypedExpr(expr.then(zero), x.type)


def _double(c: Compiler, node: exp.Expression) -> TypedExpr:
    x = _numeric_arg(c, node)
    return TypedExpr(x.expr.cast(pl.Float64), SqlType("DOUBLE", x.type.nullable))


@_register(exp.Pow)
def _power(c: Compiler, node: exp.Pow) -> TypedExpr:
    x, y = _double(c, node.this), _double(c, node.expression)
    return TypedExpr(x.expr.pow(y.expr), SqlType("DOUBLE", _nullable(x, y)))


@_register(exp.Sqrt)
def _sqrt(c: Compiler, node: exp.Sqrt) -> TypedExpr:
    x = _double(c, node.this)  # negative -> NaN, as Feldera documents
    return TypedExpr(x.expr.sqrt(), x.type)


@_register(exp.Exp)
def _exp(c: Compiler, node: exp.Exp) -> TypedExpr:
    x = _double(c, node.this)
    return TypedExpr(x.expr.exp(), x.type)


def _logarithm(c: Compiler, x: TypedExpr, base: float | None, name: str) -> TypedExpr:
    value = x.expr.log() if base is None else x.expr.log(base)
    checked = c.fail_if(x.expr <= 0, f"{name} of a value <= 0", value)
    return TypedExpr(checked, x.type)


@_register(exp.Ln)
def _ln(c: Compiler, node: exp.Ln) -> TypedExpr:
    return _logarithm(c, _double(c, node.this), None, "LN")


@_register(exp.Log)
def _log(c: Compiler, node: exp.Log) -> TypedExpr:
    base = c.compile(node.this) if node.expression is not None else None
    if base is None or not (base.is_literal and base.literal == 10):
        raise c.unsupported("LOG other than LOG10", node)
    return _logarithm(c, _double(c, node.expression), 10.0, "LOG10")


# -- dates and times -----------------------------------------------------------------------------

_EXTRACT: dict[str, tuple[frozenset[str], Callable[[pl.Expr], pl.Expr]]] = {
    "YEAR": (frozenset({"DATE", "TIMESTAMP"}), lambda e: e.dt.year()),
    "QUARTER": (frozenset({"DATE", "TIMESTAMP"}), lambda e: e.dt.quarter()),
    "MONTH": (frozenset({"DATE", "TIMESTAMP"}), lambda e: e.dt.month()),
    "DAY": (frozenset({"DATE", "TIMESTAMP"}), lambda e: e.dt.day()),
    "DOY": (frozenset({"DATE", "TIMESTAMP"}), lambda e: e.dt.ordinal_day()),
    "HOUR": (frozenset({"TIME", "TIMESTAMP"}), lambda e: e.dt.hour()),
    "MINUTE": (frozenset({"TIME", "TIMESTAMP"}), lambda e: e.dt.minute()),
    "SECOND": (frozenset({"TIME", "TIMESTAMP"}), lambda e: e.dt.second()),
}
_EXTRACT_ALIASES = {"DAYOFMONTH": "DAY", "DAYOFYEAR": "DOY", "YEARS": "YEAR", "MONTHS": "MONTH",
                    "DAYS": "DAY", "HOURS": "HOUR", "MINUTES": "MINUTE", "SECONDS": "SECOND"}


@_register(exp.Extract)
def _extract(c: Compiler, node: exp.Extract) -> TypedExpr:
    unit = node.this.name.upper()
    unit = _EXTRACT_ALIASES.get(unit, unit)
    x = c.compile(node.expression)
    if unit not in _EXTRACT:
        raise c.unsupported(f"EXTRACT({unit} FROM ...)", node)
    kinds, fn = _EXTRACT[unit]
    if x.type.kind not in kinds:
        raise c.error(f"cannot EXTRACT {unit} from {x.type.with_nullable(True)}", node)
    return TypedExpr(fn(x.expr).cast(pl.Int64), SqlType("BIGINT", x.type.nullable))
