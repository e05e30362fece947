"""Checkpoint sync inside a pipeline: where a start comes from, background pushes, standby.

A pipeline whose runtime config has ``storage.backend.config.sync`` owns one
:class:`CheckpointSync` (imported lazily: fsspec is an optional dependency).  It ties the
pieces of :mod:`feldera_nb.sync` to the pipeline's storage:

- :meth:`CheckpointSync.resolve_start` runs before the local catalog is opened: a local
  checkpoint wins, else ``start_from_checkpoint`` is pulled from ``bucket``, else from
  ``read_bucket``, into ``<storage>/checkpoints/<uuid>/``, where the catalog adopts it.  Only
  "not found" falls through; any other failure fails the start with its scrubbed cause.
- :meth:`CheckpointSync.attach` starts the :class:`~feldera_nb.sync.Syncer` on the open
  catalog: pushes on request and every ``push_interval``, retention after each push, the
  bucket's owner checked first, and each checkpoint being pushed pinned against local
  retention.
- :meth:`CheckpointSync.start_standby` follows the bucket's newest checkpoint (holding the
  storage lock) until :meth:`CheckpointSync.final_pull` at activation.

Every transfer reports ``sync`` events with bytes and files done, and
:meth:`CheckpointSync.snapshot` gives a :class:`~feldera_nb.pipeline.events.SyncSnapshot`
without I/O.  Messages are scrubbed of the config's secrets before they leave.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid as uuid_mod
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from feldera_nb.config import RuntimeConfig, SyncConfig
from feldera_nb.enums import CheckpointStatus, CheckpointStatusResult
from feldera_nb.errors import PipelineStateError, SyncError
from feldera_nb.pipeline.events import Event, EventBus, SyncSnapshot
from feldera_nb.pipeline.sync_verbs import ACTIVATED_FILE
from feldera_nb.storage import Catalog, StorageLock, checkpoints_dir, journal_dir
from feldera_nb.sync import (
    Bucket,
    Owner,
    RemoteCheckpoint,
    StandbyPuller,
    StartDecision,
    Syncer,
    TransferProgress,
    claim_owner,
    open_bucket,
    remote_checkpoints,
    resolve_start,
)
from feldera_nb.sync.location import BucketRole, _display_url, scrubber_for

log = logging.getLogger(__name__)

_EMIT_EVERY_S: Final = 0.1  # byte-progress events at most this often (every file sends one)


class EventProgress(TransferProgress):
    """A :class:`~feldera_nb.sync.TransferProgress` that sends ``sync`` events as data moves.

    One event per finished file and at most one per :data:`_EMIT_EVERY_S` for bytes, so a
    widget follows a large transfer without being flooded.
    """

    def __init__(self, events: EventBus, phase: str) -> None:
        super().__init__()
        self.events = events
        self.phase = phase
        self.checkpoint: str | None = None
        self.active = False
        self._last_emit = 0.0

    def start(self, *, total_bytes: int, total_files: int) -> None:
        super().start(total_bytes=total_bytes, total_files=total_files)
        self.active = True
        self._emit()

    def relative_update(self, inc: int = 1) -> None:
        super().relative_update(inc)
        now = time.monotonic()
        if now - self._last_emit >= _EMIT_EVERY_S:
            self._emit(now)

    def file_done(self) -> None:
        super().file_done()
        self._emit()

    def finish(self) -> None:
        """The transfer ended (either way): the snapshot stops showing it."""
        self.active = False

    def _emit(self, now: float | None = None) -> None:
        self._last_emit = time.monotonic() if now is None else now
        p = self.snapshot()
        self.events.emit(Event("sync", phase=self.phase, status="InProgress",
                               checkpoint=self.checkpoint, bytes_done=p.bytes_done,
                               bytes_total=p.bytes_total, files_done=p.files_done,
                               files_total=p.files_total))


class CheckpointSync:
    """The checkpoint sync of one pipeline (see the module docstring).

    Lives as long as the pipeline object: a :class:`~feldera_nb.sync.Syncer` is attached at
    each start and closed at each stop; statuses of earlier pushes stay readable.
    """

    def __init__(self, name: str, cfg: RuntimeConfig, events: EventBus) -> None:
        if cfg.sync is None or cfg.storage_path is None:
            raise SyncError("checkpoint sync needs storage_config.path and "
                            "storage.backend.config.sync")
        self.name = name
        self.config: SyncConfig = cfg.sync
        self.storage_path = cfg.storage_path
        self._events = events
        self.scrub = scrubber_for(self.config)
        self._push_progress = EventProgress(events, "push")
        self._pull_progress = EventProgress(events, "pull")
        self._lock = threading.RLock()
        self._syncer: Syncer | None = None
        self._previous: list[Syncer] = []
        self._attached = False
        self._open_error: str | None = None
        self._failed: dict[str, str] = {}
        self._puller: StandbyPuller | None = None
        self._standby_lock: StorageLock | None = None
        self._standby_pulled: list[str] = []
        self._standby_catalog: Catalog | None = None
        self.decision: StartDecision | None = None

    def __repr__(self) -> str:
        return f"CheckpointSync({_display(self.config.url)})"

    # -- where a start comes from --------------------------------------------------------------

    def resolve_start(self, has_local: bool) -> StartDecision:
        """Find (and pull) the checkpoint a start begins from; see :func:`~feldera_nb.sync.
        resolve_start`.  The storage is locked meanwhile; a pulled checkpoint lands in
        ``<storage>/checkpoints/`` and the local journal, which belongs to another history,
        is discarded."""
        dest = checkpoints_dir(self.storage_path)
        self.decision = None
        with StorageLock(self.storage_path):
            dest.mkdir(parents=True, exist_ok=True)
            # Opened before the pull, so the pulled checkpoint is listed, not "found".
            catalog = None if has_local else Catalog(dest)
            self._pull_progress.checkpoint = None
            try:
                decision = resolve_start(has_local, self.config, dest,
                                         callback=self._pull_progress,
                                         sources=None if has_local else self._sources())
            except SyncError as e:
                self._events.emit(Event("sync", phase="pull", status="Failure",
                                        error=self.scrub(str(e))))
                raise
            finally:
                self._pull_progress.finish()
            if decision.uuid is not None and catalog is not None:
                catalog.register(decision.uuid, verify=False)  # the pull verified every file
                _discard_journal(self.storage_path)
        self.decision = decision
        if decision.uuid is not None:
            self._events.emit(Event("sync", phase="pull", status="Success",
                                    checkpoint=decision.uuid,
                                    message=f"starting from {decision.source} checkpoint "
                                            f"{decision.uuid}"))
        elif decision.source == "empty":
            self._events.emit(Event("sync", phase="pull", status="Success",
                                    message=f"starting empty: {decision.detail}"))
        return decision

    # -- pushing ---------------------------------------------------------------------------------

    def attach(self, catalog: Catalog, *, take_over: bool = False) -> None:
        """Start pushing checkpoints of ``catalog`` (the pipeline just opened its storage).

        ``take_over`` makes this pipeline the bucket's owner even if another one owns it (an
        activated standby); it raises if that fails.  A bucket that cannot be opened (bad
        credentials, missing package) does not stop the pipeline: each push then fails with
        that error.
        """
        with self._lock:
            self._close_syncer()
            self._open_error = None
            self._attached = True
            try:
                bucket = self._open()
            except SyncError as e:
                self._open_error = self.scrub(str(e))
                self._events.emit(Event("warning", message=f"checkpoint sync is off: "
                                                           f"{self._open_error}"))
                if take_over:
                    raise
                return
            owner = Owner.for_storage(self.storage_path, self.name)
            if take_over:
                claim_owner(bucket, owner, take_over=True)

            def latest() -> Path | None:
                entry = catalog.latest()
                return None if entry is None else catalog.checkpoint_dir(entry.uuid)

            self._syncer = Syncer(
                self.config, latest_checkpoint=latest, owner=owner, bucket=bucket,
                max_concurrency=max(1, int(self.config.transfers)),
                progress=self._push_progress, hold=catalog.pin, release=catalog.unpin,
                on_event=self._on_push)
            if self.decision is not None and self.decision.source == "bucket" and \
                    self.decision.uuid is not None:
                self._syncer.mark_synced(self.decision.uuid)

    def drain(self, timeout_s: float) -> None:
        """Let queued and running pushes finish (for a graceful stop), for ``timeout_s`` at
        most; then they are cut off by :meth:`detach`.  Holds no lock while waiting, so
        event listeners may read the snapshot meanwhile."""
        syncer = self._syncer
        if syncer is not None and not syncer.drain(timeout_s):
            self._events.emit(Event("warning", message=f"checkpoint sync still running after "
                                                       f"{timeout_s} s; cut off"))

    def detach(self) -> None:
        """Stop pushing (a push still running is cut off and never becomes visible)."""
        with self._lock:
            self._attached = False
            self._close_syncer()

    def _close_syncer(self) -> None:
        syncer, self._syncer = self._syncer, None
        if syncer is None:
            return
        syncer.close()
        self._previous = [syncer, *self._previous][:4]

    def _on_push(self, uuid: str, status: CheckpointStatus, error: str | None) -> None:
        if status is CheckpointStatus.InProgress:
            self._push_progress.checkpoint = uuid
        else:
            self._push_progress.finish()
        self._events.emit(Event("sync", phase="push", status=status.value, checkpoint=uuid,
                                error=error))

    def sync(self, latest_uuid: Callable[[], str | None], *, wait: bool = False,
             timeout_s: float | None = None) -> str:
        """Push the newest local checkpoint; returns its UUID (see ``Pipeline.sync_checkpoint``)."""
        with self._lock:
            syncer = self._syncer
            if not self._attached:
                raise PipelineStateError("checkpoint sync runs while the pipeline runs: "
                                         "start() it first")
            if syncer is None:
                assert self._open_error is not None
                uuid = latest_uuid()
                if uuid is None:
                    raise SyncError("there is no local checkpoint to sync")
                self._failed[uuid] = self._open_error
                self._events.emit(Event("sync", phase="push", status="Failure",
                                        checkpoint=uuid, error=self._open_error))
                if wait:
                    raise SyncError(self._open_error)
                return uuid
        uuid = syncer.sync("latest")
        if wait:
            syncer.wait(uuid, timeout_s)
        return uuid

    def status(self, uuid: str | uuid_mod.UUID) -> CheckpointStatusResult:
        """Success, Failure (with ``get_error()``), InProgress or Unknown for ``uuid``."""
        key = str(uuid)
        with self._lock:
            syncers = [s for s in (self._syncer, *self._previous) if s is not None]
            failed = self._failed.get(key)
        for syncer in syncers:
            state, error = syncer.status(key)
            if state is not CheckpointStatus.Unknown:
                return CheckpointStatusResult(state, error)
        if failed is not None:
            return CheckpointStatusResult(CheckpointStatus.Failure, failed)
        return CheckpointStatusResult(CheckpointStatus.Unknown)

    def last_successful(self) -> uuid_mod.UUID:
        """The UUID of the last checkpoint pushed (or started from) successfully."""
        with self._lock:
            syncers = [s for s in (self._syncer, *self._previous) if s is not None]
        for syncer in syncers:
            try:
                return uuid_mod.UUID(syncer.last_successful())
            except SyncError:
                continue
        raise SyncError(f"no checkpoint has been synced to {_display(self.config.url)} yet")

    def remote_checkpoints(self) -> list[RemoteCheckpoint]:
        """The committed checkpoints in ``bucket``, newest first (one listing request)."""
        return remote_checkpoints(self._open())

    def _open(self) -> Bucket:
        return _cached_bucket(self.config, "bucket")

    def _sources(self) -> list[tuple[BucketRole, Bucket]]:
        """Where starts and standbys pull from, in order: ``bucket``, then ``read_bucket``."""
        out: list[tuple[BucketRole, Bucket]] = [("bucket", self._open())]
        if self.config.read_bucket:
            out.append(("read_bucket", _cached_bucket(self.config, "read_bucket")))
        return out

    # -- standby ---------------------------------------------------------------------------------

    @property
    def was_activated(self) -> bool:
        """True when this storage was a standby that was activated (it starts normally now)."""
        return (Path(self.storage_path) / ACTIVATED_FILE).exists()

    @property
    def standby_running(self) -> bool:
        return self._puller is not None

    def start_standby(self) -> None:
        """Hold the storage and follow ``start_from_checkpoint`` every ``pull_interval`` s."""
        with self._lock:
            if self._puller is not None:
                return
            self._standby_lock = StorageLock(self.storage_path)
            try:
                dest = checkpoints_dir(self.storage_path)
                dest.mkdir(parents=True, exist_ok=True)
                self._standby_catalog = Catalog(dest)
                puller = StandbyPuller(self.config, dest, on_pulled=self._on_standby_pull,
                                       on_error=self._on_standby_error,
                                       sources=self._sources())
                puller.progress = self._pull_progress
                self._puller = puller
                self._standby_pulled = []
                puller.start()
            except BaseException:
                self._release_standby()
                raise

    def final_pull(self) -> str:
        """Stop following and pull one last time; returns the held UUID.  On failure the
        standby keeps following and the error is raised."""
        with self._lock:
            puller = self._puller
        if puller is None:
            raise PipelineStateError("the pipeline is not in standby")
        try:
            uuid, _ = puller.final_pull()
        except SyncError as e:
            puller.start()
            self._events.emit(Event("sync", phase="pull", status="Failure",
                                    error=self.scrub(str(e))))
            raise
        finally:
            self._pull_progress.finish()
        return uuid

    def held_decision(self) -> StartDecision:
        """The checkpoint the standby holds, as the decision an activation starts from."""
        puller = self._puller
        if puller is None or puller.held_uuid is None:
            raise SyncError("the standby holds no checkpoint")
        return StartDecision(puller.held_source or "bucket",  # type: ignore[arg-type]
                             puller.held_uuid, puller.held_path, detail="activated standby")

    def end_standby(self, *, activated: bool) -> None:
        """Stop following and release the storage; ``activated`` records the activation."""
        with self._lock:
            puller, self._puller = self._puller, None
            if puller is not None:
                puller.stop()
            self._pull_progress.finish()
            if activated:
                held = puller.held_uuid if puller is not None else None
                _write_json(Path(self.storage_path) / ACTIVATED_FILE,
                            {"activated_at": time.time(), "checkpoint": held})
            self._release_standby()

    def _release_standby(self) -> None:
        self._standby_catalog = None
        lock, self._standby_lock = self._standby_lock, None
        if lock is not None:
            lock.release()

    def _on_standby_pull(self, uuid: str, path: Path) -> None:
        catalog = self._standby_catalog
        if catalog is not None:
            catalog.register(uuid, verify=False)  # the pull verified every file
            # Local garbage collection after a pull: only what this standby pulled before.
            for old in self._standby_pulled:
                if old != uuid:
                    catalog.remove(old)
        self._standby_pulled = [uuid]
        self._pull_progress.finish()
        self._events.emit(Event("sync", phase="pull", status="Success", checkpoint=uuid,
                                message=f"standby holds checkpoint {uuid}"))

    def _on_standby_error(self, message: str) -> None:
        self._pull_progress.finish()
        self._events.emit(Event("sync", phase="pull", status="Failure",
                                error=self.scrub(message)))

    # -- display ---------------------------------------------------------------------------------

    def snapshot(self) -> SyncSnapshot:
        """What sync is doing, for widgets and reprs (no I/O)."""
        with self._lock:
            syncer, puller, decision = self._syncer, self._puller, self.decision
            previous = self._previous[0] if self._previous else None
        state = (syncer or previous).state() if (syncer or previous) is not None else None
        phase, progress = None, None
        if self._push_progress.active:
            phase, progress = "push", self._push_progress
        elif self._pull_progress.active:
            phase, progress = "pull", self._pull_progress
        p = progress.snapshot() if progress is not None else None
        last_error = state.last_error if state is not None else None
        if puller is not None and puller.last_error:
            last_error = puller.last_error
        elif self._open_error:
            last_error = self._open_error
        return SyncSnapshot(
            bucket=_display(self.config.url),
            read_bucket=None if self.config.read_url is None else _display(self.config.read_url),
            phase=phase, checkpoint=progress.checkpoint if progress is not None else None,
            bytes_done=p.bytes_done if p else 0, bytes_total=p.bytes_total if p else 0,
            files_done=p.files_done if p else 0, files_total=p.files_total if p else 0,
            last_synced=state.last_success if state is not None else None,
            last_error=None if last_error is None else self.scrub(last_error),
            pushed=state.pushed if state is not None else 0,
            failed=state.failed if state is not None else 0,
            next_push_at=state.next_push_at if syncer is not None and state is not None
            else None,
            standby=puller is not None,
            held_checkpoint=puller.held_uuid if puller is not None else None,
            pulled_at=puller.pulled_at if puller is not None else None,
            pulls=puller.pulls if puller is not None else 0,
            start_source=decision.source if decision is not None else None,
            start_checkpoint=decision.uuid if decision is not None else None,
            start_detail=self.scrub(decision.detail) if decision is not None else "")

    def close(self) -> None:
        """Stop everything at once (the pipeline failed or is going away)."""
        with self._lock:
            self._attached = False
            self._close_syncer()
            if self._puller is not None:
                self.end_standby(activated=False)


_BUCKETS: dict[tuple[str, str], Bucket] = {}
_BUCKETS_LOCK = threading.Lock()


def _cached_bucket(config: SyncConfig, role: BucketRole) -> Bucket:
    """``open_bucket``, once per process for one config: a backend's first request builds its
    client (a second or more for S3), so pipelines and standby pulls share it."""
    doc = json.dumps(config.to_dict(include_secrets=True), sort_keys=True, default=str)
    key = (role, hashlib.sha256(doc.encode()).hexdigest())
    with _BUCKETS_LOCK:
        bucket = _BUCKETS.get(key)
    if bucket is None:
        bucket = open_bucket(config, role)
        with _BUCKETS_LOCK:
            bucket = _BUCKETS.setdefault(key, bucket)
    return bucket


def _display(url: str) -> str:
    """``url`` without user-info (credentials)."""
    return _display_url(url)


def _discard_journal(storage_path: str) -> None:
    """A pulled checkpoint starts a new history: a journal left here belongs to another."""
    d = journal_dir(storage_path)
    if d.exists() and any(d.iterdir()):
        log.info("discarding the local journal in %s: starting from a pulled checkpoint", d)
    shutil.rmtree(d, ignore_errors=True)


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, path)
