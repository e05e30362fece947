"""Durable file writes: write every byte, fsync the file, fsync the directory, rename atomically.

POSIX only makes a new name durable once the directory holding it is fsynced, and only makes a
rename atomic within one directory; every writer in :mod:`feldera_nb.storage` goes through here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

Buffer = bytes | bytearray | memoryview

__all__ = ["atomic_write", "fsync_dir", "fsync_path", "write_all", "write_file"]


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Fsync a directory, making the names created, renamed or deleted in it durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Fsync a file that was written (and closed) earlier."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, parts: Sequence[Buffer]) -> int:
    """Write ``parts`` to ``fd`` with as few system calls as possible; return the bytes written."""
    views = [memoryview(p).cast("B") for p in parts if len(p)]
    total = 0
    while views:
        n = os.writev(fd, views)
        total += n
        while views and n >= len(views[0]):
            n -= len(views[0])
            views.pop(0)
        if n:
            views[0] = views[0][n:]
    return total


def write_file(path: str | os.PathLike[str], data: Buffer, *, fsync: bool = True) -> None:
    """Create (or replace) ``path`` holding ``data``; fsync it unless told not to."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, [data])
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: Buffer) -> None:
    """Replace ``path`` by ``data`` so that a crash leaves the old or the new content, never a mix.

    Writes ``<path>.tmp``, fsyncs it, renames it over ``path`` and fsyncs the directory.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    write_file(tmp, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)
