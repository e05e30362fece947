"""%load_ext feldera_nb, %%sql definitions and redefinitions, %sql queries, short errors."""

from __future__ import annotations

import pytest

pytest.importorskip("IPython")

from feldera_nb import magics  # noqa: E402
from feldera_nb.magics import SqlMagicError, parse_invocation  # noqa: E402


@pytest.fixture
def ip():
    from IPython.testing.globalipapp import get_ipython
    shell = get_ipython()
    shell.run_line_magic("load_ext", "feldera_nb")
    yield shell
    for p in magics.pipelines().values():
        p.stop(force=True)
    magics._REGISTRY.clear()
    magics._LAST.clear()
    for name in [k for k, v in shell.user_ns.items() if type(v).__name__ == "Pipeline"]:
        del shell.user_ns[name]


DDL = """CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, amount INT NOT NULL);
CREATE MATERIALIZED VIEW big AS SELECT id, amount FROM orders WHERE amount > 100;"""


def test_define_query_and_add_a_view(ip, capsys):
    ip.run_cell_magic("sql", "shop", DDL)
    assert capsys.readouterr().out == "pipeline 'shop': added table orders, view big (Running)\n"
    shop = ip.user_ns["shop"]
    shop.input_json("orders", [{"id": 1, "amount": 150}, {"id": 2, "amount": 50}])
    assert ip.run_line_magic("sql", "shop SELECT * FROM big").to_dicts() == [
        {"id": 1, "amount": 150}]
    alias = shop
    ip.user_ns["alias"] = alias
    ip.run_cell_magic("sql", "shop", "CREATE MATERIALIZED VIEW total AS "
                                     "SELECT SUM(amount) AS s FROM orders;")
    assert capsys.readouterr().out == ("pipeline 'shop': added view total (Running); "
                                       "2 table rows carried over\n")
    assert ip.user_ns["shop"] is not shop and ip.user_ns["alias"] is ip.user_ns["shop"]
    assert str(shop.status().value) == "Stopped"
    # no name: the last pipeline used
    assert ip.run_line_magic("sql", "SELECT s FROM total").to_dicts() == [{"s": 200}]


def test_rerunning_an_edited_cell_redefines_in_place(ip, capsys):
    ip.run_cell_magic("sql", "shop", DDL)
    ip.run_cell_magic("sql", "shop", DDL)
    assert capsys.readouterr().out.splitlines()[-1] == "pipeline 'shop': no changes (Running)"
    ip.run_cell_magic("sql", "shop", DDL.replace("> 100", "> 10"))
    assert "redefined view big" in capsys.readouterr().out
    assert "> 10" in ip.user_ns["shop"].sql and "> 100" not in ip.user_ns["shop"].sql


def test_replace_and_no_start(ip):
    ip.run_cell_magic("sql", "a --no-start", DDL)
    assert ip.user_ns["a"].status().value == "Stopped"
    ip.run_cell_magic("sql", "a --replace", "CREATE TABLE only_this (x INT);")
    assert list(ip.user_ns["a"].program.tables) == ["only_this"]


def test_query_into_a_variable(ip):
    ip.run_cell_magic("sql", "shop", DDL)
    ip.run_cell_magic("sql", "shop -o frame", "SELECT COUNT(*) AS n FROM orders")
    assert ip.user_ns["frame"].to_dicts() == [{"n": 0}]


def test_with_storage_the_new_view_is_bootstrapped(ip, tmp_path, capsys):
    ip.user_ns["cfg"] = {"fault_tolerance": {"checkpoint_interval_secs": None},
                         "storage_config": {"path": str(tmp_path)}}
    ip.run_cell_magic("sql", "d --config cfg", DDL)
    ip.user_ns["d"].input_json("orders", [{"id": 1, "amount": 500}])
    ip.run_cell_magic("sql", "d", "CREATE MATERIALIZED VIEW n AS SELECT COUNT(*) AS c "
                                  "FROM orders;")
    assert "bootstrapped from the final checkpoint" in capsys.readouterr().out
    assert ip.run_line_magic("sql", "d SELECT c FROM n").to_dicts() == [{"c": 1}]


def _error(ip, line, cell=None):
    with pytest.raises(SqlMagicError) as info:
        if cell is None:
            ip.run_line_magic("sql", line)
        else:
            ip.run_cell_magic("sql", line, cell)
    return info.value


def test_errors_are_short_with_cell_positions(ip):
    ip.run_cell_magic("sql", "shop", DDL)
    e = _error(ip, "shop", "CREATE VIEW ok AS SELECT id FROM orders;\n"
                           "CREATE VIEW bad AS\n  SELECT nope FROM orders;")
    assert e._render_traceback_() == [
        "SqlMagicError: SqlError (cell line 3, column 10): column 'nope' not found",
        "  3 |   SELECT nope FROM orders;",
        "    |          ^^^^",
    ]
    assert "ok" not in ip.user_ns["shop"].program.views  # nothing changed
    e = _error(ip, "shop SELECT amount +* FROM big")
    assert str(e).startswith("UnsupportedSqlError (query line 1, column 16)")
    assert "no pipeline 'nope'" in str(_error(ip, "nope SELECT 1"))
    assert "unknown option" in str(_error(ip, "shop --bogus SELECT 1"))


def test_error_display_in_the_shell_has_no_traceback(ip, capsys):
    ip.run_cell_magic("sql", "shop", DDL)
    ip.run_cell("%sql shop SELECT missing FROM big")
    out = capsys.readouterr()
    text = out.out + out.err
    assert "SqlMagicError: SqlError (query line 1, column 8)" in text
    assert "Traceback" not in text and "File " not in text


def test_parse_invocation_keeps_sql_text():
    inv = parse_invocation("shop -o df", "SELECT 'a  b' AS s")
    assert (inv.name, inv.out, inv.sql) == ("shop", "df", "SELECT 'a  b' AS s")
    assert parse_invocation("WITH x AS (SELECT 1) SELECT * FROM x").name is None
