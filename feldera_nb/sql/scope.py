"""Relations under construction and name resolution.

A :class:`Rel` is an operator's output plus the SQL meaning of its columns.  Frames name
their columns positionally (``c0``, ``c1`` ...), so SQL names never clash inside Polars.
A :class:`Scope` resolves column references (``t.a``, ``a``) against the FROM items of one
SELECT, and against enclosing SELECTs for correlated subqueries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl
from sqlglot import exp

from feldera_nb.errors import SqlError
from feldera_nb.sql.positions import position_of
from feldera_nb.sql.types import SqlType, to_polars

if TYPE_CHECKING:
    from feldera_nb.sql.expressions import TypedExpr


def internal_name(i: int) -> str:
    """The frame column name of position ``i``."""
    return f"c{i}"


@dataclass(frozen=True)
class Col:
    """One column of a relation: SQL name, type, the FROM alias that qualifies it, and the
    frame column holding it."""

    name: str
    type: SqlType
    qualifier: str | None
    internal: str


@dataclass
class Rel:
    """An operator's output with the SQL meaning of its columns."""

    op: str
    cols: list[Col]

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {c.internal: to_polars(c.type) for c in self.cols}

    @property
    def names(self) -> list[str]:
        return [c.internal for c in self.cols]


@dataclass
class Scope:
    """What a column reference can mean inside one SELECT.

    ``items`` are the FROM items (alias and their columns, in FROM order, pointing at the
    columns of the current relation); ``outer`` is the enclosing SELECT's scope.
    ``on_outer`` is called when a reference resolves to an enclosing scope (correlation).
    """

    items: list[tuple[str | None, list[Col]]]
    outer: Scope | None = None
    sql: str | None = None
    special: dict[int, TypedExpr] = field(default_factory=dict)
    on_outer: object = None  # callable(scope, outer TypedExpr, node) -> TypedExpr

    def find(self, name: str, qualifier: str | None, node: exp.Expression | None) -> Col | None:
        """The column ``qualifier.name`` in this scope only (None if absent)."""
        found: list[Col] = []
        for alias, cols in self.items:
            if qualifier is not None and alias != qualifier:
                continue
            found.extend(c for c in cols if c.name == name)
        if len(found) > 1:
            # The same underlying column reached twice (USING/NATURAL) is not ambiguous.
            if len({c.internal for c in found}) > 1:
                raise SqlError(f"column reference '{name}' is ambiguous", sql=self.sql,
                               **position_of(node, self.sql) if node is not None else {})
        return found[0] if found else None

    def has_qualifier(self, qualifier: str) -> bool:
        return any(alias == qualifier for alias, _ in self.items)

    def resolve_column(self, node: exp.Column) -> TypedExpr:
        """Resolve a column reference here, else in the enclosing scopes (correlation)."""
        from feldera_nb.sql.expressions import TypedExpr

        name = node.name.lower()
        qualifier = node.table.lower() if node.table else None
        col = self.find(name, qualifier, node)
        if col is not None:
            return TypedExpr(pl.col(col.internal), col.type)
        if self.outer is not None and self.on_outer is not None:
            outer = self.outer.resolve_column(node)
            return self.on_outer(self, outer, node)  # type: ignore[operator]
        what = f"{qualifier}.{name}" if qualifier else name
        if qualifier is not None and not self._any_qualifier(qualifier):
            raise SqlError(f"table '{qualifier}' not found in this query", sql=self.sql,
                           **position_of(node, self.sql))
        raise SqlError(f"column '{what}' not found", sql=self.sql, **position_of(node, self.sql))

    def _any_qualifier(self, qualifier: str) -> bool:
        scope: Scope | None = self
        while scope is not None:
            if scope.has_qualifier(qualifier):
                return True
            scope = scope.outer
        return False

    def resolve(self, node: exp.Expression) -> TypedExpr | None:
        """The :class:`~feldera_nb.sql.expressions.Resolver` hook."""
        hit = self.special.get(id(node))
        if hit is not None:
            return hit
        if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
            return self.resolve_column(node)
        return None

    def star(self, qualifier: str | None, node: exp.Expression | None = None) -> list[Col]:
        """The columns ``*`` or ``qualifier.*`` expands to, in FROM order."""
        out: list[Col] = []
        for alias, cols in self.items:
            if qualifier is None or alias == qualifier:
                out.extend(cols)
        if qualifier is not None and not out and not self.has_qualifier(qualifier):
            raise SqlError(f"table '{qualifier}' not found in this query", sql=self.sql,
                           **(position_of(node, self.sql) if node is not None else {}))
        return out


def column_name(e: pl.Expr) -> str | None:
    """The frame column a plain ``pl.col(name)`` expression reads, else None."""
    if not e.meta.is_column():
        return None
    return e.meta.output_name(raise_if_undetermined=False)
