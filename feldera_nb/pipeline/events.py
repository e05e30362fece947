"""What a pipeline tells its observers: status changes and progress, as callbacks.

A widget (or the CLI) subscribes once and is called on the thread where the event happens, so
nothing has to poll::

    p.subscribe(lambda e: print(e))

Events are frozen dataclasses with a ``kind``:

- ``status``: the pipeline's status changed (``status``, ``previous``).
- ``recovery``: bootstrap/replay progress (``phase``, ``done``, ``total``, ``checkpoint``).
- ``step``: a step finished (``step``, ``records``).
- ``checkpoint``: a checkpoint changed state (``seq``, ``status``, ``bytes_written``, ``error``).
- ``warning``: something was skipped or repaired (``message``).
- ``sync``: a checkpoint push or pull (``phase`` "push"/"pull", ``status`` InProgress/Success/
  Failure, ``checkpoint`` uuid, ``bytes_done``/``bytes_total``/``files_done``/``files_total``,
  ``error``, ``message``); a standby sends one per checkpoint it pulls.

>>> bus = EventBus()
>>> seen = []
>>> unsubscribe = bus.subscribe(seen.append)
>>> bus.emit(Event("warning", message="journal tail cut"))
>>> unsubscribe(); bus.emit(Event("warning", message="unseen"))
>>> [e.message for e in seen]
['journal tail cut']
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

log = logging.getLogger(__name__)

Listener = Callable[["Event"], None]


@dataclass(frozen=True)
class Event:
    """One thing that happened in a pipeline.  Fields not relevant to ``kind`` are None."""

    kind: str
    status: str | None = None
    previous: str | None = None
    phase: str | None = None
    done: int | None = None
    total: int | None = None
    step: int | None = None
    records: int | None = None
    seq: int | None = None
    checkpoint: str | None = None
    bytes_written: int | None = None
    error: str | None = None
    message: str | None = None
    bytes_done: int | None = None
    bytes_total: int | None = None
    files_done: int | None = None
    files_total: int | None = None

    def __str__(self) -> str:
        parts = [self.kind]
        for name in ("status", "phase", "done", "total", "step", "records", "seq", "checkpoint",
                     "bytes_written", "bytes_done", "bytes_total", "files_done", "files_total",
                     "error", "message"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value}")
        return " ".join(parts)


class EventBus:
    """Listeners and the events sent to them.  A listener that raises is logged and kept."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; returns an unsubscribe."""
        with self._lock:
            self._listeners = [*self._listeners, listener]

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = [x for x in self._listeners if x is not listener]

        return unsubscribe

    def emit(self, event: Event) -> None:
        """Send ``event`` to every listener."""
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - an observer's bug must not stop the pipeline
                log.exception("pipeline event listener failed on %s", event)


@dataclass(frozen=True)
class RecoveryReport:
    """What the last ``start()`` recovered from (for reprs and widgets)."""

    checkpoint_uuid: str | None = None
    checkpoint_seq: int | None = None
    checkpoint_step: int | None = None
    replayed_steps: int = 0
    skipped: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    bootstrapped_views: tuple[str, ...] = ()
    source: str | None = None
    """Where the checkpoint came from with checkpoint sync: local, bucket, read_bucket, empty."""
    source_detail: str = ""
    """What start resolution found missing on the way (for ``empty``: why)."""

    def __str__(self) -> str:
        if self.checkpoint_uuid is None and not self.replayed_steps:
            return "started empty"
        parts = []
        if self.source in ("bucket", "read_bucket") and self.checkpoint_uuid is not None:
            parts.append(f"started from {self.source} checkpoint {self.checkpoint_uuid}")
        if self.checkpoint_uuid is not None:
            parts.append(f"checkpoint seq {self.checkpoint_seq} (step {self.checkpoint_step})")
        parts.append(f"replayed {self.replayed_steps} journaled steps")
        if self.skipped:
            parts.append(f"skipped {len(self.skipped)} damaged checkpoint(s)")
        if self.bootstrapped_views:
            parts.append(f"bootstrapped {', '.join(self.bootstrapped_views)}")
        return "; ".join(parts)

    def _repr_html_(self) -> str:
        from feldera_nb.widgets import recovery_html

        return recovery_html(self)


@dataclass(frozen=True)
class SyncSnapshot:
    """Checkpoint sync at one moment: the running transfer, the last push, the standby.

    ``phase`` is "push" or "pull" while a transfer runs (its ``checkpoint`` and byte and file
    counts), else None.  ``held_checkpoint``/``pulled_at`` say what a standby holds.  URLs
    never carry credentials.
    """

    bucket: str
    read_bucket: str | None = None
    phase: str | None = None
    checkpoint: str | None = None
    bytes_done: int = 0
    bytes_total: int = 0
    files_done: int = 0
    files_total: int = 0
    last_synced: str | None = None
    last_error: str | None = None
    pushed: int = 0
    failed: int = 0
    next_push_at: datetime | None = None
    standby: bool = False
    held_checkpoint: str | None = None
    pulled_at: datetime | None = None
    pulls: int = 0
    start_source: str | None = None
    start_checkpoint: str | None = None
    start_detail: str = ""

    def __str__(self) -> str:
        parts = [f"sync to {self.bucket}"]
        if self.phase is not None:
            parts.append(f"{self.phase}ing {self.files_done}/{self.files_total} files, "
                         f"{self.bytes_done}/{self.bytes_total} bytes")
        if self.standby:
            parts.append("standby, holding " + ("a checkpoint" if self.held_checkpoint
                                                else "no checkpoint yet"))
        parts.append(f"{self.pushed} pushed, {self.failed} failed")
        return "; ".join(parts)


@dataclass(frozen=True)
class PipelineSnapshot:
    """A consistent, I/O-free picture of a pipeline for reprs and widgets."""

    name: str
    status: str
    model: str
    step: int
    records_processed: int
    storage_path: str | None
    last_checkpoint_seq: int | None
    checkpoint_in_progress: bool
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    recovery: RecoveryReport | None = None
    error: str | None = None
    sync: SyncSnapshot | None = None

    def __str__(self) -> str:
        return (f"{self.name}: {self.status}, step {self.step}, {self.records_processed} records"
                f", model {self.model}")
