"""Download one checkpoint from a bucket and verify every file against its manifest.

Files land in ``<dest_dir>/<uuid>.tmp/<uuid>/``; each is checked for size and SHA-256 as soon
as it arrives (overlapping the other downloads), the manifest is written last, and only then
is the directory renamed to ``<dest_dir>/<uuid>/``.  A corrupt or cut-off
download never appears under the final name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from fsspec.callbacks import Callback

from feldera_nb.errors import SyncError
from feldera_nb.storage.checkpoint import FileEntry

from .location import Bucket
from .manifest import MANIFEST_NAME, RawManifest
from .progress import FileCallback, Meter
from .remote import find_manifest
from .transfer import DEFAULT_CONCURRENCY, Job, run_jobs

_HASH_CHUNK = 1 << 20


def pull_checkpoint(
    source: Bucket,
    uuid: str,
    dest_dir: str | os.PathLike[str],
    *,
    callback: Callback | None = None,
    max_concurrency: int = DEFAULT_CONCURRENCY,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Download checkpoint ``uuid`` (or ``"latest"``) from ``source`` into ``dest_dir``.

    Returns ``<dest_dir>/<uuid>``.  When that directory already holds the same manifest,
    nothing is downloaded.  Raises
    :class:`~feldera_nb.sync.remote.CheckpointNotFoundError` when the checkpoint is not
    there and :class:`SyncError` (naming the file for a corrupt one) on any other failure.
    """
    manifest = find_manifest(source, uuid)
    dest = Path(dest_dir)
    final = dest / manifest.uuid
    if _same_manifest(final, manifest):
        return final
    staging = dest / f"{manifest.uuid}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    tree = staging / manifest.uuid
    tree.mkdir(parents=True)
    try:
        _download(source, manifest, tree, callback, max_concurrency, should_stop)
        _write_synced(tree / MANIFEST_NAME, manifest.raw)
        _replace_dir(tree, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _download(source: Bucket, manifest: RawManifest, tree: Path, callback: Callback | None,
              max_concurrency: int, should_stop: Callable[[], bool] | None) -> None:
    jobs = [Job(source.path(manifest.uuid, rel), str(tree / rel), entry.size)
            for rel, entry in manifest.files()]
    for job in jobs:
        Path(job.dst).parent.mkdir(parents=True, exist_ok=True)
    fs = source.fs

    entries = {str(tree / rel): (rel, entry) for rel, entry in manifest.files()}

    def get(src: str, dst: str, cb: FileCallback) -> None:
        fs.get_file(src, dst, callback=cb)
        # Verify at once, while other files are still downloading (and this one is cached).
        rel, entry = entries[dst]
        problem = _check_file(Path(dst), entry)
        if problem:
            raise _Corrupt(f"checkpoint {manifest.uuid} from {source.url} is corrupt: "
                           f"file {rel} {problem}")

    meter = Meter(callback, total_bytes=manifest.size_bytes, total_files=len(jobs))
    try:
        run_jobs(jobs, get, meter, max_concurrency=max_concurrency, should_stop=should_stop)
    except _Corrupt as exc:
        raise SyncError(str(exc)) from None
    except FileNotFoundError as exc:
        raise SyncError(f"checkpoint {manifest.uuid} in {source.url} is incomplete: "
                        f"{source.scrub(str(exc))}") from None
    except Exception as exc:
        raise source.scrub.error(f"pull of checkpoint {manifest.uuid} from {source.url} failed",
                                 exc) from None


class _Corrupt(Exception):
    """A downloaded file does not match its manifest entry."""


def _check_file(path: Path, entry: FileEntry) -> str | None:
    """What is wrong with a downloaded file (size, then SHA-256), or None."""
    size = path.stat().st_size
    if size != entry.size:
        return f"has {size} bytes, the manifest says {entry.size}"
    digest = sha256_file(path)
    if digest != entry.sha256:
        return f"fails its checksum (sha256 {digest}, the manifest says {entry.sha256})"
    return None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file; hashlib releases the GIL, so workers hash in parallel."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _same_manifest(final: Path, manifest: RawManifest) -> bool:
    try:
        return (final / MANIFEST_NAME).read_bytes() == manifest.raw
    except OSError:
        return False


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _replace_dir(tree: Path, final: Path) -> None:
    """Rename ``tree`` to ``final`` (moving an older ``final`` aside first), then fsync."""
    if final.exists():
        old = tree.with_name(f"{final.name}.old")
        os.replace(final, old)  # inside the staging dir, removed with it
    os.replace(tree, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
