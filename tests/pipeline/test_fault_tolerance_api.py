"""The pipeline's fault-tolerance API: checkpoints and their statuses, stop/suspend, models,
the storage lock, events."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import feldera_nb.storage.checkpointer as checkpointer_mod
from feldera_nb import CheckpointStatus, Pipeline, PipelineStatus
from feldera_nb.enums import CheckpointStatusResult
from feldera_nb.errors import (
    CheckpointError, ConfigError, PipelineStateError, StorageLockedError,
)

SQL = """
CREATE TABLE t (k INT NOT NULL PRIMARY KEY, v INT NOT NULL);
CREATE MATERIALIZED VIEW s AS SELECT SUM(v) AS total FROM t;
"""


def config(path: Path, model: str | None = "exactly_once", interval: int | None = None) -> dict:
    ft = {"checkpoint_interval_secs": interval}
    if model:
        ft["model"] = model
    return {"fault_tolerance": ft, "storage_config": {"path": str(path)}}


def total(p: Pipeline) -> int | None:
    return p.query("SELECT * FROM s")["total"][0]


def test_checkpoint_status_and_metadata(tmp_path: Path) -> None:
    p = Pipeline(SQL, runtime_config=config(tmp_path))
    p.start()
    p.input_json("t", [{"k": 1, "v": 2}])
    seq = p.checkpoint()
    assert p.checkpoint_status(seq) in (CheckpointStatus.InProgress, CheckpointStatus.Success)
    assert p.checkpoint(wait=True, timeout_s=60) == seq + 1
    assert p.checkpoint_status(seq) == CheckpointStatus.Success
    assert p.checkpoint_status(seq).get_error() is None
    assert p.checkpoint_status(999) == CheckpointStatus.Unknown
    entries = p.checkpoints()
    assert [e.seq for e in entries] == [seq, seq + 1]
    e = entries[-1]
    assert e.step == 2 and e.records_processed == 1 and e.size_bytes > 0 and e.uuid
    assert e.duration_s is not None and e.created_at
    p.stop(force=True)
    assert [x.seq for x in p.checkpoints()] == [seq, seq + 1]  # readable when stopped


def test_failed_checkpoints_keep_their_own_errors(tmp_path: Path, monkeypatch) -> None:
    p = Pipeline(SQL, runtime_config=config(tmp_path))
    p.start()
    real = checkpointer_mod.write_checkpoint
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] in (1, 3):
            raise OSError(f"disk full #{calls['n']}")
        return real(*args, **kwargs)

    monkeypatch.setattr(checkpointer_mod, "write_checkpoint", flaky)
    a = p.checkpoint()
    b = p.checkpoint()
    with pytest.raises(CheckpointError, match="disk full #3"):
        p.checkpoint(wait=True)
    p.checkpoint(wait=True)
    sa, sb = p.checkpoint_status(a), p.checkpoint_status(b)
    assert sa == CheckpointStatus.Failure and "disk full #1" in sa.get_error()
    assert sb == CheckpointStatus.Success and sb.get_error() is None
    assert CheckpointStatus.Failure.get_error() is None  # the shared member carries nothing
    assert isinstance(sa, CheckpointStatusResult) and sa != sb
    p.stop(force=True)


def test_stop_suspends_and_resumes_exactly(tmp_path: Path) -> None:
    p = Pipeline(SQL, runtime_config=config(tmp_path, "at_least_once"))
    p.start()
    p.input_json("t", [{"k": 1, "v": 2}, {"k": 2, "v": 3}])
    p.stop(force=False)
    assert p.status() is PipelineStatus.SUSPENDED
    p.start()
    assert p.recovery.checkpoint_seq == 1 and total(p) == 5
    p.input_json("t", [{"k": 3, "v": 1}])
    p.stop(force=True)  # at_least_once without a journal: this input is gone
    assert p.status() is PipelineStatus.STOPPED
    p.start()
    assert total(p) == 5
    p.stop(force=True)


def test_exactly_once_force_stop_keeps_everything(tmp_path: Path) -> None:
    p = Pipeline(SQL, runtime_config=config(tmp_path))
    p.start()
    for i in range(5):
        p.input_json("t", [{"k": i, "v": i}])
    p.stop(force=True)
    p = Pipeline(SQL, runtime_config=config(tmp_path))
    statuses = []
    p.subscribe(lambda e: statuses.append(e.status) if e.kind == "status" else None)
    p.start()
    assert statuses == ["Initializing", "Replaying", "Running"]
    assert p.recovery.replayed_steps == 6 and total(p) == 10
    p.stop()
    del statuses[:]
    p.start()
    assert statuses == ["Initializing", "Bootstrapping", "Running"]
    assert p.recovery.replayed_steps == 0 and total(p) == 10
    p.stop(force=True)


def test_model_none_restarts_empty(tmp_path: Path) -> None:
    cfg = {"storage_config": {"path": str(tmp_path)}}
    p = Pipeline(SQL, runtime_config=cfg)
    p.start()
    p.input_json("t", [{"k": 1, "v": 2}])
    p.stop(force=True)
    p.start()
    assert total(p) is None
    p.stop(force=True)


def test_no_storage_checkpoint_is_a_clear_error() -> None:
    p = Pipeline(SQL)
    p.start()
    with pytest.raises(CheckpointError, match="storage_config.path"):
        p.checkpoint()
    p.stop()


def test_fault_tolerance_without_storage_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="storage_config.path"):
        Pipeline(SQL, runtime_config={"fault_tolerance": {"model": "exactly_once"}})


def test_two_pipelines_never_share_storage(tmp_path: Path) -> None:
    a = Pipeline(SQL, runtime_config=config(tmp_path))
    a.start()
    b = Pipeline(SQL, runtime_config=config(tmp_path))
    with pytest.raises(StorageLockedError):
        b.start()
    a.stop(force=True)
    b.start()
    b.stop(force=True)


def test_periodic_checkpoints(tmp_path: Path) -> None:
    p = Pipeline(SQL, runtime_config=config(tmp_path, interval=1))
    done = threading.Event()
    p.subscribe(lambda e: done.set() if e.kind == "checkpoint" and e.status == "Success"
                else None)
    p.start()
    p.input_json("t", [{"k": 1, "v": 2}])
    assert done.wait(60), "no periodic checkpoint within 60 s"
    assert p.checkpoints()[-1].step >= 1
    p.stop(force=True)


def test_clear_storage(tmp_path: Path) -> None:
    p = Pipeline(SQL, runtime_config=config(tmp_path))
    p.start()
    p.input_json("t", [{"k": 1, "v": 2}])
    with pytest.raises(PipelineStateError):
        p.clear_storage()  # only when stopped
    p.stop()
    p.clear_storage()
    assert p.checkpoints() == []
    p.start()
    assert total(p) is None
    p.stop(force=True)


def test_snapshot_and_stats(tmp_path: Path) -> None:
    p = Pipeline(SQL, runtime_config=config(tmp_path))
    p.start()
    p.input_json("t", [{"k": 1, "v": 2}])
    p.checkpoint(wait=True)
    snap = p.snapshot()
    assert snap.status == "Running" and snap.step == 2 and snap.last_checkpoint_seq == 1
    assert snap.model == "exactly_once" and not snap.checkpoint_in_progress
    stats = p.stats()
    assert stats["journal_seq"] == 1 and stats["last_checkpoint_step"] == 2
    p.stop(force=True)
