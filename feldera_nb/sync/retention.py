"""Delete old checkpoints from a bucket, keeping the newest ``min_count`` and any younger
than ``min_age_days``.

A checkpoint goes only when more than ``min_count`` remain and it is older than
``min_age_days`` (by its manifest's ``created_at``).  Its manifest is deleted first and its
files after, so a half-deleted checkpoint is never visible.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .location import Bucket
from .manifest import MANIFEST_NAME
from .remote import remote_checkpoints


def apply_retention(bucket: Bucket, *, min_count: int, min_age_days: float,
                    now: datetime | None = None) -> list[str]:
    """Delete the checkpoints retention allows to go; return their UUIDs, oldest first."""
    fs = bucket.writable("retention")
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=min_age_days)
    checkpoints = remote_checkpoints(bucket)  # newest first
    doomed = [cp for cp in checkpoints[max(min_count, 0):] if cp.created_at < cutoff]
    deleted = []
    for cp in reversed(doomed):
        try:
            fs.rm_file(bucket.path(cp.uuid, MANIFEST_NAME))  # the commit marker first
            fs.rm(bucket.path(cp.uuid), recursive=True)
        except FileNotFoundError:
            pass  # someone else deleted it meanwhile
        except Exception as exc:
            raise bucket.scrub.error(f"retention: cannot delete checkpoint {cp.uuid} "
                                     f"from {bucket.url}", exc) from None
        deleted.append(cp.uuid)
    return deleted
