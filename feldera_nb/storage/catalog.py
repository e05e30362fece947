"""The list of local checkpoints, ``<path>/checkpoints/catalog.json``, and recovery's walk over it.

::

    {"format": 1, "checkpoints": [
        {"uuid": "...", "seq": 3, "step": 1200, "created_at": "2026-...", "size_bytes": 5120,
         "duration_s": 0.21, "records_processed": 1200, "status": "Success"}, ...]}

Entries are oldest first, in the order they were committed or registered.  The file is replaced
atomically (tmp + fsync + rename + fsync of the directory).  Opening a catalog tidies up after a
crash: ``<uuid>.tmp`` directories (a checkpoint write that never committed) and ``<uuid>.del``
directories (retention half done) are deleted; a missing or corrupt ``catalog.json`` is rebuilt
from the checkpoint manifests; a committed checkpoint missing from the catalog is adopted.  Each
repair is reported with a :class:`~feldera_nb.errors.RecoveryWarning`.

Retention keeps the newest ``retain`` checkpoints (at least 2) and any pinned one (a sync in
progress), and deletes the rest after the catalog no longer lists them.

>>> import tempfile, polars as pl
>>> from feldera_nb.storage.checkpoint import write_checkpoint
>>> cat = Catalog(tempfile.mkdtemp())
>>> for seq in (1, 2, 3):
...     m = write_checkpoint(cat.directory, {"t": pl.DataFrame({"x": [seq]})}, seq=seq, step=seq)
...     _ = cat.add(m, duration_s=0.0)
>>> len(cat.apply_retention()), [e.seq for e in cat.entries()]
(1, [2, 3])
>>> entry, state, manifest, skipped = cat.latest_intact()
>>> entry.seq, state["t"]["x"][0], skipped
(3, 3, [])
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid as uuid_mod
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

from feldera_nb.enums import CheckpointStatus
from feldera_nb.errors import CheckpointCorruptError, RecoveryWarning, StorageError, warn
from feldera_nb.storage._atomic import atomic_write, fsync_dir
from feldera_nb.storage.checkpoint import (
    TMP_SUFFIX,
    Manifest,
    read_checkpoint,
    read_manifest,
    verify_checkpoint,
)

__all__ = ["CATALOG_NAME", "DEL_SUFFIX", "MIN_RETAIN", "Catalog", "CatalogEntry"]

CATALOG_NAME: Final = "catalog.json"
DEL_SUFFIX: Final = ".del"
MIN_RETAIN: Final = 2
_FORMAT: Final = 1


@dataclass(frozen=True)
class CatalogEntry:
    """One local checkpoint as the catalog lists it."""

    uuid: str
    seq: int
    step: int
    created_at: str
    size_bytes: int
    duration_s: float | None = None
    records_processed: int | None = None
    status: str = CheckpointStatus.Success.value

    @classmethod
    def from_manifest(cls, m: Manifest, *, duration_s: float | None = None) -> CatalogEntry:
        """The entry describing the checkpoint of manifest ``m``."""
        records = m.meta.get("records_processed")
        return cls(
            m.uuid,
            m.seq,
            m.step,
            m.created_at,
            m.size_bytes,
            duration_s,
            records if isinstance(records, int) else None,
        )

    @classmethod
    def from_json(cls, obj: Any) -> CatalogEntry:
        """Parse one catalog entry; raises on a malformed one."""
        if not isinstance(obj, dict):
            raise TypeError("catalog entry is not an object")
        return cls(
            uuid=str(uuid_mod.UUID(obj["uuid"])),
            seq=int(obj["seq"]),
            step=int(obj["step"]),
            created_at=str(obj["created_at"]),
            size_bytes=int(obj["size_bytes"]),
            duration_s=None if obj.get("duration_s") is None else float(obj["duration_s"]),
            records_processed=(
                None if obj.get("records_processed") is None else int(obj["records_processed"])
            ),
            status=str(obj.get("status", CheckpointStatus.Success.value)),
        )


def _is_uuid(name: str) -> bool:
    try:
        return str(uuid_mod.UUID(name)) == name
    except ValueError:
        return False


class Catalog:
    """The catalog of the checkpoints in ``directory`` (``<storage path>/checkpoints``).

    Thread-safe: the checkpointer adds entries while the pipeline and the sync layer read them.
    """

    def __init__(self, directory: str | os.PathLike[str], *, retain: int = MIN_RETAIN) -> None:
        if retain < MIN_RETAIN:
            raise ValueError(f"retain must be at least {MIN_RETAIN}, got {retain}")
        self.directory = Path(directory)
        self.path = self.directory / CATALOG_NAME
        self.retain = retain
        self._lock = threading.RLock()
        self._pinned: dict[str, int] = {}
        self.directory.mkdir(parents=True, exist_ok=True)
        self._entries: list[CatalogEntry] = self._open()

    # -- opening ----------------------------------------------------------------------------

    def _open(self) -> list[CatalogEntry]:
        deleting = self._clean_leftovers()
        entries, ok = self._load()
        changed = not ok
        if deleting:
            kept = [e for e in entries if e.uuid not in deleting]
            changed |= len(kept) != len(entries)
            entries = kept
        listed = {e.uuid for e in entries}
        adopted = []
        for d in self._checkpoint_dirs():
            if d.name in listed:
                continue
            try:
                adopted.append(CatalogEntry.from_manifest(read_manifest(d)))
            except CheckpointCorruptError as e:
                warn(f"checkpoint directory {d} is not usable and is ignored: {e}", RecoveryWarning)
        if adopted:
            adopted.sort(key=lambda e: (e.created_at, e.seq))
            if ok:
                names = ", ".join(e.uuid for e in adopted)
                warn(f"catalog {self.path} did not list checkpoint(s) {names}; added them",
                     RecoveryWarning)
            entries += adopted
            changed = True
        if changed and (entries or self.path.exists()):
            self._write(entries)
        return entries

    def _clean_leftovers(self) -> set[str]:
        """Delete ``.tmp`` and ``.del`` directories; return the uuids that were being deleted."""
        deleting = set()
        for d in self.directory.iterdir():
            if d.is_dir() and d.name.endswith(TMP_SUFFIX):
                warn(f"deleting the incomplete checkpoint {d} left by a crash", RecoveryWarning)
                shutil.rmtree(d)
            elif d.is_dir() and d.name.endswith(DEL_SUFFIX):
                deleting.add(d.name[: -len(DEL_SUFFIX)])
                shutil.rmtree(d)
        stale = self.path.with_name(CATALOG_NAME + ".tmp")
        if stale.exists():
            stale.unlink()
        return deleting

    def _checkpoint_dirs(self) -> list[Path]:
        return sorted(d for d in self.directory.iterdir() if d.is_dir() and _is_uuid(d.name))

    def _load(self) -> tuple[list[CatalogEntry], bool]:
        """The entries of catalog.json and whether it was intact; rebuilt from manifests if not."""
        try:
            doc = json.loads(self.path.read_bytes())
            if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
                raise ValueError(f"not a format-{_FORMAT} catalog")
            return [CatalogEntry.from_json(e) for e in doc["checkpoints"]], True
        except FileNotFoundError:
            if self._checkpoint_dirs():
                warn(f"catalog {self.path} is missing; rebuilding it from the checkpoint "
                     "manifests", RecoveryWarning)
            return [], False
        except (ValueError, KeyError, TypeError) as e:
            warn(f"catalog {self.path} is corrupt ({e!r}); rebuilding it from the checkpoint "
                 "manifests", RecoveryWarning)
            return [], False

    def _write(self, entries: Iterable[CatalogEntry]) -> None:
        doc = {"format": _FORMAT, "checkpoints": [asdict(e) for e in entries]}
        atomic_write(self.path, json.dumps(doc, indent=1).encode())

    # -- reading ----------------------------------------------------------------------------

    def entries(self) -> list[CatalogEntry]:
        """All listed checkpoints, oldest first."""
        with self._lock:
            return list(self._entries)

    def latest(self) -> CatalogEntry | None:
        """The newest listed checkpoint (not verified), or None."""
        with self._lock:
            return self._entries[-1] if self._entries else None

    def get(self, uuid: str) -> CatalogEntry | None:
        """The entry of ``uuid``, or None."""
        with self._lock:
            return next((e for e in self._entries if e.uuid == uuid), None)

    def checkpoint_dir(self, uuid: str) -> Path:
        """The directory of checkpoint ``uuid``."""
        return self.directory / uuid

    def latest_intact(
        self,
    ) -> tuple[CatalogEntry, dict[str, pl.DataFrame], Manifest, list[tuple[str, str]]] | None:
        """Load the newest checkpoint whose files all check out.

        Walks newest to oldest; each checkpoint skipped (missing directory or file, bad manifest,
        checksum mismatch) is reported with a RecoveryWarning and listed in ``skipped`` as
        ``(uuid, reason)``.  Returns ``(entry, state, manifest, skipped)``, or None when no
        checkpoint is usable.
        """
        skipped: list[tuple[str, str]] = []
        for entry in reversed(self.entries()):
            d = self.checkpoint_dir(entry.uuid)
            try:
                if not d.is_dir():
                    raise CheckpointCorruptError(f"checkpoint directory {d} is missing",
                                                 path=str(d))
                state, manifest = read_checkpoint(d, verify=True)
            except CheckpointCorruptError as e:
                skipped.append((entry.uuid, str(e)))
                warn(f"skipping checkpoint {entry.uuid} (seq {entry.seq}, step {entry.step}): "
                     f"{e}", RecoveryWarning)
                continue
            return entry, state, manifest, skipped
        return None

    # -- changing ---------------------------------------------------------------------------

    def add(self, manifest: Manifest, *, duration_s: float | None = None) -> CatalogEntry:
        """List the committed checkpoint of ``manifest`` as the newest one."""
        entry = CatalogEntry.from_manifest(manifest, duration_s=duration_s)
        with self._lock:
            if any(e.uuid == entry.uuid for e in self._entries):
                raise StorageError(f"checkpoint {entry.uuid} is already in {self.path}")
            entries = [*self._entries, entry]
            self._write(entries)
            self._entries = entries
        return entry

    def register(self, uuid: str, *, verify: bool = True) -> CatalogEntry:
        """List a checkpoint directory that someone else placed here (a sync pull) as newest.

        With ``verify`` the files' sizes and checksums are checked first
        (CheckpointCorruptError if they do not match).  Registering a listed uuid returns its
        entry unchanged.
        """
        with self._lock:
            known = self.get(uuid)
            if known is not None:
                return known
        d = self.checkpoint_dir(uuid)
        manifest = verify_checkpoint(d) if verify else read_manifest(d)
        with self._lock:
            known = self.get(uuid)
            return known if known is not None else self.add(manifest)

    def remove(self, uuid: str) -> bool:
        """Delete checkpoint ``uuid`` (catalog first, then files); False if it is not listed."""
        return bool(self._delete([uuid]))

    def pin(self, uuid: str) -> None:
        """Protect ``uuid`` from retention until as many ``unpin`` calls (a sync reading it)."""
        with self._lock:
            self._pinned[uuid] = self._pinned.get(uuid, 0) + 1

    def unpin(self, uuid: str) -> None:
        """Undo one ``pin``."""
        with self._lock:
            n = self._pinned.get(uuid, 0) - 1
            if n > 0:
                self._pinned[uuid] = n
            else:
                self._pinned.pop(uuid, None)

    def apply_retention(self) -> list[str]:
        """Delete all but the newest ``retain`` checkpoints (pinned ones stay); return uuids."""
        with self._lock:
            old = self._entries[: max(0, len(self._entries) - self.retain)]
            return self._delete([e.uuid for e in old if e.uuid not in self._pinned])

    def _delete(self, uuids: list[str]) -> list[str]:
        with self._lock:
            doomed = [e.uuid for e in self._entries if e.uuid in set(uuids)]
            if not doomed:
                return []
            # Rename first: a crash then leaves a .del directory that the next open removes,
            # together with its catalog entry.
            renamed = []
            for uuid in doomed:
                d = self.checkpoint_dir(uuid)
                if d.exists():
                    gone = d.with_name(uuid + DEL_SUFFIX)
                    os.rename(d, gone)
                    renamed.append(gone)
            fsync_dir(self.directory)
            entries = [e for e in self._entries if e.uuid not in doomed]
            self._write(entries)
            self._entries = entries
        for gone in renamed:
            shutil.rmtree(gone, ignore_errors=True)
        return doomed

    def __repr__(self) -> str:
        return f"Catalog({str(self.directory)!r}, {len(self._entries)} checkpoints)"
