"""GROUP BY / aggregates and window functions.

Both become :class:`~feldera_nb.engine.operators.KeyedRecompute` operators keyed by the
group (or partition) columns, so a step touches only the groups its delta touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
from sqlglot import exp

from feldera_nb.errors import SqlError, SqlTypeError, UnsupportedSqlError
from feldera_nb.sql.batch import (
    AggSpec, SortKey, WindowSpec, aggregate_fn, is_linear, linear_parts, window_fn,
)
from feldera_nb.sql.expressions import TypedExpr, cast_to, common_type, compile_expr
from feldera_nb.sql.positions import position_of
from feldera_nb.sql.scope import Col, Rel, Scope, column_name, internal_name
from feldera_nb.sql.types import SqlType
from feldera_nb.sql.walk import AGGREGATES

if TYPE_CHECKING:
    from feldera_nb.sql.planner import Planner
    from feldera_nb.sql.subqueries import Corr

BIGINT = SqlType("BIGINT", nullable=False)
OUTER_REF = "__outer_ref"


def agg_result_type(func: str, arg: SqlType | None, node: exp.Expression, sql: str | None
                    ) -> SqlType:
    """The SQL type of an aggregate's result (Feldera's rules, integer SUM widened)."""
    if func in ("count", "count_star"):
        return BIGINT
    assert arg is not None
    if func in ("min", "max"):
        return arg.with_nullable(True)
    if func in ("bool_and", "bool_or"):
        if arg.kind != "BOOLEAN":
            raise SqlTypeError(f"{func.upper()} needs a BOOLEAN argument, not {arg}", sql=sql,
                               **position_of(node, sql))
        return SqlType("BOOLEAN")
    if not arg.is_numeric:
        raise SqlTypeError(f"{func.upper()} needs a numeric argument, not {arg}", sql=sql,
                           **position_of(node, sql))
    if func == "sum":
        if arg.is_integer:
            return SqlType("BIGINT")
        if arg.kind == "DECIMAL":
            return SqlType("DECIMAL", precision=38, scale=arg.scale)
        return SqlType("DOUBLE") if arg.kind == "DOUBLE" else arg.with_nullable(True)
    if func == "avg":
        return arg.with_nullable(True)
    raise UnsupportedSqlError(f"aggregate {func}", sql=sql, **position_of(node, sql))


def agg_call(node: exp.Expression) -> tuple[str, exp.Expression | None, bool]:
    """(function, argument, DISTINCT) of an aggregate call node.

    ``agg(x) FILTER (WHERE c)`` becomes ``agg(CASE WHEN c THEN x END)`` (and COUNT(*) counts
    ``CASE WHEN c THEN 1 END``), which is what the filter means.
    """
    if isinstance(node, exp.Filter):
        func, arg, distinct = agg_call(node.this)
        cond = node.expression.this if isinstance(node.expression, exp.Where) else node.expression
        value = arg if arg is not None else exp.Literal.number(1)
        case = exp.Case(ifs=[exp.If(this=cond.copy(), true=value.copy())])
        return ("count" if func == "count_star" else func), case, distinct
    func = AGGREGATES[type(node)]
    arg = node.this
    distinct = False
    if isinstance(arg, exp.Distinct):
        distinct = True
        if len(arg.expressions) != 1:
            raise UnsupportedSqlError(f"{func.upper()}(DISTINCT with several arguments)")
        arg = arg.expressions[0]
    if func == "count" and (arg is None or isinstance(arg, exp.Star)):
        return "count_star", None, False
    return func, arg, distinct


class GroupedScope(Scope):
    """Resolves expressions after GROUP BY: group keys and aggregate results only."""

    def __init__(self, pre: Scope, keys_by_text: dict[str, TypedExpr],
                 keys_by_internal: dict[str, TypedExpr], items: list, sql: str | None,
                 on_outer: object) -> None:
        super().__init__(items, outer=pre.outer, sql=sql, on_outer=on_outer)
        self.pre = pre
        self.keys_by_text = keys_by_text
        self.keys_by_internal = keys_by_internal

    def resolve(self, node: exp.Expression) -> TypedExpr | None:
        hit = self.special.get(id(node))
        if hit is not None:
            return hit
        if self.keys_by_text and not isinstance(node, (exp.Literal, exp.Null, exp.Boolean)):
            key = self.keys_by_text.get(_text(node))
            if key is not None:
                return key
        if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
            return self.resolve_column(node)
        return None

    def resolve_column(self, node: exp.Column) -> TypedExpr:
        te = self.pre.resolve_column(node)
        name = column_name(te.expr)
        if name == OUTER_REF:
            return te
        key = self.keys_by_internal.get(name or "")
        if key is None:
            raise SqlError(f"column '{node.sql()}' must appear in GROUP BY or be used in an "
                           "aggregate function", sql=self.sql, **position_of(node, self.sql))
        return key


def _text(node: exp.Expression) -> str:
    return node.sql(copy=False).lower()  # the generator only reads the tree: no need to copy


class GroupingPlanner:
    """Mixin of :class:`~feldera_nb.sql.planner.Planner`: GROUP BY and windows."""

    def plan_aggregate(self: Planner, q: exp.Select, rel: Rel, scope: Scope,
                       aggs: list[exp.Expression], select_items: list[tuple[str, exp.Expression]],
                       corr_cols: list[Col], corr: Corr | None) -> tuple[Rel, Scope]:
        group = q.args.get("group")
        group_nodes: list[exp.Expression] = []
        for g in group.expressions if group is not None else []:
            group_nodes.append(self._group_item(g, select_items, scope))
        key_items: list[tuple[str, TypedExpr]] = [
            (c.name, TypedExpr(pl.col(c.internal), c.type)) for c in corr_cols]
        key_items += [(f"__g{i}", compile_expr(g, scope, sql=self.sql))
                      for i, g in enumerate(group_nodes)]
        specs: list[AggSpec] = []
        types: list[SqlType] = []
        arg_items: list[tuple[str, TypedExpr]] = []
        arg_pos: dict[str, int] = {}
        agg_index: dict[str, int] = {}
        for node in aggs:
            text = _text(node)
            if text in agg_index:
                continue
            func, arg, distinct = agg_call(node)
            arg_te = None
            if func == "count_star" and self.marker is not None:
                func, arg_te = "count", TypedExpr(pl.col(self.marker.internal), self.marker.type)
            elif arg is not None:
                if any(isinstance(n, tuple(AGGREGATES)) for n in arg.walk() if n is not arg) \
                        or type(arg) in AGGREGATES:
                    raise SqlError("aggregate calls cannot be nested", sql=self.sql,
                                   **position_of(node, self.sql))
                arg_te = compile_expr(arg, scope, sql=self.sql)
            rtype = agg_result_type(func, arg_te.type if arg_te else None, node, self.sql)
            col_name = None
            if arg_te is not None:
                if func in ("sum", "avg") and arg_te.type.is_integer:
                    # Integer sums are accumulated in BIGINT, so weights cannot overflow them.
                    arg_te = TypedExpr(arg_te.expr.cast(pl.Int64), arg_te.type)
                atext = str(arg_te.expr)
                if atext not in arg_pos:
                    arg_pos[atext] = len(arg_items)
                    arg_items.append((f"__a{len(arg_items)}", arg_te))
                col_name = atext
            agg_index[text] = len(specs)
            specs.append((func, col_name, distinct, arg_te))  # type: ignore[arg-type]
            types.append(rtype)
        nk = len(key_items)
        pre = self.b.map(rel, [(n, None, te) for n, te in key_items + arg_items], label="group by")
        key_names = [c.internal for c in pre.cols[:nk]]
        real_specs = []
        for func, atext, distinct, arg_te in specs:  # type: ignore[misc]
            arg_internal = pre.cols[nk + arg_pos[atext]].internal if atext is not None else None
            int_avg = func == "avg" and arg_te is not None and arg_te.type.is_integer
            dec = arg_te.type.scale if func == "avg" and arg_te is not None and \
                arg_te.type.kind == "DECIMAL" else None
            floating = arg_te is not None and arg_te.type.kind in ("REAL", "DOUBLE")
            real_specs.append(AggSpec(func, arg_internal, distinct, int_avg, dec, floating))
        out_cols = [Col(c.name, c.type, None, internal_name(i)) for i, c in enumerate(pre.cols[:nk])]
        out_cols += [Col(f"__agg{i}", t, None, internal_name(nk + i)) for i, t in enumerate(types)]
        out_names = [c.internal for c in out_cols]
        if is_linear(real_specs):
            partials, acc_schema, finish = linear_parts(key_names, real_specs, out_names,
                                                        pre.schema)
            out = self.b.linear_aggregate(pre, key_names, partials, acc_schema, finish, out_cols)
        else:
            fn = aggregate_fn(key_names, real_specs, out_names)
            out = self.b.keyed("Aggregate", [pre], [key_names], fn, out_cols,
                               label=f"group by {len(group_nodes)} keys")
        # Resolution after grouping.
        keys_by_text: dict[str, TypedExpr] = {}
        keys_by_internal: dict[str, TypedExpr] = {}
        for i, (_, te) in enumerate(key_items):
            post = TypedExpr(pl.col(out_cols[i].internal), out_cols[i].type)
            src = column_name(te.expr)
            if src:
                keys_by_internal[src] = post
            if i >= len(corr_cols):
                keys_by_text[_text(group_nodes[i - len(corr_cols)])] = post
        items = [("__outer", [Col(c.name, out_cols[i].type, "__outer", out_cols[i].internal)
                              for i, c in enumerate(corr_cols)])] if corr_cols else []
        gscope = GroupedScope(scope, keys_by_text, keys_by_internal, items, self.sql,
                              corr.hook if corr is not None else None)
        for node in aggs:
            k = agg_index[_text(node)]
            gscope.special[id(node)] = TypedExpr(pl.col(out_cols[nk + k].internal), types[k])
        return out, gscope

    def _group_item(self: Planner, g: exp.Expression, select_items: list[tuple[str, exp.Expression]],
                    scope: Scope) -> exp.Expression:
        if isinstance(g, exp.Literal) and not g.is_string:
            k = int(g.name)
            if not 1 <= k <= len(select_items):
                raise SqlError(f"GROUP BY position {k} is not in the select list", sql=self.sql,
                               **position_of(g, self.sql))
            return select_items[k - 1][1]
        if isinstance(g, exp.Column) and not g.table:
            try:
                if scope.find(g.name.lower(), None, g) is not None:
                    return g
            except SqlError:  # ambiguous as a column: try the select list's aliases
                pass
            for name, e in select_items:
                if name == g.name.lower():
                    return e
        return g

    # -- windows ----------------------------------------------------------------------------
    def _lag_lead(self: Planner, w: exp.Window, f: exp.Expression, scope: Scope,
                  extra: list[tuple[str, TypedExpr]], okeys: list) -> tuple:
        """LAG/LEAD(x [, offset [, default]]): the value ``offset`` rows before/after."""
        if not okeys:
            raise SqlError(f"{type(f).__name__.upper()} needs ORDER BY", sql=self.sql,
                           **position_of(w, self.sql))
        arg = compile_expr(f.this, scope, sql=self.sql)
        offset = 1
        if f.args.get("offset") is not None:
            off = compile_expr(f.args["offset"], scope, sql=self.sql).literal
            if not isinstance(off, int) or isinstance(off, bool) or off < 0:
                raise SqlError("LAG/LEAD offset must be a non-negative integer constant",
                               sql=self.sql, **position_of(f.args["offset"], self.sql))
            offset = off
        rtype = arg.type.with_nullable(True)
        dflt_pos = None
        if f.args.get("default") is not None:
            d = compile_expr(f.args["default"], scope, sql=self.sql)
            rtype = common_type([arg.type, d.type], node=f, sql=self.sql).with_nullable(True)
            dflt_pos = len(extra)
            extra.append((f"__d{len(extra)}", cast_to(d, rtype)))
        arg_pos = len(extra)
        extra.append((f"__x{len(extra)}", cast_to(arg, rtype)))
        func = "lag" if isinstance(f, exp.Lag) else "lead"
        return (w, func, arg_pos, okeys, rtype, False, offset, dflt_pos)

    def plan_windows(self: Planner, rel: Rel, scope: Scope, windows: list[exp.Window]
                     ) -> tuple[Rel, Scope]:
        groups: dict[str, list[exp.Window]] = {}
        for w in windows:
            part = w.args.get("partition_by") or []
            groups.setdefault("|".join(_text(p) for p in part), []).append(w)
        for ws in groups.values():
            rel = self._window_group(rel, scope, ws)
        return rel, scope

    def _window_group(self: Planner, rel: Rel, scope: Scope, ws: list[exp.Window]) -> Rel:
        part_nodes = ws[0].args.get("partition_by") or []
        extra: list[tuple[str, TypedExpr]] = [
            (f"__p{i}", compile_expr(p, scope, sql=self.sql)) for i, p in enumerate(part_nodes)]
        calls = []
        for w in ws:
            if w.args.get("spec") is not None:
                raise UnsupportedSqlError("window frame clause", sql=self.sql,
                                          **position_of(w, self.sql))
            f = w.this
            order = w.args.get("order")
            okeys = []
            for o in order.expressions if order is not None else []:
                desc = bool(o.args.get("desc"))
                nulls_last = not o.args.get("nulls_first")
                okeys.append((len(extra), desc, nulls_last))
                extra.append((f"__o{len(extra)}", compile_expr(o.this, scope, sql=self.sql)))
            if isinstance(f, exp.RowNumber):
                func, arg_pos, rtype = "row_number", None, BIGINT
            elif isinstance(f, (exp.Rank, exp.DenseRank)) or type(f).__name__ in ("Rank", "DenseRank"):
                func = "rank" if type(f).__name__ == "Rank" else "dense_rank"
                arg_pos, rtype = None, BIGINT
            elif isinstance(f, (exp.Lag, exp.Lead)):
                calls.append(self._lag_lead(w, f, scope, extra, okeys))
                continue
            elif type(f) in AGGREGATES:
                func, arg, distinct = agg_call(f)
                if distinct:
                    raise UnsupportedSqlError("DISTINCT in a window aggregate", sql=self.sql,
                                              **position_of(w, self.sql))
                arg_te = compile_expr(arg, scope, sql=self.sql) if arg is not None else None
                rtype = agg_result_type(func, arg_te.type if arg_te else None, f, self.sql)
                arg_pos = None
                if arg_te is not None:
                    arg_pos = len(extra)
                    te = arg_te
                    if func in ("sum", "avg") and arg_te.type.is_integer:
                        te = TypedExpr(arg_te.expr.cast(pl.Int64), arg_te.type)
                    extra.append((f"__x{len(extra)}", te))
                calls.append((w, func, arg_pos, okeys, rtype,
                              func == "avg" and arg_te is not None and arg_te.type.is_integer,
                              1, None))
                continue
            else:
                raise UnsupportedSqlError(f"window function {type(f).__name__.upper()}",
                                          sql=self.sql, **position_of(w, self.sql))
            if func in ("rank", "dense_rank", "row_number") and order is None and func != "row_number":
                raise SqlError(f"{func.upper()} needs ORDER BY", sql=self.sql,
                               **position_of(w, self.sql))
            calls.append((w, func, arg_pos, okeys, rtype, False, 1, None))
        pre, new = self.b.extend(rel, extra)
        n = len(pre.cols)
        specs = []
        out_cols = list(pre.cols)
        for j, (w, func, arg_pos, okeys, rtype, int_avg, offset, dflt) in enumerate(calls):
            order = tuple(SortKey(new[p].internal, d, nl) for p, d, nl in okeys)
            arg = new[arg_pos] if arg_pos is not None else None
            specs.append(WindowSpec(func, arg.internal if arg is not None else None,
                                    order, int_avg, offset,
                                    new[dflt].internal if dflt is not None else None,
                                    arg is not None and arg.type.kind in ("REAL", "DOUBLE")))
            out_cols.append(Col(f"__w{j}", rtype, None, internal_name(n + j)))
        part = [c.internal for c in new[:len(part_nodes)]]
        fn = window_fn(part, specs, [c.internal for c in out_cols[n:]])
        out = self.b.keyed("Window", [pre], [part], fn, out_cols, label="over")
        for j, (w, *_rest) in enumerate(calls):
            c = out_cols[n + j]
            scope.special[id(w)] = TypedExpr(pl.col(c.internal), c.type)
        return out
