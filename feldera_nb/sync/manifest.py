"""The checkpoint manifest ``CHECKPOINT.json`` as sync moves it around.

The format belongs to :mod:`feldera_nb.storage.checkpoint`; sync treats a checkpoint as an
opaque file tree plus that manifest, and keeps the manifest's exact bytes so a pulled
checkpoint is byte-identical to the pushed one.  Remotely the manifest is the commit marker:
it is uploaded after every file it lists and deleted before them, so a checkpoint is visible
exactly when its manifest is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feldera_nb.errors import SyncError
from feldera_nb.storage.checkpoint import MANIFEST_NAME, FileEntry, Manifest

__all__ = ["MANIFEST_NAME", "RawManifest", "RemoteCheckpoint", "parse_time"]


@dataclass(frozen=True)
class RawManifest:
    """A parsed manifest plus the exact bytes it was parsed from."""

    manifest: Manifest
    raw: bytes

    @property
    def uuid(self) -> str:
        return self.manifest.uuid

    @property
    def created_at(self) -> datetime:
        return parse_time(self.manifest.created_at)

    @property
    def size_bytes(self) -> int:
        return self.manifest.size_bytes

    def files(self) -> Iterator[tuple[str, FileEntry]]:
        """``(relpath, entry)`` of every listed file."""
        yield from self.manifest.files.items()

    @classmethod
    def parse(cls, raw: bytes, *, where: str) -> RawManifest:
        """Parse and check a manifest; ``where`` names it in errors."""
        try:
            manifest = Manifest.from_json(json.loads(raw))
            if MANIFEST_NAME in manifest.files:
                raise ValueError(f"{MANIFEST_NAME} lists itself")
            parse_time(manifest.created_at)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SyncError(f"{where}: not a valid checkpoint manifest ({exc})") from None
        return cls(manifest, bytes(raw))

    @classmethod
    def load(cls, checkpoint_dir: str | os.PathLike[str]) -> RawManifest:
        """Read the manifest of a local checkpoint directory."""
        path = Path(checkpoint_dir) / MANIFEST_NAME
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise SyncError(f"{checkpoint_dir} is not a checkpoint: cannot read "
                            f"{MANIFEST_NAME} ({exc.strerror or exc})") from None
        return cls.parse(raw, where=str(path))


@dataclass(frozen=True)
class RemoteCheckpoint:
    """A committed checkpoint in a bucket."""

    uuid: str
    seq: int
    step: int
    created_at: datetime
    size_bytes: int

    @classmethod
    def of(cls, raw: RawManifest) -> RemoteCheckpoint:
        m = raw.manifest
        return cls(m.uuid, m.seq, m.step, raw.created_at, m.size_bytes)


def parse_time(text: Any) -> datetime:
    """An ISO-8601 time; a naive one is taken as UTC."""
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
