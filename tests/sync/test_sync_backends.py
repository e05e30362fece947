"""Every sync scenario, on every backend (memory, file, S3/moto, GCS emulator, Azurite)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, UTC
from pathlib import Path

import pytest
from conftest import Backend, sample_files, tree_bytes

from feldera_nb.errors import SyncError
from feldera_nb.sync import (
    CheckpointNotFoundError,
    Owner,
    TransferProgress,
    apply_retention,
    open_bucket,
    pull_checkpoint,
    push_checkpoint,
    remote_checkpoints,
    resolve_start,
)

Factory = Callable[..., Path]


def test_push_pull_round_trip_is_byte_identical(backend: Backend, prefix: str,
                                                checkpoint_factory: Factory,
                                                tmp_path: Path) -> None:
    local = checkpoint_factory()
    bucket = open_bucket(backend.config(prefix))
    progress = TransferProgress()
    uuid = push_checkpoint(local, bucket, callback=progress)
    assert uuid == local.name
    snap = progress.snapshot()
    assert (snap.files_done, snap.files_total) == (5, 5)
    assert snap.bytes_done == snap.bytes_total == sum(len(b) for b in tree_bytes(local).values())

    [remote] = remote_checkpoints(bucket)
    assert (remote.uuid, remote.seq) == (uuid, 1)
    assert remote.size_bytes == sum(len(b) for b in sample_files(1).values())

    pulled_progress = TransferProgress()
    path = pull_checkpoint(bucket, uuid, tmp_path / "dest", callback=pulled_progress)
    assert path == tmp_path / "dest" / uuid
    assert tree_bytes(path) == tree_bytes(local)
    assert pulled_progress.snapshot().files_done == 4
    assert not (tmp_path / "dest" / f"{uuid}.tmp").exists()


def test_latest_and_by_uuid(backend: Backend, prefix: str, checkpoint_factory: Factory,
                            tmp_path: Path) -> None:
    bucket = open_bucket(backend.config(prefix))
    now = datetime.now(UTC)
    first = checkpoint_factory(created_at=now - timedelta(minutes=2))
    second = checkpoint_factory(created_at=now - timedelta(minutes=1))
    for local in (first, second):
        push_checkpoint(local, bucket)
    assert [c.uuid for c in remote_checkpoints(bucket)] == [second.name, first.name]
    latest = pull_checkpoint(bucket, "latest", tmp_path / "a")
    assert latest.name == second.name and tree_bytes(latest) == tree_bytes(second)
    older = pull_checkpoint(bucket, first.name, tmp_path / "b")
    assert tree_bytes(older) == tree_bytes(first)


def test_retention_count_one_age_zero_keeps_newest(backend: Backend, prefix: str,
                                                   checkpoint_factory: Factory) -> None:
    bucket = open_bucket(backend.config(prefix))
    now = datetime.now(UTC)
    locals_ = [checkpoint_factory(created_at=now - timedelta(hours=3 - i)) for i in range(3)]
    for local in locals_:
        push_checkpoint(local, bucket)
    assert apply_retention(bucket, min_count=10, min_age_days=30) == []
    assert apply_retention(bucket, min_count=1, min_age_days=30) == []  # all too young
    assert len(remote_checkpoints(bucket)) == 3
    deleted = apply_retention(bucket, min_count=1, min_age_days=0)
    assert deleted == [locals_[0].name, locals_[1].name]
    assert [c.uuid for c in remote_checkpoints(bucket)] == [locals_[2].name]
    listing = backend.listing(prefix)
    assert not any(name.startswith(f"/{locals_[0].name}/") for name in listing)


def test_bad_secret_fails_push_without_leaking(backend: Backend, prefix: str,
                                               checkpoint_factory: Factory) -> None:
    if backend.bad is None:
        pytest.skip(f"{backend.name}:// takes no credentials")
    good = backend.config(prefix)
    bad = backend.config(prefix, **backend.bad)
    with pytest.raises(SyncError) as info:
        push_checkpoint(checkpoint_factory(), open_bucket(bad))
    message = str(info.value)
    assert "push of checkpoint" in message or "cannot open" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    for cfg in (good, bad):
        for name in ("secret_key", "azure_account_key", "gcs_token", "access_key"):
            secret = getattr(cfg, name)
            if secret is not None and name != "access_key":
                value = secret.get_secret_value()
                assert value not in message
                for line in value.splitlines():
                    assert len(line) < 16 or line not in message
    assert remote_checkpoints(open_bucket(good)) == []


def test_missing_uuid(backend: Backend, prefix: str, checkpoint_factory: Factory,
                      tmp_path: Path) -> None:
    push_checkpoint(checkpoint_factory(), open_bucket(backend.config(prefix)))
    missing = "0190aaaa-0000-7000-8000-000000000000"
    cfg = backend.config(prefix, start_from_checkpoint=missing)
    decision = resolve_start(False, cfg, tmp_path)
    assert decision.source == "empty" and decision.uuid is None
    assert missing in decision.detail and backend.url(prefix).split("://")[1] in decision.detail
    strict = backend.config(prefix, start_from_checkpoint=missing, fail_if_no_checkpoint=True)
    with pytest.raises(CheckpointNotFoundError, match=missing):
        resolve_start(False, strict, tmp_path)


def test_local_beats_bucket(backend: Backend, prefix: str, checkpoint_factory: Factory,
                            tmp_path: Path) -> None:
    push_checkpoint(checkpoint_factory(), open_bucket(backend.config(prefix)))
    decision = resolve_start(True, backend.config(prefix, start_from_checkpoint="latest"),
                             tmp_path / "dest")
    assert decision.source == "local"
    assert not (tmp_path / "dest").exists()


def test_bucket_beats_read_bucket(backend: Backend, prefix: str, checkpoint_factory: Factory,
                                  tmp_path: Path) -> None:
    ro = f"{prefix}-ro"
    in_read = checkpoint_factory()
    push_checkpoint(in_read, open_bucket(backend.config(ro)))
    in_bucket = checkpoint_factory()
    push_checkpoint(in_bucket, open_bucket(backend.config(prefix)))
    cfg = backend.config(prefix, read_bucket=backend.url(ro))
    decision = resolve_start(False, cfg, tmp_path)
    assert (decision.source, decision.uuid) == ("bucket", in_bucket.name)
    assert tree_bytes(decision.path) == tree_bytes(in_bucket)


def test_seed_from_read_bucket_writes_nothing_there(backend: Backend, prefix: str,
                                                    checkpoint_factory: Factory,
                                                    tmp_path: Path) -> None:
    ro = f"{prefix}-ro"
    seed = checkpoint_factory()
    push_checkpoint(seed, open_bucket(backend.config(ro)), owner=Owner("seeder", "1"))
    before = backend.listing(ro)
    cfg = backend.config(prefix, read_bucket=backend.url(ro), start_from_checkpoint="latest")
    decision = resolve_start(False, cfg, tmp_path)
    assert (decision.source, decision.uuid) == ("read_bucket", seed.name)
    assert "no checkpoint in" in decision.detail  # says the bucket was empty
    assert tree_bytes(decision.path) == tree_bytes(seed)
    # The read bucket handle refuses writes, whatever asks.
    read = open_bucket(cfg, "read_bucket")
    with pytest.raises(SyncError, match="read-only"):
        push_checkpoint(checkpoint_factory(), read)
    with pytest.raises(SyncError, match="read-only"):
        apply_retention(read, min_count=0, min_age_days=0)
    with pytest.raises(SyncError, match="read-only"):
        read.fs.rm(read.root, recursive=True)
    with pytest.raises(SyncError, match="read-only"):
        read.fs.open(read.path("x"), "wb")
    assert backend.listing(ro) == before


def test_owner_marker_refuses_second_pipeline(backend: Backend, prefix: str,
                                              checkpoint_factory: Factory,
                                              tmp_path: Path) -> None:
    bucket = open_bucket(backend.config(prefix))
    first = Owner.for_storage(tmp_path / "storage-a", "orders")
    push_checkpoint(checkpoint_factory(), bucket, owner=first)
    again = Owner.for_storage(tmp_path / "storage-a", "orders")  # same pipeline restarted
    assert again == first
    push_checkpoint(checkpoint_factory(), bucket, owner=again)
    other = Owner.for_storage(tmp_path / "storage-b", "orders")  # same name, other storage
    with pytest.raises(SyncError, match=r"already owned by pipeline 'orders'") as info:
        push_checkpoint(checkpoint_factory(), bucket, owner=other)
    assert first.instance in str(info.value)
    with pytest.raises(SyncError, match="already owned"):
        push_checkpoint(checkpoint_factory(), bucket, owner=Owner.new("payments"))
    assert len(remote_checkpoints(bucket)) == 2
    push_checkpoint(checkpoint_factory(), bucket, owner=other, take_over=True)
    assert len(remote_checkpoints(bucket)) == 3


class _Interrupt(Exception):
    pass


class _StopAfter(TransferProgress):
    def __init__(self, files: int) -> None:
        super().__init__()
        self.limit = files

    def file_done(self) -> None:
        super().file_done()
        if self.files_done >= self.limit:
            raise _Interrupt()


def test_interrupted_push_leaves_no_checkpoint(backend: Backend, prefix: str,
                                               checkpoint_factory: Factory,
                                               tmp_path: Path) -> None:
    bucket = open_bucket(backend.config(prefix))
    local = checkpoint_factory()
    with pytest.raises(SyncError, match="_Interrupt"):
        push_checkpoint(local, bucket, callback=_StopAfter(2), max_concurrency=1)
    assert any(local.name in name for name in backend.listing(prefix))  # files went up
    assert remote_checkpoints(bucket) == []
    with pytest.raises(CheckpointNotFoundError):
        pull_checkpoint(bucket, local.name, tmp_path)
    assert push_checkpoint(local, bucket) == local.name
    assert tree_bytes(pull_checkpoint(bucket, "latest", tmp_path)) == tree_bytes(local)


def test_corrupt_download_names_the_file(backend: Backend, prefix: str,
                                         checkpoint_factory: Factory, tmp_path: Path) -> None:
    bucket = open_bucket(backend.config(prefix))
    local = checkpoint_factory()
    push_checkpoint(local, bucket)
    fs, rel = backend.raw_fs(), "state/op2/run-000.parquet"
    path = f"{backend.raw_path(prefix)}/{local.name}/{rel}"
    data = bytearray(fs.cat_file(path))
    data[7] ^= 0xFF
    fs.pipe_file(path, bytes(data))
    with pytest.raises(SyncError, match=f"corrupt: file {rel} fails its checksum"):
        pull_checkpoint(bucket, local.name, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []


def test_manifest_is_written_last(backend: Backend, prefix: str,
                                  checkpoint_factory: Factory) -> None:
    bucket = open_bucket(backend.config(prefix))
    local = checkpoint_factory()
    push_checkpoint(local, bucket)
    remote = backend.listing(prefix)
    assert remote[f"/{local.name}/CHECKPOINT.json"] == (local / "CHECKPOINT.json").read_bytes()
    owner_less = {k for k in remote if not k.startswith(f"/{local.name}/")}
    assert owner_less == set()
    assert json.loads(remote[f"/{local.name}/CHECKPOINT.json"])["uuid"] == local.name
