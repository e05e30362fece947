"""The ``OWNER`` object: which pipeline pushes to a bucket.

A bucket is written by one pipeline: the first push writes ``OWNER`` naming the pipeline and
a random instance id kept in the pipeline's storage (:meth:`Owner.for_storage`), and every
push checks it first.  The same pipeline restarted on the same storage has the same identity
and continues; any other pipeline is refused unless it takes over explicitly (an activated
standby replacing its primary).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from feldera_nb.errors import SyncError

from .location import Bucket

OWNER_NAME: Final = "OWNER"
OWNER_FILE: Final = "sync_owner.json"  # in the pipeline's storage directory


@dataclass(frozen=True)
class Owner:
    """A pipeline's identity as a bucket owner: its name plus a random instance id."""

    pipeline: str
    instance: str

    @classmethod
    def new(cls, pipeline: str) -> Owner:
        return cls(pipeline, secrets.token_hex(8))

    @classmethod
    def for_storage(cls, storage_path: str | os.PathLike[str], pipeline: str) -> Owner:
        """The owner identity kept in ``<storage_path>/sync_owner.json``, created on first use.

        The file holds the instance id, so the same storage keeps its identity across
        restarts; a cleared storage is a new instance.
        """
        path = Path(storage_path) / OWNER_FILE
        try:
            doc = json.loads(path.read_text())
            if doc.get("pipeline") == pipeline and doc.get("instance"):
                return cls(pipeline, str(doc["instance"]))
        except (OSError, ValueError, AttributeError):
            pass
        owner = cls.new(pipeline)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pipeline": pipeline, "instance": owner.instance}))
        os.replace(tmp, path)
        return owner

    def to_bytes(self) -> bytes:
        return json.dumps({"format": 1, "pipeline": self.pipeline, "instance": self.instance,
                           "claimed_at": datetime.now(UTC).isoformat()},
                          indent=1).encode()

    def __str__(self) -> str:
        return f"pipeline {self.pipeline!r} (instance {self.instance})"


def read_owner(bucket: Bucket) -> Owner | None:
    """The owner recorded in ``bucket``, or None when the bucket has none yet."""
    try:
        raw = bucket.fs.cat_file(bucket.path(OWNER_NAME))
    except FileNotFoundError:
        return None
    except Exception as exc:
        raise bucket.scrub.error(f"cannot read {bucket.url}/{OWNER_NAME}", exc) from None
    try:
        doc = json.loads(raw)
        return Owner(str(doc["pipeline"]), str(doc["instance"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise SyncError(f"{bucket.url}/{OWNER_NAME} is unreadable ({exc}); "
                        "refusing to write checkpoint data") from None


def claim_owner(bucket: Bucket, owner: Owner, *, take_over: bool = False) -> None:
    """Make sure ``owner`` may push to ``bucket``, recording it when the bucket is new.

    Raises :class:`SyncError` naming the current owner when another pipeline owns it and
    ``take_over`` is false.
    """
    fs = bucket.writable("claim owner")
    current = read_owner(bucket)
    if current == owner:
        return
    if current is not None and not take_over:
        raise SyncError(f"{bucket.url} is already owned by {current}; refusing to write "
                        f"checkpoint data as {owner}")
    try:
        fs.pipe_file(bucket.path(OWNER_NAME), owner.to_bytes())
    except Exception as exc:
        raise bucket.scrub.error(f"cannot write {bucket.url}/{OWNER_NAME}", exc) from None
    if read_owner(bucket) != owner:  # lost a race with another claimant
        raise SyncError(f"{bucket.url} was claimed concurrently by {read_owner(bucket)}")
