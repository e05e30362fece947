"""The pipeline's sync worker: pushes on request and every ``push_interval`` seconds.

:class:`Syncer` owns one background thread.  :meth:`Syncer.sync` queues a push and returns
the UUID at once; :meth:`Syncer.status` / :meth:`Syncer.wait` follow it.  After each
successful push, retention runs.  With ``push_interval`` set, the newest local checkpoint is
pushed when that many seconds have passed since the end of the previous sync and it is not
synced yet.  :meth:`Syncer.state` is a snapshot for widgets.

The owner of the checkpoints (a pipeline) can follow each push: ``hold(uuid)`` is called (under
the worker's lock) when a checkpoint is queued and ``release(uuid)`` when its push ends, so the
local checkpoint can be kept from local retention meanwhile; ``on_event(uuid, status, error)``
is called (outside the lock) when a push starts and when it ends.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from feldera_nb.enums import CheckpointStatus
from feldera_nb.errors import PipelineTimeoutError, SyncError

from .location import Bucket, open_bucket
from .manifest import RawManifest
from .owner import Owner
from .progress import ProgressSnapshot, TransferProgress
from .push import push_checkpoint
from .retention import apply_retention
from .transfer import DEFAULT_CONCURRENCY

log = logging.getLogger(__name__)

LatestCheckpoint = Callable[[], "str | os.PathLike[str] | None"]
SyncEvent = Callable[[str, CheckpointStatus, "str | None"], None]


@dataclass(frozen=True)
class SyncerState:
    """What the sync worker is doing, for display."""

    current_uuid: str | None = None
    progress: ProgressSnapshot = field(default_factory=ProgressSnapshot)
    last_success: str | None = None
    last_error: str | None = None
    next_push_at: datetime | None = None
    pushed: int = 0
    failed: int = 0
    deleted: tuple[str, ...] = ()


class Syncer:
    """Push checkpoints to ``sync.bucket`` in the background.

    ``latest_checkpoint()`` returns the directory of the newest local checkpoint (or None).
    ``owner`` is checked against the bucket's ``OWNER`` before every push.
    """

    def __init__(self, sync: Any, *, latest_checkpoint: LatestCheckpoint,
                 owner: Owner | None = None, take_over: bool = False,
                 bucket: Bucket | None = None,
                 max_concurrency: int = DEFAULT_CONCURRENCY,
                 progress: TransferProgress | None = None,
                 hold: Callable[[str], None] | None = None,
                 release: Callable[[str], None] | None = None,
                 on_event: SyncEvent | None = None) -> None:
        self._bucket = bucket if bucket is not None else open_bucket(sync, "bucket")
        self._latest = latest_checkpoint
        self._owner = owner
        self._take_over = take_over
        self._interval = getattr(sync, "push_interval", None)
        self._min_count = int(getattr(sync, "retention_min_count", 10))
        self._min_age = float(getattr(sync, "retention_min_age", 30))
        self._concurrency = max_concurrency
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[str, Path]] = collections.deque()
        self._status: dict[str, tuple[CheckpointStatus, str | None]] = {}
        self._closing = threading.Event()
        self._progress = progress if progress is not None else TransferProgress()
        self._hold = hold
        self._release = release
        self._on_event = on_event
        self._current: str | None = None
        self._last_success: str | None = None
        self._last_error: str | None = None
        self._next_push: float | None = (time.monotonic() + self._interval
                                         if self._interval else None)
        self._pushed = self._failed = 0
        self._deleted: tuple[str, ...] = ()
        self._thread = threading.Thread(target=self._loop, name="feldera-syncer", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"Syncer({self._bucket.url})"

    def __enter__(self) -> Syncer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def bucket(self) -> Bucket:
        return self._bucket

    def sync(self, uuid_or_latest: str = "latest",
             local_dir: str | os.PathLike[str] | None = None) -> str:
        """Queue a push of a local checkpoint and return its UUID at once.

        ``"latest"`` means the newest local checkpoint.  A checkpoint already synced or
        queued is not pushed twice.
        """
        directory = self._locate(uuid_or_latest, local_dir)
        uuid = RawManifest.load(directory).uuid
        if uuid_or_latest not in ("latest", uuid):
            raise SyncError(f"{directory} holds checkpoint {uuid}, not {uuid_or_latest}")
        with self._cond:
            if self._closing.is_set():
                raise SyncError("the syncer is closed")
            state, _ = self._status.get(uuid, (CheckpointStatus.Unknown, None))
            if state not in (CheckpointStatus.Success, CheckpointStatus.InProgress):
                self._set_in_progress(uuid)
                self._queue.append((uuid, directory))
                self._cond.notify_all()
        return uuid

    def status(self, uuid: str) -> tuple[CheckpointStatus, str | None]:
        """``(status, error)`` of the sync of ``uuid``; Unknown when never requested."""
        with self._cond:
            return self._status.get(str(uuid), (CheckpointStatus.Unknown, None))

    def wait(self, uuid: str, timeout_s: float | None = None) -> None:
        """Block until the sync of ``uuid`` ends; raise its SyncError if it failed.

        Raises :class:`PipelineTimeoutError` after ``timeout_s`` seconds.
        """
        if timeout_s is not None and timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0, got {timeout_s}")
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while True:
                state, error = self._status.get(str(uuid), (CheckpointStatus.Unknown, None))
                if state is CheckpointStatus.Success:
                    return
                if state is CheckpointStatus.Failure:
                    raise SyncError(error or f"sync of checkpoint {uuid} failed")
                if state is CheckpointStatus.Unknown:
                    raise SyncError(f"no sync of checkpoint {uuid} was requested")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise PipelineTimeoutError(
                        f"sync of checkpoint {uuid} still running after {timeout_s} s")
                self._cond.wait(left)

    def mark_synced(self, uuid: str) -> None:
        """Record that the bucket already holds ``uuid`` (it was pulled from there), so a
        periodic push skips it and :meth:`last_successful` names it until the next push."""
        with self._cond:
            if self._status.get(uuid, (None,))[0] is not CheckpointStatus.InProgress:
                self._status[uuid] = (CheckpointStatus.Success, None)
                self._last_success = uuid
                self._cond.notify_all()

    def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until no push is queued or running; False when ``timeout_s`` ran out first."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while self._queue or self._current is not None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def last_successful(self) -> str:
        """UUID of the last checkpoint synced successfully; SyncError when none was."""
        with self._cond:
            if self._last_success is None:
                raise SyncError(f"no checkpoint has been synced to {self._bucket.url} yet")
            return self._last_success

    def in_progress(self) -> frozenset[str]:
        """UUIDs queued or being pushed (protect them from local garbage collection)."""
        with self._cond:
            return frozenset(u for u, (s, _) in self._status.items()
                             if s is CheckpointStatus.InProgress)

    def state(self) -> SyncerState:
        """A snapshot of the worker for widgets (no I/O)."""
        with self._cond:
            next_at = None
            if self._next_push is not None:
                next_at = datetime.now(UTC) + timedelta(
                    seconds=max(0.0, self._next_push - time.monotonic()))
            return SyncerState(self._current, self._progress.snapshot(), self._last_success,
                               self._last_error, next_at, self._pushed, self._failed,
                               self._deleted)

    def close(self, timeout_s: float | None = 30) -> None:
        """Stop the worker; a push still running is cut off (it never becomes visible)."""
        with self._cond:
            self._closing.set()
            dropped = []
            while self._queue:
                uuid, _ = self._queue.popleft()
                self._set_done(uuid, CheckpointStatus.Failure, "the syncer was closed first")
                dropped.append(uuid)
            self._cond.notify_all()
        for uuid in dropped:
            self._notify(uuid, CheckpointStatus.Failure, "the syncer was closed first")
        self._thread.join(timeout_s)

    def _set_in_progress(self, uuid: str) -> None:
        """Mark ``uuid`` queued (caller holds the lock) and hold it."""
        self._status[uuid] = (CheckpointStatus.InProgress, None)
        if self._hold is not None:
            self._hold(uuid)

    def _set_done(self, uuid: str, status: CheckpointStatus, error: str | None) -> None:
        """Record the end of ``uuid``'s push (caller holds the lock) and release it."""
        was = self._status.get(uuid, (None,))[0]
        self._status[uuid] = (status, error)
        if was is CheckpointStatus.InProgress and self._release is not None:
            self._release(uuid)

    def _notify(self, uuid: str, status: CheckpointStatus, error: str | None) -> None:
        if self._on_event is not None:
            try:
                self._on_event(uuid, status, error)
            except Exception:  # an observer's bug must not stop the worker
                log.exception("sync event handler failed for checkpoint %s", uuid)

    # -- worker ---------------------------------------------------------------------

    def _locate(self, uuid: str, local_dir: str | os.PathLike[str] | None) -> Path:
        if local_dir is not None:
            return Path(local_dir)
        latest = self._latest()
        if latest is None:
            raise SyncError("there is no local checkpoint to sync")
        latest = Path(latest)
        return latest if uuid == "latest" else latest.parent / uuid

    def _next_job(self) -> tuple[str, Path] | None:
        """Wait for a queued or a periodic push; None when closing."""
        with self._cond:
            while not self._closing.is_set():
                if self._queue:
                    job = self._queue.popleft()
                    self._current = job[0]  # set here, so drain() never sees a gap
                    return job
                now = time.monotonic()
                if self._next_push is not None and now >= self._next_push:
                    job = self._periodic_job()
                    if job is not None:
                        self._current = job[0]
                        return job
                    self._next_push = now + self._interval
                self._cond.wait(None if self._next_push is None else self._next_push - now)
        return None

    def _periodic_job(self) -> tuple[str, Path] | None:
        try:
            latest = self._latest()
            if latest is None:
                return None
            uuid = RawManifest.load(latest).uuid
        except SyncError as exc:
            log.warning("periodic sync skipped: %s", exc)
            return None
        if self._status.get(uuid, (None,))[0] in (CheckpointStatus.Success,
                                                  CheckpointStatus.InProgress):
            return None
        self._set_in_progress(uuid)
        return uuid, Path(latest)

    def _loop(self) -> None:
        while (job := self._next_job()) is not None:
            self._run(*job)

    def _run(self, uuid: str, directory: Path) -> None:
        self._notify(uuid, CheckpointStatus.InProgress, None)
        error = None
        deleted: list[str] = []
        try:
            push_checkpoint(directory, self._bucket, owner=self._owner,
                            take_over=self._take_over, callback=self._progress,
                            max_concurrency=self._concurrency,
                            should_stop=self._closing.is_set)
        except SyncError as exc:
            error = str(exc)
        except Exception as exc:  # a bug in a backend must fail this sync, not the thread
            error = self._bucket.scrub.error(f"push of checkpoint {uuid} failed", exc).args[0]
        if error is None:
            try:
                deleted = apply_retention(self._bucket, min_count=self._min_count,
                                          min_age_days=self._min_age)
            except SyncError as exc:
                log.warning("retention after pushing %s failed: %s", uuid, exc)
        with self._cond:
            self._current = None
            if error is None:
                self._set_done(uuid, CheckpointStatus.Success, None)
                self._last_success, self._pushed = uuid, self._pushed + 1
                self._deleted = tuple(deleted)
                log.info("checkpoint %s synced to %s", uuid, self._bucket.url)
            else:
                self._set_done(uuid, CheckpointStatus.Failure, error)
                self._last_error, self._failed = error, self._failed + 1
                log.warning("checkpoint sync failed: %s", error)
            if self._interval:
                self._next_push = time.monotonic() + self._interval
            self._cond.notify_all()
        self._notify(uuid, CheckpointStatus.Success if error is None else CheckpointStatus.Failure,
                     error)
