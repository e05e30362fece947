"""Start resolution through a whole Pipeline: local, else bucket, else read_bucket, else empty.

Every scenario runs on S3 (moto), GCS (gcp-storage-emulator) and Azure (Azurite), and compares
the views after the start with the views the checkpoint was taken from.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

import pytest

from feldera_nb.enums import CheckpointStatus, PipelineStatus
from feldera_nb.errors import SyncError
from feldera_nb.sync import CheckpointNotFoundError

from .conftest import Events, rows, sync_config, views

EMPTY = {"totals": [], "big": []}


def fill(p: Any, start: int, n: int) -> dict[str, Any]:
    """Insert ``n`` rows, take a checkpoint, return the views."""
    p.input_json("t", rows(start, n))
    p.checkpoint(wait=True)
    return views(p)


def test_manual_sync_then_start_from_latest_and_from_uuid(backend: Any, prefix: str,
                                                          make_pipeline: Any) -> None:
    sync = sync_config(backend, prefix)
    p = make_pipeline("a", sync)
    events = Events(p)
    p.start()
    assert p.recovery.source == "empty"
    with pytest.raises(SyncError, match="no checkpoint has been synced"):
        p.last_successful_checkpoint_sync()
    with pytest.raises(SyncError, match="no local checkpoint"):
        p.sync_checkpoint()
    state1 = fill(p, 0, 20)
    first = p.sync_checkpoint(wait=True, timeout_s=60)
    assert first == p.checkpoints()[-1].uuid
    state2 = fill(p, 20, 25)
    second = p.sync_checkpoint()  # in the background; followed through events and status
    events.wait_for(lambda e: e.kind == "sync" and e.phase == "push"
                    and e.status == "Success" and e.checkpoint == second)
    assert p.sync_checkpoint_status(second) == CheckpointStatus.Success
    assert p.sync_checkpoint_status(uuidlib.UUID(first)) == CheckpointStatus.Success
    assert p.sync_checkpoint_status(str(uuidlib.uuid4())) == CheckpointStatus.Unknown
    assert p.last_successful_checkpoint_sync() == uuidlib.UUID(second)
    assert [c.uuid for c in p.remote_checkpoints()] == [second, first]
    # progress for widgets: bytes and files of the push, in events and the snapshot
    done = [e for e in events.sync("push", "InProgress") if e.checkpoint == second]
    assert done[-1].files_done == done[-1].files_total > 1
    assert done[-1].bytes_done == done[-1].bytes_total > 0
    snap = p.snapshot().sync
    assert snap is not None and snap.last_synced == second and snap.pushed == 2
    assert snap.phase is None and snap.next_push_at is None
    p.stop(force=True)
    p.clear_storage()

    latest = make_pipeline("a", sync)
    latest.start()
    assert views(latest) == state2
    assert latest.recovery.source == "bucket"
    assert str(latest.recovery).startswith(f"started from bucket checkpoint {second}")
    assert latest.snapshot().sync.start_checkpoint == second
    # a restored pipeline goes on: more input, then a crash and a local restart
    latest.input_json("t", rows(45, 5))
    state3 = views(latest)
    latest.stop(force=True)
    again = make_pipeline("a", sync)
    again.start()
    assert again.recovery.source == "local" and again.recovery.replayed_steps == 1
    assert views(again) == state3
    again.stop(force=True)
    again.clear_storage()

    by_uuid = make_pipeline("a", {**sync, "start_from_checkpoint": first})
    by_uuid.start()
    assert views(by_uuid) == state1
    assert by_uuid.recovery.checkpoint_uuid == first


def test_local_checkpoint_beats_remote(backend: Any, prefix: str, make_pipeline: Any) -> None:
    sync = sync_config(backend, prefix)
    p = make_pipeline("a", sync)
    p.start()
    fill(p, 0, 10)
    synced = p.sync_checkpoint(wait=True, timeout_s=60)
    local = fill(p, 10, 10)  # a newer checkpoint, never synced
    p.stop(force=True)
    q = make_pipeline("a", sync)
    events = Events(q)
    q.start()
    assert views(q) == local
    assert q.recovery.source == "local" and q.recovery.checkpoint_uuid != synced
    assert not events.sync("pull", "Success") or all(
        e.checkpoint is None for e in events.sync("pull", "Success"))


def test_missing_uuid_starts_empty_or_fails(backend: Any, prefix: str,
                                            make_pipeline: Any) -> None:
    sync = sync_config(backend, prefix)
    writer = make_pipeline("w", sync)
    writer.start()
    fill(writer, 0, 10)
    writer.sync_checkpoint(wait=True, timeout_s=60)  # the bucket is not empty: "latest" exists
    missing = str(uuidlib.uuid4())

    lenient = make_pipeline("a", {**sync, "start_from_checkpoint": missing})
    lenient.start()
    assert views(lenient) == EMPTY
    assert lenient.recovery.source == "empty"
    assert missing in lenient.recovery.source_detail
    assert "not found" in lenient.recovery.source_detail

    strict = make_pipeline("b", {**sync, "start_from_checkpoint": missing,
                                 "fail_if_no_checkpoint": True})
    with pytest.raises(CheckpointNotFoundError) as info:
        strict.start()
    assert missing in str(info.value) and "fail_if_no_checkpoint" in str(info.value)
    assert strict.status() is PipelineStatus.FAILED
    assert isinstance(strict.error, CheckpointNotFoundError)


def test_bucket_beats_read_bucket(backend: Any, prefix: str, make_pipeline: Any) -> None:
    old = make_pipeline("old", sync_config(backend, f"{prefix}/read"), name="old")
    old.start()
    fill(old, 0, 10)
    old.sync_checkpoint(wait=True, timeout_s=60)
    new = make_pipeline("new", sync_config(backend, f"{prefix}/main"))
    new.start()
    expected = fill(new, 100, 15)
    uuid = new.sync_checkpoint(wait=True, timeout_s=60)

    reader = make_pipeline("r", sync_config(backend, f"{prefix}/main",
                                            read_bucket=backend.url(f"{prefix}/read")))
    reader.start()
    assert views(reader) == expected
    assert reader.recovery.source == "bucket" and reader.recovery.checkpoint_uuid == uuid


def test_seed_from_read_bucket_writes_nothing_there(backend: Any, prefix: str,
                                                    make_pipeline: Any) -> None:
    seed = make_pipeline("seed", sync_config(backend, f"{prefix}/read"), name="seed")
    seed.start()
    expected = fill(seed, 0, 30)
    seeded = seed.sync_checkpoint(wait=True, timeout_s=60)
    seed.stop()
    before = backend.listing(f"{prefix}/read")
    assert before

    sync = sync_config(backend, f"{prefix}/main", read_bucket=backend.url(f"{prefix}/read"),
                       retention_min_count=1, retention_min_age=0, push_interval=1)
    p = make_pipeline("a", sync)
    events = Events(p)
    p.start()
    assert views(p) == expected
    assert p.recovery.source == "read_bucket" and p.recovery.checkpoint_uuid == seeded
    assert "bucket: no checkpoint" in p.recovery.source_detail
    fill(p, 30, 5)
    own = p.sync_checkpoint(wait=True, timeout_s=60)  # goes to bucket, with retention
    events.wait_for(lambda e: e.kind == "sync" and e.status == "Success"
                    and e.checkpoint == own)
    assert [c.uuid for c in p.remote_checkpoints()] == [own]
    p.stop()
    assert backend.listing(f"{prefix}/read") == before  # nothing written, nothing deleted


def test_retention_keeps_count_1_age_0(backend: Any, prefix: str, make_pipeline: Any) -> None:
    sync = sync_config(backend, prefix, retention_min_count=1, retention_min_age=0)
    p = make_pipeline("a", sync)
    p.start()
    pushed = []
    for i in range(3):
        state = fill(p, i * 10, 10)
        pushed.append(p.sync_checkpoint(wait=True, timeout_s=60))
    assert [c.uuid for c in p.remote_checkpoints()] == [pushed[-1]]
    names = backend.listing(prefix)
    assert not any(u in n for n in names for u in pushed[:-1])
    p.stop(force=True)
    p.clear_storage()
    q = make_pipeline("a", sync)
    q.start()
    assert views(q) == state and q.recovery.checkpoint_uuid == pushed[-1]


def test_periodic_push(backend: Any, prefix: str, make_pipeline: Any) -> None:
    sync = sync_config(backend, prefix, push_interval=1)
    p = make_pipeline("a", sync)
    events = Events(p)
    p.start()
    assert p.snapshot().sync.next_push_at is not None
    for start in (0, 20):
        state = fill(p, start, 20)
        uuid = p.checkpoints()[-1].uuid
        events.wait_for(lambda e: e.kind == "sync" and e.phase == "push"
                        and e.status == "Success" and e.checkpoint == uuid)
    assert p.snapshot().sync.pushed == 2
    assert p.last_successful_checkpoint_sync() == uuidlib.UUID(uuid)
    p.stop(force=True)
    p.clear_storage()
    q = make_pipeline("a", sync)
    q.start()
    assert views(q) == state and q.recovery.checkpoint_uuid == uuid
