"""Progress of a push or pull, reported through fsspec's ``Callback`` shape.

Any fsspec ``Callback`` passed to a transfer sees the bytes: ``set_size(total_bytes)`` once
and ``relative_update(n)`` as data moves.  A :class:`TransferProgress` also counts files and
can be read from another thread (a widget) through :meth:`TransferProgress.snapshot`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from fsspec.callbacks import Callback


@dataclass(frozen=True)
class ProgressSnapshot:
    """Bytes and files done out of the totals, at one moment."""

    bytes_done: int = 0
    bytes_total: int = 0
    files_done: int = 0
    files_total: int = 0

    @property
    def fraction(self) -> float:
        """Done / total by bytes (1.0 for an empty transfer)."""
        return self.bytes_done / self.bytes_total if self.bytes_total else 1.0


class TransferProgress(Callback):
    """A thread-safe fsspec ``Callback`` that also counts files.

    >>> p = TransferProgress()
    >>> p.start(total_bytes=10, total_files=2)
    >>> p.relative_update(4); p.file_done()
    >>> p.snapshot()
    ProgressSnapshot(bytes_done=4, bytes_total=10, files_done=1, files_total=2)
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self.files_done = 0
        self.files_total = 0

    def start(self, *, total_bytes: int, total_files: int) -> None:
        """Reset the counters for a new transfer."""
        with self._lock:
            self.files_done, self.files_total = 0, total_files
            self.size, self.value = total_bytes, 0
        self.call()

    def relative_update(self, inc: int = 1) -> None:
        with self._lock:
            self.value += inc
        self.call()

    def file_done(self) -> None:
        """One more file transferred completely."""
        with self._lock:
            self.files_done += 1
        self.call()

    def snapshot(self) -> ProgressSnapshot:
        with self._lock:
            return ProgressSnapshot(int(self.value), int(self.size or 0), self.files_done,
                                    self.files_total)


class Meter:
    """Fans the per-file callbacks of concurrent transfers into one user callback."""

    def __init__(self, callback: Callback | None, *, total_bytes: int, total_files: int) -> None:
        self._cb = callback
        self._lock = threading.Lock()
        if isinstance(callback, TransferProgress):
            callback.start(total_bytes=total_bytes, total_files=total_files)
        elif callback is not None:
            callback.set_size(total_bytes)

    def add(self, nbytes: int) -> None:
        if self._cb is not None and nbytes:
            with self._lock:
                self._cb.relative_update(nbytes)

    def whole_file(self, size: int) -> None:
        """A file sent in one call without a callback (the manifest)."""
        self.add(size)
        if isinstance(self._cb, TransferProgress):
            self._cb.file_done()

    def file(self) -> FileCallback:
        """A callback for one file's transfer."""
        return FileCallback(self)

    def done(self, file_cb: FileCallback, size: int) -> None:
        """A file finished: count it, and top its bytes up to its size (some backends
        report partially or not at all)."""
        self.add(size - file_cb.reported)
        file_cb.reported = size
        if isinstance(self._cb, TransferProgress):
            self._cb.file_done()


class FileCallback(Callback):
    """Per-file callback handed to ``put_file``/``get_file``; forwards byte deltas."""

    def __init__(self, meter: Meter) -> None:
        super().__init__()
        self._meter = meter
        self.reported = 0

    def call(self, hook_name: str | None = None, **kwargs: Any) -> None:
        delta = int(self.value) - self.reported
        if delta > 0:
            self.reported += delta
            self._meter.add(delta)
