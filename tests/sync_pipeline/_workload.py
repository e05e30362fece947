"""The program and data every sync scenario uses (shared with the primary's process)."""

from __future__ import annotations

from typing import Any

SQL = """
CREATE TABLE t (k INT NOT NULL PRIMARY KEY, grp VARCHAR NOT NULL, v INT);
CREATE MATERIALIZED VIEW totals AS
    SELECT grp, SUM(v) AS total, COUNT(*) AS n FROM t GROUP BY grp;
CREATE MATERIALIZED VIEW big AS SELECT k, v FROM t WHERE v >= 50;
"""


def rows(start: int, n: int) -> list[dict[str, Any]]:
    """``n`` rows of ``t`` with keys from ``start``."""
    return [{"k": k, "grp": f"g{k % 3}", "v": (k * 37) % 101} for k in range(start, start + n)]


def views(p: Any) -> dict[str, list[dict[str, Any]]]:
    """The contents of every view, sorted (the oracle the scenarios compare)."""
    return {"totals": p.query("SELECT * FROM totals ORDER BY grp").to_dicts(),
            "big": p.query("SELECT * FROM big ORDER BY k").to_dicts()}
