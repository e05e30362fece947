"""Differential tests: every incrementally maintained view equals DuckDB recomputing it.

The oracle: after EVERY step of a seeded random change stream (inserts, deletes, updates,
upserts, NULLs, duplicate rows, several tables per step through transactions), the bag of rows
``Pipeline.query("SELECT * FROM v")`` returns must equal DuckDB's result for the same SELECT
over tables holding the same contents.  Views and tables are in ``differential_views.py``.

Environment (read here, in the tests, never by the library):

- ``FELDERA_NB_SEED``: base seed (default 2024); each test derives its own seed from it and the
  view name, and prints both in a failure message.
- ``FELDERA_NB_DIFF_BACKEND``: ``engine`` (default) runs feldera_nb's Pipeline; ``duckdb`` runs
  the DuckDB stand-in instead, which only checks the harness itself.
- ``FELDERA_NB_DIFF_STEPS``: steps per stream (default 20).
"""

from __future__ import annotations

import datetime
import importlib.util
import os
import pathlib
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import polars as pl
import pytest

from feldera_nb.testing import (
    ChangeStream,
    DuckDBOracle,
    Step,
    TableSchema,
    assert_view_equal,
    change_streams,
    derive_seed,
    integrate_changes,
    parse_tables,
)

# Loaded by path, so it works whether or not tests/ and tests/engine/ are packages.
_spec = importlib.util.spec_from_file_location(
    "_differential_views", pathlib.Path(__file__).with_name("differential_views.py")
)
assert _spec is not None and _spec.loader is not None
data = sys.modules.setdefault("_differential_views", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(data)

BASE_SEED = int(os.environ.get("FELDERA_NB_SEED", "2024"))
BACKEND = os.environ.get("FELDERA_NB_DIFF_BACKEND", "engine")
N_STEPS = int(os.environ.get("FELDERA_NB_DIFF_STEPS", "20"))
MAX_CHANGES = 8
INITIAL_ROWS = 15
TABLES = parse_tables(data.TABLES_SQL)


# ---------------------------------------------------------------------------------------------
# HARNESS SELF-CHECK ONLY: DuckDB standing in for the Pipeline.
#
# It applies the changes it is given to DuckDB tables by itself (rowid deletes for multisets,
# delete-then-insert for primary keys), independently of ChangeStream's own bookkeeping, and
# evaluates views with the oracle SQL.  Running the suite with FELDERA_NB_DIFF_BACKEND=duckdb
# therefore checks the stream, the input encodings, the oracle and the comparison, not the
# engine.  The test_harness_* tests below always use it.


class DuckDBStandIn:
    """A stand-in with the Pipeline methods the differential tests call (harness check only)."""

    def __init__(self, tables: Sequence[TableSchema], views: Mapping[str, str]) -> None:
        self.db = DuckDBOracle(tables, views)
        self.tables = {t.name: t for t in tables}
        self.views = list(views)
        self._listeners: dict[str, _StandInListener] = {}
        self._in_transaction = False

    def start(self) -> None:
        pass

    def stop(self, force: bool = False) -> None:
        self.db.close()

    def start_transaction(self) -> None:
        self._in_transaction = True

    def commit_transaction(self) -> None:
        self._in_transaction = False
        self._emit()

    def query(self, sql: str) -> pl.DataFrame:
        return self.db.query(sql)

    def listen(self, view: str) -> _StandInListener:
        self._listeners[view] = _StandInListener(self.query(f"SELECT * FROM {view}"))
        return self._listeners[view]

    def input_json(self, table: str, records: list[dict[str, Any]], update_format: str) -> None:
        assert update_format == "insert_delete"
        names = self.tables[table].column_names
        for rec in records:
            ((op, row),) = rec.items()
            self._apply(table, [row.get(c) for c in names], +1 if op == "insert" else -1)
        self._emit()

    def input_polars(self, table: str, df: pl.DataFrame, weight_column: str | None = None) -> None:
        names = self.tables[table].column_names
        for row in df.iter_rows(named=True):
            weight = row[weight_column] if weight_column else 1
            self._apply(table, [row[c] for c in names], weight)
        self._emit()

    def _apply(self, table: str, values: list[Any], weight: int) -> None:
        t = self.tables[table]
        con = self.db.con
        casts = {c.name: f"CAST(? AS {c.type.with_nullable(True)})" for c in t.columns}
        if t.primary_key:
            keys = [values[t.column_names.index(k)] for k in t.primary_key]
            cond = " AND ".join(f"{k} = {casts[k]}" for k in t.primary_key)
            con.execute(f"DELETE FROM {table} WHERE {cond}", keys)
            if weight > 0:
                con.execute(f"INSERT INTO {table} SELECT {', '.join(casts.values())}", values)
        elif weight > 0:
            for _ in range(weight):
                con.execute(f"INSERT INTO {table} SELECT {', '.join(casts.values())}", values)
        else:
            cond = " AND ".join(f"{c} IS NOT DISTINCT FROM {casts[c]}" for c in t.column_names)
            con.execute(
                f"DELETE FROM {table} WHERE rowid IN"
                f" (SELECT rowid FROM {table} WHERE {cond} LIMIT ?)",
                [*values, -weight],
            )

    def _emit(self) -> None:
        if self._in_transaction:
            return
        for view, listener in self._listeners.items():
            listener.advance(self.query(f"SELECT * FROM {view}"))


class _StandInListener:
    """Records a view's changes as the difference of consecutive snapshots."""

    def __init__(self, snapshot: pl.DataFrame) -> None:
        self._last = snapshot
        self._changes: list[pl.DataFrame] = []

    def advance(self, snapshot: pl.DataFrame) -> None:
        old = self._last.with_columns(pl.lit(-1, pl.Int64).alias("weight"))
        new = snapshot.with_columns(pl.lit(1, pl.Int64).alias("weight"))
        diff = integrate_changes(pl.concat([old, new]), as_bag=False)
        self._changes.append(diff)
        self._last = snapshot

    def to_polars(self) -> pl.DataFrame:
        return pl.concat(self._changes) if self._changes else self._last.clear()


# ---------------------------------------------------------------------------------------------
# Running a view against the oracle


def view_closure(names: Sequence[str]) -> list[data.View]:
    """The views named, after the views they read, each once."""
    out: dict[str, data.View] = {}
    for name in names:
        view = data.VIEWS_BY_NAME[name]
        for dep in view.deps:
            out.setdefault(dep, data.VIEWS_BY_NAME[dep])
        out.setdefault(name, view)
    return list(out.values())


def program(views: Sequence[data.View]) -> str:
    """The Feldera program: the tables and the views, each materialized."""
    body = "".join(f"CREATE MATERIALIZED VIEW {v.name} AS {v.sql};\n" for v in views)
    return data.TABLES_SQL + body


def make_pipeline(views: Sequence[data.View], name: str, backend: str = BACKEND) -> Any:
    """A started pipeline over the tables and ``views`` (the engine, or the stand-in)."""
    if backend == "duckdb":
        p = DuckDBStandIn(TABLES, {v.name: v.oracle or v.sql for v in views})
    else:
        try:
            from feldera_nb import Pipeline
        except ImportError:
            pytest.skip("feldera_nb.Pipeline is not there yet (FELDERA_NB_DIFF_BACKEND=duckdb)")
        p = Pipeline(program(views), name=name)
    return p


def make_oracle(views: Sequence[data.View]) -> DuckDBOracle:
    return DuckDBOracle(TABLES, {v.name: v.oracle or v.sql for v in views})


def make_stream(seed: int, domains: Mapping[str, Sequence[Any]] = {}) -> ChangeStream:
    return ChangeStream(
        TABLES,
        seed,
        domains={**data.DOMAINS, **domains},
        max_changes=MAX_CHANGES,
        initial_rows=INITIAL_ROWS,
        clear_fraction=data.CLEAR_FRACTION,
    )


def describe(step: Step) -> str:
    parts = []
    for table, changes in step.changes.items():
        ins = sum(1 for _, w in changes if w > 0)
        parts.append(f"{table} +{ins}/-{len(changes) - ins}")
    return f"{step.fmt}: " + ", ".join(parts)


def check_view(p: Any, oracle: DuckDBOracle, view: str, context: Mapping[str, Any]) -> None:
    actual = p.query(f"SELECT * FROM {view}")
    expected = oracle.query(f"SELECT * FROM {view}")
    assert_view_equal(actual, expected, context=context)


def run_differential(
    names: Sequence[str],
    seed: int,
    backend: str = BACKEND,
    domains: Mapping[str, Sequence[Any]] = {},
) -> None:
    """Drive one stream through a pipeline; after every step compare ``names[-1]``."""
    views = view_closure(names)
    target = names[-1]
    p = make_pipeline(views, f"diff_{target}", backend)
    oracle = make_oracle(views)
    stream = make_stream(seed, domains)
    ctx = {"view": target, "seed": seed, "FELDERA_NB_SEED": BASE_SEED, "backend": backend}
    try:
        p.start()
        check_view(p, oracle, target, {**ctx, "step": 0})
        for step in stream.steps(N_STEPS):
            step.feed(p)
            oracle.load(stream.all_contents())
            check_view(p, oracle, target, {**ctx, "step": step.index, "input": describe(step)})
    finally:
        p.stop(force=True)
        oracle.close()


@pytest.mark.parametrize("view", [v.name for v in data.VIEWS])
def test_view_matches_oracle(view: str) -> None:
    run_differential([view], derive_seed(BASE_SEED, view))


# Float edge values: -0.0 equals 0.0; NaN equals NaN and sorts above every other value
# (Feldera's and DuckDB's rule), so MAX over a NaN is NaN; inf - inf is NaN.
FLOAT_EDGES = (-0.0, 0.0, 1.5, -2.5, float("nan"), float("inf"), float("-inf"), 0.1)
FLOAT_EDGE_VIEWS = [
    "where_decimal", "agg_sum_min_max", "agg_two_keys", "agg_expr_key", "window_partition_aggs",
    "union_distinct", "dense_rank_topk", "agg_distinct_counts", "case_when",
]


@pytest.mark.parametrize("view", FLOAT_EDGE_VIEWS)
def test_view_matches_oracle_float_edges(view: str) -> None:
    domains = {"orders.price": FLOAT_EDGES, "events.score": FLOAT_EDGES}
    run_differential([view], derive_seed(BASE_SEED, "float:" + view), domains=domains)


def test_tables_match_stream() -> None:
    """Ingestion alone: each table's contents equal the stream's after every step."""
    seed = derive_seed(BASE_SEED, "tables")
    p = make_pipeline([], "diff_tables")
    stream = make_stream(seed)
    try:
        p.start()
        for step in stream.steps(N_STEPS):
            step.feed(p)
            for table in stream.tables:
                ctx = {"table": table, "seed": seed, "step": step.index, "input": describe(step)}
                assert_view_equal(
                    p.query(f"SELECT * FROM {table}"), stream.contents(table), context=ctx
                )
    finally:
        p.stop(force=True)


# ---------------------------------------------------------------------------------------------
# Batch equals singletons; empty tables; listeners

BATCH_VIEWS = [
    "join_full",
    "agg_sum_min_max",
    "agg_count",
    "distinct_proj",
    "except_set",
    "not_exists_correlated",
    "row_number_topk",
    "window_partition_aggs",
    "vv_join",
]


def _singletons(steps: Sequence[Step]) -> Iterator[Step]:
    for step in steps:
        for table, changes in step.changes.items():
            for change in changes:
                yield Step(step.index, {table: [change]}, step.tables, "polars")


@pytest.mark.parametrize("view", BATCH_VIEWS)
def test_batch_equals_singletons(view: str) -> None:
    """One step holding every change ends where one step per changed row ends."""
    seed = derive_seed(BASE_SEED, "batch:" + view)
    stream = make_stream(seed)
    steps = list(stream.steps(8))
    merged: dict[str, list[Any]] = {}
    for step in steps:
        for table, changes in step.changes.items():
            merged.setdefault(table, []).extend(changes)
    views = view_closure([view])
    oracle = make_oracle(views)
    oracle.load(stream.all_contents())
    batch, single = make_pipeline(views, "batch"), make_pipeline(views, "single")
    ctx = {"view": view, "seed": seed, "FELDERA_NB_SEED": BASE_SEED}
    try:
        batch.start()
        single.start()
        Step(1, merged, stream.tables, "polars").feed(batch)
        n = 0
        for n, one in enumerate(_singletons(steps), 1):
            one.feed(single)
        q = f"SELECT * FROM {view}"
        assert_view_equal(batch.query(q), single.query(q), context={**ctx, "singletons": n})
        assert_view_equal(batch.query(q), oracle.query(q), context={**ctx, "run": "batch"})
    finally:
        batch.stop(force=True)
        single.stop(force=True)
        oracle.close()


EMPTY_VIEWS = [
    data.View(
        "g_all",
        "SELECT COUNT(*) AS n, COUNT(cust) AS nc, SUM(qty) AS sq, SUM(amount) AS sa,"
        " MIN(note) AS mn, MAX(price) AS mx, AVG(price) AS ap FROM orders",
    ),
    data.View("g_grouped", "SELECT cust, COUNT(*) AS n FROM orders GROUP BY cust"),
]
EMPTY_ROW = {"n": 0, "nc": 0, "sq": None, "sa": None, "mn": None, "mx": None, "ap": None}


def test_global_aggregates_on_empty_table() -> None:
    """A global aggregate over an empty table is one row (COUNT 0, SUM NULL), before any input
    and again after every row was deleted; a grouped one is no rows."""
    p = make_pipeline(EMPTY_VIEWS, "empty")
    stream = make_stream(derive_seed(BASE_SEED, "empty"))
    schema = stream.tables["orders"].polars_schema
    row = (1, 2, 3, None, 1.5, "a", True, datetime.date(2024, 1, 1), None)
    rows = pl.DataFrame([row], schema=schema, orient="row")

    def expect_empty(when: str) -> None:
        got = p.query("SELECT * FROM g_all")
        assert got.height == 1, f"{when}: global aggregate has {got.height} rows, want 1"
        assert {k.lower(): v for k, v in got.row(0, named=True).items()} == EMPTY_ROW, when
        assert p.query("SELECT * FROM g_grouped").height == 0, when

    try:
        p.start()
        expect_empty("before any input")
        p.input_polars("orders", rows.with_columns(w=pl.lit(2)), weight_column="w")
        assert p.query("SELECT n, sq FROM g_all").rows() == [(2, 6)]
        p.input_polars("orders", rows.with_columns(w=pl.lit(-2)), weight_column="w")
        expect_empty("after deleting every row")
    finally:
        p.stop(force=True)


LISTEN_VIEWS = ["join_left", "agg_having", "union_distinct", "topk_global"]


@pytest.mark.parametrize("view", LISTEN_VIEWS)
def test_listener_integrates_to_view(view: str) -> None:
    """The changes a listener receives add up to the view's contents."""
    seed = derive_seed(BASE_SEED, "listen:" + view)
    p = make_pipeline(view_closure([view]), "listen")
    stream = make_stream(seed)
    try:
        out = p.listen(view)
        p.start()
        for step in stream.steps(10):
            step.feed(p)
        changes = out.to_polars()
        integrated = integrate_changes(changes)
        assert_view_equal(
            integrated, p.query(f"SELECT * FROM {view}"), context={"view": view, "seed": seed}
        )
    finally:
        p.stop(force=True)


# ---------------------------------------------------------------------------------------------
# The harness checks itself (always on the DuckDB stand-in)


@pytest.mark.parametrize("view", ["agg_avg", "join_full", "casts", "vv_join", "topk_nulls"])
def test_harness_standin_matches_oracle(view: str) -> None:
    run_differential([view], derive_seed(BASE_SEED, view), backend="duckdb")


def test_harness_stream_is_reproducible() -> None:
    a = [(s.fmt, dict(s.changes)) for s in make_stream(5).steps(10)]
    b = [(s.fmt, dict(s.changes)) for s in make_stream(5).steps(10)]
    c = [(s.fmt, dict(s.changes)) for s in make_stream(6).steps(10)]
    assert a == b != c


def test_harness_stream_covers_the_cases() -> None:
    """Over a few streams: NULLs, duplicates, deletes, upserts, emptied tables, both paths."""
    seen: set[str] = set()
    for seed in range(5):
        stream = make_stream(seed)
        for _ in range(N_STEPS):
            before = {t: stream.rows(t) for t in stream.tables}
            step = stream.next_step()
            seen.add(step.fmt)
            if len(step.changes) > 1:
                seen.add("transaction")
            if step.split and len(step) > 1:
                seen.add("split")
            for table, changes in step.changes.items():
                schema, rows = stream.tables[table], stream.rows(table)
                seen.update(
                    what
                    for what, yes in (
                        ("null", any(None in row for row in rows)),
                        ("duplicate", len(set(rows)) < len(rows)),
                        ("delete", any(w < 0 for _, w in changes)),
                        ("empty", not rows and before[table]),
                    )
                    if yes
                )
                if schema.primary_key:
                    had = {schema.key_of(r) for r in before[table]}
                    deleted = {schema.key_of(r) for r, w in changes if w < 0}
                    if any(schema.key_of(r) in had - deleted for r, w in changes if w > 0):
                        seen.add("upsert")
                    inserted = [schema.key_of(r) for r, w in changes if w > 0]
                    if len(set(inserted)) < len(inserted):
                        seen.add("churn")
                if any(abs(w) > 1 for _, w in changes):
                    seen.add("weight n")
    assert seen >= {
        "json", "polars", "transaction", "split", "null", "duplicate", "delete", "empty",
        "upsert", "churn", "weight n",
    }


def test_harness_stream_matches_standin_state() -> None:
    """The stream's bookkeeping equals a DuckDB mirror fed through both input paths."""
    from hypothesis import given, settings

    @settings(max_examples=8, deadline=None, database=None)
    @given(change_streams(TABLES, domains=data.DOMAINS, clear_fraction=data.CLEAR_FRACTION))
    def check(stream: ChangeStream) -> None:
        p = DuckDBStandIn(TABLES, {})
        try:
            for step in stream.steps(6):
                step.feed(p)
                for table in stream.tables:
                    assert_view_equal(
                        p.query(f"SELECT * FROM {table}"),
                        stream.contents(table),
                        context={"table": table, "seed": stream.seed, "step": step.index},
                    )
        finally:
            p.stop()

    check()


def test_harness_assert_view_equal_catches_differences() -> None:
    import decimal

    base = pl.DataFrame(
        {
            "k": [1, 1, None, 3],
            "d": [decimal.Decimal("1.10"), None, decimal.Decimal("2.00"), None],
            "f": [0.1 + 0.2, None, 1e12, float("nan")],
            "s": ["a", "a", None, "b"],
        },
        schema_overrides={"d": pl.Decimal(10, 2)},
    )
    same = base.reverse().with_columns(
        pl.col("k").cast(pl.Int128), pl.col("d").cast(pl.Decimal(38, 4)), pl.col("f") * (1 + 1e-12)
    )
    assert_view_equal(base, same)
    mutants = {
        "row dropped": base.head(3),
        "row duplicated": pl.concat([base, base.head(1)]),
        "float moved": base.with_columns(pl.col("f") * 1.001),
        "decimal cent": base.with_columns(pl.col("d") + decimal.Decimal("0.01")),
        "null filled": base.with_columns(pl.col("s").fill_null("")),
        "int changed": base.with_columns(pl.col("k").fill_null(0)),
        "column renamed": base.rename({"s": "t"}),
    }
    for what, mutant in mutants.items():
        with pytest.raises(AssertionError, match=r"seed=7"):
            assert_view_equal(mutant, base, context={"seed": 7})
            pytest.fail(f"assert_view_equal missed: {what}")
