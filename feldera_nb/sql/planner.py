"""From a query's AST to operators: SELECT, set operations, ORDER BY ... LIMIT.

The :class:`Planner` reads a sqlglot query and adds operators to a circuit through a
:class:`~feldera_nb.sql.builder.Builder`.  FROM/JOIN planning lives in
:mod:`~feldera_nb.sql.from_clause`, GROUP BY and window functions in
:mod:`~feldera_nb.sql.grouping`, subqueries in :mod:`~feldera_nb.sql.subqueries`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
from sqlglot import exp

from feldera_nb.errors import SqlError, UnsupportedSqlError
from feldera_nb.sql.batch import SortKey, distinct_fn, setop_fn, topk_fn
from feldera_nb.sql.builder import Builder
from feldera_nb.sql.expressions import TypedExpr, cast_to, common_type, compile_expr, literal, predicate
from feldera_nb.sql.from_clause import OUTER_ALIAS, FromPlanner, Item
from feldera_nb.sql.grouping import GroupingPlanner
from feldera_nb.sql.positions import position_of
from feldera_nb.sql.scope import Col, Rel, Scope, internal_name
from feldera_nb.sql.subqueries import Corr, SubqueryPlanner
from feldera_nb.sql.types import SqlType
from feldera_nb.sql.walk import aggregates_of, split_and, windows_of

__all__ = ["Corr", "Planner"]

_ONE_ROW = pl.DataFrame({"c0": [0]}, schema={"c0": pl.Int32})  # FROM-less SELECT: one row


@dataclass
class Output:
    """A query's result: the relation and its visible column count (hidden sort keys follow)."""

    rel: Rel
    visible: int


@dataclass
class Planner(FromPlanner, GroupingPlanner, SubqueryPlanner):
    """Compiles queries against named relations (tables, views, CTEs)."""

    b: Builder
    relations: dict[str, Rel]
    sql: str | None = None
    ctes: list[dict[str, Rel]] = field(default_factory=list)
    marker: Col | None = None

    # -- entry points -----------------------------------------------------------------------
    def query(self, node: exp.Expression, outer: Scope | None = None,
              corr: Corr | None = None) -> Rel:
        """Compile a query; with ``corr``, its result starts with the correlation columns."""
        if isinstance(node, exp.Subquery):
            inner = self.query(node.this, outer, corr)
            return self._apply_modifiers(node, inner, corr)
        with_ = node.args.get("with_") or node.args.get("with")
        if with_ is not None:
            self.ctes.append({})
            try:
                for cte in with_.expressions:
                    name = cte.alias_or_name.lower()
                    rel = self.query(cte.this)
                    cols = cte.args["alias"].columns if cte.args.get("alias") else []
                    self.ctes[-1][name] = _rename(rel, [c.name.lower() for c in cols], name)
                return self._query(node, outer, corr)
            finally:
                self.ctes.pop()
        return self._query(node, outer, corr)

    def _query(self, node: exp.Expression, outer: Scope | None, corr: Corr | None) -> Rel:
        if isinstance(node, exp.Select):
            return self.select(node, outer, corr)
        if isinstance(node, (exp.Union, exp.Except, exp.Intersect)):
            return self.set_operation(node, outer, corr)
        if isinstance(node, exp.Values):
            return self.values(node)
        raise UnsupportedSqlError(f"query of kind {type(node).__name__}", sql=self.sql,
                                  **position_of(node, self.sql))

    def lookup(self, name: str, node: exp.Expression) -> Rel:
        for frame in reversed(self.ctes):
            if name in frame:
                return frame[name]
        rel = self.relations.get(name)
        if rel is None:
            raise SqlError(f"table or view '{name}' not found", sql=self.sql,
                           **position_of(node, self.sql))
        return rel

    def true_literal(self) -> TypedExpr:
        return literal(True, SqlType("BOOLEAN", nullable=False))

    # -- SELECT -----------------------------------------------------------------------------
    def select(self, q: exp.Select, outer: Scope | None, corr: Corr | None) -> Rel:
        if q.args.get("from_") is None and q.args.get("from") is None and not q.args.get("joins"):
            items = [Item(None, self._one_row())]
        else:
            items = self.from_items(q, outer)
        agg_left = None
        if corr is not None and corr.param is not None:
            items.append(Item(OUTER_ALIAS, corr.param.rel))
            corr.param_index = len(items) - 1
            is_agg = bool(self._aggregates(q)) and not q.args.get("group")
            agg_left = corr.param_index if is_agg else None
        where = split_and(q.args["where"].this) if q.args.get("where") else []
        saved_marker, self.marker = self.marker, None
        try:
            joined, rest = self.plan_from(items, where, outer, corr, agg_left)
            scope = joined.scope(items, outer, self.sql, corr)
            rel = joined.rel
            if rest:
                rel, scope = self.apply_where(rel, scope, rest)
            return self._select_tail(q, rel, scope, corr)
        finally:
            self.marker = saved_marker

    def _one_row(self) -> Rel:
        return self.b.constant(_ONE_ROW, [Col("__dummy", SqlType("INTEGER", False), "__dummy", "c0")])

    def apply_where(self, rel: Rel, scope: Scope, conds: list[exp.Expression]) -> tuple[Rel, Scope]:
        rel, scope = self.plan_subqueries(rel, scope, conds)
        preds = [predicate(compile_expr(c, scope, sql=self.sql)) for c in conds]
        pred = preds[0]
        for p in preds[1:]:
            pred = pred & p
        return self.b.filter(rel, pred), scope

    def _aggregates(self, q: exp.Select) -> list[exp.Expression]:
        found = []
        for e in q.expressions:
            found.extend(aggregates_of(e))
        if q.args.get("having"):
            found.extend(aggregates_of(q.args["having"].this))
        if q.args.get("order"):
            found.extend(aggregates_of(q.args["order"]))
        return found

    def _select_tail(self, q: exp.Select, rel: Rel, scope: Scope, corr: Corr | None) -> Rel:
        """GROUP BY, HAVING, windows, projection, DISTINCT, ORDER BY ... LIMIT."""
        select_items = self.expand_stars(q, scope)
        corr_cols = self.correlation_cols(scope, corr)
        aggs = self._aggregates(q)
        if q.args.get("group") or aggs or (q.args.get("having") is not None):
            rel, scope = self.plan_aggregate(q, rel, scope, aggs, select_items, corr_cols, corr)
            corr_cols = self.correlation_cols(scope, corr)
            if q.args.get("having") is not None:
                rel, scope = self.apply_where(rel, scope, split_and(q.args["having"].this))
        windows = [w for _, e in select_items for w in windows_of(e)]
        if windows:
            rel, scope = self.plan_windows(rel, scope, windows)
        rel, scope = self.plan_subqueries(rel, scope, [e for _, e in select_items])
        out_items: list[tuple[str, str | None, TypedExpr]] = [
            (c.name, OUTER_ALIAS, TypedExpr(pl.col(c.internal), c.type)) for c in corr_cols]
        for name, e in select_items:
            out_items.append((name, None, compile_expr(e, scope, sql=self.sql)))
        n_visible = len(out_items)
        order = self._order_items(q, scope, out_items, n_visible, bool(q.args.get("distinct")))
        projected = self.b.map(rel, out_items, label="project")
        if q.args.get("distinct"):
            projected = self.distinct(projected)
        return self._finish(q, projected, order, n_visible, len(corr_cols))

    def expand_stars(self, q: exp.Select, scope: Scope) -> list[tuple[str, exp.Expression]]:
        """The select list as (output name, expression), with ``*`` and ``t.*`` expanded."""
        out: list[tuple[str, exp.Expression]] = []
        for i, e in enumerate(q.expressions):
            if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
                qual = e.table.lower() if isinstance(e, exp.Column) and e.table else None
                for c in scope.star(qual, e):
                    if c.name.startswith("__"):
                        continue
                    out.append((c.name, exp.column(c.name, table=c.qualifier or None)))
                continue
            if isinstance(e, exp.Alias):
                out.append((e.alias.lower(), e.this))
            elif isinstance(e, exp.Column):
                out.append((e.name.lower(), e))
            else:
                out.append((f"expr${i}", e))
        return out

    # -- ORDER BY / LIMIT -------------------------------------------------------------------
    def _order_items(self, q: exp.Expression, scope: Scope | None,
                     out_items: list[tuple[str, str | None, TypedExpr]], n_visible: int,
                     distinct: bool) -> list[tuple[int, bool, bool]]:
        """Resolve ORDER BY to output positions (appending hidden columns when needed)."""
        order = q.args.get("order")
        if order is None or q.args.get("limit") is None and q.args.get("offset") is None:
            return []
        keys: list[tuple[int, bool, bool]] = []
        for o in order.expressions:
            e = o.this
            desc = bool(o.args.get("desc"))
            nulls_last = not o.args.get("nulls_first")
            pos = self._output_position(e, out_items, n_visible)
            if pos is None:
                if scope is None or distinct:
                    raise SqlError("ORDER BY item must appear in the select list", sql=self.sql,
                                   **position_of(e, self.sql))
                out_items.append((f"__order{len(out_items)}", None,
                                  compile_expr(e, scope, sql=self.sql)))
                pos = len(out_items) - 1
            keys.append((pos, desc, nulls_last))
        return keys

    def _output_position(self, e: exp.Expression, out_items: list[tuple[str, str | None,
                         TypedExpr]], n_visible: int) -> int | None:
        if isinstance(e, exp.Literal) and not e.is_string:
            k = int(e.name)
            visible = [i for i, (n, q, _) in enumerate(out_items[:n_visible]) if q != OUTER_ALIAS]
            if not 1 <= k <= len(visible):
                raise SqlError(f"ORDER BY position {k} is not in the select list", sql=self.sql,
                               **position_of(e, self.sql))
            return visible[k - 1]
        if isinstance(e, exp.Column) and not e.table:
            name = e.name.lower()
            hits = [i for i, (n, q, _) in enumerate(out_items[:n_visible]) if n == name
                    and q != OUTER_ALIAS]
            if len(hits) == 1:
                return hits[0]
        return None

    def _finish(self, q: exp.Expression, rel: Rel, order: list[tuple[int, bool, bool]],
                n_visible: int, n_corr: int) -> Rel:
        limit = q.args.get("limit")
        offset = q.args.get("offset")
        if limit is None and offset is None:
            return rel if len(rel.cols) == n_visible else self.b.project(rel, rel.cols[:n_visible])
        k = self._constant_int(limit.expression if limit is not None else None)
        m = self._constant_int(offset.expression if offset is not None else None) or 0
        keys = [SortKey(rel.cols[p].internal, d, nl) for p, d, nl in order]
        part = [c.internal for c in rel.cols[:n_corr]]
        fn = topk_fn(keys, m, k)
        out = self.b.keyed("TopK", [rel], [part], fn, rel.cols, label=f"limit {k}")
        return out if len(out.cols) == n_visible else self.b.project(out, out.cols[:n_visible])

    def _constant_int(self, e: exp.Expression | None) -> int | None:
        if e is None:
            return None
        te = compile_expr(e, Scope([], sql=self.sql), sql=self.sql)
        value = te.literal
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SqlError("LIMIT and OFFSET take a non-negative integer constant", sql=self.sql,
                           **position_of(e, self.sql))
        return value

    def _apply_modifiers(self, node: exp.Expression, rel: Rel, corr: Corr | None) -> Rel:
        if node.args.get("limit") is None and node.args.get("offset") is None:
            return rel
        raise UnsupportedSqlError("LIMIT on a parenthesized query", sql=self.sql,
                                  **position_of(node, self.sql))

    # -- DISTINCT and set operations --------------------------------------------------------
    def distinct(self, rel: Rel) -> Rel:
        return self.b.keyed("Distinct", [rel], [rel.names], distinct_fn(), rel.cols)

    def set_operation(self, node: exp.Expression, outer: Scope | None, corr: Corr | None) -> Rel:
        left = self.query(node.this, outer, corr)
        right = self.query(node.expression, outer, corr)
        if len(left.cols) != len(right.cols):
            raise SqlError(f"set operation sides have {len(left.cols)} and {len(right.cols)} "
                           "columns", sql=self.sql, **position_of(node, self.sql))
        types = [common_type([a.type, b.type], node=node, sql=self.sql)
                 for a, b in zip(left.cols, right.cols, strict=True)]
        left = self._conform(left, types, left.cols)
        right = self._conform(right, types, left.cols)
        distinct = node.args.get("distinct") is not False
        if isinstance(node, exp.Union):
            rel = self.b.union_all([left, right], left.cols)
            if distinct:
                rel = self.distinct(rel)
        else:
            kind = "except" if isinstance(node, exp.Except) else "intersect"
            rel = self.b.keyed(kind.capitalize(), [left, right], [left.names, right.names],
                               setop_fn(kind, not distinct), left.cols)
        if node.args.get("limit") is not None or node.args.get("offset") is not None:
            items = [(c.name, c.qualifier, TypedExpr(pl.col(c.internal), c.type)) for c in rel.cols]
            n_corr = sum(1 for c in rel.cols if c.qualifier == OUTER_ALIAS)
            order = self._order_items(node, None, items, len(items), True)
            return self._finish(node, rel, order, len(items), n_corr)
        return rel

    def _conform(self, rel: Rel, types: list[SqlType], names: list[Col]) -> Rel:
        if all(c.type == t for c, t in zip(rel.cols, types, strict=True)):
            return rel
        items = [(n.name, n.qualifier, cast_to(TypedExpr(pl.col(c.internal), c.type), t))
                 for c, t, n in zip(rel.cols, types, names, strict=True)]
        return self.b.map(rel, items, label="cast")

    # -- FROM items -------------------------------------------------------------------------
    def from_items(self, q: exp.Select, outer: Scope | None) -> list[Item]:
        from_ = q.args.get("from_") or q.args.get("from")
        first = from_.this if from_ is not None else None
        joins = list(q.args.get("joins") or [])
        if isinstance(first, exp.Subquery) and isinstance(first.this, exp.Table) and \
                first.this.args.get("joins") and not first.alias:
            # FROM (a JOIN b ...) JOIN c: the parentheses only group joins that already
            # associate to the left, so the items can be read as one list.
            table = first.this.copy()
            joins = list(table.args.pop("joins")) + joins
            first = table
        items = [self.from_item(first, "inner")] if first is not None else []
        for j in joins:
            side = (j.side or "").lower()
            kind = (j.kind or "").lower()
            if j.args.get("method"):
                raise UnsupportedSqlError(f"{j.args['method']} JOIN", sql=self.sql,
                                          **position_of(j, self.sql))
            if side in ("left", "right", "full"):
                k = side
            elif kind in ("", "inner", "cross"):
                k = "cross" if kind == "cross" or (j.args.get("on") is None and not j.args.get("using")) \
                    else "inner"
            else:
                raise UnsupportedSqlError(f"{kind.upper()} JOIN", sql=self.sql,
                                          **position_of(j, self.sql))
            it = self.from_item(j.this, k)
            it.on = j.args.get("on")
            it.using = [u.name.lower() for u in j.args.get("using") or []]
            items.append(it)
        return self._prune(q, items)

    def _prune(self, q: exp.Select, items: list[Item]) -> list[Item]:
        """Keep only the columns of each FROM item that the query can reference, so joins
        and aggregates store narrow rows.  Conservative: any reference by name anywhere in
        the query (subqueries included) keeps the column."""
        stars = [e for e in q.expressions if isinstance(e, exp.Star) or
                 (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))]
        if any(isinstance(e, exp.Star) or not e.table for e in stars):
            return items
        keep_all = {e.table.lower() for e in stars}
        names = {c.name.lower() for c in q.find_all(exp.Column) if not isinstance(c.this, exp.Star)}
        names |= {u for it in items for u in it.using}
        out = []
        for it in items:
            cols = [c for c in it.rel.cols if c.name in names]
            if it.alias in keep_all or len(cols) == len(it.rel.cols) or not cols:
                out.append(it)
                continue
            rel = self.b.project(it.rel, cols)
            out.append(Item(it.alias, Rel(rel.op, [Col(c.name, c.type, it.alias, n.internal)
                                                   for c, n in zip(cols, rel.cols, strict=True)]),
                            it.kind, it.on, it.using, it.node))
        return out

    def from_item(self, node: exp.Expression, kind: str) -> Item:
        alias = node.alias.lower() if node.alias else None
        if isinstance(node, exp.Table):
            if node.args.get("db") or node.args.get("catalog"):
                raise UnsupportedSqlError("qualified table names", sql=self.sql,
                                          **position_of(node, self.sql))
            name = node.name.lower()
            rel = self.lookup(name, node)
            alias = alias or name
        elif isinstance(node, exp.Subquery):
            rel = self.query(node.this)
            if node.args.get("limit") is not None:
                rel = self._apply_modifiers(node, rel, None)
        elif isinstance(node, exp.Values):
            rel = self.values(node)
        else:
            raise UnsupportedSqlError(f"{type(node).__name__} in FROM", sql=self.sql,
                                      **position_of(node, self.sql))
        table_alias = node.args.get("alias")
        names = [c.name.lower() for c in table_alias.columns] if table_alias is not None and \
            table_alias.columns else []
        rel = _rename(rel, names, alias)
        return Item(alias, rel, kind, node=node)

    def values(self, node: exp.Values) -> Rel:
        rows = node.expressions
        if not rows:
            raise SqlError("VALUES without rows", sql=self.sql)
        empty = Scope([], sql=self.sql)
        compiled = [[compile_expr(v, empty, sql=self.sql) for v in
                     (r.expressions if isinstance(r, exp.Tuple) else [r])] for r in rows]
        width = len(compiled[0])
        if any(len(r) != width for r in compiled):
            raise SqlError("VALUES rows have different lengths", sql=self.sql,
                           **position_of(node, self.sql))
        types = [common_type([r[i].type for r in compiled], node=node, sql=self.sql)
                 for i in range(width)]
        frames = [pl.select(*[cast_to(v, t).expr.alias(internal_name(i))
                              for i, (v, t) in enumerate(zip(r, types, strict=True))])
                  for r in compiled]
        cols = [Col(f"expr${i}", t, None, internal_name(i)) for i, t in enumerate(types)]
        return self.b.constant(pl.concat(frames), cols)


def _rename(rel: Rel, names: list[str], qualifier: str | None) -> Rel:
    """The same relation seen under a FROM alias (and optional column names)."""
    if names and len(names) != len(rel.cols):
        raise SqlError(f"alias lists {len(names)} columns but the query has {len(rel.cols)}")
    cols = [Col(names[i] if names else c.name, c.type, qualifier, c.internal)
            for i, c in enumerate(rel.cols)]
    return Rel(rel.op, cols)
