"""Small AST walks over sqlglot expressions that stop at subquery boundaries."""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp

AGGREGATES: dict[type[exp.Expression], str] = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
    exp.LogicalAnd: "bool_and",
    exp.LogicalOr: "bool_or",
}
QUERY_NODES = (exp.Select, exp.Union, exp.Except, exp.Intersect)


def split_and(node: exp.Expression | None) -> list[exp.Expression]:
    """The conjuncts of ``a AND b AND c`` (parentheses removed)."""
    if node is None:
        return []
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return split_and(node.this) + split_and(node.expression)
    return [node]


def _walk(node: exp.Expression, stop_at_windows: bool = False) -> Iterator[exp.Expression]:
    """Pre-order walk that does not enter subqueries (nor windows, if asked)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if n is not node and isinstance(n, (exp.Subquery, *QUERY_NODES)):
            continue
        if stop_at_windows and isinstance(n, exp.Window):
            continue
        for child in reversed(list(n.iter_expressions())):
            if isinstance(child, QUERY_NODES) and n is not node:
                continue
            stack.append(child)


def columns_of(node: exp.Expression) -> list[exp.Column]:
    """Column references in ``node`` outside nested subqueries."""
    return [n for n in _walk(node) if isinstance(n, exp.Column) and not isinstance(n.this, exp.Star)
            and not isinstance(n.parent, exp.Subquery)]


def subqueries_of(node: exp.Expression) -> list[exp.Expression]:
    """Subquery-bearing nodes directly in ``node``: EXISTS, IN (query), scalar subqueries."""
    out: list[exp.Expression] = []
    for n in _walk(node):
        if isinstance(n, exp.Exists):
            out.append(n)
        elif isinstance(n, exp.In) and n.args.get("query") is not None:
            out.append(n)
        elif isinstance(n, exp.Subquery) and not isinstance(n.parent, (exp.Exists, exp.In)):
            out.append(n)
        elif isinstance(n, (exp.Any, exp.All)):
            out.append(n)
    return out


def contains_subquery(node: exp.Expression) -> bool:
    return bool(subqueries_of(node))


def aggregates_of(node: exp.Expression) -> list[exp.Expression]:
    """Aggregate calls in ``node``, not inside windows or subqueries (outermost only)."""
    out: list[exp.Expression] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, exp.Window):
            continue
        if type(n) in AGGREGATES or (isinstance(n, exp.Filter) and type(n.this) in AGGREGATES):
            out.append(n)
            continue
        if n is not node and isinstance(n, (exp.Subquery, *QUERY_NODES)):
            continue
        stack.extend(reversed(list(n.iter_expressions())))
    return out


def windows_of(node: exp.Expression) -> list[exp.Window]:
    """Window calls (``f(...) OVER (...)``) in ``node``, outside subqueries."""
    return [n for n in _walk(node) if isinstance(n, exp.Window)]
