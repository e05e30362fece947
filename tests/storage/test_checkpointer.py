"""Checkpointer: background writes, statuses, on_done, failures, draining."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feldera_nb.enums import CheckpointStatus
from feldera_nb.errors import CheckpointError, PipelineTimeoutError
from feldera_nb.storage.catalog import Catalog, CatalogEntry
from feldera_nb.storage.checkpoint import read_checkpoint
from feldera_nb.storage.checkpointer import Checkpointer

S = CheckpointStatus


def st(n: int) -> dict[str, pl.DataFrame]:
    return {"op.trace": pl.DataFrame({"k": list(range(n)), "weight": [1] * n})}


BAD = {"bad": pl.DataFrame({"o": pl.Series([object()], dtype=pl.Object)})}


class Done:
    def __init__(self) -> None:
        self.calls: list[tuple[int, CatalogEntry | None, BaseException | None]] = []

    def __call__(self, seq: int, entry: CatalogEntry | None, error: BaseException | None) -> None:
        self.calls.append((seq, entry, error))


def test_success_and_on_done(tmp_path: Path) -> None:
    done = Done()
    cat = Catalog(tmp_path)
    with Checkpointer(cat, on_done=done) as cp:
        cp.request(1, st(3), {"step": 9, "records_processed": 3, "program": "h"})
        assert cp.wait(1, timeout_s=60) == (S.Success, None)
        assert cp.status(1) == (S.Success, None) and cp.last_success == 1
    ((seq, entry, error),) = done.calls
    assert seq == 1 and error is None and entry == cat.latest()
    assert entry is not None and (entry.step, entry.records_processed) == (9, 3)
    state, manifest = read_checkpoint(cat.checkpoint_dir(entry.uuid))
    assert_frame_equal(state["op.trace"], st(3)["op.trace"])
    assert manifest.meta["program"] == "h"


def test_unknown_status(tmp_path: Path) -> None:
    with Checkpointer(Catalog(tmp_path)) as cp:
        assert cp.status(42) == (S.Unknown, None)
        assert cp.wait(42, timeout_s=0) == (S.Unknown, None)


def test_failure_status_and_next_checkpoint_still_works(tmp_path: Path) -> None:
    done = Done()
    cat = Catalog(tmp_path)
    with Checkpointer(cat, on_done=done) as cp:
        cp.request(1, BAD, {"step": 1})
        cp.request(2, st(2), {"step": 2})
        status, error = cp.wait(1, timeout_s=60)
        assert status is S.Failure and error
        assert cp.wait(2, timeout_s=60) == (S.Success, None)
        assert cp.last_failure is not None and cp.last_failure[0] == 1
    assert [(s, e is None, err is None) for s, e, err in done.calls] == [
        (1, True, False), (2, False, True)
    ]
    assert [e.seq for e in cat.entries()] == [2]
    assert not any(p.name.endswith(".tmp") for p in cat.directory.iterdir())


def test_request_returns_before_the_write(tmp_path: Path) -> None:
    release = threading.Event()
    entered = threading.Event()

    def blocking_done(seq: int, entry: object, error: object) -> None:
        entered.set()
        release.wait()

    with Checkpointer(Catalog(tmp_path), on_done=blocking_done) as cp:
        cp.request(1, st(1), {"step": 1})
        assert entered.wait(60)
        # on_done runs before the status is final: still InProgress, wait times out.
        assert cp.status(1) == (S.InProgress, None) and cp.busy
        with pytest.raises(PipelineTimeoutError):
            cp.wait(1, timeout_s=0.01)
        cp.request(2, st(2), {"step": 2})
        assert cp.status(2) == (S.InProgress, None)
        release.set()
        assert cp.wait(2, timeout_s=60) == (S.Success, None)
        assert cp.status(1) == (S.Success, None)


def test_retention_applied_and_on_done_sees_entries(tmp_path: Path) -> None:
    cat = Catalog(tmp_path, retain=2)
    with Checkpointer(cat) as cp:
        for seq in range(1, 6):
            cp.request(seq, st(seq), {"step": seq})
    assert [e.seq for e in cat.entries()] == [4, 5]
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


def test_close_drains_and_refuses_more(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cp = Checkpointer(cat)
    for seq in (1, 2, 3):
        cp.request(seq, st(seq), {"step": seq})
    cp.close()
    cp.close()
    assert [cp.status(s)[0] for s in (1, 2, 3)] == [S.Success] * 3
    with pytest.raises(CheckpointError, match="closed"):
        cp.request(4, st(4), {"step": 4})


def test_bad_requests(tmp_path: Path) -> None:
    with Checkpointer(Catalog(tmp_path)) as cp:
        with pytest.raises(ValueError, match="step"):
            cp.request(1, st(1), {})
        cp.request(1, st(1), {}, step=0)
        with pytest.raises(ValueError, match="already requested"):
            cp.request(1, st(1), {"step": 1})
        with pytest.raises(ValueError, match="timeout_s"):
            cp.wait(1, timeout_s=-1)


def test_old_statuses_become_unknown(tmp_path: Path) -> None:
    with Checkpointer(Catalog(tmp_path, retain=2), history=3) as cp:
        for seq in range(1, 6):
            cp.request(seq, st(1), {"step": seq})
        assert cp.wait(5, timeout_s=60)[0] is S.Success
        assert [cp.status(s)[0] for s in range(1, 6)] == [S.Unknown] * 2 + [S.Success] * 3


def test_on_done_error_does_not_stop_the_writer(tmp_path: Path) -> None:
    def broken(seq: int, entry: object, error: object) -> None:
        raise RuntimeError("callback bug")

    with Checkpointer(Catalog(tmp_path), on_done=broken) as cp:
        cp.request(1, st(1), {"step": 1})
        cp.request(2, st(1), {"step": 2})
        assert cp.wait(2, timeout_s=60) == (S.Success, None)


def test_progress_reports_bytes(tmp_path: Path) -> None:
    class P:
        size = 0
        value = 0

        def set_size(self, n: int) -> None:
            self.size = n

        def relative_update(self, n: int = 1) -> None:
            self.value += n

    p = P()
    cat = Catalog(tmp_path)
    with Checkpointer(cat, progress=p) as cp:
        cp.request(1, st(1000), {"step": 1})
    entry = cat.latest()
    assert entry is not None and p.value == p.size == entry.size_bytes > 0
