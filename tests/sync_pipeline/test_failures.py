"""Sync failures through a whole Pipeline: refused credentials, a second pipeline on a bucket,
an emulator killed in the middle of an upload.  On S3 (moto), GCS (emulator), Azure (Azurite).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from feldera_nb.enums import CheckpointStatus, PipelineStatus
from feldera_nb.errors import SyncError

from ._killable import KillableServer
from .conftest import Events, rows, sync_config, views


def fill(p: Any, start: int, n: int) -> dict[str, Any]:
    p.input_json("t", rows(start, n))
    p.checkpoint(wait=True)
    return views(p)


def secret_strings(*option_sets: dict[str, Any]) -> list[str]:
    """Every secret value in the given SyncConfig fields, and the secret parts of a JSON key."""
    out = []
    for options in option_sets:
        for value in options.values():
            getter = getattr(value, "get_secret_value", None)
            if getter is None:
                continue
            secret = getter()
            out.append(secret)
            if secret.lstrip().startswith("{"):
                doc = json.loads(secret)
                out += [doc["private_key_id"],
                        *[ln for ln in doc["private_key"].splitlines() if "PRIVATE" not in ln]]
    return [s for s in out if len(s) >= 8]


def files_text(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace")
                     for p in sorted(root.rglob("*")) if p.is_file())


def test_bad_secret_fails_push_and_start_without_showing_it(
        backend: Any, prefix: str, make_pipeline: Any, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    secrets = secret_strings(backend.options, backend.bad)
    assert secrets or backend.name == "gcs"
    good = sync_config(backend, prefix)
    bad = sync_config(backend, prefix, **backend.bad)
    writer = make_pipeline("a", good)
    writer.start()
    state = fill(writer, 0, 20)
    writer.sync_checkpoint(wait=True, timeout_s=60)
    writer.stop()

    # the push: the local checkpoint wins at start (no request), the push is refused
    p = make_pipeline("a", bad)
    events = Events(p)
    p.start()
    assert p.recovery.source == "local" and views(p) == state
    p.checkpoint(wait=True)
    uuid = p.checkpoints()[-1].uuid
    with pytest.raises(SyncError) as push_error:
        p.sync_checkpoint(wait=True, timeout_s=60)
    status = p.sync_checkpoint_status(uuid)
    assert status == CheckpointStatus.Failure and status.get_error()
    assert backend.base in str(push_error.value)
    shown = [str(push_error.value), repr(push_error.value), status.get_error(), repr(status),
             repr(p), str(p.snapshot()), repr(p.snapshot()), repr(p.runtime_config),
             *[str(e) for e in events.seen]]
    p.stop()

    # the start: empty storage, the bucket refuses the credentials: no fallthrough to empty
    q = make_pipeline("b", bad)
    with pytest.raises(SyncError) as start_error:
        q.start()
    assert q.status() is PipelineStatus.FAILED
    assert "CheckpointNotFound" not in type(start_error.value).__name__
    assert backend.base in str(start_error.value)
    shown += [str(start_error.value), repr(start_error.value), str(q.error), str(q.snapshot())]

    stored = files_text(tmp_path) + "".join(
        v.decode("utf-8", "replace") for v in backend.listing(prefix).values())
    assert "sync" in files_text(tmp_path / "a" / "checkpoints")  # the config is stored...
    for secret in secrets:  # ...without its secrets, and no message shows one
        for text in (*shown, caplog.text, stored):
            assert secret not in text


def test_second_pipeline_on_a_bucket_is_refused(backend: Any, prefix: str,
                                                make_pipeline: Any) -> None:
    sync = sync_config(backend, prefix)
    first = make_pipeline("a", sync, name="orders")
    first.start()
    state = fill(first, 0, 10)
    one = first.sync_checkpoint(wait=True, timeout_s=60)

    second = make_pipeline("b", sync, name="orders-copy")
    second.start()  # reading another pipeline's bucket is fine
    assert views(second) == state and second.recovery.source == "bucket"
    fill(second, 10, 5)
    with pytest.raises(SyncError, match="already owned by pipeline 'orders'") as info:
        second.sync_checkpoint(wait=True, timeout_s=60)
    assert "refusing to write" in str(info.value)
    same_name = make_pipeline("c", sync, name="orders")  # another storage: another instance
    same_name.start()
    fill(same_name, 20, 5)
    with pytest.raises(SyncError, match="already owned by"):
        same_name.sync_checkpoint(wait=True, timeout_s=60)

    fill(first, 30, 5)
    two = first.sync_checkpoint(wait=True, timeout_s=60)  # the owner goes on
    assert [c.uuid for c in first.remote_checkpoints()] == [two, one]


def test_server_killed_mid_upload_leaves_no_checkpoint(backend: Any, prefix: str,
                                                       make_pipeline: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    server = KillableServer(backend.name, tmp_path / "server", monkeypatch)
    server.start()
    try:
        sync = {**server.sync_options(prefix), "transfers": 1}  # one file at a time
        p = make_pipeline("a", sync)
        events = Events(p)
        p.start()
        state = fill(p, 0, 30)
        uuid = p.checkpoints()[-1].uuid
        paused, release = threading.Event(), threading.Event()

        def hold_after_two_files(e: Any) -> None:
            if (e.kind == "sync" and e.phase == "push" and e.files_done == 2
                    and not paused.is_set()):
                paused.set()
                release.wait(60)  # the push's own thread waits here

        p.subscribe(hold_after_two_files)
        assert p.sync_checkpoint() == uuid
        assert paused.wait(60)
        # halfway: two files are up, the checkpoint is not visible; ingestion goes on
        assert len([n for n in server.listing(prefix) if uuid in n]) == 2
        assert uuid not in [c.uuid for c in p.remote_checkpoints()]
        p.input_json("t", rows(30, 5))
        later = views(p)
        server.kill()
        release.set()
        failed = events.wait_for(lambda e: e.kind == "sync" and e.phase == "push"
                                 and e.status == "Failure" and e.checkpoint == uuid)
        assert p.sync_checkpoint_status(uuid) == CheckpointStatus.Failure
        assert server.endpoint_host in (failed.error or "") or "onnect" in (failed.error or "")

        server.start()  # same port; S3 (moto) comes back empty, GCS and Azurite keep data
        assert uuid not in [c.uuid for c in p.remote_checkpoints()]
        assert p.sync_checkpoint(wait=True, timeout_s=60) == uuid
        assert [c.uuid for c in p.remote_checkpoints()] == [uuid]
        assert views(p) == later

        q = make_pipeline("b", sync)
        q.start()
        assert q.recovery.checkpoint_uuid == uuid and views(q) == state
    finally:
        server.kill()
