"""The checkpoint-sync half of :class:`~feldera_nb.pipeline.Pipeline`: Feldera's sync verbs.

``sync_checkpoint``, ``sync_checkpoint_status``, ``last_successful_checkpoint_sync``,
``remote_checkpoints``, ``start_standby`` and ``activate``, plus the calls the lifecycle makes
at start and stop.  The work is done by
:class:`~feldera_nb.pipeline.checkpoint_sync.CheckpointSync`, imported only when a pipeline's
config has ``storage.backend.config.sync`` (fsspec is an optional dependency)::

    Stopped --start() with standby: true / start_standby()--> Standby (pulling)
    Standby --activate()--> (last pull) Initializing --> Bootstrapping --> Running
"""

from __future__ import annotations

import threading
import uuid as uuid_mod
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from feldera_nb.enums import BootstrapPolicy, CheckpointStatusResult, PipelineStatus
from feldera_nb.errors import ConfigError, PipelineTimeoutError, SyncError
from feldera_nb.pipeline.events import RecoveryReport, SyncSnapshot

if TYPE_CHECKING:
    from feldera_nb.config import RuntimeConfig
    from feldera_nb.pipeline.checkpoint_sync import CheckpointSync
    from feldera_nb.pipeline.events import EventBus
    from feldera_nb.pipeline.fault_tolerance import FaultTolerance
    from feldera_nb.sync import RemoteCheckpoint

_STOPPED = (PipelineStatus.STOPPED, PipelineStatus.SUSPENDED, PipelineStatus.FAILED)
ACTIVATED_FILE: Final = "sync_activated.json"  # in the storage directory, once activated
_DRAIN_S: Final = 30.0  # how long a graceful stop lets running pushes finish by default


class SyncVerbs:
    """Mixin with the checkpoint-sync verbs (see the module docstring)."""

    name: str
    runtime_config: RuntimeConfig
    _lock: threading.RLock
    _status: PipelineStatus
    _events: EventBus
    _ft: FaultTolerance | None
    _csync: CheckpointSync | None = None
    _sync_activation: Any = None  # the StartDecision an activation starts from
    _standby_policy: BootstrapPolicy = BootstrapPolicy.ALLOW
    _activating = False

    if TYPE_CHECKING:
        def _require(self, *allowed: PipelineStatus, what: str) -> None: ...
        def _set_status(self, status: PipelineStatus) -> None: ...
        def _start(self, policy: BootstrapPolicy, final: PipelineStatus) -> None: ...

    # -- the verbs ----------------------------------------------------------------------------

    def sync_checkpoint(self, wait: bool = False, timeout_s: float | None = None) -> str:
        """Push the newest local checkpoint to the sync bucket and return its UUID.

        The upload runs in the background and never holds up ingestion; follow it with
        :meth:`sync_checkpoint_status`.  ``wait=True`` blocks until it is done and raises
        :class:`~feldera_nb.errors.SyncError` (with the scrubbed cause) if it failed, or
        :class:`~feldera_nb.errors.PipelineTimeoutError` after ``timeout_s`` seconds.
        """
        if timeout_s is not None and timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0, got {timeout_s}")
        cs = self._sync_required("sync a checkpoint of")
        with self._lock:
            self._require(PipelineStatus.RUNNING, PipelineStatus.PAUSED,
                          what="sync a checkpoint of")
            ft = self._ft
        catalog = ft.catalog if ft is not None else None

        def latest() -> str | None:
            entry = catalog.latest() if catalog is not None else None
            return None if entry is None else entry.uuid

        return cs.sync(latest, wait=wait, timeout_s=timeout_s)

    def sync_checkpoint_status(self, uuid: str | uuid_mod.UUID) -> CheckpointStatusResult:
        """Success, Failure (``.get_error()``), InProgress or Unknown for the sync of ``uuid``."""
        return self._sync_required("follow a sync of").status(uuid)

    def last_successful_checkpoint_sync(self) -> uuid_mod.UUID:
        """The UUID of the last checkpoint synced successfully (by this pipeline object, or
        pulled from the bucket at start); raises :class:`~feldera_nb.errors.SyncError` when
        there is none."""
        return self._sync_required("ask about syncs of").last_successful()

    def remote_checkpoints(self) -> list[RemoteCheckpoint]:
        """The committed checkpoints in the sync bucket, newest first (uuid, seq, step,
        created_at, size_bytes).  Works in any status; it asks the bucket."""
        return self._sync_required("list the bucket of").remote_checkpoints()

    def start_standby(self, bootstrap_policy: BootstrapPolicy | str | None = None) -> None:
        """Enter ``STANDBY``: pull the sync bucket's newest checkpoint every
        ``pull_interval`` seconds (or the ``start_from_checkpoint`` UUID once) until
        :meth:`activate`.  The storage is held meanwhile; the status (and :meth:`snapshot`)
        shows the held checkpoint and when it arrived."""
        cs = self._sync_required("start in standby")
        policy = BootstrapPolicy.from_str(bootstrap_policy or BootstrapPolicy.ALLOW)
        with self._lock:
            self._require(*_STOPPED, what="start in standby")
            self._start_standby(cs, policy)

    def activate(self, wait: bool = True, timeout_s: float | None = None) -> None:
        """Leave ``STANDBY``: pull one last time, then bootstrap from the held checkpoint and
        run, taking over the ownership of the sync bucket.

        If the last pull fails, the pipeline stays in standby (and keeps following) and the
        error is raised.  ``wait=False`` returns at once (follow :meth:`status`);
        ``timeout_s`` raises :class:`~feldera_nb.errors.PipelineTimeoutError` if the
        activation has not finished by then (it goes on in the background).
        """
        if timeout_s is not None and timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0, got {timeout_s}")
        with self._lock:
            self._require(PipelineStatus.STANDBY, what="activate")
            if self._activating:
                return
            self._activating = True
        if wait and timeout_s is None:
            self._activate()
            return
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self._activate()
            except BaseException as e:  # noqa: BLE001 - handed to the waiting caller
                failure.append(e)
            finally:
                done.set()

        threading.Thread(target=run, name="feldera-activate", daemon=True).start()
        if not wait:
            return
        if not done.wait(timeout_s):
            raise PipelineTimeoutError(f"pipeline '{self.name}' not activated after "
                                       f"{timeout_s} s (still {self._status.value})")
        if failure:
            raise failure[0]

    # -- called by the lifecycle --------------------------------------------------------------

    def _sync(self) -> CheckpointSync | None:
        """The pipeline's CheckpointSync, created on first use; None without a sync config."""
        cfg = self.runtime_config
        if cfg.sync is None:
            return None
        if not cfg.storage_enabled:
            raise ConfigError("storage_config.path", "checkpoint sync needs local storage: "
                                                     "set storage_config.path")
        if self._csync is None:
            try:
                from feldera_nb.pipeline.checkpoint_sync import CheckpointSync
            except ImportError as e:  # the message names the extra to install
                raise SyncError(str(e)) from None
            self._csync = CheckpointSync(self.name, cfg, self._events)
        return self._csync

    def _sync_required(self, what: str) -> CheckpointSync:
        cs = self._sync()
        if cs is None:
            raise SyncError(f"cannot {what} pipeline '{self.name}': it has no checkpoint sync "
                            "(set storage.backend.config.sync)")
        return cs

    def _wants_standby(self) -> bool:
        """``sync.standby`` is set and this storage was never activated."""
        cfg = self.runtime_config
        if cfg.sync is None or not cfg.sync.standby or not cfg.storage_enabled:
            return False
        cs = self._sync()
        return cs is not None and not cs.was_activated

    def _start_standby(self, cs: CheckpointSync, policy: BootstrapPolicy) -> None:
        """Enter STANDBY (caller holds the lock)."""
        self._standby_policy = policy
        self._sync_activation = None
        cs.start_standby()
        self._set_status(PipelineStatus.STANDBY)

    def _activate(self) -> None:
        cs = self._csync
        assert cs is not None
        try:
            cs.final_pull()
            with self._lock:
                self._require(PipelineStatus.STANDBY, what="activate")  # stop() meanwhile?
                self._sync_activation = cs.held_decision()
                cs.end_standby(activated=True)
                self._set_status(PipelineStatus.INITIALIZING)
        finally:
            self._activating = False
        self._start(self._standby_policy, PipelineStatus.RUNNING)

    def _sync_before_open(self, has_local: bool) -> bool:
        """Start resolution before the catalog opens; returns whether a checkpoint is there."""
        cs = self._sync()
        if cs is None:
            return has_local
        if self._sync_activation is not None:
            cs.decision = self._sync_activation
            return True
        decision = cs.resolve_start(has_local)
        return has_local or decision.path is not None

    def _sync_after_open(self) -> None:
        """Start pushing (the storage is open); an activated standby takes the bucket over."""
        cs = self._csync
        if cs is None or self._ft is None:
            return
        take_over, self._sync_activation = self._sync_activation is not None, None
        cs.attach(self._ft.catalog, take_over=take_over)

    def _sync_report(self, report: RecoveryReport) -> RecoveryReport:
        """The recovery report, with where the checkpoint came from."""
        cs = self._csync
        if cs is None or cs.decision is None:
            return report
        return replace(report, source=cs.decision.source, source_detail=cs.decision.detail)

    def _sync_drain(self, *, force: bool, timeout_s: float | None) -> None:
        """Before a graceful stop (without the pipeline's lock): let pushes finish."""
        if self._csync is not None and not force:
            self._csync.drain(_DRAIN_S if timeout_s is None else timeout_s)

    def _sync_stop(self) -> None:
        """Stopping: end a standby, stop pushing."""
        cs = self._csync
        if cs is None:
            return
        if cs.standby_running:
            cs.end_standby(activated=False)
        cs.detach()

    def _sync_close(self) -> None:
        if self._csync is not None:
            self._csync.close()
        self._activating = False
        self._sync_activation = None

    def _sync_snapshot(self) -> SyncSnapshot | None:
        return None if self._csync is None else self._csync.snapshot()
