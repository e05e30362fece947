"""Checkpoint sync to object storage (S3, GCS, Azure, any fsspec URL).

One module, one job:

- ``location``   sync config -> :class:`Bucket` (fsspec filesystem + root); read-only wrapper
- ``_scrub``     keeps secrets out of every message (:class:`Scrubber`)
- ``manifest``   the ``CHECKPOINT.json`` manifest, :class:`RemoteCheckpoint`
- ``progress``   fsspec ``Callback`` progress with file counts (:class:`TransferProgress`)
- ``transfer``   concurrent per-file transfers shared by push and pull
- ``owner``      the bucket's ``OWNER`` object
- ``push``       :func:`push_checkpoint`: files first, manifest (the commit marker) last
- ``remote``     :func:`remote_checkpoints`: committed checkpoints, newest first
- ``pull``       :func:`pull_checkpoint`: download, verify size + sha256, rename into place
- ``retention``  :func:`apply_retention`: delete old checkpoints, marker first
- ``syncer``     :class:`Syncer`: the pipeline's background push worker
- ``start``      :func:`resolve_start`: local, else bucket, else read_bucket, else empty
- ``standby``    :class:`StandbyPuller`: follow the newest checkpoint until activation

Remote layout under the bucket root: ``OWNER``, then ``<uuid>/<files...>`` and
``<uuid>/CHECKPOINT.json`` per checkpoint.
"""

from __future__ import annotations

try:
    import fsspec as _fsspec  # noqa: F401
except ImportError:  # pragma: no cover - depends on the install
    raise ImportError("checkpoint sync needs fsspec: pip install 'feldera-nb[s3]' "
                      "(or [gcs], [azure])") from None

from ._scrub import Scrubber as Scrubber
from .location import Bucket as Bucket
from .location import ReadOnlyFileSystem as ReadOnlyFileSystem
from .location import open_bucket as open_bucket
from .manifest import MANIFEST_NAME as MANIFEST_NAME
from .manifest import RemoteCheckpoint as RemoteCheckpoint
from .owner import Owner as Owner
from .owner import claim_owner as claim_owner
from .progress import ProgressSnapshot as ProgressSnapshot
from .progress import TransferProgress as TransferProgress
from .pull import pull_checkpoint as pull_checkpoint
from .push import push_checkpoint as push_checkpoint
from .remote import CheckpointNotFoundError as CheckpointNotFoundError
from .remote import remote_checkpoints as remote_checkpoints
from .retention import apply_retention as apply_retention
from .standby import StandbyPuller as StandbyPuller
from .start import StartDecision as StartDecision
from .start import resolve_start as resolve_start
from .syncer import Syncer as Syncer
from .syncer import SyncerState as SyncerState

__all__ = [
    "MANIFEST_NAME", "Bucket", "CheckpointNotFoundError", "Owner", "ProgressSnapshot",
    "ReadOnlyFileSystem", "RemoteCheckpoint", "Scrubber", "StandbyPuller", "StartDecision",
    "Syncer", "SyncerState", "TransferProgress", "apply_retention", "claim_owner",
    "open_bucket", "pull_checkpoint", "push_checkpoint", "remote_checkpoints",
    "resolve_start",
]
