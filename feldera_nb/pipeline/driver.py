"""The thread that feeds input connectors into the step loop.

One step per round: a chunk from every input connector that has data, read outside the
pipeline's lock, then applied as one step under it (so connector steps and ``input_*`` calls are
serialized).  A connector's position moves only when its chunk's step commits; a round read
while the pipeline was paused is dropped and read again later.  When a round finds nothing the
driver is *idle*: it tells ``wait_for_idle()`` and sleeps until resumed, stopped, or (for
followed files) a poll interval has passed.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import polars as pl

from feldera_nb.enums import PipelineStatus
from feldera_nb.errors import FelderaNbError
from feldera_nb.pipeline.events import Event

if TYPE_CHECKING:
    from feldera_nb.pipeline.pipeline import Pipeline

log = logging.getLogger(__name__)

FOLLOW_POLL_S = 0.1


class ConnectorDriver:
    """Runs ``pipeline``'s input connectors on a ``feldera-connectors`` thread."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        self.idle = False
        self.errors = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="feldera-connectors", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end after its current step and wait for it."""
        with self.p._changed:
            self._stop = True
            self.p._changed.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def wake(self) -> None:
        """Look for input again (after a resume)."""
        with self.p._changed:
            self.idle = False
            self.p._changed.notify_all()

    def _run(self) -> None:
        p = self.p
        follow = any(c.follow for c in p._inputs)
        while True:
            with p._changed:
                while not self._stop and (p._status is not PipelineStatus.RUNNING or self.idle):
                    if self.idle and follow and p._status is PipelineStatus.RUNNING:
                        p._changed.wait(FOLLOW_POLL_S)
                        self.idle = False
                        break
                    p._changed.wait()
                if self._stop:
                    return
            try:
                chunks = [(c, c.read()) for c in p._inputs]
            except FelderaNbError as e:
                p._fail(e)
                return
            chunks = [(c, ch) for c, ch in chunks if ch is not None]
            with p._changed:
                if self._stop:
                    return
                if p._status is not PipelineStatus.RUNNING:
                    continue
                if not chunks:
                    self.idle = True
                    p._changed.notify_all()
                    continue
                self._apply(chunks)
                p._changed.notify_all()

    def _apply(self, chunks: list[Any]) -> None:
        p = self.p
        deltas: dict[str, list[pl.DataFrame]] = {}
        positions = {}
        for conn, chunk in chunks:
            positions[conn.id] = chunk.end
            if chunk.error:
                self.errors += 1
                p._events.emit(Event("warning", message=chunk.error))
            if chunk.delta is not None and chunk.delta.height:
                deltas.setdefault(conn.table, []).append(chunk.delta)
        merged = {t: pl.concat(parts) if len(parts) > 1 else parts[0]
                  for t, parts in deltas.items()}
        try:
            p._run_step(merged, positions)
        except p.StepError as e:
            self.errors += 1
            p._events.emit(Event("warning", message=str(e)))
        except Exception as e:  # noqa: BLE001 - storage failure: the pipeline cannot go on
            p._fail(e)
            self._stop = True
