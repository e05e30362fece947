"""The in-process pipeline: lifecycle, input, output, ad-hoc queries.

Named after Feldera's Python SDK, so a notebook pipeline reads like one on a Feldera cluster.

>>> p = Pipeline('''
...     CREATE TABLE t (k INT NOT NULL, v INT);
...     CREATE MATERIALIZED VIEW s AS SELECT k, SUM(v) AS total FROM t GROUP BY k;
... ''', name="doc")
>>> p.start()
>>> p.input_json("t", [{"k": 1, "v": 10}, {"k": 1, "v": 5}, {"k": 2, "v": 1}])
>>> p.query("SELECT * FROM s ORDER BY k").to_dicts()
[{'k': 1, 'total': 15}, {'k': 2, 'total': 1}]
>>> p.stop(force=True)
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import polars as pl
from sqlglot import exp

from feldera_nb.config import RuntimeConfig
from feldera_nb.connectors import build_connectors
from feldera_nb.connectors.rows import from_json, to_zset
from feldera_nb.engine.zset import expand, pick
from feldera_nb.enums import PipelineStatus
from feldera_nb.errors import (
    FelderaNbError, InputError, PipelineStateError, PipelineTimeoutError, UnknownTableError,
)
from feldera_nb.pipeline.events import Event, EventBus, PipelineSnapshot
from feldera_nb.pipeline.lifecycle import Lifecycle
from feldera_nb.pipeline.notebook import NotebookViews
from feldera_nb.pipeline.ordering import sort_like_query
from feldera_nb.pipeline.outputs import OutputHandler, ViewStore, named
from feldera_nb.pipeline.stats import PipelineStats
from feldera_nb.sql.program import parse_statement
from feldera_nb.sql.compiler import CompiledProgram, compile_program, compile_query

_SELECT_ALL = re.compile(r"\s*select\s+\*\s+from\s+([a-z_][a-z0-9_]*)\s*;?\s*$", re.IGNORECASE)

StepListener = Callable[[int, dict[str, pl.DataFrame]], None]


class StepError(FelderaNbError, RuntimeError):
    """A step failed while computing (for example an overflow in a view); the input that
    caused it was not applied and the pipeline keeps its state from before the step."""


class Pipeline(NotebookViews, Lifecycle):
    """A pipeline of SQL tables and views, run in this process.

    Parameters
    ----------
    sql
        ``CREATE TABLE`` and ``CREATE [MATERIALIZED] VIEW`` statements.
    name
        A name for display and for storage ownership.
    runtime_config
        Feldera's runtime config (dict or :class:`~feldera_nb.config.RuntimeConfig`):
        ``fault_tolerance``, ``storage`` and ``storage_config`` (see ``docs/fault-tolerance.md``).
    """

    StepError = StepError

    def __init__(self, sql: str, name: str = "pipeline", runtime_config: Any = None) -> None:
        self.name = name
        self.sql = sql
        self.runtime_config = RuntimeConfig.coerce(runtime_config)
        self.program: CompiledProgram = compile_program(sql, cache=True)
        self._lock = threading.RLock()
        self._status = PipelineStatus.STOPPED
        self._changed = threading.Condition(self._lock)
        self.error: BaseException | None = None
        self._tx: dict[str, list[pl.DataFrame]] | None = None
        self._handlers: dict[str, list[OutputHandler]] = {}
        self._stores: dict[str, ViewStore] = {}
        self._step_listeners: list[StepListener] = []
        self._stats = PipelineStats()
        self._events = EventBus()
        self._ft = None
        self._driver = None
        self._recovery = None
        self._pending = None
        self._pending_final = PipelineStatus.RUNNING
        self._start_hooks = []
        self._checkpoint_hooks = []
        self._csync = None
        self._reset_state()

    # -- lifecycle --------------------------------------------------------------------------
    def _reset_state(self) -> None:
        """A fresh circuit (and connectors) for the program; the old state is dropped."""
        if self.program.circuit.steps:
            self.program = self.program.fresh()
        self._inputs, self._outputs = build_connectors(self.program)
        self._stores = {name: ViewStore(v.rel.schema) for name, v in self.program.views.items()
                        if v.materialized}
        self._view_names = {name: [n for n, _ in v.columns]
                            for name, v in self.program.views.items()}
        self._stats = PipelineStats()

    def status(self) -> PipelineStatus:
        """The pipeline's :class:`~feldera_nb.enums.PipelineStatus`."""
        return self._status

    def _set_status(self, status: PipelineStatus) -> None:
        with self._changed:
            previous, self._status = self._status, status
            self._changed.notify_all()
        if previous is not status:
            self._events.emit(Event("status", status=status.value, previous=previous.value))

    def _require(self, *allowed: PipelineStatus, what: str) -> None:
        if self._status not in allowed:
            names = " or ".join(s.value for s in allowed)
            raise PipelineStateError(f"cannot {what} pipeline '{self.name}': it is "
                                     f"{self._status.value}, not {names}",
                                     current=self._status, expected=allowed)

    # -- the step loop ----------------------------------------------------------------------
    def _run_step(self, deltas: dict[str, pl.DataFrame], positions: dict[str, Any] | None = None,
                  *, journal: bool = True, quiet: set[str] | None = None,
                  tag: int | None = None) -> int:
        """Run one step over ``deltas`` (table -> Z-set); returns the step number.

        ``positions`` are the input connectors' positions after this step's input; with
        exactly_once the input and positions are journaled (and fsynced) first.  ``quiet``
        views update their materialized contents but tell no listener or output (bootstrap);
        ``tag`` overrides the step number the outputs carry.
        """
        circuit = self.program.circuit
        step = circuit.steps
        if journal and self._ft is not None:
            self._ft.journal_step(step, deltas, positions)
        self._crash("before_step", step)
        started = time.perf_counter()
        try:
            outputs = circuit.step(deltas)
        except FelderaNbError as e:
            self._commit_positions(positions)
            raise StepError(f"step {step} failed: {e}") from e
        except pl.exceptions.PolarsError as e:
            self._commit_positions(positions)
            raise StepError(f"step {step} failed while computing a view: "
                            f"{str(e).splitlines()[0]}") from e
        self._commit_positions(positions)
        tag = step if tag is None else tag
        records_in = sum(d.height for d in deltas.values())
        records_out = 0
        for view, delta in outputs.items():
            if delta.height == 0:
                continue
            records_out += delta.height
            store = self._stores.get(view)
            if store is not None:
                store.apply(delta)
            if quiet and view in quiet:
                continue
            for h in self._handlers.get(view, []):
                h._push(tag, delta)
            for out in self._outputs:
                if out.view == view:
                    out.write(tag, named(delta, self._view_names[view]))
        self._stats.record_step(records_in, records_out, time.perf_counter() - started)
        for listener in self._step_listeners:
            listener(tag, outputs)
        self._events.emit(Event("step", step=tag, records=records_in))
        self._crash("after_step", step)
        return step

    def _commit_positions(self, positions: dict[str, Any] | None) -> None:
        if positions:
            for conn in self._inputs:
                if conn.id in positions:
                    conn.seek(positions[conn.id])

    def _crash(self, point: str, step: int) -> None:
        """Test hook: the CLI's crash injection replaces this (see ``pipeline/_crash.py``)."""

    def _ingest(self, table: str, delta: pl.DataFrame) -> None:
        with self._lock:
            self._require(PipelineStatus.RUNNING, PipelineStatus.PAUSED, what="take input in")
            if self._tx is not None:
                self._tx.setdefault(table, []).append(delta)
                return
            self._run_step({table: delta})

    # -- transactions -----------------------------------------------------------------------
    def start_transaction(self) -> None:
        """Buffer the following ``input_*`` calls and process them as one step."""
        with self._lock:
            if self._tx is not None:
                raise PipelineStateError("a transaction is already open")
            self._tx = {}

    def commit_transaction(self) -> None:
        """Process everything given since :meth:`start_transaction` in one step."""
        with self._lock:
            if self._tx is None:
                raise PipelineStateError("no transaction is open")
            tx, self._tx = self._tx, None
            deltas = {t: pl.concat(parts) if len(parts) > 1 else parts[0] for t, parts in tx.items()}
            self._run_step(deltas)

    # -- input ------------------------------------------------------------------------------
    def _table(self, name: str):  # noqa: ANN202
        t = self.program.tables.get(name.lower())
        if t is None:
            known = ", ".join(self.program.tables) or "none"
            raise UnknownTableError(f"pipeline '{self.name}' has no table '{name}' "
                                    f"(tables: {known})")
        return t

    def input_polars(self, table_name: str, df: pl.DataFrame, *,
                     weight_column: str | None = None) -> None:
        """Insert the rows of ``df`` into a table (or apply weights from ``weight_column``:
        +1 insert, -1 delete, n for n copies).  Returns once every view is up to date."""
        t = self._table(table_name)
        if not isinstance(df, pl.DataFrame):
            raise InputError(f"input_polars takes a polars.DataFrame, not {type(df).__name__}")
        weights = None
        if weight_column is not None:
            if weight_column not in df.columns:
                raise InputError(f"weight column '{weight_column}' is not in the frame")
            weights = df[weight_column]
            if not weights.dtype.is_integer() or weights.null_count():
                raise InputError(f"weight column '{weight_column}' must hold non-null integers")
            df = df.drop(weight_column)
        self._ingest(t.name, to_zset(t, df, weights))

    def input_pandas(self, table_name: str, df: Any) -> None:
        """Insert the rows of a pandas DataFrame into a table."""
        self.input_polars(table_name, pl.from_pandas(df))

    def input_json(self, table_name: str, data: Any, update_format: str = "raw") -> None:
        """Insert (``raw``) or insert/delete (``insert_delete``) JSON rows."""
        t = self._table(table_name)
        self._ingest(t.name, from_json(t, data, update_format))

    # -- output -----------------------------------------------------------------------------
    def listen(self, view_name: str) -> OutputHandler:
        """Collect the view's changes from now on."""
        v = self.program.views.get(view_name.lower())
        if v is None:
            raise UnknownTableError(f"pipeline '{self.name}' has no view '{view_name}' "
                                    f"(views: {', '.join(self.program.views) or 'none'})")
        h = OutputHandler(v.name, [n for n, _ in v.columns], v.rel.schema)
        with self._lock:
            self._handlers.setdefault(v.name, []).append(h)
        return h

    def query(self, sql: str) -> pl.DataFrame:
        """Answer a SELECT over tables and materialized views, as a Polars frame."""
        whole = _SELECT_ALL.match(sql)
        if whole is not None and self._queryable(whole.group(1).lower()):
            name = whole.group(1).lower()
            with self._lock:
                rows = expand(self._contents(name))
            return pick(rows, rows.columns, self._columns_of(name))
        self._check_materialized(sql)
        with self._lock:
            relations: dict[str, Any] = {}
            contents: dict[str, pl.DataFrame] = {}
            for name, t in self.program.tables.items():
                relations[name] = t.columns
            for name, v in self.program.views.items():
                if v.materialized:
                    relations[name] = v.columns
            circuit, view, used = compile_query(sql, relations)
            for name in used:
                contents[name] = self._contents(name)
        out = circuit.step(contents)["__query"]
        names = [n for n, _ in view.columns]
        rows = expand(out)
        rows = rows.rename(dict(zip(rows.columns, names, strict=True)))
        return sort_like_query(rows, sql)

    def _queryable(self, name: str) -> bool:
        view = self.program.views.get(name)
        return name in self.program.tables or (view is not None and view.materialized)

    def _columns_of(self, name: str) -> list[str]:
        rel = self.program.tables.get(name) or self.program.views[name]
        return [n for n, _ in rel.columns]

    def _check_materialized(self, sql: str) -> None:
        lowered = sql.lower()
        for name, v in self.program.views.items():
            if not v.materialized and re.search(rf"\b{re.escape(name)}\b", lowered):
                used = {t.name.lower() for t in parse_statement(sql).find_all(exp.Table)}
                if name in used:
                    raise UnknownTableError(
                        f"view '{name}' is not materialized, so it cannot be queried; declare "
                        f"it CREATE MATERIALIZED VIEW, or listen('{name}') for its changes")

    def _contents(self, name: str) -> pl.DataFrame:
        if name in self.program.tables:
            op = self.program.circuit.ops[self.program.tables[name].rel.op]
            return op.trace.to_zset()  # type: ignore[attr-defined]
        return self._stores[name].zset()

    def wait_for_idle(self, timeout_s: float | None = None, poll_interval_s: float = 0.05) -> None:
        """Return once every input is processed: ``input_*`` calls already are; input
        connectors must have reached the end of their input (for now, when following a file).

        Raises :class:`~feldera_nb.errors.PipelineTimeoutError` after ``timeout_s`` seconds
        and :class:`~feldera_nb.errors.PipelineStateError` if the pipeline fails meanwhile.
        ``poll_interval_s`` bounds each wait (the driver also signals every step).
        """
        if timeout_s is not None and timeout_s < 0:
            raise ValueError("timeout_s must be >= 0")
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be > 0")
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._changed:
            while self._busy():
                if self._status is PipelineStatus.FAILED:
                    raise PipelineStateError(f"pipeline '{self.name}' failed: {self.error}",
                                             current=self._status)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise PipelineTimeoutError(f"pipeline '{self.name}' not idle after {timeout_s}s")
                self._changed.wait(poll_interval_s if left is None else min(left, poll_interval_s))

    def _busy(self) -> bool:
        if self._status is PipelineStatus.FAILED:
            return True
        return self._driver is not None and not self._driver.idle

    def stats(self) -> dict[str, Any]:
        """Steps, records in and out, rows held by each stateful operator, connector positions
        and checkpoint facts."""
        with self._lock:
            out: dict[str, Any] = self._stats.as_dict()
            out["step"] = self.program.circuit.steps
            out["state_rows"] = self.program.circuit.state_sizes()
            out["inputs"] = {c.id: c.position for c in self._inputs}
            out["outputs"] = {o.id: o.state() for o in self._outputs}
            out["input_errors"] = self._driver.errors if self._driver is not None else 0
            ft = self._ft
            out["last_checkpoint_step"] = ft.last_checkpoint_step if ft else None
            out["journal_seq"] = ft.jseq if ft else None
            return out

    def snapshot(self) -> PipelineSnapshot:
        """A consistent picture of the pipeline for reprs and widgets (no I/O)."""
        with self._lock:
            ft = self._ft
            last = ft.checkpointer.last_success if ft else None
            return PipelineSnapshot(
                name=self.name, status=self._status.value,
                model=self.runtime_config.ft_model.value, step=self.program.circuit.steps,
                records_processed=self._stats.records_in,
                storage_path=self.runtime_config.storage_path, last_checkpoint_seq=last,
                checkpoint_in_progress=bool(ft and ft.busy),
                inputs={c.id: c.position for c in self._inputs},
                outputs={o.id: o.state() for o in self._outputs}, recovery=self._recovery,
                error=None if self.error is None else str(self.error),
                sync=self._sync_snapshot())

    def __repr__(self) -> str:
        return (f"Pipeline(name={self.name!r}, status={self._status.value}, "
                f"tables={list(self.program.tables)}, views={list(self.program.views)})")
