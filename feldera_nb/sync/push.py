"""Upload one local checkpoint to a bucket, manifest last.

Every file the manifest lists goes to ``<root>/<uuid>/<relpath>`` concurrently; only then is
``<root>/<uuid>/CHECKPOINT.json`` written.  A push cut off at any point leaves no manifest,
so the half-uploaded checkpoint is never listed or pulled, and pushing it again overwrites
the leftovers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from fsspec.callbacks import Callback

from feldera_nb.errors import SyncError

from .location import Bucket
from .manifest import MANIFEST_NAME, RawManifest
from .owner import Owner, claim_owner
from .progress import FileCallback, Meter
from .transfer import DEFAULT_CONCURRENCY, Job, run_jobs


def push_checkpoint(
    local_dir: str | os.PathLike[str],
    bucket: Bucket,
    *,
    owner: Owner | None = None,
    take_over: bool = False,
    callback: Callback | None = None,
    max_concurrency: int = DEFAULT_CONCURRENCY,
    should_stop: Callable[[], bool] | None = None,
) -> str:
    """Upload the checkpoint in ``local_dir`` to ``bucket`` and return its UUID.

    With ``owner``, the bucket's ``OWNER`` is checked (and claimed when absent) first.
    Progress goes to ``callback`` (bytes; files too for a
    :class:`~feldera_nb.sync.progress.TransferProgress`).  Raises :class:`SyncError` with a
    scrubbed cause on any failure.
    """
    local = Path(local_dir)
    manifest = RawManifest.load(local)
    jobs = [Job(str(local / rel), bucket.path(manifest.uuid, rel), entry.size)
            for rel, entry in manifest.files()]
    _check_local(local, manifest, jobs)
    fs = bucket.writable(f"push of checkpoint {manifest.uuid}")
    if owner is not None:
        claim_owner(bucket, owner, take_over=take_over)

    def put(src: str, dst: str, cb: FileCallback) -> None:
        fs.put_file(src, dst, callback=cb)

    meter = Meter(callback, total_bytes=manifest.size_bytes + len(manifest.raw),
                  total_files=len(jobs) + 1)
    what = f"push of checkpoint {manifest.uuid} to {bucket.url}"
    try:
        run_jobs(jobs, put, meter, max_concurrency=max_concurrency, should_stop=should_stop)
        # The commit point: nothing before this line makes the checkpoint visible.
        fs.pipe_file(bucket.path(manifest.uuid, MANIFEST_NAME), manifest.raw)
    except SyncError:
        raise
    except Exception as exc:
        raise bucket.scrub.error(f"{what} failed", exc) from None
    meter.whole_file(len(manifest.raw))
    return manifest.uuid


def _check_local(local: Path, manifest: RawManifest, jobs: list[Job]) -> None:
    """Every listed file is there with its listed size (a cheap stat, no hashing)."""
    for (rel, entry), job in zip(manifest.files(), jobs):
        try:
            size = os.stat(job.src).st_size
        except OSError:
            raise SyncError(f"checkpoint {manifest.uuid} in {local}: file {rel} "
                            "is missing") from None
        if size != entry.size:
            raise SyncError(f"checkpoint {manifest.uuid} in {local}: file {rel} "
                            f"has {size} bytes, the manifest says {entry.size}")
