"""The background checkpoint writer: ``request`` returns at once, a thread does the I/O.

The caller snapshots its state first (Polars frames are immutable, so the dict of frames *is* the
snapshot) and hands it over with a sequence number of its choosing.  The ``feldera-checkpoint``
thread writes the checkpoint directory, lists it in the catalog, applies retention and then calls
``on_done(seq, entry, error)``, where the pipeline truncates its journal; only then does the
status become final, so ``wait`` returns after ``on_done``.  Statuses follow
Feldera's: InProgress while queued or writing, Success, Failure (with the error), Unknown for a
sequence number never issued or forgotten (only the last ``history`` are kept).

>>> import tempfile, polars as pl
>>> from feldera_nb.storage.catalog import Catalog
>>> with Checkpointer(Catalog(tempfile.mkdtemp())) as cp:
...     cp.request(1, {"t": pl.DataFrame({"x": [1]})}, {"step": 5, "records_processed": 1})
...     cp.wait(1, timeout_s=60)
(<CheckpointStatus.Success: 'Success'>, None)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Final

import polars as pl

from feldera_nb.enums import CheckpointStatus
from feldera_nb.errors import CheckpointError, PipelineTimeoutError
from feldera_nb.storage.catalog import Catalog, CatalogEntry
from feldera_nb.storage.checkpoint import FileFormat, write_checkpoint
from feldera_nb.storage.progress import NO_OP, Progress

__all__ = ["Checkpointer", "OnDone"]

log = logging.getLogger(__name__)

OnDone = Callable[[int, "CatalogEntry | None", "BaseException | None"], None]
"""``on_done(seq, entry, error)``: exactly one of ``entry`` and ``error`` is None."""

_STOP: Final = object()


class Checkpointer:
    """Writes checkpoints into ``catalog`` on a background thread, in request order.

    Parameters
    ----------
    catalog
        Where checkpoints go; its ``retain`` drives retention.
    file_format, compression
        Passed to :func:`~feldera_nb.storage.checkpoint.write_checkpoint`.
    on_done
        Called on the writer thread after each checkpoint, successful or not.
    progress
        fsspec-style callback (``set_size``/``relative_update``) for the bytes written.
    history
        How many sequence numbers ``status`` remembers.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        file_format: FileFormat = "parquet",
        compression: str = "default",
        on_done: OnDone | None = None,
        progress: Progress = NO_OP,
        history: int = 128,
    ) -> None:
        self.catalog = catalog
        self.file_format = file_format
        self.compression = compression
        self.on_done = on_done
        self.progress = progress
        self.history = history
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._status: OrderedDict[int, tuple[CheckpointStatus, str | None]] = OrderedDict()
        self._closed = False
        self.last_success: int | None = None
        self.last_failure: tuple[int, str] | None = None
        self._thread = threading.Thread(target=self._run, name="feldera-checkpoint", daemon=True)
        self._thread.start()

    def request(
        self,
        seq: int,
        state: Mapping[str, pl.DataFrame],
        meta: Mapping[str, Any],
        *,
        step: int | None = None,
    ) -> None:
        """Queue a checkpoint of ``state`` and return immediately.

        ``step`` is the step the state reflects (default ``meta["step"]``).  ``meta`` is stored
        in the manifest as is; its ``records_processed`` also goes into the catalog.
        """
        if step is None:
            if "step" not in meta:
                raise ValueError("checkpoint request needs a step (argument or meta['step'])")
            step = int(meta["step"])
        with self._cond:
            if self._closed:
                raise CheckpointError("the checkpointer is closed")
            if seq in self._status:
                raise ValueError(f"checkpoint sequence number {seq} was already requested")
            self._set(seq, CheckpointStatus.InProgress, None)
        self._queue.put((seq, step, dict(state), dict(meta)))

    def status(self, seq: int) -> tuple[CheckpointStatus, str | None]:
        """(status, error) of checkpoint ``seq``; the error is set for Failure only."""
        with self._cond:
            return self._status.get(seq, (CheckpointStatus.Unknown, None))

    def wait(self, seq: int, timeout_s: float | None = None) -> tuple[CheckpointStatus, str | None]:
        """Block until ``seq`` is no longer InProgress; return its status.

        Raises PipelineTimeoutError when ``timeout_s`` runs out first.
        """
        if timeout_s is not None and timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0, got {timeout_s}")
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._cond:
            while True:
                result = self._status.get(seq, (CheckpointStatus.Unknown, None))
                if result[0] is not CheckpointStatus.InProgress:
                    return result
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise PipelineTimeoutError(
                        f"checkpoint {seq} still in progress after {timeout_s} s"
                    )
                self._cond.wait(left)

    @property
    def busy(self) -> bool:
        """True while some checkpoint is queued or being written."""
        with self._cond:
            return any(s is CheckpointStatus.InProgress for s, _ in self._status.values())

    def close(self, timeout_s: float | None = None) -> None:
        """Finish the queued checkpoints, then stop the thread (idempotent)."""
        with self._cond:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise PipelineTimeoutError(f"checkpointer did not drain within {timeout_s} s")

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Checkpointer(last_success={self.last_success}, busy={self.busy})"

    # -- the writer thread ------------------------------------------------------------------

    def _set(self, seq: int, status: CheckpointStatus, error: str | None) -> None:
        self._status[seq] = (status, error)
        self._status.move_to_end(seq)
        while len(self._status) > self.history:
            oldest = next(iter(self._status))
            if self._status[oldest][0] is CheckpointStatus.InProgress:
                break
            del self._status[oldest]
        self._cond.notify_all()

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            seq, step, state, meta = item
            entry: CatalogEntry | None = None
            error: BaseException | None = None
            started = time.monotonic()
            try:
                manifest = write_checkpoint(
                    self.catalog.directory,
                    state,
                    seq=seq,
                    step=step,
                    meta=meta,
                    file_format=self.file_format,
                    compression=self.compression,
                    progress=self.progress,
                )
                entry = self.catalog.add(manifest, duration_s=time.monotonic() - started)
                self.catalog.apply_retention()
            except Exception as e:  # noqa: BLE001 - any failure is this checkpoint's Failure
                error = e
                log.warning("checkpoint %d failed: %s", seq, e)
            del state
            if self.on_done is not None:
                try:
                    self.on_done(seq, entry, error)
                except Exception:  # noqa: BLE001 - a callback bug must not stop checkpoints
                    log.exception("checkpoint on_done callback failed for seq %d", seq)
            with self._cond:
                if error is None:
                    self.last_success = seq
                    self._set(seq, CheckpointStatus.Success, None)
                else:
                    self.last_failure = (seq, f"{type(error).__name__}: {error}")
                    self._set(seq, CheckpointStatus.Failure, self.last_failure[1])
