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
from collections.abc import Iterable

import polars as pl

WEIGHT = "__w"
"""Name of the weight column of every Z-set."""


def data_columns(z: pl.DataFrame) -> list[str]:
    """The row columns of ``z`` (everything but the weight)."""
    return [c for c in z.columns if c != WEIGHT]


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
    if z.height == 0:
        return z
    cols = data_columns(z)
    if not cols:
        total = z[WEIGHT].sum()
        return z.head(0) if total == 0 else pl.DataFrame({WEIGHT: [total]}, schema={WEIGHT: pl.Int64})
    if z.height == 1:
        return z.filter(pl.col(WEIGHT) != 0)
    return (  # one lazy query: each eager call would be a query of its own
        z.lazy()
        .group_by(cols)
        .agg(pl.col(WEIGHT).sum())
        .filter(pl.col(WEIGHT) != 0)
        .select(z.columns)
        .collect(engine="in-memory")  # "auto" picks the streaming engine: slower on small frames
    )


def concat(parts: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """Concatenate Z-sets with the same columns (no consolidation)."""
    parts = list(parts)
    frames = [p for p in parts if p.height]
    if not frames:
        return parts[0] if parts else pl.DataFrame()
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical_relaxed")


def add(*zs: pl.DataFrame) -> pl.DataFrame:
    """The sum of Z-sets, consolidated."""
    return consolidate(concat(list(zs)))


def negate(z: pl.DataFrame) -> pl.DataFrame:
    """Flip every weight."""
    return z.with_columns(-pl.col(WEIGHT))


def expand(z: pl.DataFrame) -> pl.DataFrame:
    """The rows of a Z-set with positive weights, each repeated weight times (a bag)."""
    cols = data_columns(z)
    pos = z.filter(pl.col(WEIGHT) > 0)
    if pos.height == 0:
        return pos.select(cols)
    if (pos[WEIGHT] == 1).all():
        return pos.select(cols)
    idx = pl.int_range(pl.len(), dtype=pl.UInt32).repeat_by(pl.col(WEIGHT)).explode()
    rows = pos.select(idx.alias("__i"))["__i"]
    return pos.select(cols)[rows]

