"""Subqueries in expressions: EXISTS, IN (subquery), scalar subqueries, correlated or not.

A correlated subquery is decorrelated the magic-set way: its outer references are
discovered by compiling it once speculatively, then the distinct outer values ``D`` join the
subquery's FROM as an extra item (equalities with them become join keys), and the result,
which starts with the ``D`` columns, is attached to the outer rows by a keyed operator.
Aggregate subqueries LEFT JOIN ``D`` so that every outer row gets its group (COUNT is 0, not
NULL, over no rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl
from sqlglot import exp

from feldera_nb.errors import SqlError, UnsupportedSqlError
from feldera_nb.sql.batch import exists_fn, in_fn, scalar_fn
from feldera_nb.sql.expressions import TypedExpr, cast_to, common_type, compile_expr
from feldera_nb.sql.grouping import OUTER_REF
from feldera_nb.sql.positions import position_of
from feldera_nb.sql.scope import Col, Rel, Scope, column_name
from feldera_nb.sql.types import SqlType
from feldera_nb.sql.walk import subqueries_of

if TYPE_CHECKING:
    from feldera_nb.sql.planner import Planner

OUTER_ALIAS = "__outer"


@dataclass
class Param:
    """The distinct outer values a correlated subquery is computed for."""

    rel: Rel
    outer_internals: list[str]


@dataclass
class Corr:
    """Correlation context of one subquery: discovering outer references, or binding them
    to the columns of :class:`Param`."""

    param: Param | None = None
    needs: list[tuple[str, SqlType, str]] = field(default_factory=list)
    param_index: int | None = None

    def hook(self, scope: Scope, outer: TypedExpr, node: exp.Expression) -> TypedExpr:
        internal = column_name(outer.expr) or ""
        if self.param is None:
            if internal not in [n for n, _, _ in self.needs]:
                self.needs.append((internal, outer.type, node.name.lower()))
            return TypedExpr(pl.col(OUTER_REF), outer.type)
        if internal not in self.param.outer_internals:
            raise UnsupportedSqlError("this correlated reference", **position_of(node, scope.sql))
        k = self.param.outer_internals.index(internal)
        col = scope.find(f"__d{k}", OUTER_ALIAS, node)
        if col is None:
            raise UnsupportedSqlError("a correlated reference in this position",
                                      sql=scope.sql, **position_of(node, scope.sql))
        return TypedExpr(pl.col(col.internal), col.type)


class SubqueryPlanner:
    """Mixin of :class:`~feldera_nb.sql.planner.Planner` for subqueries in expressions."""

    def correlation_cols(self: Planner, scope: Scope, corr: Corr | None) -> list[Col]:
        if corr is None or corr.param is None:
            return []
        for alias, cols in scope.items:
            if alias == OUTER_ALIAS:
                return list(cols)
        return []

    def plan_subqueries(self: Planner, rel: Rel, scope: Scope, exprs: list[exp.Expression]
                        ) -> tuple[Rel, Scope]:
        """Attach a column to ``rel`` for each subquery in ``exprs``; map it in ``scope``."""
        seen: set[int] = set()
        for e in exprs:
            for node in subqueries_of(e):
                if id(node) in seen or id(node) in scope.special:
                    continue
                seen.add(id(node))
                rel = self._attach(rel, scope, node)
        return rel, scope

    def _attach(self: Planner, rel: Rel, scope: Scope, node: exp.Expression) -> Rel:
        if isinstance(node, (exp.Any, exp.All)):
            raise UnsupportedSqlError(f"{type(node).__name__.upper()} (subquery)", sql=self.sql,
                                      **position_of(node, self.sql))
        if isinstance(node, exp.Exists):
            sub = node.this
        elif isinstance(node, exp.In):
            sub = node.args["query"]
        else:
            sub = node
        sub_rel, outer_key = self._correlated(rel, scope, sub)
        n = len(outer_key)
        inner_key = [c.internal for c in sub_rel.cols[:n]]
        visible = sub_rel.cols[n:]
        if isinstance(node, exp.Exists):
            fn = exists_fn(outer_key, inner_key)
            new = Col("__exists", SqlType("BOOLEAN", nullable=False), None, f"c{len(rel.cols)}")
            out = self.b.keyed("Exists", [rel, sub_rel], [outer_key, inner_key], fn,
                               [*rel.cols, new])
        elif isinstance(node, exp.In):
            if len(visible) != 1:
                raise SqlError(f"IN subquery returns {len(visible)} columns, expected 1",
                               sql=self.sql, **position_of(node, self.sql))
            probe = compile_expr(node.this, scope, sql=self.sql)
            t = common_type([probe.type, visible[0].type], node=node, sql=self.sql)
            rel, probe_cols = self.b.extend(rel, [("__probe", cast_to(probe, t.with_nullable(True)))])
            sub_rel = self._cast_last(sub_rel, t.with_nullable(True))
            value = sub_rel.cols[n].internal
            fn = in_fn(outer_key, inner_key, probe_cols[0].internal, value)
            new = Col("__in", SqlType("BOOLEAN"), None, f"c{len(rel.cols)}")
            out = self.b.keyed("In", [rel, sub_rel], [outer_key, inner_key], fn, [*rel.cols, new])
        else:
            if len(visible) != 1:
                raise SqlError(f"scalar subquery returns {len(visible)} columns, expected 1",
                               sql=self.sql, **position_of(node, self.sql))
            fn = scalar_fn(outer_key, inner_key, visible[0].internal)
            new = Col("__scalar", visible[0].type.with_nullable(True), None, f"c{len(rel.cols)}")
            out = self.b.keyed("Scalar", [rel, sub_rel], [outer_key, inner_key], fn,
                               [*rel.cols, new])
        scope.special[id(node)] = TypedExpr(pl.col(new.internal), new.type)
        return out

    def _cast_last(self: Planner, rel: Rel, t: SqlType) -> Rel:
        last = rel.cols[-1]
        if last.type == t:
            return rel
        items = [(c.name, c.qualifier, TypedExpr(pl.col(c.internal), c.type)) for c in rel.cols[:-1]]
        items.append((last.name, last.qualifier,
                      cast_to(TypedExpr(pl.col(last.internal), last.type), t)))
        return self.b.map(rel, items, label="cast")

    def _correlated(self: Planner, rel: Rel, scope: Scope, sub: exp.Expression
                    ) -> tuple[Rel, list[str]]:
        """Compile ``sub``; returns its relation and the outer columns it is keyed by."""
        mark = self.b.mark()
        probe = Corr()
        first = self.query(sub, outer=scope, corr=probe)
        if not probe.needs:
            return first, []
        outer_internals = [n for n, _, _ in probe.needs]
        by_internal = {c.internal: c for c in rel.cols}
        missing = [n for n in outer_internals if n not in by_internal]
        if missing and set(missing) == {OUTER_REF}:
            # Inside an enclosing query's discovery pass: what matters there is only which
            # outer columns were reached, and those are recorded already.
            return first, []
        if missing:
            raise UnsupportedSqlError("a subquery correlated with a query two levels out",
                                      sql=self.sql, **position_of(sub, self.sql))
        self.b.rollback(mark)
        d_items = [(f"__d{k}", OUTER_ALIAS, TypedExpr(pl.col(n), by_internal[n].type))
                   for k, n in enumerate(outer_internals)]
        d_rel = self.distinct(self.b.map(rel, d_items, label="correlation values"))
        corr = Corr(param=Param(d_rel, outer_internals))
        return self.query(sub, outer=scope, corr=corr), outer_internals
