"""FROM and JOIN planning: many-way joins from equality conjuncts, filters pushed down.

Inner joins and comma joins form one group: every conjunct of the ON clauses and of WHERE
is classified by the FROM items it reads.  Single-item conjuncts filter that item before any
join; equalities between the joined set and a new item become join keys (hash-indexed, so a
step never scans); the rest filter as soon as their items are joined.  Outer joins are
planned left to right with their ON clause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl
from sqlglot import exp

from feldera_nb.errors import SqlError, UnsupportedSqlError
from feldera_nb.sql.batch import outer_join_fn
from feldera_nb.sql.builder import concat_cols
from feldera_nb.sql.expressions import TypedExpr, cast_to, common_type, compile_expr, predicate
from feldera_nb.sql.positions import position_of
from feldera_nb.sql.scope import Col, Rel, Scope, column_name
from feldera_nb.sql.walk import columns_of, contains_subquery, split_and

if TYPE_CHECKING:
    from feldera_nb.sql.planner import Corr, Planner

OUTER_ALIAS = "__outer"


@dataclass
class Item:
    """One FROM item: its alias and its relation; ``hidden`` names leave ``*`` (USING)."""

    alias: str | None
    rel: Rel
    kind: str = "inner"  # inner | cross | left | right | full
    on: exp.Expression | None = None
    using: list[str] = field(default_factory=list)
    node: exp.Expression | None = None


@dataclass
class Joined:
    """A relation built from some items; ``item_cols[i]`` are item i's columns in ``rel``."""

    rel: Rel
    item_cols: dict[int, list[Col]]

    def scope(self, items: list[Item], outer: Scope | None, sql: str | None,
              corr: Corr | None = None) -> Scope:
        return Scope([(items[i].alias, self.item_cols[i]) for i in sorted(self.item_cols)],
                     outer=outer, sql=sql, on_outer=corr.hook if corr is not None else None)


class FromPlanner:
    """Mixin of :class:`~feldera_nb.sql.planner.Planner` for FROM clauses."""

    def plan_from(self: Planner, items: list[Item], where: list[exp.Expression],
                  outer: Scope | None, corr: Corr | None, agg_left: int | None = None
                  ) -> tuple[Joined, list[exp.Expression]]:
        """Join ``items``; returns the result and the WHERE conjuncts not yet applied.

        ``agg_left``: index of a correlation item that must be LEFT JOINed to all others
        (aggregate subqueries, so that every outer row gets a group).
        """
        if not items:
            raise UnsupportedSqlError("empty FROM")
        has_outer = any(it.kind in ("left", "right", "full") for it in items[1:])
        if agg_left is not None:
            inner_idx = [i for i in range(len(items)) if i != agg_left]
            where_inner, where_corr = [], []
            for c in where:
                refs = self._refs(c, items, outer, corr)
                (where_corr if (refs is None or agg_left in refs) else where_inner).append(c)
            inner, rest = self._inner_group(items, inner_idx, where_inner, outer, corr)
            inner = self._with_marker(inner)
            joined = Joined(items[agg_left].rel, {agg_left: items[agg_left].rel.cols})
            cond = self._and(where_corr + rest)
            result = self._outer_join(items, joined, inner, "left", cond, outer, corr)
            self.marker = next(c for c in result.rel.cols if c.name == "__marker")
            return result, []
        if not has_outer:
            conjuncts = list(where)
            for it in items:
                if it.on is not None:
                    conjuncts.extend(split_and(it.on))
                conjuncts.extend(self._using_conjuncts(items, it))
            return self._inner_group(items, list(range(len(items))), conjuncts, outer, corr)
        joined = Joined(items[0].rel, {0: items[0].rel.cols})
        for i in range(1, len(items)):
            it = items[i]
            right = Joined(it.rel, {i: it.rel.cols})
            conds = (split_and(it.on) if it.on is not None else []) + self._using_conjuncts(items, it)
            if it.kind in ("inner", "cross"):
                joined, rest = self._inner_pair(items, joined, right, conds, outer, corr)
                if rest:
                    joined = self._filter(items, joined, rest, outer, corr)
            else:
                joined = self._outer_join(items, joined, right, it.kind, self._and(conds),
                                          outer, corr)
        return joined, list(where)

    # -- helpers ----------------------------------------------------------------------------
    def _and(self, conds: list[exp.Expression]) -> exp.Expression | None:
        if not conds:
            return None
        out = conds[0]
        for c in conds[1:]:
            out = exp.And(this=out, expression=c)
        return out

    def _using_conjuncts(self, items: list[Item], it: Item) -> list[exp.Expression]:
        out = []
        idx = items.index(it)
        for name in it.using:
            left = next((j for j in range(idx) if any(c.name == name for c in items[j].rel.cols)),
                        None)
            if left is None:
                raise SqlError(f"column '{name}' in USING is not in the left side", sql=self.sql)
            lq, rq = items[left].alias, it.alias
            out.append(exp.EQ(this=exp.column(name, table=lq), expression=exp.column(name, table=rq)))
        return out

    def _refs(self, node: exp.Expression, items: list[Item], outer: Scope | None,
              corr: Corr | None) -> set[int] | None:
        """FROM items a conjunct reads (an enclosing query's column counts as the correlation
        item); None if it reads an enclosing column and there is no correlation item."""
        refs: set[int] = set()
        for col in columns_of(node):
            name = col.name.lower()
            q = col.table.lower() if col.table else None
            hits = [i for i, it in enumerate(items)
                    if (q is None or it.alias == q) and any(c.name == name for c in it.rel.cols)]
            if not hits:
                if corr is not None and corr.param_index is not None and outer is not None:
                    outer.resolve_column(col)  # raises when the column exists nowhere
                    refs.add(corr.param_index)
                    continue
                return None
            if len(hits) > 1 and q is None:
                raise SqlError(f"column reference '{name}' is ambiguous", sql=self.sql,
                               **position_of(col, self.sql))
            refs.add(hits[0])
        return refs

    def _filter(self, items: list[Item], joined: Joined, conds: list[exp.Expression],
                outer: Scope | None, corr: Corr | None) -> Joined:
        scope = joined.scope(items, outer, self.sql, corr)
        preds = [predicate(compile_expr(c, scope, sql=self.sql)) for c in conds]
        pred = preds[0]
        for p in preds[1:]:
            pred = pred & p
        return Joined(self.b.filter(joined.rel, pred), joined.item_cols)

    def _inner_group(self, items: list[Item], idx: list[int], conjuncts: list[exp.Expression],
                     outer: Scope | None, corr: Corr | None) -> tuple[Joined, list[exp.Expression]]:
        pending: list[tuple[exp.Expression, set[int] | None]] = []
        deferred: list[exp.Expression] = []
        for c in conjuncts:
            if contains_subquery(c):
                deferred.append(c)
                continue
            pending.append((c, self._refs(c, items, outer, corr)))
        parts: dict[int, Joined] = {}
        for i in idx:
            part = Joined(items[i].rel, {i: items[i].rel.cols})
            mine = [c for c, r in pending if r is not None and r == {i}]
            if mine:
                part = self._filter(items, part, mine, outer, corr)
            parts[i] = part
        pending = [(c, r) for c, r in pending if not (r is not None and len(r) == 1)]
        joined = parts[idx[0]]
        done = {idx[0]}
        while len(done) < len(idx):
            nxt = next((j for j in idx if j not in done and any(
                r is not None and j in r and (r - {j}) and (r - {j}) <= done and _is_eq(c)
                for c, r in pending)), None)
            if nxt is None:
                nxt = next(j for j in idx if j not in done)
            conds = [c for c, r in pending if r is not None and nxt in r and r - {nxt} <= done]
            pending = [(c, r) for c, r in pending
                       if not (r is not None and nxt in r and r - {nxt} <= done)]
            joined, rest = self._inner_pair(items, joined, parts[nxt], conds, outer, corr)
            done.add(nxt)
            if rest:
                joined = self._filter(items, joined, rest, outer, corr)
        # Constant conjuncts and those reading enclosing queries apply last.
        leftover = [c for c, r in pending]
        return joined, leftover + deferred

    def _inner_pair(self, items: list[Item], left: Joined, right: Joined,
                    conds: list[exp.Expression], outer: Scope | None, corr: Corr | None
                    ) -> tuple[Joined, list[exp.Expression]]:
        """Equi-join ``left`` and ``right`` on the equalities among ``conds``."""
        lkeys, rkeys, rest = self._equi_keys(items, left, right, conds, outer, corr)
        lrel, lk = self._key_columns(left, lkeys)
        rrel, rk = self._key_columns(right, rkeys)
        rel = self.b.join(lrel, rrel, lk, rk)
        return _combine(left, right, lrel, rrel, rel), rest

    def _equi_keys(self, items: list[Item], left: Joined, right: Joined,
                   conds: list[exp.Expression], outer: Scope | None, corr: Corr | None
                   ) -> tuple[list[TypedExpr], list[TypedExpr], list[exp.Expression]]:
        lset, rset = set(left.item_cols), set(right.item_cols)
        lscope = left.scope(items, outer, self.sql, corr)
        rscope = right.scope(items, outer, self.sql, corr)
        lkeys: list[TypedExpr] = []
        rkeys: list[TypedExpr] = []
        rest: list[exp.Expression] = []
        seen: set[tuple[str, str]] = set()
        for c in conds:
            if _is_eq(c):
                a, b = c.this, c.expression
                ra, rb = self._refs(a, items, outer, corr), self._refs(b, items, outer, corr)
                if ra and rb and ra <= lset and rb <= rset:
                    pass
                elif ra and rb and ra <= rset and rb <= lset:
                    a, b = b, a
                else:
                    rest.append(c)
                    continue
                ta = compile_expr(a, lscope, sql=self.sql)
                tb = compile_expr(b, rscope, sql=self.sql)
                t = common_type([ta.type, tb.type], node=c, sql=self.sql)
                lk = cast_to(ta, t.with_nullable(True), node=a, sql=self.sql)
                rk = cast_to(tb, t.with_nullable(True), node=b, sql=self.sql)
                pair = (str(lk.expr), str(rk.expr))
                if pair in seen:  # `a = b AND b = a`: one key is enough
                    continue
                seen.add(pair)
                lkeys.append(lk)
                rkeys.append(rk)
            else:
                rest.append(c)
        return lkeys, rkeys, rest

    def _key_columns(self, j: Joined, keys: list[TypedExpr]) -> tuple[Rel, list[str]]:
        """Make each key a column of the relation (adding computed columns when needed)."""
        names: list[str] = []
        extra: list[tuple[str, TypedExpr]] = []
        for k in keys:
            out = column_name(k.expr)
            col = next((c for c in j.rel.cols if c.internal == out), None)
            if col is not None and col.type.kind == k.type.kind and col.type.precision == k.type.precision \
                    and col.type.scale == k.type.scale and col.internal not in names:
                names.append(col.internal)
            else:
                extra.append((f"__key{len(extra)}", k))
                names.append("")
        if not extra:
            return j.rel, names
        rel, new = self.b.extend(j.rel, extra)
        it = iter(new)
        return rel, [n if n else next(it).internal for n in names]

    def _with_marker(self, j: Joined) -> Joined:
        rel, _ = self.b.extend(j.rel, [("__marker", self.true_literal())])
        return Joined(rel, j.item_cols)

    def _outer_join(self, items: list[Item], left: Joined, right: Joined, kind: str,
                    cond: exp.Expression | None, outer: Scope | None, corr: Corr | None) -> Joined:
        conds = split_and(cond) if cond is not None else []
        if any(contains_subquery(c) for c in conds):
            raise UnsupportedSqlError("subquery in an outer join's ON clause", sql=self.sql)
        lkeys, rkeys, rest = self._equi_keys(items, left, right, conds, outer, corr)
        lrel, lk = self._key_columns(left, lkeys)
        rrel, rk = self._key_columns(right, rkeys)
        cols = concat_cols(lrel, rrel)
        # Columns of the null-supplying side become nullable.
        cols = [Col(c.name, c.type.with_nullable(True), c.qualifier, c.internal)
                if (kind in ("left", "full") and i >= len(lrel.cols)) or
                   (kind in ("right", "full") and i < len(lrel.cols)) else c
                for i, c in enumerate(cols)]
        combined = _combine(left, right, lrel, rrel, Rel("", cols))
        pred = None
        if rest:
            scope = combined.scope(items, outer, self.sql, corr)
            preds = [predicate(compile_expr(c, scope, sql=self.sql)) for c in rest]
            pred = preds[0]
            for p in preds[1:]:
                pred = pred & p
        fn = outer_join_fn(kind, lk, rk, len(lrel.cols), len(rrel.cols), pred)
        n = len(lrel.cols)
        right_key = [pl.col(f"c{n + int(k[1:])}") for k in rk]
        left_key = [pl.col(k) for k in lk]
        out_key = {"left": left_key, "right": right_key,
                   "full": [pl.coalesce(a, b) for a, b in zip(left_key, right_key, strict=True)]}
        rel = self.b.keyed(f"{kind.capitalize()}Join", [lrel, rrel], [lk, rk], fn, cols,
                           out_key=out_key[kind])
        return Joined(rel, combined.item_cols)


def _is_eq(c: exp.Expression) -> bool:
    return isinstance(c, exp.EQ)


def _combine(left: Joined, right: Joined, lrel: Rel, rrel: Rel, rel: Rel) -> Joined:
    n = len(lrel.cols)
    shift = {c.internal: rel.cols[n + i] for i, c in enumerate(rrel.cols)}
    keep = {c.internal: rel.cols[i] for i, c in enumerate(lrel.cols)}
    item_cols = {i: [keep[c.internal] for c in cols] for i, cols in left.item_cols.items()}
    item_cols.update({i: [shift[c.internal] for c in cols] for i, cols in right.item_cols.items()})
    return Joined(rel, item_cols)
