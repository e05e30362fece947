"""Damaged storage: each kind of damage is detected, reported, and recovery uses the newest
intact data (an older checkpoint plus a longer replay), never silently wrong state."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from feldera_nb import Pipeline, PipelineStatus
from feldera_nb.errors import JournalError, RecoveryError, RecoveryWarning

SQL = """
CREATE TABLE t (k INT NOT NULL PRIMARY KEY, v INT NOT NULL);
CREATE MATERIALIZED VIEW s AS SELECT k % 3 AS g, SUM(v) AS total, COUNT(*) AS n FROM t GROUP BY k % 3;
"""


def config(path: Path, model: str = "exactly_once") -> dict:
    return {"fault_tolerance": {"model": model, "checkpoint_interval_secs": None},
            "storage_config": {"path": str(path)}}


def expected(rows: dict[int, int]) -> list[dict]:
    out: dict[int, list[int]] = {}
    for k, v in rows.items():
        out.setdefault(k % 3, [0, 0])
        out[k % 3][0] += v
        out[k % 3][1] += 1
    return [{"g": g, "total": t, "n": n} for g, (t, n) in sorted(out.items())]


def view(p: Pipeline) -> list[dict]:
    return p.query("SELECT * FROM s ORDER BY g").to_dicts()


@pytest.fixture
def storage(tmp_path: Path) -> tuple[Path, dict[int, int], dict[int, int]]:
    """Two checkpoints, then journaled steps; returns (path, rows at step 2 ckpt, all rows)."""
    p = Pipeline(SQL, runtime_config=config(tmp_path))
    p.start()
    rows: dict[int, int] = {}
    for batch in range(6):
        data = [{"k": batch * 10 + i, "v": batch + i} for i in range(5)]
        p.input_json("t", data)
        rows.update({d["k"]: d["v"] for d in data})
        if batch in (1, 3):
            p.checkpoint(wait=True)
    p.stop(force=True)
    assert len(p.checkpoints()) == 2
    return tmp_path, rows, dict(rows)


def newest_checkpoint(path: Path) -> Path:
    catalog = json.loads((path / "checkpoints" / "catalog.json").read_text())
    return path / "checkpoints" / catalog["checkpoints"][-1]["uuid"]


def recover(path: Path) -> tuple[Pipeline, list[str]]:
    p = Pipeline(SQL, runtime_config=config(path))
    with pytest.warns(RecoveryWarning) as caught:
        p.start()
    return p, [str(w.message) for w in caught]


def test_flipped_byte_in_checkpoint_falls_back(storage) -> None:
    path, _, rows = storage
    f = sorted(newest_checkpoint(path).glob("*.parquet"))[0]
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    p, warnings = recover(path)
    assert any("checksum" in w for w in warnings), warnings
    assert p.recovery.skipped and "checksum" in p.recovery.skipped[0][1]
    assert p.recovery.checkpoint_seq == 1 and p.recovery.replayed_steps > 2
    assert view(p) == expected(rows)
    p.stop(force=True)


def test_deleted_state_file_falls_back(storage) -> None:
    path, _, rows = storage
    sorted(newest_checkpoint(path).glob("*.parquet"))[-1].unlink()
    p, warnings = recover(path)
    assert any("missing" in w for w in warnings), warnings
    assert p.recovery.checkpoint_seq == 1
    assert view(p) == expected(rows)
    p.stop(force=True)


def test_truncated_catalog_is_rebuilt(storage) -> None:
    path, _, rows = storage
    cat = path / "checkpoints" / "catalog.json"
    cat.write_bytes(cat.read_bytes()[: cat.stat().st_size // 2])
    p, warnings = recover(path)
    assert any("catalog" in w and "corrupt" in w for w in warnings), warnings
    assert p.recovery.checkpoint_seq == 2
    assert view(p) == expected(rows)
    p.stop(force=True)


def test_journal_cut_mid_record_loses_only_the_torn_step(storage) -> None:
    path, _, rows = storage
    seg = sorted((path / "journal").glob("*.wal"))[-1]
    with open(seg, "r+b") as f:
        f.truncate(seg.stat().st_size - 7)
    p, warnings = recover(path)
    assert any("torn tail" in w for w in warnings), warnings
    # The torn record is the last step's input (k 50..54): never acknowledged, so not applied.
    want = {k: v for k, v in rows.items() if k < 50}
    assert view(p) == expected(want)
    p.input_json("t", [{"k": 99, "v": 1}])  # the journal keeps working after the cut
    p.stop(force=True)
    p2 = Pipeline(SQL, runtime_config=config(path))
    p2.start()
    assert view(p2) == expected({**want, 99: 1})
    p2.stop(force=True)


def test_corrupt_journal_middle_fails_clearly(storage) -> None:
    path, _, _ = storage
    seg = sorted((path / "journal").glob("*.wal"))[-1]
    data = bytearray(seg.read_bytes())
    data[len(data) // 3] ^= 0xFF
    seg.write_bytes(bytes(data))
    p = Pipeline(SQL, runtime_config=config(path))
    with pytest.raises((JournalError, RecoveryError)) as e:
        p.start()
    assert str(seg) in str(e.value)
    assert p.status() is PipelineStatus.FAILED and p.error is e.value


def test_no_intact_checkpoint_and_truncated_journal(tmp_path: Path) -> None:
    p = Pipeline(SQL, runtime_config=config(tmp_path, "at_least_once"))
    p.start()
    p.input_json("t", [{"k": 1, "v": 1}])
    p.checkpoint(wait=True)
    p.stop(force=True)
    for f in newest_checkpoint(tmp_path).glob("*.parquet"):
        f.unlink()
    p = Pipeline(SQL, runtime_config=config(tmp_path, "at_least_once"))
    with pytest.warns(RecoveryWarning), pytest.raises(RecoveryError, match="damaged"):
        p.start()
    assert p.status() is PipelineStatus.FAILED
    p.clear_storage()
    p.start()
    assert view(p) == []
    p.stop(force=True)


def test_leftover_tmp_checkpoint_is_removed(storage) -> None:
    path, _, rows = storage
    tmp = path / "checkpoints" / (newest_checkpoint(path).name[:-4] + "0000.tmp")
    tmp.mkdir()
    (tmp / "junk.parquet").write_bytes(os.urandom(100))
    p, warnings = recover(path)
    assert any("incomplete checkpoint" in w for w in warnings)
    assert not tmp.exists()
    assert view(p) == expected(rows)
    p.stop(force=True)
