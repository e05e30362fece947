"""Pipeline layer.

- :mod:`~feldera_nb.pipeline.pipeline`: the :class:`Pipeline` (lifecycle, step loop, I/O).
- :mod:`~feldera_nb.pipeline.inputs`: validating input into table Z-sets.
- :mod:`~feldera_nb.pipeline.outputs`: materialized view contents and ``listen()`` handlers.
- :mod:`~feldera_nb.pipeline.stats`: step counters.
- :mod:`~feldera_nb.pipeline.sync_verbs`: the checkpoint-sync verbs (sync, standby, activate).
- :mod:`~feldera_nb.pipeline.checkpoint_sync`: what they do, on :mod:`feldera_nb.sync`
  (imported only with a sync config: fsspec is optional).
"""

from feldera_nb.pipeline.pipeline import Pipeline

__all__ = ["Pipeline"]
