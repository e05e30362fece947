"""Bootstrap policies with a changed program: ALLOW computes new and changed views from the
checkpointed tables, REJECT refuses naming the changes, AWAIT_APPROVAL waits with the diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feldera_nb import BootstrapPolicy, Pipeline, PipelineStatus
from feldera_nb.errors import BootstrapRejectedError, PipelineStateError


def conn(path: Path) -> str:
    return json.dumps([{"transport": {"name": "file_output", "config": {"path": str(path)}}}])


def v1(d: Path) -> str:
    return f"""
CREATE TABLE t (k INT NOT NULL PRIMARY KEY, v INT NOT NULL);
CREATE TABLE gone (x INT);
CREATE MATERIALIZED VIEW keep WITH ('connectors' = '{conn(d / "keep.jsonl")}') AS
    SELECT k, v FROM t WHERE v > 0;
CREATE MATERIALIZED VIEW agg AS SELECT SUM(v) AS s FROM t;
CREATE MATERIALIZED VIEW old AS SELECT COUNT(*) AS n FROM t;
"""


def v2(d: Path) -> str:
    return f"""
CREATE TABLE t (k INT NOT NULL PRIMARY KEY, v INT NOT NULL);
CREATE MATERIALIZED VIEW keep WITH ('connectors' = '{conn(d / "keep.jsonl")}') AS
    SELECT k, v FROM t WHERE v > 0;
CREATE MATERIALIZED VIEW agg WITH ('connectors' = '{conn(d / "agg.jsonl")}') AS
    SELECT SUM(v) * 10 AS s FROM t;
CREATE MATERIALIZED VIEW fresh AS SELECT k FROM t WHERE k > 1;
CREATE MATERIALIZED VIEW above AS SELECT s + 1 AS s1 FROM agg;
"""


def config(d: Path) -> dict:
    return {"fault_tolerance": {"checkpoint_interval_secs": None},
            "storage_config": {"path": str(d / "storage")}}


@pytest.fixture
def suspended(tmp_path: Path) -> Path:
    p = Pipeline(v1(tmp_path), runtime_config=config(tmp_path))
    p.start()
    p.input_json("t", [{"k": 1, "v": 5}, {"k": 2, "v": -3}, {"k": 3, "v": 7}])
    p.stop()
    assert p.status() is PipelineStatus.SUSPENDED
    return tmp_path


def check_v2(p: Pipeline) -> None:
    assert p.query("SELECT * FROM agg").to_dicts() == [{"s": 90}]
    assert p.query("SELECT * FROM fresh ORDER BY k").to_dicts() == [{"k": 2}, {"k": 3}]
    assert p.query("SELECT * FROM above").to_dicts() == [{"s1": 91}]
    assert p.query("SELECT * FROM keep ORDER BY k").to_dicts() == [{"k": 1, "v": 5},
                                                                     {"k": 3, "v": 7}]


def test_reject_names_the_changes(suspended: Path) -> None:
    p = Pipeline(v2(suspended), runtime_config=config(suspended))
    with pytest.raises(BootstrapRejectedError) as e:
        p.start(bootstrap_policy=BootstrapPolicy.REJECT)
    msg = str(e.value)
    for part in ("removed tables: gone", "added views: above, fresh", "modified views: agg",
                 "removed views: old"):
        assert part in msg, msg
    assert p.status() is PipelineStatus.STOPPED
    # nothing was touched: the old program still resumes
    old = Pipeline(v1(suspended), runtime_config=config(suspended))
    old.start(bootstrap_policy="reject")
    assert old.query("SELECT * FROM old").to_dicts() == [{"n": 3}]
    old.stop(force=True)


def test_await_approval_exposes_the_diff(suspended: Path) -> None:
    p = Pipeline(v2(suspended), runtime_config=config(suspended))
    seen = []
    p.subscribe(lambda e: seen.append(e.status) if e.kind == "status" else None)
    p.start(bootstrap_policy=BootstrapPolicy.AWAIT_APPROVAL)
    assert p.status() is PipelineStatus.AWAITINGAPPROVAL
    assert p.approval_diff.to_dict() == {
        "added_tables": [], "modified_tables": [], "removed_tables": ["gone"],
        "added_views": ["above", "fresh"], "modified_views": ["agg"], "removed_views": ["old"]}
    with pytest.raises(PipelineStateError):
        p.input_json("t", [{"k": 9, "v": 9}])
    p.approve()
    assert p.status() is PipelineStatus.RUNNING
    assert seen[-3:] == ["Bootstrapping", "Running"][-3:] or "Bootstrapping" in seen
    check_v2(p)
    p.stop(force=True)


def test_allow_computes_new_and_changed_views(suspended: Path) -> None:
    keep_before = (suspended / "keep.jsonl").read_text()
    p = Pipeline(v2(suspended), runtime_config=config(suspended))
    p.start(bootstrap_policy=BootstrapPolicy.ALLOW)
    assert p.recovery.bootstrapped_views == ("above", "agg", "fresh")
    check_v2(p)
    # unchanged views are not sent again; changed ones get their new contents
    assert (suspended / "keep.jsonl").read_text() == keep_before
    assert '"insert":{"s":90}' in (suspended / "agg.jsonl").read_text()
    p.input_json("t", [{"k": 4, "v": 1}])
    p.stop(force=True)
    # the bootstrap took a checkpoint of the new program: a restart replays, no bootstrap
    again = Pipeline(v2(suspended), runtime_config=config(suspended))
    again.start(bootstrap_policy=BootstrapPolicy.REJECT)
    assert again.recovery.bootstrapped_views == ()
    assert again.query("SELECT * FROM agg").to_dicts() == [{"s": 100}]
    again.stop(force=True)


def test_unchanged_program_needs_no_approval(suspended: Path) -> None:
    p = Pipeline(v1(suspended), runtime_config=config(suspended))
    p.start(bootstrap_policy=BootstrapPolicy.AWAIT_APPROVAL)
    assert p.status() is PipelineStatus.RUNNING
    assert p.approval_diff is None
    p.stop(force=True)
