"""The checkpoint directory format: write, read and verify one checkpoint.

A checkpoint is ``<path>/checkpoints/<uuid>/`` holding one state file per engine frame and the
manifest ``CHECKPOINT.json``, written last::

    {"format": 1, "uuid": "...", "seq": 3, "step": 1200, "created_at": "2026-...+00:00",
     "files": {"00000-op12.trace.run0.parquet":
                   {"size": 5120, "sha256": "...", "name": "op12.trace.run0"}},
     "meta": {...the pipeline's JSON: program hash, records processed, positions, config...}}

State files are Parquet (``.parquet``) or Arrow IPC (``.arrow``); a file's extension says which.
The directory is written as ``<uuid>.tmp/``: every file fsynced, the manifest written and fsynced,
the directory fsynced, then renamed to ``<uuid>/`` and the parent fsynced.  So a directory named
``<uuid>`` always has its manifest, and a manifest always describes complete files; checksums
catch what the disk did afterwards.  The sync layer can move these directories as opaque trees.

>>> import tempfile, polars as pl
>>> root = tempfile.mkdtemp()
>>> m = write_checkpoint(root, {"op1.trace": pl.DataFrame({"k": [1, 2], "weight": [1, 1]})},
...                      seq=1, step=10, meta={"records_processed": 2})
>>> state, manifest = read_checkpoint(f"{root}/{m.uuid}")
>>> state["op1.trace"].height, manifest.step, manifest.meta
(2, 10, {'records_processed': 2})
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import threading
import time
import uuid as uuid_mod
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import polars as pl

from feldera_nb.errors import CheckpointCorruptError
from feldera_nb.storage._atomic import fsync_dir, fsync_path, write_file
from feldera_nb.storage.progress import NO_OP, Progress

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "TMP_SUFFIX",
    "FileEntry",
    "Manifest",
    "new_uuid",
    "read_checkpoint",
    "read_manifest",
    "verify_checkpoint",
    "write_checkpoint",
]

FORMAT_VERSION: Final = 1
MANIFEST_NAME: Final = "CHECKPOINT.json"
TMP_SUFFIX: Final = ".tmp"
FileFormat = Literal["parquet", "ipc"]
_EXTENSIONS: Final = {"parquet": ".parquet", "ipc": ".arrow"}
# Config compression -> Parquet codec.  "default" is zstd (level 3).  Measured on 4 frames of
# 500k rows (2 cores): a zstd checkpoint writes in 0.94x the time of plain ``write_parquet``
# (statistics are off, hashing and writing overlap serialization) and its files are 1.5-4x
# smaller than lz4's, which writes in 0.6-0.8x; smaller files matter more for disk use and sync.
_PARQUET_CODECS: Final = {
    "default": "zstd",
    "none": "uncompressed",
    "snappy": "snappy",
    "zstd": "zstd",
    "lz4": "lz4",
}
_IPC_CODECS: Final = {
    "default": "lz4",
    "none": "uncompressed",
    "snappy": "lz4",
    "zstd": "zstd",
    "lz4": "lz4",
}
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")
_HASH_CHUNK: Final = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    """One state file of a checkpoint: its size, SHA-256 and the engine's name for the frame."""

    size: int
    sha256: str
    name: str


@dataclass(frozen=True)
class Manifest:
    """The parsed ``CHECKPOINT.json`` of a checkpoint."""

    uuid: str
    seq: int
    step: int
    created_at: str
    files: Mapping[str, FileEntry]
    meta: Mapping[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    @property
    def size_bytes(self) -> int:
        """Total size of the state files."""
        return sum(f.size for f in self.files.values())

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored as ``CHECKPOINT.json``."""
        return {
            "format": self.format,
            "uuid": self.uuid,
            "seq": self.seq,
            "step": self.step,
            "created_at": self.created_at,
            "files": {
                rel: {"size": f.size, "sha256": f.sha256, "name": f.name}
                for rel, f in self.files.items()
            },
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, obj: Any) -> Manifest:
        """Parse a manifest object; raises ValueError/KeyError/TypeError when malformed."""
        if not isinstance(obj, dict) or obj.get("format") != FORMAT_VERSION:
            raise ValueError(f"not a format-{FORMAT_VERSION} manifest")
        files = {}
        for rel, f in obj["files"].items():
            if not _safe_relpath(rel):
                raise ValueError(f"unsafe file path {rel!r}")
            files[rel] = FileEntry(int(f["size"]), str(f["sha256"]), str(f["name"]))
        meta = obj.get("meta", {})
        if not isinstance(meta, dict):
            raise TypeError("meta is not an object")
        return cls(
            str(obj["uuid"]), int(obj["seq"]), int(obj["step"]), str(obj["created_at"]), files, meta
        )


def _safe_relpath(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and all(p not in ("", ".", "..") for p in parts)


_uuid_lock = threading.Lock()
_last_uuid_ms = 0
_uuid_seq = 0


def new_uuid() -> str:
    """A new time-ordered UUID (version 7), so newer checkpoints sort after older ones.

    >>> a, b = new_uuid(), new_uuid()
    >>> a < b and uuid_mod.UUID(a).version == 7
    True
    """
    global _last_uuid_ms, _uuid_seq
    with _uuid_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_uuid_ms:
            ms = _last_uuid_ms
            _uuid_seq += 1
        else:
            _uuid_seq = int.from_bytes(os.urandom(2), "big") & 0x7FF
        _last_uuid_ms = ms
        rand_a = _uuid_seq & 0xFFF
        rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return str(uuid_mod.UUID(int=value))


def state_file_name(index: int, name: str, file_format: FileFormat = "parquet") -> str:
    """The file name of the ``index``-th frame: index prefix + sanitized name + extension.

    >>> state_file_name(3, "op12.trace/run 0")
    '00003-op12.trace_run_0.parquet'
    """
    return f"{index:05d}-{_UNSAFE.sub('_', name)[:80]}{_EXTENSIONS[file_format]}"


def _serialize(df: pl.DataFrame, file_format: FileFormat, compression: str) -> memoryview:
    buf = io.BytesIO()
    if file_format == "parquet":
        codec = _PARQUET_CODECS[compression]
        df.write_parquet(buf, compression=codec, statistics=False)  # type: ignore[arg-type]
    else:
        df.write_ipc(buf, compression=_IPC_CODECS[compression])  # type: ignore[arg-type]
    return buf.getbuffer()


def _store(path: Path, data: memoryview, name: str) -> FileEntry:
    entry = FileEntry(len(data), hashlib.sha256(data).hexdigest(), name)
    # No fsync here: write_checkpoint fsyncs all files together afterwards, which lets the
    # kernel write them back in parallel.
    write_file(path, data, fsync=False)
    return entry


def _write_frames(
    directory: Path,
    state: Mapping[str, pl.DataFrame],
    file_format: FileFormat,
    compression: str,
    progress: Progress,
) -> dict[str, FileEntry]:
    """Serialize each frame into memory, then hash and write it on a helper thread while the
    next frame is serialized (both release the GIL).  At most two frames' bytes are alive."""
    files: dict[str, FileEntry] = {}
    pending: tuple[str, Future[FileEntry]] | None = None

    def finish() -> None:
        if pending is not None:
            rel, fut = pending
            files[rel] = fut.result()
            progress.relative_update(files[rel].size)

    with ThreadPoolExecutor(1, thread_name_prefix="feldera-ckpt-io") as pool:
        for index, (name, df) in enumerate(state.items()):
            rel = state_file_name(index, name, file_format)
            data = _serialize(df, file_format, compression)
            finish()
            pending = (rel, pool.submit(_store, directory / rel, data, name))
        finish()
    return files


def write_checkpoint(
    checkpoints_dir: str | os.PathLike[str],
    state: Mapping[str, pl.DataFrame],
    *,
    seq: int,
    step: int,
    meta: Mapping[str, Any] | None = None,
    uuid: str | None = None,
    file_format: FileFormat = "parquet",
    compression: str = "default",
    progress: Progress = NO_OP,
) -> Manifest:
    """Write ``state`` as the checkpoint ``<checkpoints_dir>/<uuid>/`` and return its manifest.

    Each frame is serialized into memory, hashed, then written, so hashing reads no file back.
    ``compression`` is the config's ``storage.compression``.  ``progress`` hears about bytes
    written.  On an error the ``.tmp`` directory is removed and the error propagates.
    """
    if file_format not in _EXTENSIONS:
        raise ValueError(f"file_format must be 'parquet' or 'ipc', got {file_format!r}")
    if compression not in _PARQUET_CODECS:
        raise ValueError(f"unknown compression {compression!r}")
    root = Path(checkpoints_dir)
    uuid = uuid or new_uuid()
    final, tmp = root / uuid, root / f"{uuid}{TMP_SUFFIX}"
    if final.exists():
        raise FileExistsError(f"checkpoint {final} already exists")
    root.mkdir(parents=True, exist_ok=True)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        progress.set_size(sum(int(df.estimated_size()) for df in state.values()))
        files = _write_frames(tmp, state, file_format, compression, progress)
        for rel in files:
            fsync_path(tmp / rel)
        manifest = Manifest(
            uuid,
            seq,
            step,
            dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            files,
            dict(meta or {}),
        )
        text = json.dumps(manifest.to_json(), indent=1, sort_keys=True).encode()
        write_file(tmp / MANIFEST_NAME, text)
        fsync_dir(tmp)
        os.rename(tmp, final)
        fsync_dir(root)
        progress.set_size(manifest.size_bytes)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def read_manifest(checkpoint_dir: str | os.PathLike[str]) -> Manifest:
    """Parse ``<checkpoint_dir>/CHECKPOINT.json``; CheckpointCorruptError when missing or bad."""
    path = Path(checkpoint_dir) / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointCorruptError(
            f"checkpoint {checkpoint_dir}: manifest {MANIFEST_NAME} is missing", path=str(path)
        ) from None
    except OSError as e:
        raise CheckpointCorruptError(
            f"checkpoint {checkpoint_dir}: cannot read {MANIFEST_NAME}: {e}", path=str(path)
        ) from e
    try:
        manifest = Manifest.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointCorruptError(
            f"checkpoint {checkpoint_dir}: manifest {MANIFEST_NAME} is unreadable ({e!r})",
            path=str(path),
        ) from None
    if manifest.uuid != Path(checkpoint_dir).name:
        raise CheckpointCorruptError(
            f"checkpoint {checkpoint_dir}: manifest names uuid {manifest.uuid}",
            path=str(path),
            expected=Path(checkpoint_dir).name,
            actual=manifest.uuid,
        )
    return manifest


def _missing(path: Path) -> CheckpointCorruptError:
    return CheckpointCorruptError(f"checkpoint state file {path} is missing", path=str(path))


def _check(path: Path, entry: FileEntry, size: int, digest: str | None) -> None:
    """Raise CheckpointCorruptError when ``size``/``digest`` differ from the manifest's."""
    if size != entry.size:
        raise CheckpointCorruptError(
            f"checkpoint state file {path} has {size} bytes, the manifest says {entry.size}",
            path=str(path),
            expected=str(entry.size),
            actual=str(size),
        )
    if digest is not None and digest != entry.sha256:
        raise CheckpointCorruptError(
            f"checkpoint state file {path} fails its checksum (sha256 {digest}, "
            f"the manifest says {entry.sha256})",
            path=str(path),
            expected=entry.sha256,
            actual=digest,
        )


def verify_checkpoint(checkpoint_dir: str | os.PathLike[str]) -> Manifest:
    """Check the manifest and the size and SHA-256 of every file without parsing the frames."""
    manifest = read_manifest(checkpoint_dir)
    for rel, entry in manifest.files.items():
        path = Path(checkpoint_dir) / rel
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                _check(path, entry, os.fstat(f.fileno()).st_size, None)
                while chunk := f.read(_HASH_CHUNK):
                    h.update(chunk)
        except FileNotFoundError:
            raise _missing(path) from None
        _check(path, entry, entry.size, h.hexdigest())
    return manifest


def read_checkpoint(
    checkpoint_dir: str | os.PathLike[str], *, verify: bool = True
) -> tuple[dict[str, pl.DataFrame], Manifest]:
    """Load a checkpoint's frames (keyed by their original names) and its manifest.

    With ``verify`` every file's size and SHA-256 are checked first.  A missing or unparsable
    manifest, a missing file, a checksum mismatch or an unreadable file raise
    :class:`CheckpointCorruptError` naming the file.
    """
    manifest = read_manifest(checkpoint_dir)
    state: dict[str, pl.DataFrame] = {}
    for rel, entry in manifest.files.items():
        path = Path(checkpoint_dir) / rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise _missing(path) from None
        if verify:
            _check(path, entry, len(data), hashlib.sha256(data).hexdigest())
        try:
            if rel.endswith(_EXTENSIONS["ipc"]):
                state[entry.name] = pl.read_ipc(io.BytesIO(data))
            else:
                state[entry.name] = pl.read_parquet(io.BytesIO(data))
        except Exception as e:  # noqa: BLE001 - any decoder failure means a corrupt file
            raise CheckpointCorruptError(
                f"checkpoint state file {path} cannot be decoded: {e}", path=str(path)
            ) from e
    return state, manifest
