"""Sync over time, on every backend: the Syncer worker, standby, a killed push, a dead server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Backend, tree_bytes

from feldera_nb.enums import CheckpointStatus
from feldera_nb.errors import PipelineTimeoutError, SyncError
from feldera_nb.sync import (
    Owner,
    StandbyPuller,
    Syncer,
    open_bucket,
    push_checkpoint,
    remote_checkpoints,
    resolve_start,
)

Factory = Callable[..., Path]
REPO = Path(__file__).resolve().parents[2]


def _wait_until(predicate: Callable[[], object], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_syncer_pushes_in_background_and_reports(backend: Backend, prefix: str,
                                                 checkpoint_factory: Factory,
                                                 tmp_path: Path) -> None:
    newest: list[Path] = []
    cfg = backend.config(prefix, retention_min_count=1, retention_min_age=0)
    with Syncer(cfg, latest_checkpoint=lambda: newest[-1] if newest else None,
                owner=Owner.for_storage(tmp_path, "p")) as syncer:
        with pytest.raises(SyncError, match="no local checkpoint"):
            syncer.sync()
        with pytest.raises(SyncError, match="nothing|no checkpoint has been synced"):
            syncer.last_successful()
        assert syncer.status("nope") == (CheckpointStatus.Unknown, None)
        newest.append(checkpoint_factory())
        uuid = syncer.sync()
        assert uuid == newest[-1].name
        syncer.wait(uuid, timeout_s=30)
        assert syncer.status(uuid) == (CheckpointStatus.Success, None)
        assert syncer.last_successful() == uuid
        state = syncer.state()
        assert state.pushed == 1 and state.current_uuid is None
        assert state.progress.files_done == state.progress.files_total == 5
        newest.append(checkpoint_factory())
        second = syncer.sync("latest")
        syncer.wait(second, timeout_s=30)
        # retention (count 1, age 0) removed the first one after the second push
        assert [c.uuid for c in remote_checkpoints(syncer.bucket)] == [second]
        assert syncer.state().deleted == (uuid,)
        # a broken local checkpoint fails with a clear error, the worker lives on
        newest.append(checkpoint_factory())
        (newest[-1] / "meta.json").write_bytes(b"changed size!")
        third = syncer.sync()
        with pytest.raises(SyncError, match="meta.json has 13 bytes"):
            syncer.wait(third, timeout_s=30)
        status, error = syncer.status(third)
        assert status is CheckpointStatus.Failure and "meta.json" in (error or "")
        assert syncer.last_successful() == second


def test_syncer_periodic_push(backend: Backend, prefix: str, checkpoint_factory: Factory,
                              tmp_path: Path) -> None:
    newest = [checkpoint_factory()]
    cfg = backend.config(prefix, push_interval=1)
    with Syncer(cfg, latest_checkpoint=lambda: newest[-1]) as syncer:
        assert syncer.state().next_push_at is not None
        _wait_until(lambda: syncer.status(newest[0].name)[0] is CheckpointStatus.Success)
        newest.append(checkpoint_factory())
        _wait_until(lambda: syncer.status(newest[1].name)[0] is CheckpointStatus.Success)
        assert syncer.state().pushed == 2  # an unchanged checkpoint is not pushed again
        time.sleep(1.3)
        assert syncer.state().pushed == 2


def test_syncer_wait_times_out(backend: Backend, prefix: str, checkpoint_factory: Factory,
                               tmp_path: Path) -> None:
    local = checkpoint_factory()
    with Syncer(backend.config(prefix), latest_checkpoint=lambda: local) as syncer:
        uuid = syncer.sync()
        try:
            syncer.wait(uuid, timeout_s=0)
        except PipelineTimeoutError:
            pass  # still running: the timeout fired
        syncer.wait(uuid, timeout_s=30)


def test_standby_follows_successive_pushes(backend: Backend, prefix: str,
                                           checkpoint_factory: Factory, tmp_path: Path) -> None:
    bucket = open_bucket(backend.config(prefix))
    cfg = backend.config(prefix, start_from_checkpoint="latest", pull_interval=1)
    seen: list[str] = []
    puller = StandbyPuller(cfg, tmp_path / "standby", lambda uuid, path: seen.append(uuid))
    puller.start()
    try:
        _wait_until(lambda: puller.last_error is not None)  # empty bucket: "not found"
        assert "no checkpoint" in (puller.last_error or "")
        pushed = []
        for _ in range(3):
            local = checkpoint_factory()
            push_checkpoint(local, bucket)
            pushed.append(local)
            _wait_until(lambda: puller.held_uuid == local.name)
            assert puller.pulled_at is not None and puller.last_error is None
            assert tree_bytes(puller.held_path) == tree_bytes(local)
        assert seen == [p.name for p in pushed]
        final = checkpoint_factory()
        push_checkpoint(final, bucket)
        uuid, path = puller.final_pull()
        assert uuid == final.name and tree_bytes(path) == tree_bytes(final)
        assert not puller.running
    finally:
        puller.stop()


def test_standby_named_uuid_pulls_once(backend: Backend, prefix: str,
                                       checkpoint_factory: Factory, tmp_path: Path) -> None:
    bucket = open_bucket(backend.config(prefix))
    first = checkpoint_factory()
    push_checkpoint(first, bucket)
    push_checkpoint(checkpoint_factory(), bucket)
    cfg = backend.config(prefix, start_from_checkpoint=first.name, pull_interval=1)
    puller = StandbyPuller(cfg, tmp_path / "standby")
    assert puller.pull_once() is True
    assert puller.held_uuid == first.name
    assert puller.pull_once() is False
    assert puller.final_pull()[0] == first.name


def test_killed_push_process_leaves_no_checkpoint(backend: Backend, prefix: str,
                                                  checkpoint_factory: Factory,
                                                  tmp_path: Path) -> None:
    if backend.name == "memory":
        pytest.skip("memory:// lives in one process; the in-process interruption test "
                    "covers it")
    cfg = backend.config(prefix)
    local = checkpoint_factory()
    fields = {k: (v.get_secret_value() if hasattr(v, "get_secret_value") else v)
              for k, v in vars(cfg).items() if v is not None and not isinstance(v, tuple)}
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_push_child.py"))], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    try:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(json.dumps({"config": fields, "local_dir": str(local),
                                      "pause_after": 2}))
        child.stdin.close()
        assert child.stdout.readline().strip() == "PAUSED"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert len([n for n in backend.listing(prefix) if local.name in n]) == 2
    bucket = open_bucket(cfg)
    assert remote_checkpoints(bucket) == []
    assert resolve_start(False, cfg, tmp_path / "dest").source == "empty"
    assert push_checkpoint(local, bucket) == local.name
    assert [c.uuid for c in remote_checkpoints(bucket)] == [local.name]


def test_unreachable_server_fails_start_with_cause(backend: Backend, prefix: str,
                                                   tmp_path: Path) -> None:
    import _servers

    if backend.name == "memory":
        pytest.skip("memory:// cannot be unreachable")
    if backend.name == "file":
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("x")
        cfg = backend.config(prefix, bucket=f"file://{blocker}/ckpt")
    else:
        dead = f"http://127.0.0.1:{_servers.free_port()}"
        endpoint = dead if backend.name != "azure" else f"{dead}/devstoreaccount1"
        cfg = backend.config(prefix, endpoint=endpoint)
    t0 = time.monotonic()
    with pytest.raises(SyncError) as info:
        resolve_start(False, cfg, tmp_path / "dest")
    assert time.monotonic() - t0 < 10
    message = str(info.value)
    assert "refused" in message.lower() or "not a directory" in message.lower(), message
    assert not (tmp_path / "dest").exists()


def test_refused_credentials_fail_start(backend: Backend, prefix: str,
                                        checkpoint_factory: Factory, tmp_path: Path) -> None:
    if backend.bad is None:
        pytest.skip(f"{backend.name}:// takes no credentials")
    push_checkpoint(checkpoint_factory(), open_bucket(backend.config(prefix)))
    with pytest.raises(SyncError) as info:
        resolve_start(False, backend.config(prefix, **backend.bad), tmp_path)
    assert "CheckpointNotFound" not in type(info.value).__name__
