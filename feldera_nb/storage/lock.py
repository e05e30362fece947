"""One pipeline per storage path: an exclusive ``flock`` on ``<path>/LOCK``.

The kernel drops an ``flock`` when the last descriptor of the open file closes, including when
the process dies (even by SIGKILL), so a crashed pipeline never leaves a stale lock.  Each
:class:`StorageLock` opens the file itself, so a second pipeline in the same process conflicts as
well.  The holder writes its pid, host and start time into the file so that the loser can say who
holds the lock.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> with StorageLock(d) as lock:
...     try:
...         StorageLock(d)
...     except StorageLockedError as e:
...         print("held by this process:", e.pid == os.getpid())
held by this process: True
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from feldera_nb.errors import StorageError, StorageLockedError
from feldera_nb.storage._atomic import write_all

__all__ = ["LOCK_NAME", "StorageLock", "read_lock_holder"]

LOCK_NAME: Final = "LOCK"


class StorageLock:
    """Hold the exclusive lock on a storage directory (created if missing) until ``release()``.

    Raises :class:`StorageLockedError` (with ``.path`` and ``.pid``) when another holder has it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lock_file = self.path / LOCK_NAME
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise StorageError(f"cannot open the storage lock {self.lock_file}: {e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StorageError(f"cannot lock {self.lock_file}: {e}") from e
            holder = read_lock_holder(self.path) or {}
            pid = holder.get("pid")
            err = StorageLockedError(
                f"storage {self.path} is in use by another pipeline"
                f" (pid {pid if pid is not None else 'unknown'}"
                f"{' on ' + str(holder['host']) if holder.get('host') else ''})"
            )
            err.path = str(self.path)  # type: ignore[attr-defined]
            err.pid = pid  # type: ignore[attr-defined]
            raise err from None
        self._fd: int | None = fd
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        write_all(fd, [json.dumps(info).encode()])

    @property
    def held(self) -> bool:
        """True until :meth:`release`."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up (idempotent).  The LOCK file stays: deleting it would race."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> StorageLock:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def __repr__(self) -> str:
        return f"StorageLock({str(self.path)!r}, held={self.held})"


def read_lock_holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What the last holder of ``<path>/LOCK`` wrote (pid, host, since), or None if unreadable."""
    try:
        info = json.loads((Path(path) / LOCK_NAME).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None
