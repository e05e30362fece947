"""A standby follows a primary running in another process, which is then killed with SIGKILL.

The standby pulls each checkpoint the primary syncs, then ``activate()`` pulls one last time,
bootstraps and runs with exactly the views of the primary's last *synced* checkpoint (the
primary's later, unsynced work is lost with it), and takes the bucket over: the old primary's
storage can no longer push.  On S3 (moto), GCS (emulator) and Azure (Azurite).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from feldera_nb.enums import PipelineStatus
from feldera_nb.errors import PipelineStateError, SyncError

from .conftest import Events, rows, runtime_config, sync_config, views

REPO = Path(__file__).resolve().parents[2]


class Primary:
    """``_primary.py`` in a subprocess: one JSON command per line, one answer per line."""

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_primary.py"))], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.started = self._send({"name": name, "config": config})

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)

    def _send(self, doc: dict[str, Any], timeout_s: float = 90.0) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(doc) + "\n")
        self.proc.stdin.flush()
        try:
            return json.loads(self._lines.get(timeout=timeout_s))
        except queue.Empty:
            raise AssertionError(f"the primary did not answer {doc.get('op')} in "
                                 f"{timeout_s} s (exit code {self.proc.poll()})") from None

    def insert(self, data: list[dict[str, Any]]) -> None:
        self._send({"op": "insert", "rows": data})

    def checkpoint(self) -> str:
        return str(self._send({"op": "checkpoint"})["uuid"])

    def sync(self) -> dict[str, Any]:
        return dict(self._send({"op": "sync"}))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()


def test_standby_follows_a_killed_primary_and_takes_over(backend: Any, prefix: str,
                                                         make_pipeline: Any,
                                                         tmp_path: Path) -> None:
    sync = sync_config(backend, prefix)
    primary = Primary("orders", runtime_config(tmp_path / "primary", sync))
    try:
        assert primary.started == {"source": "empty"}
        standby = make_pipeline("standby", {**sync, "standby": True,
                                            "start_from_checkpoint": "latest",
                                            "pull_interval": 1})
        events = Events(standby)
        standby.start()  # standby: true in the config
        assert standby.status() is PipelineStatus.STANDBY
        with pytest.raises(PipelineStateError):
            standby.sync_checkpoint()
        held = []
        for round_ in range(3):
            primary.insert(rows(round_ * 10, 10))
            synced = primary.sync()
            events.wait_for(lambda e: e.kind == "sync" and e.phase == "pull"
                            and e.status == "Success" and e.checkpoint == synced["uuid"])
            snap = standby.snapshot().sync
            assert snap is not None and snap.standby
            assert snap.held_checkpoint == synced["uuid"] and snap.pulled_at is not None
            held.append(synced["uuid"])
        assert standby.status() is PipelineStatus.STANDBY
        primary.insert(rows(30, 10))
        primary.checkpoint()  # newer than the last sync, never pushed: lost with the primary
        primary.kill()

        standby.activate(wait=True, timeout_s=120)
        assert standby.status() is PipelineStatus.RUNNING
        assert views(standby) == synced["views"]
        assert standby.recovery.source == "bucket"
        assert standby.recovery.checkpoint_uuid == held[-1]
        pulled = [e.checkpoint for e in events.sync("pull", "Success") if e.checkpoint]
        assert [u for u in held if u in pulled] == held
        # only the held checkpoint was kept locally
        assert [e.uuid for e in standby.checkpoints()] == [held[-1]]

        # the activated standby owns the bucket now
        standby.input_json("t", rows(100, 5))
        standby.checkpoint(wait=True)
        own = standby.sync_checkpoint(wait=True, timeout_s=60)
        assert standby.remote_checkpoints()[0].uuid == own
        standby.stop()
        # the old primary, restarted on its storage, may no longer push
        old = make_pipeline("primary", sync)
        old.start()
        assert old.recovery.source == "local"
        with pytest.raises(SyncError, match="already owned by"):
            old.sync_checkpoint(wait=True, timeout_s=60)
        old.stop(force=True)
        # and the activated standby restarts as a normal pipeline, not a standby again
        again = make_pipeline("standby", {**sync, "standby": True,
                                          "start_from_checkpoint": "latest"})
        again.start()
        assert again.status() is PipelineStatus.RUNNING and again.recovery.source == "local"
    finally:
        primary.close()
