"""Compiler errors: every bad program is refused with what is wrong and where; compiled
circuits serve as templates (fresh copies, the compile cache).

Oracle: the positions are counted by hand in the SQL text of each case; a fresh or cached
circuit must answer exactly as the circuit it was copied from did on the same input.
"""

from __future__ import annotations

import polars as pl
import pytest

from feldera_nb.engine.zset import WEIGHT
from feldera_nb.errors import SqlError, SqlTypeError, UnsupportedSqlError
from feldera_nb.sql.compiler import compile_program

TABLES = """CREATE TABLE t (a INT NOT NULL, b VARCHAR, c DOUBLE);
CREATE TABLE u (a INT, d DATE);
"""


def compile_view(body: str) -> None:
    compile_program(TABLES + body)


def test_unknown_column_names_statement_line_and_column() -> None:
    with pytest.raises(SqlError) as err:
        compile_view("CREATE VIEW v AS\n  SELECT a,\n         nope FROM t;")
    e = err.value
    assert (e.statement, e.line, e.col) == (3, 5, 10)
    assert e.highlight == "nope"
    assert "column 'nope' not found" in str(e)
    assert str(e).startswith("statement 3, line 5, column 10")


def test_unknown_table() -> None:
    with pytest.raises(SqlError, match="table or view 'missing' not found") as err:
        compile_view("CREATE VIEW v AS SELECT * FROM missing;")
    assert err.value.line == 3


def test_syntax_error_has_position() -> None:
    with pytest.raises(SqlError) as err:
        compile_program("CREATE TABLE t (a INT);\nCREATE VIEW v AS SELECT a FROM t WHERE (a = ;")
    assert err.value.statement == 2 and err.value.line == 2


def test_ambiguous_column() -> None:
    with pytest.raises(SqlError, match="ambiguous"):
        compile_view("CREATE VIEW v AS SELECT a FROM t, u;")


def test_bare_column_not_grouped_is_refused() -> None:
    with pytest.raises(SqlError, match="must appear in GROUP BY"):
        compile_view("CREATE VIEW v AS SELECT a, b FROM t GROUP BY a;")


def test_type_error_on_unary_minus_of_text() -> None:
    with pytest.raises(SqlTypeError, match="cannot negate"):
        compile_view("CREATE VIEW v AS SELECT -b FROM t;")


@pytest.mark.parametrize(
    ("body", "construct"),
    [
        ("CREATE VIEW v AS SELECT SUM(a) OVER (ORDER BY c ROWS BETWEEN 1 PRECEDING AND "
         "CURRENT ROW) FROM t;", "window frame clause"),
        ("CREATE VIEW v AS SELECT a FROM t WHERE a > ALL (SELECT a FROM u);", "ALL"),
        ("CREATE VIEW v AS SELECT CURRENT_DATE FROM t;", "not supported"),
        ("CREATE INDEX i ON t (a);", "CREATE INDEX"),
    ],
)
def test_unsupported_constructs_say_so(body: str, construct: str) -> None:
    with pytest.raises(UnsupportedSqlError) as err:
        compile_view(body)
    assert str(err.value).split(": ", 1)[1].startswith("not supported:") or \
        "not supported" in str(err.value)
    assert construct.split()[0].lower() in str(err.value).lower()


def test_duplicate_definition() -> None:
    with pytest.raises(SqlError, match="defined twice"):
        compile_program("CREATE TABLE t (a INT); CREATE TABLE t (b INT);")


def test_view_columns_are_unique_and_typed() -> None:
    prog = compile_program(TABLES + "CREATE VIEW v AS SELECT a, a, a + 1, COUNT(*) OVER () AS n "
                                    "FROM t;")
    cols = prog.views["v"].columns
    assert [n for n, _ in cols] == ["a", "a_1", "expr$2", "n"]
    assert [str(t) for _, t in cols] == ["INTEGER NOT NULL", "INTEGER NOT NULL",
                                         "INTEGER NOT NULL", "BIGINT NOT NULL"]


def test_primary_key_column_must_exist() -> None:
    with pytest.raises(SqlError, match="primary key column 'z'"):
        compile_program("CREATE TABLE t (a INT, PRIMARY KEY (z));")


def test_operator_ids_are_stable_across_compilations() -> None:
    sql = TABLES + "CREATE VIEW v AS SELECT b, COUNT(*) FROM t JOIN u ON t.a = u.a GROUP BY b;"
    assert list(compile_program(sql).circuit.ops) == list(compile_program(sql).circuit.ops)


def test_collect_mode_compiles_the_good_views_and_locates_each_error() -> None:
    sql = TABLES + (
        "CREATE VIEW bad AS SELECT nope FROM t;\n"
        "CREATE VIEW good AS SELECT a FROM t;\n"
        "CREATE VIEW on_bad AS SELECT * FROM bad;\n"
        "CREATE VIEW lenient AS SELECT b, COUNT(*) FROM t;\n"
    )
    prog = compile_program(sql, errors="collect")
    assert list(prog.views) == ["good"]
    assert list(prog.errors) == ["bad", "on_bad", "lenient"]
    assert prog.errors["bad"].line == 3 and "nope" in str(prog.errors["bad"])
    assert prog.errors["on_bad"].line == 5
    assert prog.errors["lenient"].line == 6
    # Nothing of a failed view is left in the circuit.
    assert all(op.startswith(("input:", "table:", "good#")) for op in prog.circuit.ops)
    with pytest.raises(SqlError, match="nope"):
        compile_program(sql)


SUMS = TABLES + ("CREATE MATERIALIZED VIEW s AS SELECT b, SUM(t.a) AS n FROM t JOIN u "
                 "ON t.a = u.a GROUP BY b;")


def _rows() -> dict[str, pl.DataFrame]:
    """Two rows for each table, as input deltas (internal column names)."""
    t = pl.DataFrame({"c0": [1, 2], "c1": ["x", "y"], "c2": [0.5, 1.5], WEIGHT: [1, 1]},
                     schema={"c0": pl.Int32, "c1": pl.String, "c2": pl.Float64, WEIGHT: pl.Int64})
    u = pl.DataFrame({"c0": [1, 2], "c1": [None, None], WEIGHT: [1, 1]},
                     schema={"c0": pl.Int32, "c1": pl.Date, WEIGHT: pl.Int64})
    return {"t": t, "u": u}


def test_fresh_circuit_has_empty_state_and_the_same_behaviour() -> None:
    prog = compile_program(SUMS)
    first = prog.circuit.step(_rows())["s"]
    prog.circuit.step({})
    assert sum(prog.circuit.state_sizes().values()) > 0
    fresh = prog.fresh()
    assert fresh.circuit.steps == 0 and sum(fresh.circuit.state_sizes().values()) == 0
    assert fresh.circuit.step(_rows())["s"].sort("c0").equals(first.sort("c0"))
    # The template kept its own state.
    assert sum(prog.circuit.state_sizes().values()) > 0


def test_cached_compile_hands_out_independent_circuits() -> None:
    a = compile_program(SUMS, cache=True)
    b = compile_program(SUMS, cache=True)
    assert a.circuit is not b.circuit
    assert not set(map(id, a.circuit.ops.values())) & set(map(id, b.circuit.ops.values()))
    out_a = a.circuit.step(_rows())["s"]
    assert out_a.height == 2
    assert b.circuit.step({})["s"].height == 0  # b saw none of a's rows
    assert list(a.circuit.ops) == list(compile_program(SUMS).circuit.ops)


def test_cached_compile_of_a_bad_program_raises_every_time() -> None:
    sql = TABLES + "CREATE VIEW bad AS SELECT nope FROM t;"
    for _ in range(2):
        with pytest.raises(SqlError, match="nope"):
            compile_program(sql, cache=True)
    assert list(compile_program(sql, errors="collect", cache=True).errors) == ["bad"]
