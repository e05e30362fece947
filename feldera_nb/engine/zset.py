"""Z-sets as Polars frames.

A Z-set is a :class:`polars.DataFrame` whose data columns are the row and whose
:data:`WEIGHT` column is an Int64 multiplicity: +1 inserts a row, -1 deletes it, 3 is three
copies.  Every function here is a handful of vectorised Polars calls.

>>> import polars as pl
>>> z = pl.DataFrame({"a": [1, 1, 2], WEIGHT: [1, -1, 2]})
>>> consolidate(z).to_dicts()
[{'a': 2, '__w': 2}]
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

WEIGHT = "__w"
"""Name of the weight column of every Z-set."""


def data_columns(z: pl.DataFrame) -> list[str]:
    """The row columns of ``z`` (everything but the weight)."""
    return [c for c in z.columns if c != WEIGHT]


def without_weight(z: pl.DataFrame) -> pl.DataFrame:
    """The row columns of ``z`` as a frame (built directly, no query)."""
    return pick(z, data_columns(z))


def empty(schema: pl.Schema | dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty Z-set with the given row schema (shared: frames are never changed in place)."""
    key = tuple(dict(schema).items())
    try:
        return _empty_cached(key)
    except TypeError:  # an unhashable dtype
        return pl.DataFrame(schema={**dict(schema), WEIGHT: pl.Int64})


@functools.lru_cache(maxsize=4096)
def _empty_cached(key: tuple[tuple[str, pl.DataType], ...]) -> pl.DataFrame:
    return pl.DataFrame(schema={**dict(key), WEIGHT: pl.Int64})



def consolidate(z: pl.DataFrame) -> pl.DataFrame:
    """Add up the weights of equal rows and drop rows whose weight is zero."""
    n = z.height
    if n == 0:
        return z
    cols = data_columns(z)
    w = z.get_column(WEIGHT)
    if not cols:
        total = w.sum()
        return z.head(0) if total == 0 else pl.DataFrame({WEIGHT: [total]}, schema={WEIGHT: pl.Int64})
    if n == 1:
        return z if w[0] != 0 else z.clear()
    if _distinct(z, cols) and w.to_numpy().all():
        return z  # nothing to add up or drop (most deltas): two cheap checks, no group-by
    return (  # one lazy query: each eager call would be a query of its own
        z.lazy()
        .group_by(cols)
        .agg(pl.col(WEIGHT).sum())
        .filter(pl.col(WEIGHT) != 0)
        .select(z.columns)
        .collect(engine="in-memory")  # "auto" picks the streaming engine: slower on small frames
    )


def _distinct(z: pl.DataFrame, cols: list[str]) -> bool:
    """True when no two rows of ``z`` are equal on ``cols`` (NULLs equal, as in a group-by).

    Series and frame methods that run directly are used: an eager ``select`` or ``filter`` is
    a whole query, ~50-100 us even on a handful of rows.
    """
    if len(cols) == 1:
        return z.get_column(cols[0]).n_unique() == z.height
    return not pl.DataFrame([z.get_column(c) for c in cols]).is_duplicated().any()


def concat(parts: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate Z-sets with the same columns (no consolidation)."""
    parts = list(parts)
    frames = [p for p in parts if p.height]
    if not frames:
        return parts[0] if parts else pl.DataFrame()
    if len(frames) == 1:
        return frames[0]
    schema = frames[0].schema
    if all(f.schema == schema for f in frames[1:]):
        out = frames[0]
        for f in frames[1:]:
            out = out.vstack(f)  # appends chunks: no copy, no query
        return out
    return pl.concat(frames, how="vertical_relaxed")


def add(*zs: pl.DataFrame) -> pl.DataFrame:
    """The sum of Z-sets, consolidated."""
    return consolidate(concat(list(zs)))


def negate(z: pl.DataFrame) -> pl.DataFrame:
    """Flip every weight."""
    columns = z.get_columns()  # replaced directly: ``with_columns`` would be a whole query
    i = z.get_column_index(WEIGHT)
    columns[i] = -columns[i]
    return pl.DataFrame(columns)


def weighted(rows: pl.DataFrame, weight: int) -> pl.DataFrame:
    """``rows`` (no weight column) as a Z-set: every row with ``weight``."""
    return rows.hstack([pl.Series(WEIGHT, np.full(rows.height, weight, np.int64))])


def expand(z: pl.DataFrame) -> pl.DataFrame:
    """The rows of a Z-set with positive weights, each repeated weight times (a bag)."""
    if z.height and (z.get_column(WEIGHT).to_numpy() == 1).all():
        return without_weight(z)  # a set already (the common case): no query
    cols = data_columns(z)
    pos = z.filter(pl.col(WEIGHT) > 0)
    if pos.height == 0:
        return pos.select(cols)
    idx = pl.int_range(pl.len(), dtype=pl.UInt32).repeat_by(pl.col(WEIGHT)).explode()
    rows = pos.select(idx.alias("__i"))["__i"]
    return pos.select(cols)[rows]


def pick(z: pl.DataFrame, names: Sequence[str], rename: Sequence[str] | None = None
         ) -> pl.DataFrame:
    """The columns ``names`` of ``z`` (renamed to ``rename``), built from them directly: an
    eager ``select`` or ``rename`` is a whole query, ~30-80 us even on a handful of rows."""
    if rename is None:
        return pl.DataFrame([z.get_column(n) for n in names])
    return pl.DataFrame([z.get_column(n).alias(r) for n, r in zip(names, rename, strict=True)])
