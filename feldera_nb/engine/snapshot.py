"""A circuit's state, frozen at a step boundary and turned into frames later.

:meth:`Circuit.state` compacts traces (it mutates them) and costs time proportional to the
state, so a checkpoint cannot call it while holding up ingestion.  :func:`freeze` instead takes
every stateful operator's cheap ``snapshot()`` token (traces are lists of immutable Polars
frames, so the token *is* a consistent copy) and returns a :class:`FrozenState`, whose
:meth:`~FrozenState.frames` builds the same ``<op id>/<part>`` frames as ``Circuit.state()`` on
any thread, without touching the live operators.  Frames are the runs concatenated, not
consolidated; ``restore`` consolidates them.

>>> import polars as pl
>>> from feldera_nb.sql.compiler import compile_program
>>> prog = compile_program("CREATE TABLE t (k INT NOT NULL, v INT);"
...                        "CREATE VIEW s AS SELECT k, SUM(v) AS total FROM t GROUP BY k;")
>>> _ = prog.circuit.step({"t": pl.DataFrame({"c0": [1, 1], "c1": [2, 3], "__w": [1, 1]},
...                                          schema_overrides={"c0": pl.Int32, "c1": pl.Int32})})
>>> frozen = freeze(prog.circuit)
>>> _ = prog.circuit.step({"t": pl.DataFrame({"c0": [2], "c1": [5], "__w": [1]},
...                                          schema_overrides={"c0": pl.Int32, "c1": pl.Int32})})
>>> frozen.frames()["table:t/rows"].height, frozen.steps
(2, 1)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from feldera_nb.engine.circuit import Circuit
from feldera_nb.engine.trace import HASH
from feldera_nb.engine.zset import WEIGHT, empty

__all__ = ["FrozenState", "freeze", "frozen_trace"]

Thunk = Callable[[], pl.DataFrame]


def _runs_frame(runs: list[pl.DataFrame], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if not runs:
        return empty(schema)
    parts = [r.drop(HASH) if HASH in r.columns else r for r in runs]
    frame = parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical_relaxed")
    return frame.with_columns(pl.col(WEIGHT).cast(pl.Int64))  # runs store narrowed weights


def frozen_trace(runs: list[pl.DataFrame], schema: dict[str, pl.DataType]) -> Thunk:
    """A thunk building a trace's checkpoint frame from a copy of its run list."""
    runs = list(runs)
    schema = dict(schema)
    return lambda: _runs_frame(runs, schema)


@dataclass
class FrozenState:
    """The state of a circuit at one step boundary, as thunks by ``<op id>/<part>``."""

    thunks: dict[str, Thunk]
    steps: int

    def names(self) -> list[str]:
        """The frame names :meth:`frames` will produce."""
        return [*self.thunks, "__circuit/steps"]

    def frames(self) -> dict[str, pl.DataFrame]:
        """Build every frame (call it off the step loop's thread)."""
        out = {name: thunk() for name, thunk in self.thunks.items()}
        out["__circuit/steps"] = pl.DataFrame({"steps": [self.steps]})
        return out


def _schemas(op: object) -> dict[str, dict[str, pl.DataType]] | None:
    traces = getattr(op, "_traces", None)
    if traces is None:
        return None
    return {name: dict(t.schema) for name, t in traces().items()}


def _flag_frame(name: str, value: object) -> Thunk:
    frame = pl.DataFrame({name: [value]})
    return lambda: frame


def _eager(frame: pl.DataFrame) -> Thunk:
    return lambda: frame


def freeze(circuit: Circuit) -> FrozenState:
    """Snapshot every stateful operator of ``circuit`` in O(operators + runs).

    Operators whose ``snapshot()`` token is the ``({trace: mark}, {flag: value})`` pair of
    trace-backed operators are frozen lazily; any other stateful operator (a constant's flag)
    hands over its ``state()`` frames right away, which is cheap for such small state.
    """
    thunks: dict[str, Thunk] = {}
    for op_id, op in circuit.ops.items():
        if not op.stateful:
            continue
        token = op.snapshot()
        schemas = _schemas(op)
        if (schemas is not None and isinstance(token, tuple) and len(token) == 2
                and isinstance(token[0], dict) and set(token[0]) == set(schemas)
                and isinstance(token[1], dict)):
            marks, flags = token
            for name, (run_list, *_) in marks.items():
                thunks[f"{op_id}/{name}"] = frozen_trace(run_list, schemas[name])
            for name, value in flags.items():
                thunks[f"{op_id}/{name}"] = _flag_frame(name, value)
            continue
        for part, frame in op.state().items():
            thunks[f"{op_id}/{part}"] = _eager(frame)
    return FrozenState(thunks, circuit.steps)


def consolidated(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with equal rows summed and zero weights dropped, sorted (for comparisons)."""
    cols = [c for c in frame.columns if c != WEIGHT]
    if WEIGHT not in frame.columns or not cols:
        return frame
    out = frame.group_by(cols).agg(pl.col(WEIGHT).sum()).filter(pl.col(WEIGHT) != 0)
    return out.sort(cols, nulls_last=True)
