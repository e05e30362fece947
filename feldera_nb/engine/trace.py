"""An indexed, integrated Z-set: DBSP's "spine" on Polars.

A :class:`Trace` holds the sum of every delta it was given, as a few *runs*, each a frame
sorted by a 32-bit hash of the key columns.  Looking up the rows of a few keys is a
``search_sorted`` per run, so it costs O(keys x runs x log n), never a scan.  New deltas come
in as small runs; runs of similar size are merged (an LSM tree), so each row is rewritten
O(log n) times over its life.  Merges stop at :data:`SEAL_ROWS` rows, so a merge never needs
more memory than that however big the trace grows; when cancelled rows (an insert in one run,
its delete in another) make up most of the trace, it is compacted whole.  Each run stores its
weights in the narrowest integer type that holds them (a bulk load's weights are all 1), and
reads widen them back to Int64.  A trace of at most :data:`SMALL_ROWS` rows keeps no index at
all: one unsorted frame, probed with a semi-join (most of SQL's test corpus lives there).

>>> import polars as pl
>>> from feldera_nb.engine.zset import WEIGHT
>>> t = Trace({"k": pl.Int64, "v": pl.String}, key=["k"])
>>> t.insert(pl.DataFrame({"k": [1, 2, 2], "v": ["a", "b", "c"], WEIGHT: [1, 1, 1]}))
>>> t.lookup(pl.DataFrame({"k": [2]})).sort("v").to_dicts()
[{'k': 2, 'v': 'b', '__w': 1}, {'k': 2, 'v': 'c', '__w': 1}]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from feldera_nb.engine.zset import WEIGHT, consolidate, empty

HASH = "__h"
_SEED = 0x5EED
# A run is merged into its predecessor when the predecessor is at most this many times bigger.
_MERGE_RATIO = 4
SEAL_ROWS = 1 << 21
"""Runs are not merged past this many rows (bounds a merge's memory; lookups probe a few more
runs)."""
SMALL_ROWS = 4096
"""Up to this many rows a trace is one unsorted frame: a lookup is one semi-join and an insert
one concatenation, cheaper than keeping an index for so few rows."""
NARROW_ROWS = 1 << 16
"""Runs of at least this many rows store narrowed weights (below, the pass over the weights
costs more than it saves)."""


def key_hash(df: pl.DataFrame, key: Sequence[str]) -> pl.Series:
    """32-bit hash of the key columns of ``df`` (constant 0 when there is no key).

    32 bits keep the index small; a lookup checks the keys of what it finds anyway, and at
    10 million rows a probe meets a colliding row once in ~400 lookups."""
    if not key:
        return pl.Series(HASH, np.zeros(df.height, dtype=np.uint32))
    return df.select(
        (pl.struct(list(key)).hash(_SEED) & 0xFFFFFFFF).cast(pl.UInt32).alias(HASH)).to_series()


class Trace:
    """The integral of a stream of Z-sets, indexed by ``key`` columns.

    Parameters
    ----------
    schema
        Data columns and their dtypes (no weight column).
    key
        Columns to index by; an empty key puts every row in one group.
    """

    def __init__(self, schema: dict[str, pl.DataType], key: Sequence[str]) -> None:
        self.schema = dict(schema)
        self.key = list(key)
        # A single integer or temporal key is its own sort order: no hash column is stored,
        # and lookups need no collision check.
        self.direct = len(self.key) == 1 and _orderable(self.schema[self.key[0]])
        self.runs: list[pl.DataFrame] = []
        self.small = True  # one unsorted run, no index, until it outgrows SMALL_ROWS
        self.weight = 0  # sum of all weights (the consolidated row count) once indexed
        self.rows_read = 0  # rows gathered by lookups so far (a scan would show here)

    # -- size -------------------------------------------------------------------------------
    @property
    def rows(self) -> int:
        """Number of stored rows (before consolidation across runs)."""
        return sum(r.height for r in self.runs)

    def live_rows(self) -> int:
        """Rows after consolidation for a small trace (one group-by); an indexed trace reports
        its stored rows, as consolidating it would mean reading all of it."""
        if self.small and self.runs:
            return consolidate(self.runs[0]).height
        return self.rows

    def estimated_size(self) -> int:
        """Bytes held by the runs."""
        return sum(r.estimated_size() for r in self.runs)

    # -- updates ----------------------------------------------------------------------------
    def insert(self, delta: pl.DataFrame) -> None:
        """Add a Z-set to the trace (runs need not be consolidated: reads consolidate)."""
        if delta.height == 0:
            return
        if self.small:
            self._insert_small(delta)
            return
        run = self._as_run(delta)
        self.weight += int(run[WEIGHT].sum())
        self.runs.append(run)
        self._maybe_merge()

    def _insert_small(self, delta: pl.DataFrame) -> None:
        run = self._conformed(delta)
        if self.runs:
            run = pl.concat([self.runs[0], run])
        if run.height > SMALL_ROWS:
            if delta.height < SMALL_ROWS:
                run = consolidate(run)  # churn may have left mostly cancelled rows
            if run.height > SMALL_ROWS // 2:  # outgrown: index it from now on
                self.small = False
                self.weight = int(run[WEIGHT].sum())
                self.runs = [self._as_run(run)]
                return
        self.runs = [run] if run.height else []

    def _conformed(self, delta: pl.DataFrame) -> pl.DataFrame:
        cols = list(self.schema)
        have = delta.schema
        if list(have) != [*cols, WEIGHT] or any(have[c] != t for c, t in self.schema.items()):
            delta = delta.select(*[pl.col(c).cast(self.schema[c]) for c in cols], pl.col(WEIGHT))
        return delta

    def _as_run(self, delta: pl.DataFrame) -> pl.DataFrame:
        delta = self._conformed(delta)
        # Runs need not be consolidated (reads consolidate what they return), so a bulk
        # insert costs a sort, not a group-by over every column.
        if not self.direct:
            delta = delta.with_columns(key_hash(delta, self.key))
        return _narrow_weights(delta.sort(self._order, nulls_last=True))

    @property
    def _order(self) -> str:
        return self.key[0] if self.direct else HASH

    def _maybe_merge(self) -> None:
        runs = self.runs
        while (len(runs) >= 2 and runs[-2].height <= _MERGE_RATIO * runs[-1].height
               and runs[-2].height + runs[-1].height <= SEAL_ROWS):
            last = runs.pop()
            prev = runs.pop()
            runs.append(_merge(prev, last, self._order))
        if runs and runs[-1].height == 0:
            runs.pop()
        # Sealed runs never merge, so deletes of their rows would pile up: once most stored
        # rows cancel out, compact the whole trace (amortised over the deletes that caused it).
        stored = self.rows
        if stored > SEAL_ROWS and stored > 2 * max(self.weight, 0) + SEAL_ROWS:
            self.compact()

    def compact(self) -> None:
        """Merge all runs into one."""
        if self.small:
            self.runs = [z for z in map(consolidate, self.runs) if z.height]
        elif len(self.runs) > 1:
            merged = self.runs[0]
            for r in self.runs[1:]:
                merged = _merge(merged, r, self._order, cancel=True)
            self.runs = [merged] if merged.height else []

    # -- reads ------------------------------------------------------------------------------
    def lookup(self, keys: pl.DataFrame) -> pl.DataFrame:
        """The consolidated rows whose key equals a row of ``keys`` (NULL equals NULL).

        ``keys`` holds the key columns; duplicates are fine.
        """
        if not self.runs:
            return empty(self.schema)
        if not self.key:
            return self.to_zset()
        if any(keys.schema[c] != self.schema[c] for c in self.key):
            keys = keys.select([pl.col(c).cast(self.schema[c]) for c in self.key])
        if self.small:
            found = self.runs[0].join(keys, on=self.key, how="semi", nulls_equal=True)
            self.rows_read += found.height
            return consolidate(found)
        keys = keys.select(self.key).unique()
        if keys.height == 0:
            return empty(self.schema)
        if self.direct:
            parts = self._probe_direct(keys[self.key[0]])
        else:
            probe = pl.Series(HASH, np.sort(key_hash(keys, self.key).to_numpy()), dtype=pl.UInt32)
            parts = [run[idx] for run in self.runs
                     if (idx := self._ranges(run[HASH], probe)) is not None]
        if not parts:
            return empty(self.schema)
        found = _wide_weights(pl.concat(parts, how="vertical_relaxed") if len(parts) > 1
                              else parts[0])
        if not self.direct:
            # Hash collisions: keep only rows whose key really matches.
            found = found.join(keys, on=self.key, how="semi", nulls_equal=True).drop(HASH)
        return consolidate(found)

    def _probe_direct(self, values: pl.Series) -> list[pl.DataFrame]:
        k = self.key[0]
        probe = values.drop_nulls().sort()
        want_null = values.null_count() > 0
        parts = []
        for run in self.runs:
            col = run[k]
            nulls = col.null_count()
            if probe.len():
                idx = self._ranges(col.slice(0, run.height - nulls), probe)
                if idx is not None:
                    parts.append(run[idx])
            if want_null and nulls:
                self.rows_read += nulls
                parts.append(run.slice(run.height - nulls))
        return parts

    def _ranges(self, sorted_col: pl.Series, probe: pl.Series) -> np.ndarray | None:
        """Row indices of ``sorted_col`` equal to some value of the sorted ``probe``."""
        # NumPy's searchsorted on zero-copy views of the (single-chunk, NULL-free) column: a
        # Polars search_sorted call costs ~100 us of overhead, NumPy's a few.
        col, p = sorted_col.to_numpy(), probe.to_numpy()
        lo = np.searchsorted(col, p, side="left").astype(np.int64)
        hi = np.searchsorted(col, p, side="right").astype(np.int64)
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            return None
        nz = counts > 0
        starts, cnt = lo[nz], counts[nz]
        # Expand the [start, start+cnt) ranges into row indices without a Python loop.
        offsets = np.repeat(starts - (np.cumsum(cnt) - cnt), cnt)
        self.rows_read += total
        return offsets + np.arange(total, dtype=np.int64)

    def to_zset(self) -> pl.DataFrame:
        """The whole trace as one consolidated Z-set."""
        if not self.runs:
            return empty(self.schema)
        runs = self.runs if self.direct or self.small else [r.drop(HASH) for r in self.runs]
        return consolidate(_wide_weights(runs[0] if len(runs) == 1 else
                                         pl.concat(runs, how="vertical_relaxed")))

    # -- atomic steps -----------------------------------------------------------------------
    def mark(self) -> tuple[list[pl.DataFrame], int, bool]:
        """A token to :meth:`reset` to: runs are immutable, so copying the list is enough."""
        return list(self.runs), self.weight, self.small

    def reset(self, mark: tuple[list[pl.DataFrame], int, bool]) -> None:
        """Return to the content at :meth:`mark`."""
        runs, self.weight, self.small = mark
        self.runs = list(runs)

    # -- state round trip -------------------------------------------------------------------
    def state(self) -> pl.DataFrame:
        """The trace's content as one frame (data columns plus weight), for a checkpoint."""
        self.compact()
        return self.to_zset()

    def restore(self, frame: pl.DataFrame) -> None:
        """Replace the content with ``frame`` (as produced by :meth:`state`)."""
        self.runs, self.weight, self.small = [], 0, True
        self.insert(frame)


def _merge(a: pl.DataFrame, b: pl.DataFrame, order: str, *, cancel: bool = False
           ) -> pl.DataFrame:
    """One run holding ``a`` and ``b``; ``cancel`` forces equal rows to be summed."""
    small = a.height + b.height <= _LAZY_MERGE_ROWS and not cancel
    if small or (a[WEIGHT].min() > 0 and b[WEIGHT].min() > 0):  # type: ignore[operator]
        # Inserts only (nothing can cancel) or too few rows to be worth a group-by (a later,
        # bigger merge cancels them): merging is interleaving two sorted runs, equal rows may
        # stay apart.  ``merge_sorted`` writes the output once, with no concatenated copy to
        # sort; it does not place NULLs, so runs with a NULL key are sorted instead.
        wide = a.schema[WEIGHT] if _WIDTH[a.schema[WEIGHT]] >= _WIDTH[b.schema[WEIGHT]] \
            else b.schema[WEIGHT]
        a, b = a.with_columns(pl.col(WEIGHT).cast(wide)), b.with_columns(pl.col(WEIGHT).cast(wide))
        if a[order].null_count() == 0 and b[order].null_count() == 0:
            return _narrow_weights(a.merge_sorted(b, order))
        return _narrow_weights(pl.concat([a, b]).sort(order, nulls_last=True))
    both = _wide_weights(pl.concat([a, b], how="vertical_relaxed"))
    cols = [c for c in both.columns if c != WEIGHT]
    return _narrow_weights(
        both.group_by(cols)
        .agg(pl.col(WEIGHT).sum())
        .filter(pl.col(WEIGHT) != 0)
        .select(both.columns)
        .sort(order, nulls_last=True)
    )


_WIDTH = {pl.Int8: 1, pl.Int16: 2, pl.Int32: 4, pl.Int64: 8}
_LAZY_MERGE_ROWS = 1 << 14


def _narrow_weights(run: pl.DataFrame) -> pl.DataFrame:
    """``run`` with its weights in the narrowest integer type that holds them all."""
    if run.height < NARROW_ROWS:
        return run  # not worth a pass over the weights
    w = run[WEIGHT]
    lo, hi = w.min(), w.max()
    for dtype, bound in ((pl.Int8, 1 << 7), (pl.Int16, 1 << 15), (pl.Int32, 1 << 31)):
        if -bound <= lo and hi < bound:  # type: ignore[operator]
            return run.with_columns(w.cast(dtype)) if w.dtype != dtype else run
    return run.with_columns(w.cast(pl.Int64)) if w.dtype != pl.Int64 else run


def _wide_weights(z: pl.DataFrame) -> pl.DataFrame:
    """``z`` with Int64 weights, as every Z-set outside a trace has."""
    return z if z.schema[WEIGHT] == pl.Int64 else z.with_columns(pl.col(WEIGHT).cast(pl.Int64))


def _orderable(dtype: pl.DataType) -> bool:
    return dtype.is_integer() or dtype.is_temporal()
