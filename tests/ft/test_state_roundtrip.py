"""Every stateful operator's state round trip: state out as frames (the checkpoint's frozen
export and ``Circuit.state()``), into a fresh circuit, and the same outputs afterwards."""

from __future__ import annotations

import polars as pl
import pytest

from feldera_nb.connectors.rows import from_json
from feldera_nb.engine.snapshot import consolidated, freeze
from feldera_nb.sql.compiler import compile_program

TABLES = """
CREATE TABLE t (k INT NOT NULL PRIMARY KEY, g INT, v INT);
CREATE TABLE u (g INT, name VARCHAR);
"""
VIEWS = {
    "aggregate": "SELECT g, SUM(v) AS s, MAX(v) AS m, COUNT(*) AS n FROM t GROUP BY g",
    "global_aggregate": "SELECT COUNT(*) AS n, SUM(v) AS s FROM t",
    "distinct": "SELECT DISTINCT g FROM t",
    "join": "SELECT t.k, u.name FROM t JOIN u ON t.g = u.g",
    "outer_join": "SELECT t.k, u.name FROM t LEFT JOIN u ON t.g = u.g",
    "top_k": "SELECT k, v FROM t ORDER BY v DESC, k LIMIT 3",
    "window": "SELECT k, g, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v, k) AS rn FROM t",
    "subquery": "SELECT k FROM t WHERE g IN (SELECT g FROM u WHERE name <> 'x')",
    "constant": "SELECT 1 AS one, 'a' AS s",
    "multiset_table": "SELECT g, name FROM u",
}
STEPS = [
    {"t": [{"k": i, "g": i % 3, "v": i * 7 % 11} for i in range(8)],
     "u": [{"g": 0, "name": "a"}, {"g": 1, "name": "x"}, {"g": 1, "name": "x"}]},
    {"t": [{"k": 2, "g": 1, "v": 50}, {"k": 20, "g": 2, "v": 1}], "u": [{"g": 2, "name": "b"}]},
    {"t": [{"k": 3, "g": 0, "v": 0}]},
    {"t": [{"k": 30, "g": 4, "v": 9}, {"k": 4, "g": 2, "v": 99}], "u": [{"g": 4, "name": "c"}]},
    {"t": [{"k": 31, "g": 1, "v": 3}]},
]
DELETES = {"u": [{"delete": {"g": 1, "name": "x"}}], "t": [{"delete": {"k": 0}}]}


def deltas(prog, step: dict) -> dict[str, pl.DataFrame]:
    return {t: from_json(prog.tables[t], rows, "raw") for t, rows in step.items()}


def run_steps(prog, steps) -> list[dict[str, pl.DataFrame]]:
    return [{v: consolidated(d) for v, d in prog.circuit.step(ds).items()} for ds in steps]


@pytest.mark.parametrize("kind", sorted(VIEWS))
def test_state_round_trip(kind: str) -> None:
    sql = TABLES + f"CREATE VIEW v AS {VIEWS[kind]};"
    a = compile_program(sql)
    first = [{}, *[deltas(a, s) for s in STEPS[:3]]]
    run_steps(a, first)
    later = [deltas(a, s) for s in STEPS[3:]]
    later.append({t: from_json(a.tables[t], rows, "insert_delete") for t, rows in DELETES.items()})
    frozen = freeze(a.circuit).frames()
    eager = a.circuit.state()
    assert set(frozen) == set(eager)
    for name in eager:
        assert consolidated(frozen[name]).equals(consolidated(eager[name])), name
    for state in (frozen, eager):
        b = compile_program(sql)
        b.circuit.restore(state)
        assert b.circuit.steps == a.circuit.steps
        c = compile_program(sql)
        c.circuit.restore(state)
        want = run_steps(b, later)
        # a fresh circuit restored from the state behaves like the original from here on
        got = run_steps(c, later)
        for w, g in zip(want, got, strict=True):
            assert set(w) == set(g)
            for view in w:
                assert w[view].equals(g[view]), (kind, view)
    orig = run_steps(a, later)
    b = compile_program(sql)
    b.circuit.restore(frozen)
    for w, g in zip(orig, run_steps(b, later), strict=True):
        assert w["v"].equals(g["v"]), kind


def test_stateful_kinds_are_covered() -> None:
    kinds = set()
    for q in VIEWS.values():
        prog = compile_program(TABLES + f"CREATE VIEW v AS {q};")
        kinds |= {type(op).__name__ for op in prog.circuit.ops.values() if op.stateful}
    assert {"Table", "Join", "KeyedRecompute", "Constant"} <= kinds, kinds
