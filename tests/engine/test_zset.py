"""Z-set helpers, including their shortcuts for frames with nothing to do.

Oracle: DuckDB (``GROUP BY ... HAVING SUM(w) <> 0``) for consolidation; Polars' own
``select`` for the column-building shortcuts (projections, renames, negation).
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest

from feldera_nb.engine.operators import Map
from feldera_nb.engine.zset import WEIGHT, concat, consolidate, expand, negate, pick, weighted


def _random_zset(rng: np.random.Generator, n: int, ncols: int) -> pl.DataFrame:
    cols = {
        "i": pl.Series(rng.choice([1, 2, 3, None], n).tolist(), dtype=pl.Int64),
        "s": pl.Series(rng.choice(["a", "b", None], n).tolist(), dtype=pl.String),
        "j": pl.Series(rng.integers(0, 2, n), dtype=pl.Int32),
    }
    data = dict(list(cols.items())[:ncols])
    # Weights with zeros and cancelling pairs; tiny frames hit the shortcuts, bigger ones not.
    return pl.DataFrame({**data, WEIGHT: rng.choice([1, 1, -1, 0, 2], n)})


def _duckdb_consolidate(z: pl.DataFrame) -> list[tuple]:
    cols = ", ".join(c for c in z.columns if c != WEIGHT)
    rows = duckdb.sql(f"SELECT {cols}, SUM({WEIGHT}) FROM z GROUP BY ALL "
                      f"HAVING SUM({WEIGHT}) <> 0").fetchall()
    return sorted(rows, key=repr)


@pytest.mark.parametrize("ncols", [1, 2, 3])
def test_consolidate_matches_duckdb_on_random_small_frames(ncols: int) -> None:
    rng = np.random.default_rng(ncols)
    shortcuts = 0
    for _ in range(300):
        z = _random_zset(rng, int(rng.integers(0, 9)), ncols)
        out = consolidate(z)
        assert sorted(out.rows(), key=repr) == _duckdb_consolidate(z)
        assert out.columns == z.columns and out.schema == z.schema
        shortcuts += out is z
    assert shortcuts > 20  # the no-group-by path was taken, and checked, many times


def test_consolidate_groups_floats_as_a_group_by_does() -> None:
    # NaN equals NaN and -0.0 equals 0.0 for grouping: the shortcut must not see them as
    # distinct rows (it would leave a pair that cancels).
    z = pl.DataFrame({"x": [0.0, -0.0, float("nan"), float("nan"), None],
                      WEIGHT: [1, -1, 1, 1, 1]})
    out = consolidate(z).sort("x", nulls_last=True)
    assert out[WEIGHT].to_list() == [2, 1]
    assert np.isnan(out["x"][0]) and out["x"][1] is None


def test_concat_stacks_equal_schemas_and_relaxes_others() -> None:
    a = pl.DataFrame({"x": [1], WEIGHT: [1]}, schema={"x": pl.Int32, WEIGHT: pl.Int64})
    b = pl.DataFrame({"x": [2], WEIGHT: [1]}, schema={"x": pl.Int64, WEIGHT: pl.Int64})
    assert concat([a, a]).rows() == [(1, 1), (1, 1)]
    mixed = concat([a, b])
    assert mixed.schema["x"] == pl.Int64 and mixed["x"].to_list() == [1, 2]
    assert concat([a.clear(), b]) is b


def test_column_shortcuts_equal_polars_select() -> None:
    z = pl.DataFrame({"a": [1, 2, 2], "b": ["x", None, "y"], WEIGHT: [1, -2, 3]})
    assert negate(z).equals(z.with_columns(-pl.col(WEIGHT)))
    assert pick(z, ["b", "a"]).equals(z.select("b", "a"))
    assert pick(z, ["a", "b"], ["p", "q"]).equals(z.select(p="a", q="b"))
    assert weighted(z.select("a"), -1).equals(z.select("a", pl.lit(-1, pl.Int64).alias(WEIGHT)))
    assert expand(z.filter(pl.col(WEIGHT) == 1)).equals(z.filter(pl.col(WEIGHT) == 1).select("a", "b"))
    assert expand(z).rows() == [(1, "x"), (2, "y"), (2, "y"), (2, "y")]


@pytest.mark.parametrize("exprs", [
    [pl.col("a").alias("x"), pl.col("b")],  # plain columns: built directly
    [(pl.col("a") + 1).alias("x"), pl.col("b")],  # an expression: a Polars select
])
def test_map_projects_like_select(exprs: list[pl.Expr]) -> None:
    schema = {"x": pl.Int64, "b": pl.String}
    op = Map("m", ["src"], schema, exprs=exprs)
    z = pl.DataFrame({"a": [1, 2], "b": ["p", None], WEIGHT: [1, -1]})
    assert op.step([z]).equals(z.select(*exprs, WEIGHT))
    assert (op.moves is not None) == (exprs[0].meta.undo_aliases().meta.is_column())
