"""Storage under ``storage_config.path``: lock, journal, checkpoints, catalog.

One job per module:

- ``lock``: :class:`StorageLock`, an ``flock`` on ``<path>/LOCK`` (one pipeline per path).
- ``journal``: :class:`Journal`, the write-ahead input log of exactly_once (``<path>/journal/``).
- ``checkpoint``: the format of one checkpoint directory (``<path>/checkpoints/<uuid>/``):
  :func:`write_checkpoint`, :func:`read_checkpoint`, :func:`verify_checkpoint`.
- ``catalog``: :class:`Catalog`, the list of checkpoints (``<path>/checkpoints/catalog.json``),
  crash cleanup, retention and the newest-intact walk of recovery.
- ``checkpointer``: :class:`Checkpointer`, the background writer with per-sequence statuses.
- ``progress``: the fsspec-shaped progress callback and its no-op default.
- ``_atomic``: fsync and atomic-replace helpers every writer uses.

Layout of a storage directory::

    <path>/LOCK                         pid of the holder
    <path>/journal/<step:020d>.wal      journal segments
    <path>/checkpoints/catalog.json     the catalog
    <path>/checkpoints/<uuid>/          one checkpoint: state files + CHECKPOINT.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from feldera_nb.storage.catalog import Catalog, CatalogEntry
from feldera_nb.storage.checkpoint import (
    Manifest,
    read_checkpoint,
    read_manifest,
    verify_checkpoint,
    write_checkpoint,
)
from feldera_nb.storage.checkpointer import Checkpointer
from feldera_nb.storage.journal import Journal, JournalRecord
from feldera_nb.storage.lock import StorageLock
from feldera_nb.storage.progress import NO_OP, Progress

__all__ = [
    "CHECKPOINTS_DIR",
    "JOURNAL_DIR",
    "NO_OP",
    "Catalog",
    "CatalogEntry",
    "Checkpointer",
    "Journal",
    "JournalRecord",
    "Manifest",
    "Progress",
    "StorageLock",
    "checkpoints_dir",
    "journal_dir",
    "read_checkpoint",
    "read_manifest",
    "verify_checkpoint",
    "write_checkpoint",
]

JOURNAL_DIR: Final = "journal"
CHECKPOINTS_DIR: Final = "checkpoints"


def journal_dir(path: str | Path) -> Path:
    """``<path>/journal``."""
    return Path(path) / JOURNAL_DIR


def checkpoints_dir(path: str | Path) -> Path:
    """``<path>/checkpoints``."""
    return Path(path) / CHECKPOINTS_DIR
