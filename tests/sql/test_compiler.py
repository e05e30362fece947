"""Compiler errors: every bad program is refused with what is wrong and where.

Oracle: the positions are counted by hand in the SQL text of each case.
"""

from __future__ import annotations

import pytest

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
