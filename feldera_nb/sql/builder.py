"""Adds operators to a circuit on behalf of the planner, keeping SQL column metadata.

Operator ids are ``<view>#<n>:<Kind>``: deterministic for the same program, so a checkpoint's
state finds its operator again after a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from feldera_nb.engine.circuit import Circuit
from feldera_nb.engine.operators import (
    BatchFn, Filter, Input, Join, KeyedRecompute, LinearAggregate, Map, Operator, Table, Union,
)
from feldera_nb.engine.zset import weighted
from feldera_nb.sql.expressions import TypedExpr
from feldera_nb.sql.scope import Col, Rel, internal_name
from feldera_nb.sql.types import SqlType, to_polars


@dataclass(eq=False)
class Constant(Operator):
    """Emits fixed rows once, at the first step (``SELECT`` without FROM, ``VALUES``)."""

    rows: pl.DataFrame = field(default_factory=pl.DataFrame)
    fires_on_first_step = True
    stateful = True  # remembers that it fired

    def __post_init__(self) -> None:
        self.fired = False

    def step(self, deltas: list[pl.DataFrame]) -> pl.DataFrame:
        if self.fired:
            return self.empty()
        self.fired = True
        return self.rows

    def state(self) -> dict[str, pl.DataFrame]:
        return {"fired": pl.DataFrame({"fired": [self.fired]})}

    def restore(self, state: dict[str, pl.DataFrame]) -> None:
        f = state.get("fired")
        self.fired = bool(f["fired"][0]) if f is not None and f.height else False

    def snapshot(self) -> object:
        return self.fired

    def rollback(self, token: object) -> None:
        self.fired = bool(token)


class Builder:
    """Creates operators with stable ids in one circuit."""

    def __init__(self, circuit: Circuit, prefix: str) -> None:
        self.circuit = circuit
        self.prefix = prefix
        self.count = 0

    def _id(self, kind: str) -> str:
        self.count += 1
        return f"{self.prefix}#{self.count}:{kind}"

    def _add(self, op: Operator) -> Operator:
        return self.circuit.add(op)

    # -- rollback for speculative compilation -----------------------------------------------
    def mark(self) -> int:
        return len(self.circuit.ops)

    def rollback(self, mark: int) -> None:
        for op_id in list(self.circuit.ops)[mark:]:
            del self.circuit.ops[op_id]

    # -- sources -----------------------------------------------------------------------------
    def table(self, name: str, cols: list[tuple[str, SqlType]], pk: list[str]) -> Rel:
        rcols = [Col(n, t, name, internal_name(i)) for i, (n, t) in enumerate(cols)]
        schema = {c.internal: to_polars(c.type) for c in rcols}
        src = self._add(Input(f"input:{name}", [], schema, label=name))
        pk_int = [rcols[[n for n, _ in cols].index(k)].internal for k in pk]
        tab = self._add(Table(f"table:{name}", [src.id], schema, label=name, primary_key=pk_int))
        return Rel(tab.id, rcols)

    def source(self, name: str, cols: list[Col]) -> Rel:
        """A plain input (no table semantics): used by ad-hoc queries."""
        schema = {c.internal: to_polars(c.type) for c in cols}
        src = self._add(Input(f"input:{name}", [], schema, label=name))
        return Rel(src.id, cols)

    def constant(self, rows: pl.DataFrame, cols: list[Col]) -> Rel:
        schema = {c.internal: to_polars(c.type) for c in cols}
        frame = weighted(rows, 1)
        op = self._add(Constant(self._id("Constant"), [], schema, rows=frame))
        return Rel(op.id, cols)

    # -- linear ------------------------------------------------------------------------------
    def map(self, rel: Rel, items: Sequence[tuple[str, str | None, TypedExpr]],
            label: str = "") -> Rel:
        cols = [Col(n, te.type, q, internal_name(i)) for i, (n, q, te) in enumerate(items)]
        exprs = [te.expr.alias(c.internal) for c, (_, _, te) in zip(cols, items, strict=True)]
        schema = {c.internal: to_polars(c.type) for c in cols}
        op = self._add(Map(self._id("Map"), [rel.op], schema, label=label, exprs=exprs))
        return Rel(op.id, cols)

    def extend(self, rel: Rel, items: Sequence[tuple[str, TypedExpr]]) -> tuple[Rel, list[Col]]:
        """Keep every column and append computed ones; returns the new rel and new cols."""
        keep = [(c.name, c.qualifier, TypedExpr(pl.col(c.internal), c.type)) for c in rel.cols]
        extra = [(n, None, te) for n, te in items]
        out = self.map(rel, keep + extra)
        return out, out.cols[len(rel.cols):]

    def project(self, rel: Rel, cols: Sequence[Col]) -> Rel:
        """Keep ``cols`` of ``rel`` (in that order)."""
        return self.map(rel, [(c.name, c.qualifier, TypedExpr(pl.col(c.internal), c.type))
                              for c in cols])

    def filter(self, rel: Rel, predicate: pl.Expr, label: str = "") -> Rel:
        op = self._add(Filter(self._id("Filter"), [rel.op], rel.schema, label=label,
                              predicate=predicate))
        return Rel(op.id, rel.cols)

    def union_all(self, rels: Sequence[Rel], cols: Sequence[Col]) -> Rel:
        schema = {c.internal: to_polars(c.type) for c in cols}
        op = self._add(Union(self._id("Union"), [r.op for r in rels], schema))
        return Rel(op.id, list(cols))

    # -- stateful ----------------------------------------------------------------------------
    def linear_aggregate(self, rel: Rel, key: list[str], partials: dict[str, pl.Expr],
                         acc_schema: dict[str, pl.DataType], finish: BatchFn,
                         cols: Sequence[Col]) -> Rel:
        schema = {c.internal: to_polars(c.type) for c in cols}
        full = {**{k: rel.schema[k] for k in key}, **acc_schema}
        op = self._add(LinearAggregate(self._id("LinearAggregate"), [rel.op], schema, key=key,
                                       partials=partials, acc_schema=full, finish=finish))
        return Rel(op.id, list(cols))

    def join(self, left: Rel, right: Rel, left_key: list[str], right_key: list[str]) -> Rel:
        cols = concat_cols(left, right)
        schema = {c.internal: to_polars(c.type) for c in cols}
        op = self._add(Join(self._id("Join"), [left.op, right.op], schema,
                            left_schema=left.schema, right_schema=right.schema,
                            left_key=left_key, right_key=right_key))
        return Rel(op.id, cols)

    def keyed(self, kind: str, inputs: Sequence[Rel], keys: Sequence[list[str]], fn: BatchFn,
              cols: Sequence[Col], label: str = "", out_key: list[pl.Expr] | None = None) -> Rel:
        """A :class:`KeyedRecompute`; ``out_key`` computes an output row's key (default: the
        first input's key columns, which the output carries under the same names)."""
        schema = {c.internal: to_polars(c.type) for c in cols}
        out_key = out_key if out_key is not None else [pl.col(k) for k in keys[0]]
        op = self._add(KeyedRecompute(
            self._id(kind), [r.op for r in inputs], schema, label=label,
            input_schemas=[r.schema for r in inputs], keys=[list(k) for k in keys], fn=fn,
            out_key=out_key))
        return Rel(op.id, list(cols))


def concat_cols(left: Rel, right: Rel) -> list[Col]:
    """Columns of a join's output: the left's, then the right's renumbered."""
    n = len(left.cols)
    return [*left.cols, *[Col(c.name, c.type, c.qualifier, internal_name(n + i))
                          for i, c in enumerate(right.cols)]]

