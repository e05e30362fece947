"""Standby: follow a bucket's newest checkpoint until the pipeline is activated.

:class:`StandbyPuller` pulls ``start_from_checkpoint`` (``"latest"`` when unset) every
``pull_interval`` seconds on a background thread, and calls ``on_pulled(uuid, path)`` each
time it holds a new one (``on_error(message)`` after a failed attempt).  A named UUID is
pulled once.  :meth:`StandbyPuller.final_pull`
stops the thread and pulls one last time; activation fails if that pull fails.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feldera_nb.errors import SyncError

from .location import Bucket, BucketRole, scrubber_for
from .progress import TransferProgress
from .start import pull_first, source_buckets, wanted_checkpoint

log = logging.getLogger(__name__)

OnPulled = Callable[[str, Path], None]


class StandbyPuller:
    """Pull the newest checkpoint every ``sync.pull_interval`` seconds until stopped.

    ``held_uuid``/``held_path`` name the checkpoint held locally, ``pulled_at`` when it
    arrived, ``last_error`` the last failed attempt (a scrubbed message; "not found" counts
    as an error, as in Feldera).  ``progress`` shows the running download.
    """

    def __init__(self, sync: Any, dest_dir: str | os.PathLike[str],
                 on_pulled: OnPulled | None = None,
                 on_error: Callable[[str], None] | None = None,
                 sources: list[tuple[BucketRole, Bucket]] | None = None) -> None:
        self._sync = sync
        self._dest = Path(dest_dir)
        self._on_pulled = on_pulled
        self._on_error = on_error
        self._sources = sources  # opened once by the caller, else per pull
        self._scrub = scrubber_for(sync)
        self._wanted = wanted_checkpoint(sync)
        self._interval = float(getattr(sync, "pull_interval", 10) or 10)
        self._lock = threading.Lock()  # one pull at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.progress = TransferProgress()
        self.held_uuid: str | None = None
        self.held_path: Path | None = None
        self.held_source: str | None = None  # "bucket" or "read_bucket"
        self.pulled_at: datetime | None = None
        self.last_error: str | None = None
        self.pulls = 0

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"StandbyPuller({self._wanted!r}, {state})"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> StandbyPuller:
        """Start following in the background (the first pull starts at once)."""
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="feldera-standby",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float | None = 30) -> None:
        """Stop following; a running download is cut off and discarded."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def pull_once(self) -> bool:
        """Pull now if the wanted checkpoint changed; True when a new one was pulled."""
        return self._pull(cancellable=False)

    def _pull(self, *, cancellable: bool) -> bool:
        with self._lock:
            if self._wanted != "latest" and self.held_uuid == self._wanted:
                return False
            sources = self._sources if self._sources is not None else source_buckets(self._sync)
            role, path, _ = pull_first(sources, self._wanted, self._dest,
                                       callback=self.progress,
                                       should_stop=self._stop.is_set if cancellable else None)
            self.last_error = None
            if path.name == self.held_uuid:
                return False
            self.held_uuid, self.held_path, self.held_source = path.name, path, role
            self.pulled_at = datetime.now(UTC)
            self.pulls += 1
            log.info("checkpoint %s pulled successfully from %s", path.name, role)
        if self._on_pulled is not None:
            self._on_pulled(path.name, path)
        return True

    def final_pull(self) -> tuple[str, Path]:
        """Stop following and pull one last time (for ``activate()``); raises on failure."""
        self.stop()
        self.pull_once()
        if self.held_uuid is None or self.held_path is None:
            raise SyncError("standby holds no checkpoint")
        return self.held_uuid, self.held_path

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._pull(cancellable=True)
            except SyncError as exc:
                if not self._stop.is_set():
                    self.last_error = str(exc)
                    log.warning("standby pull failed: %s", exc)
            except Exception as exc:  # a bug must not end following silently
                self.last_error = self._scrub.describe(exc)
                log.error("standby pull failed unexpectedly: %s", self.last_error)
            else:
                self._stop.wait(self._interval)
                continue
            if self._on_error is not None and self.last_error and not self._stop.is_set():
                try:
                    self._on_error(self.last_error)
                except Exception:  # an observer's bug must not end following
                    log.exception("standby error handler failed")
            self._stop.wait(self._interval)
