"""Engines the runner drives: feldera_nb's ``Pipeline``, and DuckDB / SQLite stand-ins.

An engine prepares a chunk of query views (``prepare``: the reasons it refuses some of them;
the rest is compiled, so that opening sessions over it compiles nothing again), checks one
view on its own (``check``: ``None`` when it compiles, else the reason), and opens a session
holding the tables, the script's views and many query views at once.  A session takes
weighted input steps and reads a view's rows.

The stand-ins are not incremental: they integrate the input steps into bags (which checks that
a schedule never deletes a row that is not there) and reload the changed tables before a read.
SQLite is the reference itself, so it must pass every query; it proves the runner's parsing,
formatting, sorting, hashing and change schedules.  DuckDB shows a second engine's score.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from .program import TableDef
from .schedule import Step, integrate

WEIGHT = "slt_weight__"
_POLARS = {"INTEGER": pl.Int32, "DOUBLE": pl.Float64, "VARCHAR": pl.String}


@dataclass(frozen=True)
class Schema:
    """The tables and (plain) script views every query view of a segment may read."""

    tables: tuple[TableDef, ...]
    views: tuple[tuple[str, str], ...] = ()


class Session(Protocol):
    def step(self, step: Step) -> None: ...
    def read(self, view: str) -> list[tuple]: ...
    def close(self) -> None: ...


class Engine(Protocol):
    name: str

    def prepare(self, schema: Schema, views: Sequence[tuple[str, str]]) -> dict[str, str]: ...
    def check(self, schema: Schema, view: str, sql: str) -> str | None: ...
    def open(self, schema: Schema, views: Sequence[tuple[str, str]]) -> Session: ...


def engine_named(name: str) -> Engine:
    """The engine called ``feldera``, ``duckdb`` or ``sqlite``."""
    factories = {"feldera": FelderaEngine, "duckdb": DuckDBEngine, "sqlite": SQLiteEngine}
    if name not in factories:
        raise ValueError(f"unknown engine {name!r}; choose one of {sorted(factories)}")
    return factories[name]()


def step_frame(table: TableDef, changes: list[tuple[tuple, int]], *, weights: bool) -> pl.DataFrame:
    """A Polars frame of a step's rows for ``table`` (with a weight column if asked)."""
    schema: dict[str, Any] = {c.name: _POLARS[c.kind] for c in table.columns}
    rows = [row for row, _ in changes]
    if weights:
        schema[WEIGHT] = pl.Int64
        rows = [(*row, w) for row, w in changes]
    return pl.DataFrame(rows, schema=schema, orient="row")


# --- feldera_nb -------------------------------------------------------------------------------


class FelderaEngine:
    """feldera_nb's in-process ``Pipeline``; every query becomes a materialized view."""

    name = "feldera"

    def __init__(self) -> None:
        from feldera_nb import Pipeline
        from feldera_nb.errors import SqlError
        from feldera_nb.sql.compiler import compile_program

        self._pipeline = Pipeline
        self._sql_error = SqlError
        self._compile = compile_program

    @staticmethod
    def program(schema: Schema, views: Sequence[tuple[str, str]]) -> str:
        stmts = [t.ddl() for t in schema.tables]
        stmts += [f"CREATE VIEW {name} AS {sql}" for name, sql in schema.views]
        stmts += [f"CREATE MATERIALIZED VIEW {name} AS {sql}" for name, sql in views]
        return ";\n".join(stmts) + ";"

    def prepare(self, schema: Schema, views: Sequence[tuple[str, str]]) -> dict[str, str]:
        """Compile every view; the refused ones' reasons.  The program without them is left
        in the compiler's cache for :meth:`open`."""
        compiled = self._compile(self.program(schema, views), errors="collect", cache=True)
        reasons = {v: f"{type(e).__name__}: {e}" for v, e in compiled.errors.items()}
        if reasons:
            self._compile(self.program(schema, [v for v in views if v[0] not in reasons]),
                          cache=True)
        return reasons

    def check(self, schema: Schema, view: str, sql: str) -> str | None:
        try:
            self._pipeline(self.program(schema, [(view, sql)]), name="slt_check")
        except self._sql_error as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def open(self, schema: Schema, views: Sequence[tuple[str, str]]) -> Session:
        pipeline = self._pipeline(self.program(schema, views), name="slt")
        pipeline.start()
        return _FelderaSession(pipeline, {t.name: t for t in schema.tables})


class _FelderaSession:
    def __init__(self, pipeline: Any, tables: dict[str, TableDef]) -> None:
        self.p = pipeline
        self.tables = tables

    def step(self, step: Step) -> None:
        self.p.start_transaction()
        for table, changes in step.items():
            frame = step_frame(self.tables[table], changes, weights=True)
            self.p.input_polars(table, frame, weight_column=WEIGHT)
        self.p.commit_transaction()

    def read(self, view: str) -> list[tuple]:
        return self.p.query(f"SELECT * FROM {view}").rows()

    def close(self) -> None:
        self.p.stop(force=True)


# --- stand-ins: a database reloaded from integrated bags --------------------------------------


class _ReloadingSession:
    """Integrates steps into bags; reloads changed tables into ``db`` before a read."""

    def __init__(self, db: _Backend, schema: Schema, views: Sequence[tuple[str, str]]) -> None:
        self.db = db
        self.tables = {t.name: t for t in schema.tables}
        self.bags: dict[str, Counter] = {t: Counter() for t in self.tables}
        self.dirty: set[str] = set()
        db.define(schema, views)

    def step(self, step: Step) -> None:
        for table, changes in step.items():
            self.bags[table] = integrate(self.bags[table], [changes])
            self.dirty.add(table)

    def read(self, view: str) -> list[tuple]:
        for table in sorted(self.dirty):
            rows = list(self.bags[table].elements())
            self.db.load(self.tables[table], rows)
        self.dirty.clear()
        return self.db.rows(f"SELECT * FROM {view}")

    def close(self) -> None:
        self.db.close()


class _Backend(Protocol):
    def define(self, schema: Schema, views: Sequence[tuple[str, str]]) -> None: ...
    def load(self, table: TableDef, rows: list[tuple]) -> None: ...
    def rows(self, sql: str) -> list[tuple]: ...
    def close(self) -> None: ...


class _StandIn:
    """Shared ``check``/``open`` of the stand-ins; ``_backend`` makes a fresh database.

    Checks reuse one database per set of tables, defining script views as they are needed.
    """

    name = "stand-in"

    def __init__(self) -> None:
        self._tables: tuple[TableDef, ...] | None = None
        self._checker: Any = None
        self._defined: dict[str, str] = {}

    def _backend(self) -> _Backend:
        raise NotImplementedError

    def prepare(self, schema: Schema, views: Sequence[tuple[str, str]]) -> dict[str, str]:
        reasons = {name: self.check(schema, name, sql) for name, sql in views}
        return {name: why for name, why in reasons.items() if why is not None}

    def check(self, schema: Schema, view: str, sql: str) -> str | None:
        stale = any(self._defined.get(n, s) != s for n, s in schema.views)
        if self._checker is None or self._tables != schema.tables or stale:
            if self._checker is not None:
                self._checker.close()
            self._checker = self._backend()
            self._checker.define(Schema(schema.tables), [])
            self._tables, self._defined = schema.tables, {}
        for name, body in schema.views:
            if name not in self._defined:
                self._checker.define(Schema(()), [(name, body)])
                self._defined[name] = body
        return self._checker.compile(sql)  # type: ignore[no-any-return]

    def open(self, schema: Schema, views: Sequence[tuple[str, str]]) -> Session:
        return _ReloadingSession(self._backend(), schema, views)


class SQLiteEngine(_StandIn):
    """The reference engine (Python's sqlite3)."""

    name = "sqlite"

    def _backend(self) -> _Backend:
        return _SQLiteBackend()


class _SQLiteBackend:
    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:")

    def define(self, schema: Schema, views: Sequence[tuple[str, str]]) -> None:
        for t in schema.tables:
            self.db.execute(t.ddl())
        for name, sql in [*schema.views, *views]:
            self.db.execute(f"CREATE VIEW {name} AS {sql}")

    def compile(self, sql: str) -> str | None:
        try:
            self.db.execute(f"EXPLAIN {sql}")
        except sqlite3.Error as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def load(self, table: TableDef, rows: list[tuple]) -> None:
        self.db.execute(f"DELETE FROM {table.name}")
        marks = ", ".join("?" for _ in table.columns)
        self.db.executemany(f"INSERT INTO {table.name} VALUES ({marks})", rows)

    def rows(self, sql: str) -> list[tuple]:
        return self.db.execute(sql).fetchall()

    def close(self) -> None:
        self.db.close()


class DuckDBEngine(_StandIn):
    """DuckDB with integer division (SQLite divides integers); integers are 64-bit."""

    name = "duckdb"

    def _backend(self) -> _Backend:
        return _DuckDBBackend()


class _DuckDBBackend:
    _TYPES = {"INTEGER": "BIGINT", "DOUBLE": "DOUBLE", "VARCHAR": "VARCHAR"}

    def __init__(self) -> None:
        import duckdb

        self.duckdb = duckdb
        self.db = duckdb.connect(":memory:")
        self.db.execute("SET integer_division = true")
        self.db.execute("SET threads = 1")

    def define(self, schema: Schema, views: Sequence[tuple[str, str]]) -> None:
        for t in schema.tables:
            cols = ", ".join(f"{c.name} {self._TYPES[c.kind]}" for c in t.columns)
            self.db.execute(f"CREATE TABLE {t.name} ({cols})")
        for name, sql in [*schema.views, *views]:
            self.db.execute(f"CREATE VIEW {name} AS {sql}")

    def compile(self, sql: str) -> str | None:
        try:
            self.db.execute(f"CREATE OR REPLACE TEMP VIEW slt_check__ AS {sql}")
        except self.duckdb.Error as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def load(self, table: TableDef, rows: list[tuple]) -> None:
        frame = step_frame(table, [(r, 1) for r in rows], weights=False)  # noqa: F841
        self.db.execute(f"DELETE FROM {table.name}")
        self.db.execute(f"INSERT INTO {table.name} SELECT * FROM frame")

    def rows(self, sql: str) -> list[tuple]:
        return self.db.execute(sql).fetchall()

    def close(self) -> None:
        self.db.close()
