"""Scalar SQL expressions (sqlglot AST) compiled to vectorised Polars expressions.

:func:`compile_expr` walks a scalar expression and returns a :class:`TypedExpr`: a Polars
expression that evaluates over the input frame (one value per row), its SQL type, and the Python
value when the expression is a constant.  Every node is first offered to the caller's
:class:`Resolver` (columns, aggregates computed by a GROUP BY, window results, subqueries); the
rest is compiled here, operators in this module and named functions through the table in
:mod:`feldera_nb.sql.functions`.

Semantics are Feldera's (Calcite, standard SQL): three-valued logic, integer division truncating
toward zero, ``%`` taking the sign of the dividend, exact DECIMAL arithmetic.  Deliberate
deviations: division or modulo by zero is NULL (a streaming step must not fail on one row);
``DATE +/- integer`` adds days.

Runtime failures that Feldera reports as errors stay errors: integer and DECIMAL overflow,
a string that is not a number or boolean cast to one, LN/LOG10 of a non-positive value.  They
surface as ``polars.exceptions.InvalidOperationError``/``ComputeError`` when the frame is
evaluated.  Inside ``CASE`` branches and later ``COALESCE`` arguments those checks only apply to
the rows that reach them (SQL evaluates them lazily; Polars evaluates every branch).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

import polars as pl
from polars.exceptions import PolarsError
from sqlglot import exp

from feldera_nb.errors import SqlError, SqlTypeError, UnsupportedSqlError
from feldera_nb.sql import types as T
from feldera_nb.sql.positions import position_of
from feldera_nb.sql.types import SqlType, from_sqlglot, to_polars


class _NoLiteral:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<not a literal>"


_NO_LITERAL: Any = _NoLiteral()


@dataclass(frozen=True)
class TypedExpr:
    """A compiled scalar: Polars expression, SQL type, and the constant value if it has one."""

    expr: pl.Expr
    type: SqlType
    literal: object = _NO_LITERAL

    @property
    def is_literal(self) -> bool:
        """True when the expression is a constant (``literal`` holds its Python value)."""
        return self.literal is not _NO_LITERAL


class Resolver(Protocol):
    """The relational compiler's hook into expression compilation."""

    def resolve(self, node: exp.Expression) -> TypedExpr | None:
        """Return the TypedExpr to use for ``node`` (columns, aggregates, window results,
        subqueries), or None to compile the node normally."""


def literal(value: object, t: SqlType) -> TypedExpr:
    """A constant of type ``t`` (nullable exactly when ``value`` is None)."""
    t = t.with_nullable(value is None)
    try:
        lit = _cached_lit(type(value), value, t)
    except TypeError:  # unhashable value
        lit = pl.lit(value, dtype=to_polars(t))
    return TypedExpr(lit, t, value)


@functools.lru_cache(maxsize=4096)
def _cached_lit(_kind: type, value: object, t: SqlType) -> pl.Expr:
    # Building a Polars literal costs ~0.1 ms; programs repeat the same constants a lot.
    return pl.lit(value, dtype=to_polars(t))


@functools.lru_cache(maxsize=16)
def _zero(dtype: pl.DataType) -> pl.Expr:
    return pl.lit(0, dtype)


def _null_of(t: SqlType) -> TypedExpr:
    return literal(None, t)


def predicate(
    e: TypedExpr, *, node: exp.Expression | None = None, sql: str | None = None
) -> pl.Expr:
    """A WHERE/HAVING/ON condition: BOOLEAN required, NULL counts as false."""
    if e.type.is_null:
        return pl.lit(False)
    if e.type.kind != "BOOLEAN":
        raise SqlTypeError(
            f"condition must be BOOLEAN, not {e.type.with_nullable(True)}",
            sql=sql,
            **position_of(node, sql),
        )
    return e.expr.fill_null(False)


def common_type(
    types: Sequence[SqlType], *, node: exp.Expression | None = None, sql: str | None = None
) -> SqlType:
    """The type UNION / CASE / COALESCE / IN / comparisons convert their operands to."""
    return T.common_type(types, node=node, sql=sql)


def compile_expr(node: exp.Expression, resolver: Resolver, *, sql: str | None = None) -> TypedExpr:
    """Compile a scalar expression; ``sql`` is the text ``node`` was parsed from (for error
    positions).  Unsupported constructs raise :class:`UnsupportedSqlError`, type mismatches
    :class:`SqlTypeError`, unknown functions :class:`SqlError`."""
    return Compiler(resolver, sql).compile(node)


def cast_to(
    e: TypedExpr, target: SqlType, *, node: exp.Expression | None = None, sql: str | None = None
) -> TypedExpr:
    """``CAST(e AS target)`` with SQL semantics (the cast matrix is in
    :mod:`feldera_nb.sql.functions`).  The result is nullable when ``e`` is, or when the cast
    can yield NULL (strings to DATE/TIME/TIMESTAMP)."""
    return Compiler(None, sql).cast(e, target, node)


Handler = Callable[["Compiler", Any], TypedExpr]
# A guard holds the expressions of earlier branches, and each branch masks its checks with it,
# so nesting multiplies sizes; past this the expression is refused before Polars expands it.
_MAX_GUARD_CHARS = 100_000


class Compiler:
    """Compiles one expression tree.  Function handlers (``functions.py``) use its helpers:
    :meth:`compile`, :meth:`cast`, :meth:`coerce`, :meth:`error`, :meth:`strict_cast`,
    :meth:`fail_if`, :meth:`guarded`."""

    def __init__(self, resolver: Resolver | None, sql: str | None) -> None:
        self.resolver = resolver
        self.sql = sql
        self.guard: pl.Expr | None = None
        self._frames: list[list[bool]] = []

    # -- entry point -------------------------------------------------------------------------

    def compile(self, node: exp.Expression) -> TypedExpr:
        resolved = self.resolver.resolve(node) if self.resolver is not None else None
        if resolved is not None:
            self._note(resolved)
            return resolved
        handler = self._handler(node)
        self._frames.append([])
        try:
            result = handler(self, node)
        finally:
            children = self._frames.pop()
        if not result.is_literal and children and all(children):
            result = _fold(result)
        self._note(result)
        return result

    def _note(self, e: TypedExpr) -> None:
        if self._frames:
            self._frames[-1].append(e.is_literal)

    def _handler(self, node: exp.Expression) -> Handler:
        handler = HANDLERS.get(type(node))
        if handler is not None:
            return handler
        from feldera_nb.sql.functions import lookup

        handler = lookup(node)
        if handler is not None:
            return handler
        if isinstance(node, exp.AggFunc):
            raise self.unsupported(f"aggregate function {_func_name(node)} here", node)
        if isinstance(node, (exp.Window, exp.WindowSpec)):
            raise self.unsupported("window function here", node)
        if isinstance(node, (exp.Subquery, exp.Select, exp.Exists)):
            raise self.unsupported("subquery here", node)
        if isinstance(node, exp.Anonymous):
            raise SqlError(
                f"unknown function {_func_name(node)}", sql=self.sql, **position_of(node, self.sql)
            )
        if isinstance(node, exp.Func):
            raise self.unsupported(f"function {_func_name(node)}", node)
        raise self.unsupported(f"expression {type(node).__name__} ({node.sql()})", node)

    # -- errors ------------------------------------------------------------------------------

    def error(self, message: str, node: exp.Expression | None) -> SqlTypeError:
        return SqlTypeError(message, sql=self.sql, **position_of(node, self.sql))

    def unsupported(self, construct: str, node: exp.Expression | None) -> UnsupportedSqlError:
        return UnsupportedSqlError(construct, sql=self.sql, **position_of(node, self.sql))

    # -- guarded runtime checks --------------------------------------------------------------

    @contextmanager
    def guarded(self, condition: pl.Expr | bool,
                node: exp.Expression | None = None) -> Iterator[None]:
        """Compile the body for the rows where ``condition`` holds (CASE branches).

        A constant condition keeps guards small: ``True`` adds nothing, ``False`` marks a
        branch no row reaches.  (Guards hold earlier branches' expressions, so without that
        nested CASE / COALESCE would grow exponentially.)"""
        outer = self.guard
        if condition is False:
            self.guard = pl.lit(False)
        elif condition is not True:
            if len(str(condition)) > _MAX_GUARD_CHARS:
                raise self.unsupported("CASE / COALESCE nested this deeply (the compiled "
                                       "expression would grow exponentially)", node)
            self.guard = condition if outer is None else outer & condition
        try:
            yield
        finally:
            self.guard = outer

    def masked(self, e: pl.Expr) -> pl.Expr:
        """``e`` where the current guard holds, NULL elsewhere."""
        return e if self.guard is None else pl.when(self.guard).then(e)

    def strict_cast(self, e: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        """A cast that raises on values the target cannot hold (only for guarded rows)."""
        return self.masked(e).cast(dtype, strict=True)

    def fail_if(self, condition: pl.Expr, message: str, value: pl.Expr) -> pl.Expr:
        """``value``, raising a runtime error naming ``message`` if ``condition`` is true on a
        guarded row."""
        bad = self.masked(condition).fill_null(False)
        check = pl.when(bad).then(pl.lit(message)).otherwise(pl.lit(None, pl.String))
        return pl.when(check.cast(pl.Int8, strict=True).is_null()).then(value)

    # -- coercion ----------------------------------------------------------------------------

    def coerce(self, items: Sequence[TypedExpr], node: exp.Expression) -> tuple[SqlType, list[TypedExpr]]:
        """Cast ``items`` to their common type (string literals become DATE/TIME/TIMESTAMP
        when compared with one)."""
        temporal = [e.type for e in items if e.type.is_temporal]
        if temporal:
            items = [
                self.cast(e, temporal[0], node)
                if e.is_literal and e.type.is_string and e.literal is not None
                else e
                for e in items
            ]
        target = common_type([e.type for e in items], node=node, sql=self.sql)
        if target.is_null:
            return target, list(items)
        return target, [self.cast(e, target, node) for e in items]

    def cast(self, e: TypedExpr, target: SqlType, node: exp.Expression | None) -> TypedExpr:
        from feldera_nb.sql.functions import cast_expr

        return cast_expr(self, e, target, node)


def _func_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).upper()
    if isinstance(node, exp.Func):
        return node.sql_name()
    return type(node).__name__.upper()


def _fold(e: TypedExpr) -> TypedExpr:
    """Evaluate a constant expression once; leave it alone if evaluation fails at runtime."""
    try:
        value = pl.select(e.expr.alias("v")).to_series()
    except PolarsError:
        return e
    if len(value) != 1:
        return e
    v = value[0]
    t = e.type.with_nullable(v is None)
    return TypedExpr(pl.lit(v, dtype=to_polars(t)), t, v)


# ---------------------------------------------------------------------------------------------
# leaves

_INT_RE = re.compile(r"^\d+$")


def _literal(c: Compiler, node: exp.Literal) -> TypedExpr:
    text = str(node.this)
    if node.is_string:
        return literal(text, SqlType("VARCHAR", False))
    if _INT_RE.match(text):
        value: object = int(text)
    elif "e" in text.lower():
        value = float(text)
    else:
        value = Decimal(text)
    return literal(value, T.literal_type(value))


def _boolean(c: Compiler, node: exp.Boolean) -> TypedExpr:
    return literal(bool(node.this), T.BOOLEAN)


def _null(c: Compiler, node: exp.Null) -> TypedExpr:
    return TypedExpr(pl.lit(None), T.NULL, None)


def _paren(c: Compiler, node: exp.Paren) -> TypedExpr:
    return c.compile(node.this)


def _column(c: Compiler, node: exp.Column) -> TypedExpr:
    raise SqlError(f"unknown column {node.sql()}", sql=c.sql, **position_of(node, c.sql))


# ---------------------------------------------------------------------------------------------
# logic


def _boolean_operand(c: Compiler, node: exp.Expression) -> TypedExpr:
    e = c.compile(node)
    if e.type.is_null:
        return _null_of(T.BOOLEAN)
    if e.type.kind != "BOOLEAN":
        raise c.error(f"expected BOOLEAN, got {e.type.with_nullable(True)}", node)
    return e


def _and_or(c: Compiler, node: exp.Connector) -> TypedExpr:
    a = _boolean_operand(c, node.this)
    b = _boolean_operand(c, node.expression)
    expr = a.expr & b.expr if isinstance(node, exp.And) else a.expr | b.expr
    return TypedExpr(expr, T.BOOLEAN.with_nullable(a.type.nullable or b.type.nullable))


def _not(c: Compiler, node: exp.Not) -> TypedExpr:
    a = _boolean_operand(c, node.this)
    return TypedExpr(~a.expr, a.type)


def _is(c: Compiler, node: exp.Is) -> TypedExpr:
    a = c.compile(node.this)
    right = node.expression
    if isinstance(right, exp.Null):
        return TypedExpr(a.expr.is_null(), T.BOOLEAN)
    if isinstance(right, exp.Boolean):
        a = _boolean_operand(c, node.this)
        expr = a.expr if right.this else ~a.expr
        return TypedExpr(expr.fill_null(False), T.BOOLEAN)
    raise c.unsupported(f"IS {right.sql()}", node)


# ---------------------------------------------------------------------------------------------
# comparisons

_COMPARISONS: dict[type[exp.Expression], Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    exp.EQ: lambda a, b: a == b,
    exp.NEQ: lambda a, b: a != b,
    exp.LT: lambda a, b: a < b,
    exp.LTE: lambda a, b: a <= b,
    exp.GT: lambda a, b: a > b,
    exp.GTE: lambda a, b: a >= b,
    exp.NullSafeEQ: lambda a, b: a.eq_missing(b),
    exp.NullSafeNEQ: lambda a, b: a.ne_missing(b),
}


def compare(
    c: Compiler, op: type[exp.Expression], a: TypedExpr, b: TypedExpr, node: exp.Expression
) -> TypedExpr:
    """``a op b`` after coercion to the common type; op is an exp comparison class."""
    _, (a, b) = c.coerce([a, b], node)
    expr = _COMPARISONS[op](a.expr, b.expr)
    null_safe = op in (exp.NullSafeEQ, exp.NullSafeNEQ)
    nullable = not null_safe and (a.type.nullable or b.type.nullable)
    return TypedExpr(expr, T.BOOLEAN.with_nullable(nullable))


def _comparison(c: Compiler, node: exp.Binary) -> TypedExpr:
    a = c.compile(node.this)
    b = c.compile(node.expression)
    return compare(c, type(node), a, b, node)


def _between(c: Compiler, node: exp.Between) -> TypedExpr:
    items = [c.compile(node.this), c.compile(node.args["low"]), c.compile(node.args["high"])]
    t, (x, lo, hi) = c.coerce(items, node)
    inside = (x.expr >= lo.expr) & (x.expr <= hi.expr)
    if node.args.get("symmetric"):
        inside = inside | ((x.expr >= hi.expr) & (x.expr <= lo.expr))
    nullable = any(e.type.nullable for e in (x, lo, hi))
    return TypedExpr(inside, T.BOOLEAN.with_nullable(nullable))


def _in(c: Compiler, node: exp.In) -> TypedExpr:
    if node.args.get("query") is not None or node.args.get("unnest") is not None:
        raise c.unsupported("IN with a subquery here", node)
    if node.args.get("field") is not None:
        raise c.unsupported("IN with a field", node)
    items = [c.compile(node.this)] + [c.compile(v) for v in node.expressions]
    _, (x, *values) = c.coerce(items, node)
    constants = [v.literal for v in values if v.is_literal and v.literal is not None]
    has_null = any(v.is_literal and v.literal is None for v in values)
    others = [v for v in values if not v.is_literal]
    parts: list[pl.Expr] = []
    if constants:
        parts.append(x.expr.is_in(pl.Series(constants, dtype=to_polars(x.type)).implode()))
    parts.extend(x.expr == v.expr for v in others)
    if has_null:
        parts.append(pl.lit(None, pl.Boolean))
    expr = parts[0] if parts else pl.lit(False)
    for p in parts[1:]:
        expr = expr | p
    nullable = x.type.nullable or has_null or any(v.type.nullable for v in others)
    return TypedExpr(expr, T.BOOLEAN.with_nullable(nullable))


# ---------------------------------------------------------------------------------------------
# arithmetic

_OPS: dict[type[exp.Expression], str] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.Mod: "%",
}


def _wide_int(t: SqlType) -> pl.DataType:
    return pl.Int128 if t.kind == "BIGINT" else pl.Int64


def _nonzero(e: pl.Expr, zero: object = 0) -> pl.Expr:
    """``e`` with zero replaced by NULL (x / 0 and x % 0 are NULL)."""
    return pl.when(e != zero).then(e)


def _sign_of(x: pl.Expr, y: pl.Expr | None = None) -> pl.Expr:
    negative = x < 0 if y is None else (x < 0) != (y < 0)
    return pl.when(negative).then(-1).otherwise(1)


def _integer_arith(c: Compiler, op: str, a: TypedExpr, b: TypedExpr, rt: SqlType) -> pl.Expr:
    wide = _wide_int(rt)
    # Nothing fails in the wide type (and / or % by zero is NULL), so only the narrowing cast
    # back is masked by the CASE guard; masking the operands too made nested CASEs explode.
    x, y = a.expr.cast(wide), b.expr.cast(wide)
    if op == "+":
        r = x + y
    elif op == "-":
        r = x - y
    elif op == "*":
        r = x * y
    elif op == "/":
        y = _nonzero(y)
        r = (x.abs() // y.abs()) * _sign_of(x, y).cast(wide)
    else:
        y = _nonzero(y)
        r = (x.abs() % y.abs()) * _sign_of(x).cast(wide)
    return c.strict_cast(r, to_polars(rt))


def _float_arith(op: str, a: TypedExpr, b: TypedExpr, rt: SqlType) -> pl.Expr:
    dtype = to_polars(rt)
    x, y = a.expr.cast(dtype), b.expr.cast(dtype)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    y = _nonzero(y, 0.0)
    if op == "/":
        return x / y
    r = x.abs() % y.abs()
    return pl.when(x < 0).then(-r).otherwise(r)


def _decimal_unscaled(e: pl.Expr, scale: int) -> pl.Expr:
    """The Int128 unscaled value of a decimal expression rescaled (exactly) to ``scale``."""
    return e.cast(pl.Decimal(T.MAX_DECIMAL_PRECISION, scale)).to_physical()


def from_unscaled(u: pl.Expr, scale: int) -> pl.Expr:
    """DECIMAL(38, scale) from an Int128 unscaled value."""
    d = u.cast(pl.Decimal(T.MAX_DECIMAL_PRECISION, 0))
    if scale == 0:
        return d
    unit = pl.lit(Decimal(1).scaleb(-scale), dtype=pl.Decimal(T.MAX_DECIMAL_PRECISION, scale))
    return d * unit


def _decimal_arith(
    c: Compiler, op: str, a: TypedExpr, b: TypedExpr, rt: SqlType, node: exp.Expression
) -> pl.Expr:
    da, db = T.as_decimal(a.type), T.as_decimal(b.type)
    x = c.masked(a.expr).cast(to_polars(da))
    y = c.masked(b.expr).cast(to_polars(db))
    s1, s2, s = da.scale or 0, db.scale or 0, rt.scale or 0
    wide = T.MAX_DECIMAL_PRECISION
    if op in ("+", "-"):
        x, y = x.cast(pl.Decimal(wide, s)), y.cast(pl.Decimal(wide, s))
        r = x + y if op == "+" else x - y
    elif op == "*":
        if s1 + s2 > T.MAX_DECIMAL_PRECISION:
            raise c.unsupported("DECIMAL product with a scale above 38", node)
        r = x.cast(pl.Decimal(wide, s1 + s2)) * y
    elif op == "/":
        # Polars divides at the larger operand scale, rounding half to even.
        work = max(s, s1, s2)
        r = x.cast(pl.Decimal(wide, work)) / _nonzero(y, Decimal(0))
        if work > s:
            r = r.round(s, mode="half_away_from_zero")
    else:
        ux, uy = _decimal_unscaled(x, s), _nonzero(_decimal_unscaled(y, s))
        u = (ux.abs() % uy.abs()) * pl.when(ux < 0).then(-1).otherwise(1).cast(pl.Int128)
        r = from_unscaled(u, s)
    return c.strict_cast(r, to_polars(rt))


_INTERVAL_UNITS = {"DAY": "days", "HOUR": "hours", "MINUTE": "minutes", "SECOND": "seconds",
                   "WEEK": "weeks"}


def _interval(c: Compiler, node: exp.Interval) -> TypedExpr:
    """A day-time interval literal such as ``INTERVAL '1' HOUR`` (a constant)."""
    unit = node.args.get("unit")
    unit_name = (unit.name if unit is not None else "").upper().rstrip("S")
    value = node.this.name if isinstance(node.this, exp.Literal) else None
    if unit_name in ("YEAR", "MONTH", "QUARTER"):
        raise c.unsupported(f"{unit_name} intervals", node)
    if unit_name not in _INTERVAL_UNITS or value is None:
        raise c.unsupported("this INTERVAL form (write INTERVAL 'n' DAY/HOUR/MINUTE/SECOND)", node)
    try:
        amount = float(value)
    except ValueError:
        raise c.error(f"invalid interval value '{value}'", node) from None
    delta = timedelta(**{_INTERVAL_UNITS[unit_name]: amount})
    return TypedExpr(pl.lit(delta, dtype=pl.Duration("us")), SqlType("INTERVAL", False), delta)


def _date_arith(c: Compiler, op: str, a: TypedExpr, b: TypedExpr, node: exp.Expression) -> TypedExpr:
    if op == "+" and a.type.kind == "INTERVAL":
        a, b = b, a
    if b.type.kind == "INTERVAL" and op in ("+", "-") and a.type.kind in ("TIMESTAMP", "DATE"):
        nullable = a.type.nullable or b.type.nullable
        if a.type.kind == "DATE":
            if not isinstance(b.literal, timedelta) or b.literal % timedelta(days=1):
                raise c.unsupported("DATE +/- an interval that is not whole days", node)
        expr = a.expr + b.expr if op == "+" else a.expr - b.expr
        return TypedExpr(expr, T.sql_type(a.type.kind, nullable=nullable))
    if b.type.kind == "DATE" and op == "+":
        a, b = b, a
    if a.type.kind != "DATE" or not b.type.is_integer or op not in ("+", "-"):
        raise c.unsupported(f"{a.type.kind} {op} {b.type.kind} (intervals)", node)
    days = b.expr.cast(pl.Int64)
    expr = a.expr + pl.duration(days=days if op == "+" else -days)
    return TypedExpr(expr, T.sql_type("DATE", nullable=a.type.nullable or b.type.nullable))


def arithmetic(
    c: Compiler, op: str, a: TypedExpr, b: TypedExpr, node: exp.Expression
) -> TypedExpr:
    """``a op b`` for ``op`` in ``+ - * / %``."""
    if a.type.is_null and b.type.is_null:
        return TypedExpr(pl.lit(None), T.NULL, None)
    if a.type.is_null:
        a = c.cast(a, b.type, node)
    if b.type.is_null:
        b = c.cast(b, a.type, node)
    if a.type.is_temporal or b.type.is_temporal:
        return _date_arith(c, op, a, b, node)
    rt = T.arithmetic_type(op, a.type, b.type)
    if rt is None:
        raise c.error(
            f"cannot apply '{op}' to {a.type.with_nullable(True)} and {b.type.with_nullable(True)}",
            node,
        )
    divides = op in ("/", "%") and not (b.is_literal and b.literal not in (None, 0))
    rt = rt.with_nullable(a.type.nullable or b.type.nullable or divides)
    if rt.is_integer:
        expr = _integer_arith(c, op, a, b, rt)
    elif rt.is_float:
        expr = _float_arith(op, a, b, rt)
    else:
        expr = _decimal_arith(c, op, a, b, rt, node)
    return TypedExpr(expr, rt)


def _binary_arith(c: Compiler, node: exp.Binary) -> TypedExpr:
    return arithmetic(c, _OPS[type(node)], c.compile(node.this), c.compile(node.expression), node)


def _neg(c: Compiler, node: exp.Neg) -> TypedExpr:
    a = c.compile(node.this)
    if a.type.is_null:
        return a
    if not a.type.is_numeric:
        raise c.error(f"cannot negate {a.type.with_nullable(True)}", node)
    if a.type.is_integer:
        wide = _wide_int(a.type)
        # 0 - x: Polars has no negation for Int128.
        expr = c.strict_cast(_zero(wide) - a.expr.cast(wide), to_polars(a.type))
    else:
        expr = -a.expr
    return TypedExpr(expr, a.type)


def _concat(c: Compiler, node: exp.DPipe) -> TypedExpr:
    a, b = c.compile(node.this), c.compile(node.expression)
    for side, e in ((node.this, a), (node.expression, b)):
        if not (e.type.is_string or e.type.is_null):
            raise c.error(f"'||' needs strings, got {e.type.with_nullable(True)}", side)
    lengths = [e.type.precision if e.type.is_string else 0 for e in (a, b)]
    length = None if None in lengths else sum(n or 0 for n in lengths)
    t = SqlType("VARCHAR", a.type.nullable or b.type.nullable, length)
    return TypedExpr(pl.concat_str([a.expr.cast(pl.String), b.expr.cast(pl.String)]), t)


# ---------------------------------------------------------------------------------------------
# CASE and CAST


def _case(c: Compiler, node: exp.Case) -> TypedExpr:
    subject = c.compile(node.this) if node.this is not None else None
    taken: Cond = False  # some earlier branch was chosen
    branches: list[tuple[Cond, TypedExpr]] = []
    for branch in node.args.get("ifs") or []:
        with c.guarded(cond_not(taken), node):
            if subject is None:
                test = c.compile(branch.this)
                predicate(test, node=branch.this, sql=c.sql)  # type check
            else:
                operand = c.compile(branch.this)
                test = compare(c, exp.EQ, subject, operand, branch)
                if subject.is_literal and operand.is_literal:
                    test = _fold(test)
        cond = truth(test)
        with c.guarded(cond_and(cond_not(taken), cond), node):
            value = c.compile(branch.args["true"])
        branches.append((cond, value))
        taken = cond_or(taken, cond)
    default = node.args.get("default")
    with c.guarded(cond_not(taken), node):
        otherwise = c.compile(default) if default is not None else TypedExpr(pl.lit(None), T.NULL, None)
    results = [v for _, v in branches] + [otherwise]
    t = common_type([v.type for v in results], node=node, sql=c.sql)
    if t.is_null:
        return TypedExpr(pl.lit(None), T.NULL, None)
    results = [c.cast(v, t, node) for v in results]
    # Branches no row takes are dropped; the first one every row takes ends the chain.
    live = [(cond, v) for (cond, _), v in zip(branches, results) if cond is not False]
    out_value = results[-1].expr
    for i, (cond, v) in enumerate(live):
        if cond is True:
            live, out_value = live[:i], v.expr
            break
    expr: Any = pl
    for cond, value in live:
        expr = expr.when(cond).then(value.expr)
    out = expr.otherwise(out_value) if live else out_value
    return TypedExpr(out, t)


# Conditions known at compile time stay Python booleans, so guards built from them fold away.
Cond = pl.Expr | bool


def truth(e: TypedExpr) -> Cond:
    """A BOOLEAN's truth on a row (NULL counts as false), constant when ``e`` is."""
    if e.type.is_null:
        return False
    if e.is_literal:
        return bool(e.literal)
    return e.expr.fill_null(False)


def cond_not(a: Cond) -> Cond:
    return (not a) if isinstance(a, bool) else ~a


def cond_and(a: Cond, b: Cond) -> Cond:
    if isinstance(a, bool):
        return b if a else False
    if isinstance(b, bool):
        return a if b else False
    return a & b


def cond_or(a: Cond, b: Cond) -> Cond:
    if isinstance(a, bool):
        return True if a else b
    if isinstance(b, bool):
        return True if b else a
    return a | b


def _cast_node(c: Compiler, node: exp.Cast) -> TypedExpr:
    if node.args.get("format") is not None:
        raise c.unsupported("CAST with FORMAT", node)
    target = from_sqlglot(node.to, node=node, sql=c.sql)
    e = c.compile(node.this)
    out = c.cast(e, target, node)
    if e.is_literal and e.type.is_string and target.is_temporal and e.literal is not None:
        folded = _fold(out)
        if folded.is_literal and folded.literal is None:
            raise SqlError(
                f"invalid {target.kind} literal '{e.literal}'", sql=c.sql, **position_of(node, c.sql)
            )
        return folded
    return out


HANDLERS: dict[type[exp.Expression], Handler] = {
    exp.Literal: _literal,
    exp.Boolean: _boolean,
    exp.Null: _null,
    exp.Paren: _paren,
    exp.Column: _column,
    exp.And: _and_or,
    exp.Or: _and_or,
    exp.Not: _not,
    exp.Is: _is,
    exp.Between: _between,
    exp.In: _in,
    exp.Neg: _neg,
    exp.DPipe: _concat,
    exp.Case: _case,
    exp.Cast: _cast_node,
    exp.Interval: _interval,
    **{cls: _comparison for cls in _COMPARISONS},
    **{cls: _binary_arith for cls in _OPS},
}

