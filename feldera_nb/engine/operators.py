"""Incremental operators over Z-set deltas.

Every operator maps the deltas of its inputs in one step to its output delta.  Linear ones
(:class:`Map`, :class:`Filter`, :class:`Union`) look at the delta alone.  Stateful ones keep
:class:`~feldera_nb.engine.trace.Trace` integrals of their inputs:

* :class:`Join` — inner equi-join by the bilinear rule dA x B + A' x dB.
* :class:`KeyedRecompute` — the workhorse for aggregates, DISTINCT, set operations, outer
  joins, top-k and window functions: any operator whose output for a key depends only on the
  input rows with that key.  It recomputes a batch function over the touched keys' rows before
  and after the delta and emits the difference, so its cost grows with the touched groups,
  never with the whole state.
* :class:`Table` — a table's contents with primary-key upserts.

Every stateful operator exposes ``state()`` as named frames and rebuilds from them with
``restore()``, so a checkpoint can store it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

from feldera_nb.engine.trace import Trace
from feldera_nb.engine.zset import (
    WEIGHT, add, concat, consolidate, empty, negate, pick, weighted, without_weight,
)

Schema = dict[str, pl.DataType]


@dataclass(eq=False)
class Operator:
    """Base of all operators: ``id`` is stable for the same program, ``inputs`` are ids."""

    id: str
    inputs: list[str]
    schema: Schema
    label: str = ""
    stateful = False
    fires_on_first_step = False

    @property
    def kind(self) -> str:
        return type(self).__name__

    def step(self, deltas: list[pl.DataFrame]) -> pl.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError

    def empty(self) -> pl.DataFrame:
        return empty(self.schema)

    def state(self) -> dict[str, pl.DataFrame]:
        return {}

    def fresh(self) -> Operator:
        """The same operator (id, inputs, expressions) with empty state.

        Its configuration is immutable (Polars expressions, pure batch functions), so a
        compiled circuit can serve as a template for any number of pipelines: an operator
        without state is copied as it is (with what it worked out from its expressions), a
        stateful one is rebuilt from its configuration.
        """
        return dataclasses.replace(self) if self.stateful else copy.copy(self)

    def restore(self, state: dict[str, pl.DataFrame]) -> None:
        pass

    def state_rows(self) -> int:
        return 0

    def snapshot(self) -> object:
        """A cheap token to :meth:`rollback` to (traces hold immutable frames)."""
        return None

    def rollback(self, token: object) -> None:
        pass


@dataclass(eq=False)
class Input(Operator):
    """Where a table's (already normalised) delta enters the circuit."""

    def step(self, deltas: list[pl.DataFrame]) -> pl.DataFrame:
        return deltas[0]


@dataclass(eq=False)
class Map(Operator):
    """Project: compute each output column from the input row (linear)."""

    exprs: list[pl.Expr] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.moves = _column_moves(self.exprs)

    def step(self, deltas: list[pl.DataFrame]) -> pl.DataFrame:
        d = deltas[0]
        if d.height == 0:
            return self.empty()
        if self.moves is not None:  # only picks and renames columns: no query needed
            out = pl.DataFrame([*(d.get_column(src).alias(dst) for src, dst in self.moves),
                                d.get_column(WEIGHT)])
        else:
            out = d.select(*self.exprs, pl.col(WEIGHT))
        return _conform(out, self.schema)


def _column_moves(exprs: Sequence[pl.Expr]) -> list[tuple[str, str]] | None:
    """``(source, output)`` names when every expression is a (renamed) column, else None."""
    moves = []
    for e in exprs:
        inner = e.meta.undo_aliases()
        if not inner.meta.is_column():
            return None
        moves.append((inner.meta.output_name(), e.meta.output_name()))
    return moves


@dataclass(eq=False)
class Filter(Operator):
    """Keep rows whose predicate is TRUE (linear)."""

    predicate: pl.Expr | None = None

    def step(self, deltas: list[pl.DataFrame]) -> pl.DataFrame:
        d = deltas[0]
        if d.height == 0:
            return d
        return d.filter(self.predicate)


@dataclass(eq=False)
class Union(Operator):
    """UNION ALL of inputs with the same arity (columns taken by position)."""

    def step(self, deltas: list[pl.DataFrame]) -> pl.DataFrame:
        names = list(self.schema)
        parts = []
        for d in deltas:
            if d.height:
                cols = [c for c in d.columns if c != WEIGHT]
                parts.append(
                    d.select(*[pl.col(c).cast(t).alias(n) for c, (n, t) in
                               zip(cols, self.schema.items(), strict=True)], pl.col(WEIGHT))
                )
        if not parts:
            return self.empty()
        return concat(parts).select(*names, WEIGHT)


class _Stateful:
    stateful = True

    def _traces(self) -> dict[str, Trace]:  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self) -> dict[str, pl.DataFrame]:
        st = {name: t.state() for name, t in self._traces().items()}
        for flag, value in self._flags().items():
            st[flag] = pl.DataFrame({flag: [value]})
        return st

    def restore(self, state: dict[str, pl.DataFrame]) -> None:
        for name, t in self._traces().items():
            t.restore(state.get(name, empty(t.schema)))
        for flag in self._flags():
            frame = state.get(flag)
            setattr(self, flag, bool(frame[flag][0]) if frame is not None and frame.height
                    else False)

    def state_rows(self) -> int:
        return sum(t.live_rows() for t in self._traces().values())

    def snapshot(self) -> object:
        return ({n: t.mark() for n, t in self._traces().items()}, dict(self._flags()))

    def rollback(self, token: object) -> None:
        marks, flags = token  # type: ignore[misc]
        for n, t in self._traces().items():
            t.reset(marks[n])
        for k, v in flags.items():
            setattr(self, k, v)

    def _flags(self) -> dict[str, object]:
        return {}


@dataclass(eq=False)
class Join(_Stateful, Operator):
    """Inner equi-join; output columns are the left's then the right's.

    Rows with a NULL in a key never match (SQL equality).
    """

    left_schema: Schema = field(default_factory=dict)
    right_schema: Schema = field(default_factory=dict)
    left_key: list[str] = field(default_factory=list)
    right_key: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.left = Trace(self.left_schema, self.left_key)
        self.right = Trace(self.right_schema, self.right_key)

    def _traces(self) -> dict[str, Trace]:
        return {"left": self.left, "right": self.right}

    def step(self, deltas: list[pl.DataFrame]) -> pl.DataFrame:
        dl, dr = (_drop_null_keys(deltas[0], self.left_key), _drop_null_keys(deltas[1], self.right_key))
        parts = []
        if dl.height:
            other = self.right.lookup(pick(dl, self.left_key, self.right_key))
            parts.append(self._join(dl, other))
            self.left.insert(dl)
        if dr.height:
            other = self.left.lookup(pick(dr, self.right_key, self.left_key))
            parts.append(self._join(other, dr))
            self.right.insert(dr)
        if not parts:
            return self.empty()
        return concat(parts)  # a valid Z-set; whoever stores it consolidates

    def _join(self, a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
        if a.height == 0 or b.height == 0:
            return self.empty()
        return join_zsets(a, b, self.left_key, self.right_key, self.schema)


def join_zsets(a: pl.DataFrame, b: pl.DataFrame, left_key: Sequence[str],
               right_key: Sequence[str], schema: Schema) -> pl.DataFrame:
    """Inner join of two Z-sets on keys, weights multiplied; columns renamed to ``schema``."""
    names = list(schema)
    a_cols = [c for c in a.columns if c != WEIGHT]
    b_cols = [c for c in b.columns if c != WEIGHT]
    a2 = pick(a, [*a_cols, WEIGHT], [*(f"__l{i}" for i in range(len(a_cols))), "__lw"])
    b2 = pick(b, [*b_cols, WEIGHT], [*(f"__r{i}" for i in range(len(b_cols))), "__rw"])
    lk = [f"__l{a_cols.index(k)}" for k in left_key]
    rk = [f"__r{b_cols.index(k)}" for k in right_key]
    if lk:
        j = a2.join(b2, left_on=lk, right_on=rk, how="inner", coalesce=False)
    else:
        j = a2.join(b2, how="cross")
    out_cols = [f"__l{i}" for i in range(len(a_cols))] + [f"__r{i}" for i in range(len(b_cols))]
    # Renaming by building the frame from its columns: a ``select`` is a query of its own.
    return pl.DataFrame([*(j.get_column(c).alias(n) for c, n in zip(out_cols, names, strict=True)),
                         (j.get_column("__lw") * j.get_column("__rw")).alias(WEIGHT)])


def _drop_null_keys(d: pl.DataFrame, key: Sequence[str]) -> pl.DataFrame:
    if d.height == 0 or not any(d.get_column(k).null_count() for k in key):
        return d  # counting NULLs is free (Arrow keeps the count); dropping is a query
    return d.drop_nulls(subset=list(key))


BatchFn = Callable[[list[pl.DataFrame]], pl.DataFrame]


@dataclass(eq=False)
class KeyedRecompute(_Stateful, Operator):
    """Output for a key = ``fn`` of the inputs' rows with that key.

    ``keys[i]`` names input i's key columns (same arity for every input).  ``fn`` takes one
    consolidated Z-set per input, restricted to some keys, and returns the output Z-set for
    exactly those keys.  ``out_key`` computes a row's key from an output row; the operator
    keeps its output indexed by it, so a step retracts exactly what it emitted before (a
    recomputed float sum could differ in its last bit).  With an empty key there is one group
    that exists from the first step (global aggregates give a row over empty input).
    """

    input_schemas: list[Schema] = field(default_factory=list)
    keys: list[list[str]] = field(default_factory=list)
    fn: BatchFn | None = None
    out_key: list[pl.Expr] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.traces = [Trace(s, k) for s, k in zip(self.input_schemas, self.keys, strict=True)]
        kn = [f"__k{i}" for i in range(len(self.keys[0]))]
        self._kn = kn
        self.output = Trace({**self.schema, **dict.fromkeys(kn, pl.Null)}, kn)
        self._out_dtypes_set = False
        self.key_moves = _column_moves(self.out_key)
        self.started = False
        self.fires_on_first_step = not self.keys[0]

    def _traces(self) -> dict[str, Trace]:
        t = {f"in{i}": t for i, t in enumerate(self.traces)}
        t["out"] = self.output
        return t

    def _flags(self) -> dict[str, object]:
        return {"started": self.started}

    def restore(self, state: dict[str, pl.DataFrame]) -> None:
        out = state.get("out")
        if out is not None:
            self._fix_key_dtypes({k: out.schema[k] for k in self._kn})
        super().restore(state)

    def _fix_key_dtypes(self, dtypes: dict[str, pl.DataType]) -> None:
        if not self._out_dtypes_set:
            self.output.schema.update(dtypes)
            self._out_dtypes_set = True

    def step(self, deltas: list[pl.DataFrame]) -> pl.DataFrame:
        assert self.fn is not None
        first = not self.started
        self.started = True
        if all(d.height == 0 for d in deltas) and not (first and not self.keys[0]):
            return self.empty()
        deltas = [consolidate(d) for d in deltas]
        kn = self._kn
        if kn:
            # Repeated keys are fine: lookups are semi-joins.
            touched = concat([pick(d, k, kn) for d, k in zip(deltas, self.keys, strict=True)])
            olds = [t.lookup(pick(touched, kn, k))
                    for t, k in zip(self.traces, self.keys, strict=True)]
        else:
            touched = None
            olds = [t.to_zset() for t in self.traces]
        news = [add(o, pick(d, o.columns)) if d.height else o
                for o, d in zip(olds, deltas, strict=True)]
        new_out = _conform(self.fn(news), self.schema)
        if self.key_moves is not None:
            new_out = new_out.hstack([new_out.get_column(src).alias(n)
                                      for (src, _), n in zip(self.key_moves, kn, strict=True)])
        else:
            new_out = new_out.with_columns([e.alias(n) for e, n in
                                            zip(self.out_key, kn, strict=True)])
        self._fix_key_dtypes({n: new_out.schema[n] for n in kn})
        old_out = self.output.lookup(touched) if touched is not None else self.output.to_zset()
        delta = add(new_out, negate(pick(old_out, new_out.columns)))
        for t, d in zip(self.traces, deltas, strict=True):
            t.insert(d)
        self.output.insert(delta)
        return pick(delta, [*self.schema, WEIGHT])


@dataclass(eq=False)
class Table(_Stateful, Operator):
    """A table's contents.  Turns requested changes into the true delta.

    With a primary key, an insert of an existing key replaces the row and a delete needs only
    the key (later changes in one batch win).  Without one, the table is a multiset and a
    delete of a row that is not there is ignored.
    """

    primary_key: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.trace = Trace(self.schema, self.primary_key or list(self.schema))

    def _traces(self) -> dict[str, Trace]:
        return {"rows": self.trace}

    def step(self, deltas: list[pl.DataFrame]) -> pl.DataFrame:
        d = deltas[0]
        if d.height == 0:
            return self.empty()
        out = self._with_key(d) if self.primary_key else self._multiset(d)
        self.trace.insert(out)
        return out

    def _multiset(self, d: pl.DataFrame) -> pl.DataFrame:
        if (d[WEIGHT] > 0).all():
            return d  # inserts only: nothing to check, and no need to consolidate here
        d = consolidate(d)
        if d.height == 0:
            return d
        old = self.trace.lookup(pick(d, self.trace.key))
        cols = list(self.schema)
        return (  # one query: a delete of rows that are not there is dropped
            d.lazy()
            .join(pick(old, [*cols, WEIGHT], [*cols, "__old"]).lazy(), on=cols, how="left",
                  nulls_equal=True)
            .select(*cols, _MULTISET_CHANGE)
            .filter(pl.col(WEIGHT) != 0)
            .collect(engine="in-memory")
        )

    def _with_key(self, d: pl.DataFrame) -> pl.DataFrame:
        key = self.primary_key
        # The last change per key wins; a weight <= 0 means "delete this key".
        last = d.unique(subset=key, keep="last")
        old = self.trace.lookup(pick(last, key))
        final = weighted(without_weight(last.filter(pl.col(WEIGHT) > 0)), 1)
        if old.height == 0:
            return final  # one row per key already: nothing to cancel
        return add(pick(final, old.columns), negate(old))


# A multiset row's true change: its count can go down to zero, not below.
_BEFORE = pl.col("__old").fill_null(0)
_MULTISET_CHANGE = (pl.max_horizontal(_BEFORE + pl.col(WEIGHT), pl.lit(0)) - _BEFORE).alias(WEIGHT)


def _conform(z: pl.DataFrame, schema: Schema) -> pl.DataFrame:
    """Name and cast the data columns of ``z`` (positionally) to ``schema``."""
    have = z.schema
    if list(have.keys()) == [*schema, WEIGHT] and have[WEIGHT] == pl.Int64 and \
            all(have[n] == t for n, t in schema.items()):
        return z
    cols = [c for c in z.columns if c != WEIGHT]
    exprs = []
    for c, (n, t) in zip(cols, schema.items(), strict=True):
        e = pl.col(c)
        if z.schema[c] != t:
            e = e.cast(t)
        exprs.append(e.alias(n) if c != n else e)
    return z.select(*exprs, pl.col(WEIGHT).cast(pl.Int64))


@dataclass(eq=False)
class LinearAggregate(_Stateful, Operator):
    """GROUP BY with only linear aggregates (COUNT, SUM, AVG): per-group accumulators.

    A step aggregates the delta per group and adds it to the stored accumulators, so its cost
    grows with the delta alone, however big the groups are.  ``partials`` are expressions
    (over the input delta, weight included) producing each accumulator's contribution;
    ``finish`` turns accumulator rows (key columns + accumulators) into output rows.  The
    ``__n`` accumulator (sum of weights) says whether a group still exists.
    """

    key: list[str] = field(default_factory=list)
    partials: dict[str, pl.Expr] = field(default_factory=dict)
    acc_schema: Schema = field(default_factory=dict)
    finish: Callable[[pl.DataFrame], pl.DataFrame] | None = None

    def __post_init__(self) -> None:
        self.acc = Trace({**self.acc_schema, "__n": pl.Int64}, self.key)
        self.started = False
        self.fires_on_first_step = not self.key
        # The step's expressions, built once: accumulator names, the delta's partial sums
        # (``__p_<name>``), and old + partial per accumulator.
        self._names = [*(n for n in self.acc_schema if n not in self.key), "__n"]
        self._partials = [e.alias(f"__p_{n}") for n, e in self.partials.items()]
        self._partials.append(pl.col(WEIGHT).sum().alias("__p___n"))
        self._sums = [(pl.col(n).fill_null(0) + pl.col(f"__p_{n}").fill_null(0))
                      .cast(self.acc_schema.get(n, pl.Int64)).alias(n) for n in self._names]

    def _traces(self) -> dict[str, Trace]:
        return {"acc": self.acc}

    def _flags(self) -> dict[str, object]:
        return {"started": self.started}

    def step(self, deltas: list[pl.DataFrame]) -> pl.DataFrame:
        assert self.finish is not None
        d = deltas[0]
        first = not self.started
        self.started = True
        if d.height == 0 and (self.key or not first):
            return self.empty()
        names, partials, sums = self._names, self._partials, self._sums
        if self.key:
            old = self.acc.lookup(pick(d, self.key))  # the groups the delta touches
            new = (  # one query: partial sums per group, added to the old accumulators
                d.lazy().group_by(self.key).agg(partials)
                .join(pick(old, [*self.key, *names]).lazy(), on=self.key, how="left",
                      nulls_equal=True)
                .select(*self.key, *sums)
                .filter(pl.col("__n") != 0)
                .collect(engine="in-memory")
            )
        else:
            old = self.acc.to_zset()
            # The global group exists from the start, with zero sums (never emitted as old).
            base = pick(old, names) if old.height else pl.DataFrame(
                [pl.Series(n, [0], self.acc_schema.get(n, pl.Int64)) for n in names])
            new = base.hstack(d.select(partials)).select(sums)
        # New accumulators in, old ones out: one frame, finished once.
        change = concat([weighted(new, 1), negate(old)])
        self.acc.insert(change)
        out = self.finish(without_weight(change))
        return consolidate(_conform(out.hstack([change.get_column(WEIGHT)]), self.schema))
