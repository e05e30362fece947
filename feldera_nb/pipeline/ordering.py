"""ORDER BY for ad-hoc query results (views are bags; only a query's answer has an order)."""

from __future__ import annotations

import polars as pl
from sqlglot import exp

from feldera_nb.errors import UnsupportedSqlError
from feldera_nb.sql.program import parse_statement


def sort_like_query(rows: pl.DataFrame, sql: str) -> pl.DataFrame:
    """Sort ``rows`` by the top-level ORDER BY of ``sql`` (output names or positions)."""
    node = parse_statement(sql)
    order = node.args.get("order")
    if order is None or rows.height < 2:
        return rows
    by, desc, nulls_last = [], [], []
    for o in order.expressions:
        e = o.this
        if isinstance(e, exp.Literal) and not e.is_string and 1 <= int(e.name) <= rows.width:
            by.append(rows.columns[int(e.name) - 1])
        elif isinstance(e, exp.Column) and e.name.lower() in rows.columns:
            by.append(e.name.lower())
        else:
            raise UnsupportedSqlError("ORDER BY an expression in query(); order by an output "
                                      "column or its position", sql=sql)
        desc.append(bool(o.args.get("desc")))
        nulls_last.append(not o.args.get("nulls_first"))
    return rows.sort(by, descending=desc, nulls_last=nulls_last, maintain_order=True)
