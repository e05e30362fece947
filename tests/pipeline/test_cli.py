"""``feldera-nb`` exit codes and messages, and ``inspect``."""

from __future__ import annotations

import json
from pathlib import Path

from feldera_nb.cli import main


def test_bad_sql_is_a_clean_error(tmp_path: Path, capsys) -> None:
    prog = tmp_path / "p.sql"
    prog.write_text("CREATE TABLE t (x INT);\nCREATE VIEW v AS SELEC x FROM t;")
    assert main(["run", str(prog)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_bad_config_is_a_clean_error(tmp_path: Path, capsys) -> None:
    prog = tmp_path / "p.sql"
    prog.write_text("CREATE TABLE t (x INT);")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"fault_tolerance": {"model": "twice"}}))
    assert main(["run", str(prog), "--config", str(cfg)]) == 2
    assert "fault_tolerance.model" in capsys.readouterr().err
    cfg.write_text("{not json")
    assert main(["run", str(prog), "--config", str(cfg)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "missing.sql")]) == 2


def test_run_then_inspect(tmp_path: Path, capsys) -> None:
    (tmp_path / "t.csv").write_text("".join(f"{i},{i}\n" for i in range(25)))
    conn = json.dumps([{"transport": {"name": "file_input",
                                      "config": {"path": str(tmp_path / "t.csv")}},
                        "format": {"name": "csv"}, "max_batch_size": 10}])
    out = json.dumps([{"transport": {"name": "file_output",
                                     "config": {"path": str(tmp_path / "v.csv")}},
                       "format": {"name": "csv"}}])
    prog = tmp_path / "p.sql"
    prog.write_text(f"CREATE TABLE t (k INT, v INT) WITH ('connectors' = '{conn}');\n"
                    f"CREATE VIEW v WITH ('connectors' = '{out}') AS "
                    "SELECT COUNT(*) AS n FROM t;")
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"fault_tolerance": {"model": "exactly_once"},
                               "storage_config": {"path": str(tmp_path / "st")}}))
    assert main(["run", str(prog), "--config", str(cfg), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "done step=4 status=Suspended" in text
    assert (tmp_path / "v.csv").read_text().splitlines()[-1] == "3,25,1"
    assert main(["inspect", str(tmp_path / "st")]) == 0
    text = capsys.readouterr().out
    assert "checkpoints: 1" in text and "seq=1 step=4" in text
    assert "journal: 0 segments" in text and "torn tail: no" in text  # all checkpointed
    # a second run resumes: nothing new to read, the same output
    before = (tmp_path / "v.csv").read_text()
    assert main(["run", str(prog), "--config", str(cfg), "--quiet"]) == 0
    assert (tmp_path / "v.csv").read_text() == before
