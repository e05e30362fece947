"""The lifecycle half of :class:`~feldera_nb.pipeline.Pipeline`: start (with recovery and
bootstrap policies), pause, resume, stop, checkpoints and storage.

::

    Stopped/Suspended --start()--> Initializing --> [AwaitingApproval --approve()-->]
        Bootstrapping --> Replaying --> Running <--pause()/resume()--> Paused
    Running --stop(force=False)--> (checkpoint) Suspended      --stop(force=True)--> Stopped
    any --(error)--> Failed

With checkpoint sync (``storage.backend.config.sync``, see :mod:`~feldera_nb.pipeline.sync_verbs`)
a start may first pull a checkpoint from the bucket, and ``standby: true`` makes ``start()``
enter Standby until ``activate()``.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feldera_nb.engine.snapshot import freeze, frozen_trace
from feldera_nb.enums import BootstrapPolicy, CheckpointStatus, CheckpointStatusResult, \
    PipelineStatus
from feldera_nb.errors import (
    BootstrapRejectedError, CheckpointError, PipelineStateError, PipelineTimeoutError,
)
from feldera_nb.pipeline import recovery
from feldera_nb.pipeline.bootstrap import ProgramDiff
from feldera_nb.pipeline.driver import ConnectorDriver
from feldera_nb.pipeline.events import Event, EventBus, RecoveryReport
from feldera_nb.pipeline.fault_tolerance import CheckpointHook, FaultTolerance
from feldera_nb.pipeline.sync_verbs import ACTIVATED_FILE, SyncVerbs
from feldera_nb.storage import CatalogEntry, StorageLock, checkpoints_dir, journal_dir

if TYPE_CHECKING:
    from feldera_nb.config import RuntimeConfig
    from feldera_nb.pipeline.outputs import ViewStore
    from feldera_nb.pipeline.stats import PipelineStats
    from feldera_nb.sql.compiler import CompiledProgram

_STOPPED = (PipelineStatus.STOPPED, PipelineStatus.SUSPENDED, PipelineStatus.FAILED)
StartHook = Callable[[str, bool], None]


class Lifecycle(SyncVerbs):
    """Mixin with the lifecycle verbs; :class:`Pipeline` supplies the step loop and I/O."""

    name: str
    runtime_config: RuntimeConfig
    program: CompiledProgram
    error: BaseException | None
    _lock: threading.RLock
    _changed: threading.Condition
    _status: PipelineStatus
    _events: EventBus
    _ft: FaultTolerance | None
    _driver: ConnectorDriver | None
    _inputs: list[Any]
    _outputs: list[Any]
    _stores: dict[str, ViewStore]
    _stats: PipelineStats
    _recovery: RecoveryReport | None
    _pending: recovery.RecoveryPlan | None
    _start_hooks: list[StartHook]
    _checkpoint_hooks: list[CheckpointHook]

    # -- start ------------------------------------------------------------------------------
    def start(self, bootstrap_policy: BootstrapPolicy | str | None = None, *, wait: bool = True,
              timeout_s: float | None = None) -> None:
        """Start the pipeline: from empty state, or (with storage) from the newest intact
        checkpoint plus the journal, or where a paused pipeline was.

        When the program changed since the checkpoint, ``bootstrap_policy`` decides: ALLOW
        (default) computes the new and changed views, REJECT raises
        :class:`~feldera_nb.errors.BootstrapRejectedError` naming the changes, AWAIT_APPROVAL
        returns in ``AWAITINGAPPROVAL`` until :meth:`approve`.  ``wait=False`` recovers on a
        background thread (follow :meth:`status` or :meth:`subscribe`).
        """
        policy = BootstrapPolicy.from_str(bootstrap_policy or BootstrapPolicy.ALLOW)
        with self._lock:
            if self._status is PipelineStatus.PAUSED:
                self._set_status(PipelineStatus.RUNNING)
                self._wake_driver()
                return
            if self._status not in _STOPPED:
                return
            if self._wants_standby():
                self._start_standby(self._sync_required("start in standby"), policy)
                return
            self._set_status(PipelineStatus.INITIALIZING)
        if wait:
            self._start(policy, PipelineStatus.RUNNING)
            return
        threading.Thread(target=self._start_quietly, args=(policy,), daemon=True,
                         name="feldera-start").start()
        if timeout_s is not None:
            self._wait_status(timeout_s)

    def start_paused(self, bootstrap_policy: BootstrapPolicy | str | None = None) -> None:
        """Start with input connectors paused (``input_*`` calls are still processed)."""
        policy = BootstrapPolicy.from_str(bootstrap_policy or BootstrapPolicy.ALLOW)
        with self._lock:
            if self._status in _STOPPED:
                self._set_status(PipelineStatus.INITIALIZING)
                self._start(policy, PipelineStatus.PAUSED)
            elif self._status is PipelineStatus.RUNNING:
                self._set_status(PipelineStatus.PAUSED)

    def _start_quietly(self, policy: BootstrapPolicy) -> None:
        try:
            self._start(policy, PipelineStatus.RUNNING)
        except Exception:  # noqa: BLE001 - recorded in self.error and the FAILED status
            pass

    def _wait_status(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        done = (PipelineStatus.RUNNING, PipelineStatus.PAUSED, PipelineStatus.AWAITINGAPPROVAL,
                *_STOPPED)
        with self._changed:
            while self._status not in done:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PipelineTimeoutError(f"pipeline '{self.name}' still {self._status.value}"
                                               f" after {timeout_s} s")
                self._changed.wait(left)

    def _start(self, policy: BootstrapPolicy, final: PipelineStatus) -> None:
        with self._lock:
            try:
                self._reset_state()
                self.error = None
                self._recovery = None
                cfg = self.runtime_config
                if not cfg.storage_enabled:
                    for out in self._outputs:
                        out.open(resume_step=None, dedup=False)
                    self._run_step({})  # the first step: global aggregates and constants appear
                    self._recovery = RecoveryReport()
                    self._go(final)
                    return
                assert cfg.storage_path is not None
                has_local = self._sync_before_open(bool(_has_checkpoint(cfg.storage_path)))
                for hook in self._start_hooks:
                    hook(cfg.storage_path, has_local)
                self._ft = FaultTolerance(self.name, cfg, self._events,
                                          periodic=self._periodic_checkpoint)
                self._ft.hooks.extend(self._checkpoint_hooks)
                self._sync_after_open()
                rp = recovery.plan(self, self._ft)
                if not rp.diff.is_empty:
                    if policy is BootstrapPolicy.REJECT:
                        raise BootstrapRejectedError(
                            f"pipeline '{self.name}': the program changed since checkpoint "
                            f"{rp.entry.uuid if rp.entry else '?'} ({rp.diff}) and the "
                            "bootstrap policy is reject")
                    if policy is BootstrapPolicy.AWAIT_APPROVAL:
                        self._pending = rp
                        self._pending_final = final
                        self._set_status(PipelineStatus.AWAITINGAPPROVAL)
                        return
                self._recover(rp, final)
            except BaseException as e:
                self._fail(e, stopped=isinstance(e, BootstrapRejectedError))
                raise

    def _recover(self, rp: recovery.RecoveryPlan, final: PipelineStatus) -> None:
        assert self._ft is not None
        report = self._sync_report(recovery.run(self, self._ft, rp))
        if report.checkpoint_uuid is None and not report.replayed_steps:
            self._run_step({})
        self._recovery = report
        self._events.emit(Event("recovery", phase="done", message=str(report)))
        if not rp.diff.is_empty:  # the new program's first checkpoint
            seq = self._checkpoint_now()
            self._ft.wait(seq)
        self._go(final)

    def _go(self, final: PipelineStatus) -> None:
        self._set_status(final)
        if self._inputs:
            self._driver = ConnectorDriver(self)  # type: ignore[arg-type]
            self._driver.start()

    @property
    def approval_diff(self) -> ProgramDiff | None:
        """The program changes waiting for :meth:`approve` (None unless AWAITINGAPPROVAL)."""
        return self._pending.diff if self._pending is not None else None

    def approve(self) -> None:
        """Let a pipeline in ``AWAITINGAPPROVAL`` bootstrap the changed program and run."""
        with self._lock:
            self._require(PipelineStatus.AWAITINGAPPROVAL, what="approve")
            rp, self._pending = self._pending, None
            assert rp is not None
            try:
                self._recover(rp, self._pending_final)
            except BaseException as e:
                self._fail(e)
                raise

    @property
    def recovery(self) -> RecoveryReport | None:
        """What the last start recovered from (None before a start)."""
        return self._recovery

    # -- pause, resume, stop ----------------------------------------------------------------
    def pause(self) -> None:
        """Pause input connectors (``input_*`` calls still work)."""
        with self._lock:
            self._require(PipelineStatus.RUNNING, PipelineStatus.PAUSED, what="pause")
            self._set_status(PipelineStatus.PAUSED)

    def resume(self) -> None:
        """Resume a paused pipeline's connectors."""
        with self._lock:
            self._require(PipelineStatus.PAUSED, PipelineStatus.RUNNING, what="resume")
            self._set_status(PipelineStatus.RUNNING)
            self._wake_driver()

    def _wake_driver(self) -> None:
        if self._driver is not None:
            self._driver.wake()

    def stop(self, force: bool = False, *, timeout_s: float | None = None) -> None:
        """Stop the pipeline.

        ``force=False`` with storage first takes a checkpoint (and waits for it) so the next
        ``start()`` resumes exactly here: the status becomes ``SUSPENDED``.  ``force=True``
        stops at once (queued checkpoints still finish); without storage state is discarded.
        Raises :class:`~feldera_nb.errors.CheckpointError` if the final checkpoint fails (the
        pipeline is stopped anyway; the previous checkpoint and the journal are intact).
        With checkpoint sync, ``force=False`` first lets running pushes finish (``timeout_s``,
        default 30 s); ``force=True`` cuts them off (a cut-off push never becomes visible).
        """
        if self._driver is not None:
            self._driver.stop()
            self._driver = None
        self._sync_drain(force=force, timeout_s=timeout_s)
        with self._lock:
            self._tx = None
            final = PipelineStatus.STOPPED
            error: BaseException | None = None
            ft = self._ft
            if (not force and ft is not None and self._status not in _STOPPED
                    and self._status is not PipelineStatus.AWAITINGAPPROVAL):
                try:
                    seq = self._checkpoint_now()
                    result = ft.wait(seq, timeout_s)
                    if result == CheckpointStatus.Failure:
                        error = CheckpointError(f"final checkpoint {seq} failed: "
                                                f"{result.get_error()}")
                    else:
                        final = PipelineStatus.SUSPENDED
                except PipelineTimeoutError as e:
                    error = e
            self._sync_stop()
            self._close_storage()
            self._pending = None
            self._set_status(final)
        if error is not None:
            raise error

    def _close_storage(self) -> None:
        for out in self._outputs:
            out.close()
        for conn in self._inputs:
            conn.close()
        if self._ft is not None:
            ft, self._ft = self._ft, None
            ft.close()

    def _fail(self, error: BaseException, *, stopped: bool = False) -> None:
        """Record ``error`` and stop with status FAILED (STOPPED for a refused start)."""
        with self._lock:
            self.error = error
            self._sync_close()
            self._close_storage()
            self._set_status(PipelineStatus.STOPPED if stopped else PipelineStatus.FAILED)
            self._events.emit(Event("warning", message=f"pipeline failed: {error}"))

    # -- checkpoints ------------------------------------------------------------------------
    def checkpoint(self, wait: bool = False, timeout_s: float | None = None) -> int:
        """Take a checkpoint and return its sequence number.

        Ingestion is held up only while the state is snapshotted in memory; the files are
        written in the background.  ``wait=True`` blocks until it is written and raises
        :class:`~feldera_nb.errors.CheckpointError` if it failed (PipelineTimeoutError after
        ``timeout_s``).
        """
        with self._lock:
            if self._ft is None:
                if not self.runtime_config.storage_enabled:
                    raise CheckpointError(f"pipeline '{self.name}' has no storage: set "
                                          "storage_config.path to take checkpoints")
                raise PipelineStateError(f"cannot checkpoint pipeline '{self.name}': it is "
                                         f"{self._status.value}", current=self._status)
            seq = self._checkpoint_now()
            ft = self._ft
        if wait:
            result = ft.wait(seq, timeout_s)
            if result == CheckpointStatus.Failure:
                raise CheckpointError(f"checkpoint {seq} failed: {result.get_error()}")
        return seq

    def _checkpoint_now(self) -> int:
        """Snapshot at this step boundary (caller holds the lock) and queue the write."""
        assert self._ft is not None
        circuit = self.program.circuit
        frozen = freeze(circuit)
        extra = {f"{recovery.STORE_PREFIX}{v}/rows":
                 frozen_trace(s.trace.runs, s.trace.schema) for v, s in self._stores.items()}
        meta = {
            "step": circuit.steps,
            "records_processed": self._stats.records_in,
            "pipeline": self.name,
            "model": self.runtime_config.ft_model.value,
            "fingerprints": self.program.program.fingerprints(),
            "inputs": {c.id: c.position for c in self._inputs},
            "outputs": {o.id: o.state() for o in self._outputs},
            "config": self.runtime_config.to_dict(),
        }
        return self._ft.request(frozen, extra, meta, list(self._outputs))

    def _periodic_checkpoint(self) -> None:
        with self._lock:
            ft = self._ft
            if (ft is None or ft.busy or self._status not in (PipelineStatus.RUNNING,
                                                              PipelineStatus.PAUSED)
                    or ft.last_checkpoint_step == self.program.circuit.steps):
                return
            self._checkpoint_now()

    def checkpoint_status(self, seq: int) -> CheckpointStatusResult:
        """Success, Failure (``.get_error()``), InProgress or Unknown for checkpoint ``seq``."""
        ft = self._ft
        if ft is None:
            return CheckpointStatusResult(CheckpointStatus.Unknown, seq=seq)
        return ft.status(seq)

    def checkpoints(self) -> list[CatalogEntry]:
        """The local checkpoints, oldest first (uuid, seq, step, records, size, time...), as a
        list that shows itself as a table in a notebook."""
        from feldera_nb.widgets import CheckpointList

        return CheckpointList(self._checkpoint_entries())

    def _checkpoint_entries(self) -> list[CatalogEntry]:
        if self._ft is not None:
            return self._ft.catalog.entries()
        path = self.runtime_config.storage_path
        if path is None or not checkpoints_dir(path).is_dir():
            return []
        from feldera_nb.storage import Catalog
        with StorageLock(path):
            return Catalog(checkpoints_dir(path)).entries()

    def on_checkpoint(self, hook: CheckpointHook) -> None:
        """Call ``hook(entry)`` after every successful checkpoint (checkpoint sync uses it)."""
        self._checkpoint_hooks.append(hook)
        if self._ft is not None:
            self._ft.hooks.append(hook)

    def on_start(self, hook: StartHook) -> None:
        """Call ``hook(storage_path, has_local_checkpoint)`` when a start opens storage, before
        the catalog is read: a sync pull can place a checkpoint directory there."""
        self._start_hooks.append(hook)

    def subscribe(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener(event)`` on status changes and progress; returns an unsubscribe."""
        return self._events.subscribe(listener)

    def clear_storage(self) -> None:
        """Delete the checkpoints and the journal (the pipeline must be stopped)."""
        with self._lock:
            self._require(*_STOPPED, what="clear the storage of")
            path = self.runtime_config.storage_path
            if path is None:
                return
            with StorageLock(path):
                for d in (checkpoints_dir(path), journal_dir(path)):
                    shutil.rmtree(d, ignore_errors=True)
                (Path(path) / ACTIVATED_FILE).unlink(missing_ok=True)  # standby allowed again
            self._set_status(PipelineStatus.STOPPED)


def _has_checkpoint(path: str) -> bool:
    d = checkpoints_dir(path)
    return d.is_dir() and any(p.is_dir() and not p.name.endswith((".tmp", ".del"))
                              for p in Path(d).iterdir())
