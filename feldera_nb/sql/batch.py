"""Batch (non-incremental) semantics of the stateful SQL operators.

Each factory returns a function over consolidated Z-set slices — the rows of some keys —
that computes the operator's output for exactly those keys.
:class:`~feldera_nb.engine.operators.KeyedRecompute` calls it on the slices before and after a
delta and emits the difference, which makes these plain Polars functions incremental.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from feldera_nb.engine.zset import WEIGHT, expand, weighted, without_weight
from feldera_nb.errors import FelderaNbError

BatchFn = Callable[[list[pl.DataFrame]], pl.DataFrame]


class SqlRuntimeError(FelderaNbError, RuntimeError):
    """A SQL error that only shows with data (a scalar subquery returning two rows)."""


def _weight1(df: pl.DataFrame) -> pl.DataFrame:
    return weighted(without_weight(df), 1)


# -- DISTINCT and set operations ------------------------------------------------------------
def distinct_fn() -> BatchFn:
    """Each row with a positive weight, once."""

    def fn(slices: list[pl.DataFrame]) -> pl.DataFrame:
        z = slices[0]
        return _weight1(z.filter(pl.col(WEIGHT) > 0))

    return fn


def setop_fn(kind: str, all_: bool) -> BatchFn:
    """EXCEPT / INTERSECT [ALL] over two inputs with the same column names."""

    def fn(slices: list[pl.DataFrame]) -> pl.DataFrame:
        a, b = slices
        cols = [c for c in a.columns if c != WEIGHT]
        a = a.filter(pl.col(WEIGHT) > 0)
        b = b.filter(pl.col(WEIGHT) > 0).rename({WEIGHT: "__bw"})
        j = a.join(b, on=cols, how="left", nulls_equal=True).with_columns(
            pl.col("__bw").fill_null(0))
        wa, wb = pl.col(WEIGHT), pl.col("__bw")
        if kind == "except":
            w = pl.max_horizontal(wa - wb, pl.lit(0)) if all_ else (wb == 0).cast(pl.Int64)
        else:
            w = pl.min_horizontal(wa, wb) if all_ else (wb > 0).cast(pl.Int64)
        return j.select(*cols, w.cast(pl.Int64).alias(WEIGHT)).filter(pl.col(WEIGHT) != 0)

    return fn


# -- aggregates ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AggSpec:
    """One aggregate call: ``func`` over column ``arg`` (None for COUNT(*))."""

    func: str  # count_star | count | sum | avg | min | max | every | some | bool_and | bool_or
    arg: str | None
    distinct: bool
    integer_avg: bool = False  # AVG of an integer type truncates toward zero
    decimal_scale: int | None = None  # AVG of a DECIMAL rounds half away from zero
    floating: bool = False  # REAL/DOUBLE argument: NaN sorts above every value


def _agg_expr(spec: AggSpec) -> pl.Expr:
    w = pl.col(WEIGHT)
    if spec.func == "count_star":
        return w.sum()
    x = pl.col(spec.arg)  # type: ignore[arg-type]
    present = x.is_not_null()
    if spec.distinct and spec.func not in ("min", "max"):
        vals = x.drop_nulls().unique()
        n = vals.len()
        if spec.func == "count":
            return n.cast(pl.Int64)
        total = vals.sum()
        if spec.func == "sum":
            return pl.when(n > 0).then(total)
        if spec.func == "avg":
            return _avg(total, n, spec)
        raise ValueError(spec.func)
    if spec.func == "count":
        return w.filter(present).sum()
    if spec.func in ("min", "max"):
        if spec.floating:
            # Feldera (and DuckDB) order NaN above every number; Polars' min/max skip it.
            nan = x.is_nan().fill_null(False)
            if spec.func == "max":
                return pl.when(nan.any()).then(pl.lit(float("nan"))).otherwise(x.max())
            finite = x.filter(~nan)
            return pl.when(finite.count() > 0).then(finite.min()).otherwise(
                pl.when(nan.any()).then(pl.lit(float("nan"))))
        return x.min() if spec.func == "min" else x.max()
    if spec.func in ("bool_and", "every"):
        return pl.when(present.any()).then(x.filter(present).all())
    if spec.func in ("bool_or", "some"):
        return pl.when(present.any()).then(x.filter(present).any())
    n = w.filter(present).sum()
    total = (x * w).filter(present).sum()
    if spec.func == "sum":
        return pl.when(n > 0).then(total)
    if spec.func == "avg":
        return _avg(total, n, spec)
    raise ValueError(f"unknown aggregate {spec.func}")


def _avg(total: pl.Expr, n: pl.Expr, spec: AggSpec) -> pl.Expr:
    # A NULL divisor, not a guarded branch: Polars evaluates both branches of a when/then,
    # and decimal division by zero raises.
    n = pl.when(n > 0).then(n)
    if spec.integer_avg:
        return (total.abs() // n) * total.sign()
    if spec.decimal_scale is not None:
        # Exact: in units of the scale, rounded half away from zero, as Feldera's AVG.
        units = (total * 10**spec.decimal_scale).cast(pl.Int128)
        q = ((2 * units.abs() + n) // (2 * n)) * units.sign()
        return q.cast(pl.Decimal(38, 0)) * pl.lit(Decimal(1).scaleb(-spec.decimal_scale))
    return total / n


def aggregate_fn(keys: Sequence[str], aggs: Sequence[AggSpec], out_names: Sequence[str]
                 ) -> BatchFn:
    """GROUP BY ``keys``; with no keys, one row even over empty input."""
    keys = list(keys)
    exprs = [_agg_expr(a).alias(n) for a, n in zip(aggs, out_names[len(keys):], strict=True)]

    def fn(slices: list[pl.DataFrame]) -> pl.DataFrame:
        z = slices[0].filter(pl.col(WEIGHT) > 0)
        if keys:
            out = z.group_by(keys).agg(exprs)
        else:
            out = z.select(exprs)
        return _weight1(out)

    return fn


# -- outer joins -----------------------------------------------------------------------------
def outer_join_fn(kind: str, left_key: Sequence[str], right_key: Sequence[str],
                  left_n: int, right_n: int, condition: pl.Expr | None) -> BatchFn:
    """LEFT / RIGHT / FULL [OUTER] JOIN on equi keys plus an optional extra condition.

    Inputs carry columns c0..c{left_n-1} and c0..c{right_n-1}; the output has the left's
    columns then the right's, renamed c0..c{left_n+right_n-1}; the condition is written over
    those output names.
    """
    lnames = [f"c{i}" for i in range(left_n)]
    rnames = [f"c{left_n + i}" for i in range(right_n)]

    def fn(slices: list[pl.DataFrame]) -> pl.DataFrame:
        a, b = slices
        a = a.filter(pl.col(WEIGHT) > 0).rename({WEIGHT: "__lw"})
        a = a.rename(dict(zip([f"c{i}" for i in range(left_n)], lnames, strict=True)))
        a = a.with_row_index("__li")
        b = b.filter(pl.col(WEIGHT) > 0).rename({WEIGHT: "__rw"})
        b = b.rename(dict(zip([f"c{i}" for i in range(right_n)], rnames, strict=True)))
        b = b.with_row_index("__ri")
        lk = [lnames[int(k[1:])] for k in left_key]
        rk = [rnames[int(k[1:])] for k in right_key]
        if lk:
            j = a.join(b, left_on=lk, right_on=rk, how="inner", coalesce=False)
        else:
            j = a.join(b, how="cross")
        if condition is not None:
            j = j.filter(condition)
        parts = [j.select(*lnames, *rnames, (pl.col("__lw") * pl.col("__rw")).alias(WEIGHT))]
        if kind in ("left", "full"):
            miss = a.join(j.select("__li").unique(), on="__li", how="anti")
            parts.append(miss.select(*lnames, *[pl.lit(None).alias(n) for n in rnames],
                                     pl.col("__lw").alias(WEIGHT)))
        if kind in ("right", "full"):
            miss = b.join(j.select("__ri").unique(), on="__ri", how="anti")
            parts.append(miss.select(*[pl.lit(None).alias(n) for n in lnames], *rnames,
                                     pl.col("__rw").alias(WEIGHT)))
        schema = {**{n: a.schema[n] for n in lnames}, **{n: b.schema[n] for n in rnames}}
        return pl.concat([p.cast({**schema, WEIGHT: pl.Int64}) for p in parts])

    return fn


# -- ordering: top-k and window functions ---------------------------------------------------
@dataclass(frozen=True)
class SortKey:
    """ORDER BY item over a frame column; SQL's default puts NULLs last ascending."""

    col: str
    descending: bool
    nulls_last: bool


def _sorted(df: pl.DataFrame, order: Sequence[SortKey], tie_break: Sequence[str]) -> pl.DataFrame:
    by = [k.col for k in order] + [c for c in tie_break]
    desc = [k.descending for k in order] + [False] * len(tie_break)
    nl = [k.nulls_last for k in order] + [True] * len(tie_break)
    if not by:
        return df
    return df.sort(by, descending=desc, nulls_last=nl, maintain_order=True)


def topk_fn(order: Sequence[SortKey], offset: int, limit: int | None) -> BatchFn:
    """ORDER BY ... LIMIT/OFFSET over the whole input (ties broken by all columns)."""

    def fn(slices: list[pl.DataFrame]) -> pl.DataFrame:
        z = slices[0]
        cols = [c for c in z.columns if c != WEIGHT]
        rows = _sorted(expand(z), order, cols)
        rows = rows.slice(offset, limit)
        return _weight1(rows)

    return fn


@dataclass(frozen=True)
class WindowSpec:
    """One window call over the partition: a ranking function, LAG/LEAD, or an aggregate
    (over the whole partition, or running up to the current row's peers with ORDER BY)."""

    func: str  # row_number | rank | dense_rank | lag | lead | count_star | count | sum | avg | min | max
    arg: str | None
    order: tuple[SortKey, ...]
    integer_avg: bool = False
    offset: int = 1  # LAG / LEAD
    default: str | None = None  # LAG / LEAD: column holding the default value
    floating: bool = False  # REAL/DOUBLE argument (NaN sorts above every number)


def window_fn(partition: Sequence[str], specs: Sequence[WindowSpec], out_names: Sequence[str]
              ) -> BatchFn:
    """Append one column per window call to every row of the partitions given."""
    partition = list(partition)

    def fn(slices: list[pl.DataFrame]) -> pl.DataFrame:
        z = slices[0]
        cols = [c for c in z.columns if c != WEIGHT]
        rows = expand(z)
        if rows.height == 0:
            return _weight1(rows.with_columns([pl.lit(None).alias(n) for n in out_names]))
        exprs = []
        for spec, name in zip(specs, out_names, strict=True):
            exprs.append(_window_expr(rows, spec, partition, cols).alias(name))
        out = rows.with_columns(exprs) if exprs else rows
        return _weight1(out)

    return fn


def _window_expr(rows: pl.DataFrame, spec: WindowSpec, partition: list[str],
                 cols: list[str]) -> pl.Series:
    over = partition or None

    def per_partition(e: pl.Expr) -> pl.Expr:
        return e.over(partition) if over else e

    if not spec.order and spec.func not in ("row_number", "lag", "lead"):
        agg = AggSpec(spec.func, spec.arg, False, spec.integer_avg, floating=spec.floating)
        weighted = rows.with_columns(pl.lit(1, pl.Int64).alias(WEIGHT))
        return weighted.select(per_partition(_agg_expr(agg)).alias("__val"))["__val"]
    # Order the rows: by partition, then the window's ORDER BY, ties broken by all columns.
    srt = _sorted(rows.with_row_index("__pos"), [*spec.order], [*partition, *cols])
    if over:
        srt = srt.sort(partition, maintain_order=True, nulls_last=True)
    peers = [*partition, *[k.col for k in spec.order]]
    srt = srt.with_columns(per_partition(pl.int_range(1, pl.len() + 1, dtype=pl.Int64)).alias("__rn"))
    rn = pl.col("__rn")
    if spec.func == "row_number":
        val = rn
    elif spec.func == "rank":
        val = rn.first().over(peers) if peers else pl.lit(1, pl.Int64)
    elif spec.func == "dense_rank":
        first = pl.struct(peers).is_first_distinct() if peers else pl.lit(False)
        val = per_partition(first.cast(pl.Int64).cum_sum())
    elif spec.func in ("lag", "lead"):
        k = spec.offset if spec.func == "lag" else -spec.offset
        shifted = per_partition(pl.col(spec.arg).shift(k))  # type: ignore[arg-type]
        size = per_partition(pl.len())
        outside = (rn <= spec.offset) if spec.func == "lag" else (rn + spec.offset > size)
        default = pl.col(spec.default) if spec.default else pl.lit(None)
        val = pl.when(outside).then(default).otherwise(shifted)
    else:
        srt = srt.with_columns(_running(spec, per_partition).alias("__run"))
        # Peers (equal ORDER BY values) share the value at the last of them.
        val = pl.col("__run").last().over(peers) if peers else pl.col("__run").last()
    srt = srt.with_columns(val.alias("__val"))
    return srt.sort("__pos")["__val"]


def _running(spec: WindowSpec, per_partition: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    """An aggregate from the partition's first row up to the current row and its peers
    (SQL's default frame with ORDER BY: RANGE UNBOUNDED PRECEDING)."""
    if spec.func == "count_star":
        val = per_partition(pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
    else:
        x = pl.col(spec.arg)  # type: ignore[arg-type]
        n = per_partition(x.is_not_null().cast(pl.Int64).cum_sum())
        if spec.func == "count":
            val = n
        elif spec.func in ("min", "max"):
            cum = x.cum_min() if spec.func == "min" else x.cum_max()
            val = per_partition(cum.forward_fill())
        else:
            total = per_partition(x.fill_null(0).cum_sum())
            val = pl.when(n > 0).then(total) if spec.func == "sum" else \
                _avg(total, n, AggSpec("avg", spec.arg, False, spec.integer_avg))
    return val


# -- subquery application -------------------------------------------------------------------
def exists_fn(outer_key: Sequence[str], inner_key: Sequence[str]) -> BatchFn:
    """Append a BOOLEAN: does any inner row share the outer row's correlation values?"""

    def fn(slices: list[pl.DataFrame]) -> pl.DataFrame:
        outer, inner = slices
        cols = [c for c in outer.columns if c != WEIGHT]
        flag = f"c{len(cols)}"
        hit = inner.filter(pl.col(WEIGHT) > 0)
        if outer_key:
            keys = hit.select(list(inner_key)).unique().with_columns(pl.lit(True).alias(flag))
            keys = keys.rename(dict(zip(inner_key, outer_key, strict=True)))
            out = outer.join(keys, on=list(outer_key), how="left", nulls_equal=True)
            out = out.with_columns(pl.col(flag).fill_null(False))
        else:
            out = outer.with_columns(pl.lit(hit.height > 0).alias(flag))
        return out.select(*cols, flag, WEIGHT)

    return fn


def scalar_fn(outer_key: Sequence[str], inner_key: Sequence[str], value: str) -> BatchFn:
    """Append the inner value for the outer row's correlation values (NULL if none)."""

    def fn(slices: list[pl.DataFrame]) -> pl.DataFrame:
        outer, inner = slices
        cols = [c for c in outer.columns if c != WEIGHT]
        out_col = f"c{len(cols)}"
        inner = expand(inner)
        if outer_key:
            if inner.select(list(inner_key)).is_duplicated().any():
                raise SqlRuntimeError("more than one row returned by a scalar subquery")
            vals = inner.select([*inner_key, value]).rename(
                {**dict(zip(inner_key, outer_key, strict=True)), value: out_col})
            out = outer.join(vals, on=list(outer_key), how="left", nulls_equal=True)
        else:
            if inner.height > 1:
                raise SqlRuntimeError("more than one row returned by a scalar subquery")
            v = inner[value] if inner.height else pl.Series([None], dtype=inner.schema[value])
            out = outer.with_columns(pl.lit(v[0] if len(v) else None,
                                            dtype=inner.schema[value]).alias(out_col))
        return out.select(*cols, out_col, WEIGHT)

    return fn


def in_fn(outer_key: Sequence[str], inner_key: Sequence[str], probe: str, value: str) -> BatchFn:
    """Append ``probe IN (inner values)`` with SQL's three-valued result."""

    def fn(slices: list[pl.DataFrame]) -> pl.DataFrame:
        outer, inner = slices
        cols = [c for c in outer.columns if c != WEIGHT]
        out_col = f"c{len(cols)}"
        inner = inner.filter(pl.col(WEIGHT) > 0)
        okey = list(outer_key)
        ren = dict(zip(inner_key, outer_key, strict=True))
        if okey:
            groups = inner.group_by(list(inner_key)).agg(
                pl.lit(True).alias("__ne"), pl.col(value).is_null().any().alias("__hn")
            ).rename(ren)
            out = outer.join(groups, on=okey, how="left", nulls_equal=True)
        else:
            out = outer.with_columns(pl.lit(inner.height > 0).alias("__ne"),
                                     pl.lit(inner[value].is_null().any()).alias("__hn"))
        matches = inner.filter(pl.col(value).is_not_null()).select(
            [*inner_key, value]).unique().rename({**ren, value: probe}).with_columns(
            pl.lit(True).alias("__m"))
        out = out.join(matches, on=[*okey, probe], how="left", nulls_equal=True)
        ne = pl.col("__ne").fill_null(False)
        result = (pl.when(~ne).then(pl.lit(False))
                  .when(pl.col("__m").fill_null(False)).then(pl.lit(True))
                  .when(pl.col(probe).is_null() | pl.col("__hn").fill_null(False))
                  .then(pl.lit(None, pl.Boolean))
                  .otherwise(pl.lit(False)))
        return out.select(*cols, result.alias(out_col), WEIGHT)

    return fn


# -- linear aggregates (per-group accumulators) ---------------------------------------------
LINEAR = ("count_star", "count", "sum", "avg")


def is_linear(aggs: Sequence[AggSpec]) -> bool:
    """Whether every aggregate can be kept as running sums (no MIN/MAX, no DISTINCT)."""
    return all(a.func in LINEAR and not a.distinct for a in aggs)


def linear_parts(keys: Sequence[str], aggs: Sequence[AggSpec], out_names: Sequence[str],
                 arg_dtypes: dict[str, pl.DataType]
                 ) -> tuple[dict[str, pl.Expr], dict[str, pl.DataType],
                            Callable[[pl.DataFrame], pl.DataFrame]]:
    """Accumulator expressions, their dtypes, and the function from accumulators to output."""
    w = pl.col(WEIGHT)
    partials: dict[str, pl.Expr] = {}
    schema: dict[str, pl.DataType] = {}
    outputs: list[pl.Expr] = [pl.col(k) for k in keys]
    for i, a in enumerate(aggs):
        if a.func == "count_star":
            outputs.append(pl.col("__n"))
            continue
        x = pl.col(a.arg)  # type: ignore[arg-type]
        present = x.is_not_null()
        cnt, tot = f"__cnt{i}", f"__sum{i}"
        partials[cnt] = w.filter(present).sum()
        schema[cnt] = pl.Int64
        if a.func == "count":
            outputs.append(pl.col(cnt))
            continue
        dt = arg_dtypes[a.arg]  # type: ignore[index]
        acc_t: pl.DataType = pl.Int64 if dt.is_integer() else (
            pl.Decimal(38, dt.scale) if isinstance(dt, pl.Decimal) else pl.Float64)
        total = pl.col(tot)
        if dt.is_float():
            # inf - inf is NaN: sum the finite values and count the others, so that a
            # deleted NaN or infinity leaves the sum as if it had never been there.
            finite = present & x.is_finite()
            partials[tot] = (x.cast(acc_t) * w).filter(finite).sum()
            for name, cond in (("nan", x.is_nan()), ("pinf", x == float("inf")),
                               ("ninf", x == float("-inf"))):
                partials[f"__{name}{i}"] = w.filter(present & cond).sum()
                schema[f"__{name}{i}"] = pl.Int64
            nan_, pinf, ninf = (pl.col(f"__{k}{i}") for k in ("nan", "pinf", "ninf"))
            total = (pl.when((nan_ > 0) | ((pinf > 0) & (ninf > 0))).then(float("nan"))
                     .when(pinf > 0).then(float("inf"))
                     .when(ninf > 0).then(float("-inf"))
                     .otherwise(total))
        else:
            partials[tot] = (x.cast(acc_t) * w).filter(present).sum()
        schema[tot] = acc_t
        n = pl.col(cnt)
        if a.func == "sum":
            outputs.append(pl.when(n > 0).then(total))
        else:
            outputs.append(_avg(total, n, a))
    names = list(out_names)
    exprs = [e.alias(n) for e, n in zip(outputs, names, strict=True)]

    def finish(acc: pl.DataFrame) -> pl.DataFrame:
        return acc.select(exprs)

    return partials, schema, finish
