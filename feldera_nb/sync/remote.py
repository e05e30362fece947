"""What a bucket holds: committed checkpoints, newest first, and their manifests.

Remote layout under the bucket root::

    OWNER                      who pushes here (see owner.py)
    <uuid>/<relpath>...        the checkpoint's files, as in the local directory
    <uuid>/CHECKPOINT.json     the manifest, uploaded last: the commit marker

A ``<uuid>/`` without a readable manifest is an interrupted push or a half-deleted
checkpoint, and is not listed.
"""

from __future__ import annotations

import logging
from typing import Any

from feldera_nb.errors import SyncError

from .location import Bucket
from .manifest import MANIFEST_NAME, RawManifest, RemoteCheckpoint

log = logging.getLogger(__name__)


class CheckpointNotFoundError(SyncError):
    """The bucket has no (committed) checkpoint of that UUID, or none at all.

    The only sync failure that lets start resolution fall through to the next source.
    """


def remote_manifests(bucket: Bucket) -> list[RawManifest]:
    """Manifests of the committed checkpoints in ``bucket``, newest first."""
    fs = bucket.fs
    try:
        fs.invalidate_cache(bucket.root)
        entries = fs.ls(bucket.root, detail=True)
    except FileNotFoundError:
        return []
    except Exception as exc:
        raise bucket.scrub.error(f"cannot list {bucket.url}", exc) from None
    paths = [f"{_name(e)}/{MANIFEST_NAME}" for e in entries if e.get("type") == "directory"]
    if not paths:
        return []
    try:
        found: dict[str, Any] = fs.cat(paths, on_error="return")
    except Exception as exc:
        raise bucket.scrub.error(f"cannot read manifests in {bucket.url}", exc) from None
    manifests = []
    for path, raw in found.items():
        if isinstance(raw, FileNotFoundError):
            continue
        if isinstance(raw, BaseException):
            raise bucket.scrub.error(f"cannot read {bucket.url}/{_rel(bucket, path)}", raw)
        try:
            manifests.append(RawManifest.parse(raw, where=f"{bucket.url}/{_rel(bucket, path)}"))
        except SyncError as exc:  # a torn manifest (file:// writes are not atomic)
            log.warning("skipping %s", exc)
    manifests.sort(key=lambda m: (m.created_at, m.manifest.seq), reverse=True)
    return manifests


def remote_checkpoints(bucket: Bucket) -> list[RemoteCheckpoint]:
    """The committed checkpoints in ``bucket``, newest first."""
    return [RemoteCheckpoint.of(m) for m in remote_manifests(bucket)]


def find_manifest(bucket: Bucket, uuid: str) -> RawManifest:
    """The manifest of checkpoint ``uuid`` (or of the newest for ``"latest"``).

    Raises :class:`CheckpointNotFoundError` when there is none, and :class:`SyncError` with
    the (scrubbed) cause on any other failure.
    """
    if uuid == "latest":
        manifests = remote_manifests(bucket)
        if not manifests:
            raise CheckpointNotFoundError(f"no checkpoint in {bucket.url}")
        return manifests[0]
    path = bucket.path(uuid, MANIFEST_NAME)
    try:
        raw = bucket.fs.cat_file(path)
    except FileNotFoundError:
        raise CheckpointNotFoundError(f"checkpoint {uuid} not found in {bucket.url}") from None
    except Exception as exc:
        raise bucket.scrub.error(f"cannot read checkpoint {uuid} in {bucket.url}", exc) from None
    manifest = RawManifest.parse(raw, where=f"{bucket.url}/{uuid}/{MANIFEST_NAME}")
    if manifest.uuid != uuid:
        raise SyncError(f"{bucket.url}/{uuid}/{MANIFEST_NAME} names checkpoint {manifest.uuid}")
    return manifest


def _name(entry: dict[str, Any]) -> str:
    return str(entry["name"]).rstrip("/")


def _rel(bucket: Bucket, path: str) -> str:
    root = bucket.root.rstrip("/") + "/"
    return path[len(root):] if path.startswith(root) else path
