"""A circuit: operators in topological order, run one step at a time.

>>> import polars as pl
>>> from feldera_nb.engine.operators import Input, Filter
>>> from feldera_nb.engine.zset import WEIGHT
>>> c = Circuit()
>>> src = c.add(Input("t", [], {"x": pl.Int64}))
>>> big = c.add(Filter("v", [src.id], {"x": pl.Int64}, predicate=pl.col("x") > 1))
>>> c.inputs["t"], c.outputs["v"] = src.id, big.id
>>> c.step({"t": pl.DataFrame({"x": [1, 2], WEIGHT: [1, 1]})})["v"].to_dicts()
[{'x': 2, '__w': 1}]
"""

from __future__ import annotations

import polars as pl

from feldera_nb.engine.operators import Operator


class CircuitError(ValueError):
    """Wiring error: an operator refers to an input that is not in the circuit yet."""


class Circuit:
    """Operators by id, in the order they were added (which is a topological order)."""

    def __init__(self) -> None:
        self.ops: dict[str, Operator] = {}
        self.inputs: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self.steps = 0

    def add(self, op: Operator) -> Operator:
        """Add an operator whose inputs are already in the circuit."""
        if op.id in self.ops:
            raise CircuitError(f"duplicate operator id {op.id!r}")
        for i in op.inputs:
            if i not in self.ops:
                raise CircuitError(f"operator {op.id!r} reads {i!r}, which is not in the circuit")
        self.ops[op.id] = op
        return op

    def fresh(self) -> Circuit:
        """A copy with the same operators and wiring, every operator's state empty."""
        c = Circuit()
        c.ops = {op_id: op.fresh() for op_id, op in self.ops.items()}
        c.inputs, c.outputs = dict(self.inputs), dict(self.outputs)
        return c

    def step(self, deltas: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        """Run one step: ``deltas`` by input name in, output deltas by output name out.

        A step is atomic: if any operator raises, every operator's state is rolled back to
        where it was before the step, and the exception propagates.
        """
        tokens = {op_id: op.snapshot() for op_id, op in self.ops.items() if op.stateful}
        try:
            return self._step(deltas)
        except BaseException:
            for op_id, token in tokens.items():
                self.ops[op_id].rollback(token)
            raise

    def _step(self, deltas: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        values: dict[str, pl.DataFrame] = {}
        for name, op_id in self.inputs.items():
            d = deltas.get(name)
            values[op_id] = d if d is not None else self.ops[op_id].empty()
        first = self.steps == 0
        for op_id, op in self.ops.items():
            if op_id in values:
                values[op_id] = op.step([values[op_id]])
                continue
            ins = [values[i] for i in op.inputs]
            if all(d.height == 0 for d in ins) and not (first and op.fires_on_first_step):
                values[op_id] = op.empty()
            else:
                values[op_id] = op.step(ins)
        self.steps += 1
        return {name: values[op_id] for name, op_id in self.outputs.items()}

    # -- state ------------------------------------------------------------------------------
    def state(self) -> dict[str, pl.DataFrame]:
        """Every stateful operator's frames, named ``<op id>/<part>``."""
        out: dict[str, pl.DataFrame] = {}
        for op_id, op in self.ops.items():
            for part, frame in op.state().items():
                out[f"{op_id}/{part}"] = frame
        out["__circuit/steps"] = pl.DataFrame({"steps": [self.steps]})
        return out

    def restore(self, state: dict[str, pl.DataFrame], only: set[str] | None = None) -> None:
        """Rebuild operator state from :meth:`state` output (``only``: these op ids)."""
        grouped: dict[str, dict[str, pl.DataFrame]] = {}
        for name, frame in state.items():
            op_id, _, part = name.rpartition("/")
            grouped.setdefault(op_id, {})[part] = frame
        for op_id, op in self.ops.items():
            if op.stateful and (only is None or op_id in only):
                op.restore(grouped.get(op_id, {}))
        steps = grouped.get("__circuit", {}).get("steps")
        if steps is not None and steps.height:
            self.steps = int(steps["steps"][0])

    def state_sizes(self) -> dict[str, int]:
        """Rows held by each stateful operator."""
        return {op_id: op.state_rows() for op_id, op in self.ops.items() if op.stateful}
