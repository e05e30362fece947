"""The pipeline's storage side: lock, journal, checkpoints and their statuses, the timer.

One :class:`FaultTolerance` lives from ``start()`` to ``stop()`` of a pipeline with storage:

- it holds the :class:`~feldera_nb.storage.StorageLock` (two pipelines never share a path);
- in exactly_once, :meth:`journal_step` appends every step's input (with its record counts,
  content hashes and connector positions) and fsyncs it *before* the step runs;
- :meth:`request` takes a frozen state (see :mod:`feldera_nb.engine.snapshot`), returns a
  sequence number at once, and a ``feldera-checkpoint-prep`` thread builds the frames, makes the
  output files durable and hands them to the storage layer's background
  :class:`~feldera_nb.storage.Checkpointer`;
- after a checkpoint succeeds the journal is cut below the *oldest* retained checkpoint (so a
  corrupt newest checkpoint can fall back to the previous one and still replay everything),
  and the ``on_checkpoint`` hooks run (checkpoint sync pushes from there);
- a timer thread asks for a checkpoint every ``checkpoint_interval_secs``.

Sequence numbers continue from the newest one in the catalog, so they are unique for the life
of the storage directory, not just of one process.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from feldera_nb.config import RuntimeConfig
from feldera_nb.engine.snapshot import FrozenState
from feldera_nb.enums import CheckpointStatus, CheckpointStatusResult, FaultToleranceModel
from feldera_nb.errors import JournalError, PipelineTimeoutError
from feldera_nb.pipeline.events import Event, EventBus
from feldera_nb.storage import (
    Catalog, CatalogEntry, Checkpointer, Journal, StorageLock, checkpoints_dir, journal_dir,
    read_manifest,
)

log = logging.getLogger(__name__)

CheckpointHook = Callable[[CatalogEntry], None]
_SEED = 0x1F3D5A17


def delta_hash(df: pl.DataFrame) -> str:
    """An order-independent 64-bit hash of a Z-set's rows (weights included), as hex."""
    if df.height == 0:
        return "0"
    h = df.hash_rows(_SEED).to_numpy().astype(np.uint64)
    return format(int(h.sum(dtype=np.uint64)), "x")


def step_meta(step: int, deltas: dict[str, pl.DataFrame], positions: dict[str, Any] | None
              ) -> dict[str, Any]:
    """What the journal stores beside a step's input, to verify it on replay."""
    return {
        "step": step,
        "records": {t: d.height for t, d in deltas.items()},
        "hashes": {t: delta_hash(d) for t, d in deltas.items()},
        "positions": dict(positions or {}),
    }


class _BytesProgress:
    """fsspec-style progress that turns bytes written into ``checkpoint`` events."""

    def __init__(self, events: EventBus) -> None:
        self.events = events
        self.seq: int | None = None
        self.size = 0
        self.written = 0

    def set_size(self, size: int) -> None:
        self.size = size

    def relative_update(self, inc: int = 1) -> None:
        self.written += inc
        self.events.emit(Event("checkpoint", seq=self.seq, status="InProgress",
                               bytes_written=self.written, total=self.size))


class FaultTolerance:
    """Storage for one run of a pipeline (see the module docstring)."""

    def __init__(self, name: str, cfg: RuntimeConfig, events: EventBus, *,
                 periodic: Callable[[], None] | None = None) -> None:
        assert cfg.storage_path is not None
        self.name = name
        self.cfg = cfg
        self.model = cfg.ft_model
        self.path = cfg.storage_path
        self.events = events
        self.lock = StorageLock(self.path)
        try:
            self.catalog = Catalog(checkpoints_dir(self.path))
            self.journal: Journal | None = None
            if self.model is FaultToleranceModel.ExactlyOnce:
                self.journal = Journal(journal_dir(self.path))
        except BaseException:
            self.lock.release()
            raise
        self.jseq = self.journal.last_step() if self.journal and self.journal.last_step() is not \
            None else -1
        self._progress = _BytesProgress(events)
        self.checkpointer = Checkpointer(self.catalog, compression=cfg.compression,
                                         on_done=self._on_done, progress=self._progress)
        entries = self.catalog.entries()
        self._next_seq = max((e.seq for e in entries), default=0) + 1
        self._cond = threading.Condition()
        self._preparing: set[int] = set()
        self._prep_failed: dict[int, str] = {}
        self._prep_queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._prep = threading.Thread(target=self._prep_loop, name="feldera-checkpoint-prep",
                                      daemon=True)
        self._prep.start()
        self.hooks: list[CheckpointHook] = []
        self.last_checkpoint_step: int | None = None
        self._closing = threading.Event()
        self._timer: threading.Thread | None = None
        interval = cfg.checkpoint_interval_secs
        if periodic is not None and interval is not None:
            self._timer = threading.Thread(target=self._tick, args=(interval, periodic),
                                           name="feldera-checkpoint-timer", daemon=True)
            self._timer.start()

    # -- journal ----------------------------------------------------------------------------
    def journal_step(self, step: int, deltas: dict[str, pl.DataFrame],
                     positions: dict[str, Any] | None) -> None:
        """Append (and fsync) the input of ``step`` before it runs (exactly_once only)."""
        if self.journal is None:
            return
        self.journal.append(self.jseq + 1, deltas, step_meta(step, deltas, positions))
        self.jseq += 1

    # -- checkpoints ------------------------------------------------------------------------
    def request(self, frozen: FrozenState, extra: dict[str, Callable[[], pl.DataFrame]],
                meta: dict[str, Any], outputs: list[Any]) -> int:
        """Queue a checkpoint of ``frozen`` (plus ``extra`` frames); returns its seq at once."""
        with self._cond:
            seq = self._next_seq
            self._next_seq += 1
            self._preparing.add(seq)
        meta = {**meta, "seq": seq, "journal_seq": self.jseq}
        self.events.emit(Event("checkpoint", seq=seq, status="InProgress", step=meta["step"]))
        self._prep_queue.put((seq, frozen, extra, meta, outputs))
        return seq

    def _prep_loop(self) -> None:
        while (item := self._prep_queue.get()) is not None:
            seq, frozen, extra, meta, outputs = item
            try:
                for out in outputs:  # every change before the checkpoint is on disk first
                    out.sync()
                frames = {**frozen.frames(), **{k: thunk() for k, thunk in extra.items()}}
                self._progress.seq, self._progress.written = seq, 0
                self.checkpointer.request(seq, frames, meta, step=meta["step"])
            except Exception as e:  # noqa: BLE001 - this checkpoint's Failure
                log.warning("checkpoint %d failed before writing: %s", seq, e)
                with self._cond:
                    self._prep_failed[seq] = f"{type(e).__name__}: {e}"
                self.events.emit(Event("checkpoint", seq=seq, status="Failure", error=str(e)))
            with self._cond:
                self._preparing.discard(seq)
                self._cond.notify_all()

    def _on_done(self, seq: int, entry: CatalogEntry | None, error: BaseException | None) -> None:
        if entry is None:
            self.events.emit(Event("checkpoint", seq=seq, status="Failure", error=str(error)))
            return
        self.last_checkpoint_step = entry.step
        self._truncate_journal()
        for hook in list(self.hooks):
            try:
                hook(entry)
            except Exception:  # noqa: BLE001 - a sync hook's failure is its own business
                log.exception("on_checkpoint hook failed for checkpoint %s", entry.uuid)
        self.events.emit(Event("checkpoint", seq=seq, status="Success", step=entry.step,
                               checkpoint=entry.uuid, bytes_written=entry.size_bytes))

    def _truncate_journal(self) -> None:
        if self.journal is None:
            return
        entries = self.catalog.entries()
        if not entries:
            return
        oldest = entries[0]
        try:
            jseq = int(read_manifest(self.catalog.checkpoint_dir(oldest.uuid)).meta["journal_seq"])
        except (KeyError, ValueError, TypeError, OSError):
            return
        try:
            self.journal.truncate_below(jseq + 1)
        except (OSError, JournalError) as e:
            log.warning("cannot truncate the journal: %s", e)

    def status(self, seq: int) -> CheckpointStatusResult:
        """The status of checkpoint ``seq`` (with its own error for a Failure)."""
        with self._cond:
            if seq in self._prep_failed:
                return CheckpointStatusResult(CheckpointStatus.Failure, self._prep_failed[seq],
                                              seq=seq)
            if seq in self._preparing:
                return CheckpointStatusResult(CheckpointStatus.InProgress, seq=seq)
        status, error = self.checkpointer.status(seq)
        return CheckpointStatusResult(status, error, seq=seq)

    def wait(self, seq: int, timeout_s: float | None = None) -> CheckpointStatusResult:
        """Block until ``seq`` is done; PipelineTimeoutError after ``timeout_s``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while seq in self._preparing:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise PipelineTimeoutError(f"checkpoint {seq} still in progress after "
                                               f"{timeout_s} s")
                self._cond.wait(left)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if self.status(seq) == CheckpointStatus.InProgress:
            self.checkpointer.wait(seq, left)
        return self.status(seq)

    @property
    def busy(self) -> bool:
        """True while a checkpoint is being prepared or written."""
        with self._cond:
            if self._preparing:
                return True
        return self.checkpointer.busy

    def _tick(self, interval: float, periodic: Callable[[], None]) -> None:
        while not self._closing.wait(interval):
            try:
                periodic()
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("periodic checkpoint failed")

    # -- closing ----------------------------------------------------------------------------
    def close(self, *, drain: bool = True) -> None:
        """Stop the timer, finish queued checkpoints (``drain``), close files, release the lock."""
        self._closing.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join()
        self._prep_queue.put(None)
        if drain:
            self._prep.join()
            self.checkpointer.close()
        if self.journal is not None:
            self.journal.close()
        self.lock.release()

    def __repr__(self) -> str:
        return f"FaultTolerance({self.path!r}, model={self.model.value}, jseq={self.jseq})"
