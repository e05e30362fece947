"""Where a starting pipeline gets its checkpoint: local, ``bucket``, ``read_bucket`` or none.

The order is Feldera's: a local checkpoint wins; else the checkpoint named by
``start_from_checkpoint`` (``"latest"`` when unset) is pulled from ``bucket``, else from
``read_bucket``; else the pipeline starts empty, or fails when ``fail_if_no_checkpoint``.
Only "not found" falls through to the next source; an unreachable server, refused
credentials or a corrupt download fail the start with the (scrubbed) cause.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fsspec.callbacks import Callback

from .location import Bucket, BucketRole, open_bucket
from .pull import pull_checkpoint
from .remote import CheckpointNotFoundError

StartSource = Literal["local", "bucket", "read_bucket", "empty"]
ROLES: tuple[BucketRole, ...] = ("bucket", "read_bucket")


@dataclass(frozen=True)
class StartDecision:
    """What the pipeline starts from; ``detail`` says what was missing on the way."""

    source: StartSource
    uuid: str | None = None
    path: Path | None = None
    detail: str = ""


def wanted_checkpoint(sync: Any) -> str:
    """``sync.start_from_checkpoint``, with ``"latest"`` when unset."""
    return str(getattr(sync, "start_from_checkpoint", None) or "latest")


def source_buckets(sync: Any) -> list[tuple[BucketRole, Bucket]]:
    """The configured sources in order; ``read_bucket`` comes back read-only."""
    out = []
    for role in ROLES:
        if getattr(sync, role, None) and not (role == "read_bucket" and sync.read_bucket ==
                                              sync.bucket):
            out.append((role, open_bucket(sync, role)))
    return out


def pull_first(sources: list[tuple[BucketRole, Bucket]], wanted: str,
               dest_dir: str | os.PathLike[str], *, callback: Callback | None = None,
               should_stop: Callable[[], bool] | None = None,
               ) -> tuple[BucketRole, Path, list[str]]:
    """Pull ``wanted`` from the first source that has it: ``(role, path, missing)``.

    ``missing`` lists the sources that did not have it.  Raises
    :class:`CheckpointNotFoundError` (listing every source) when none has it; any other
    error propagates at once.
    """
    missing: list[str] = []
    for role, bucket in sources:
        bucket.check_reachable()
        try:
            path = pull_checkpoint(bucket, wanted, dest_dir, callback=callback,
                                   should_stop=should_stop)
        except CheckpointNotFoundError as exc:
            missing.append(f"{role}: {exc}")
            continue
        return role, path, missing
    what = "no checkpoint" if wanted == "latest" else f"checkpoint {wanted} not found"
    raise CheckpointNotFoundError(f"{what} in any source ({'; '.join(missing) or 'none set'})")


def resolve_start(local_has_checkpoint: bool, sync: Any, dest_dir: str | os.PathLike[str], *,
                  callback: Callback | None = None,
                  sources: list[tuple[BucketRole, Bucket]] | None = None) -> StartDecision:
    """Decide (and fetch) the checkpoint a pipeline starts from.

    A pulled checkpoint is placed at ``<dest_dir>/<uuid>/``.  ``sources`` are the buckets
    already opened for ``sync`` (default: :func:`source_buckets`).  Raises
    :class:`CheckpointNotFoundError` when nothing is found and ``fail_if_no_checkpoint``,
    and :class:`~feldera_nb.errors.SyncError` for any failure other than "not found".
    """
    if local_has_checkpoint:
        return StartDecision("local", detail="a local checkpoint exists")
    wanted = wanted_checkpoint(sync)
    try:
        role, path, missing = pull_first(
            source_buckets(sync) if sources is None else sources, wanted, dest_dir,
            callback=callback)
    except CheckpointNotFoundError as exc:
        if getattr(sync, "fail_if_no_checkpoint", False):
            raise CheckpointNotFoundError(f"fail_if_no_checkpoint is set and {exc}") from None
        return StartDecision("empty", detail=str(exc))
    return StartDecision(role, path.name, path, detail="; ".join(missing))
