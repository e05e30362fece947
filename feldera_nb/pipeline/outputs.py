"""Where view changes go: materialized view contents and ``listen()`` handlers."""

from __future__ import annotations

import threading

import polars as pl

from feldera_nb.engine.trace import Trace
from feldera_nb.engine.zset import WEIGHT, expand


def named(delta: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """A c0..cN Z-set with the relation's column names and a ``weight`` column."""
    cols = [c for c in delta.columns if c != WEIGHT]
    return delta.rename({**dict(zip(cols, names, strict=True)), WEIGHT: "weight"})


class ViewStore:
    """The integrated contents of a materialized view."""

    def __init__(self, schema: dict[str, pl.DataType]) -> None:
        self.trace = Trace(schema, [])

    def apply(self, delta: pl.DataFrame) -> None:
        self.trace.insert(delta)

    def zset(self) -> pl.DataFrame:
        return self.trace.to_zset()

    def rows(self) -> pl.DataFrame:
        """The view as a bag of rows (duplicates repeated)."""
        return expand(self.zset())


class OutputHandler:
    """Collects a view's changes from the moment it was attached (Feldera's ``listen``).

    Each change is a row of the view plus a ``weight`` (+1 inserted, -1 deleted, or more for
    duplicates); ``step`` tells which step produced it.
    """

    def __init__(self, view: str, names: list[str], schema: dict[str, pl.DataType]) -> None:
        self.view = view
        self._names = names
        self._schema = {**{n: t for n, t in zip(names, schema.values(), strict=True)},
                        "weight": pl.Int64}
        self._chunks: list[pl.DataFrame] = []
        self._lock = threading.Lock()

    def _push(self, step: int, delta: pl.DataFrame) -> None:
        if delta.height == 0:
            return
        chunk = named(delta, self._names).with_columns(pl.lit(step, pl.Int64).alias("step"))
        with self._lock:
            self._chunks.append(chunk)

    def to_polars(self, clear_buffer: bool = True, *, with_step: bool = False) -> pl.DataFrame:
        """The changes collected so far (and, by default, forget them)."""
        with self._lock:
            chunks = self._chunks
            if clear_buffer:
                self._chunks = []
        if not chunks:
            df = pl.DataFrame(schema={**self._schema, "step": pl.Int64})
        else:
            df = pl.concat(chunks)
        return df if with_step else df.drop("step")

    def to_pandas(self, clear_buffer: bool = True):  # noqa: ANN201 - pandas is optional
        """Like :meth:`to_polars`, as a pandas DataFrame."""
        return self.to_polars(clear_buffer).to_pandas()

    def __repr__(self) -> str:
        return f"OutputHandler(view={self.view!r}, buffered={sum(c.height for c in self._chunks)})"
