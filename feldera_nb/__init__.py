"""feldera_nb: a notebook-first incremental SQL engine with Feldera's fault tolerance.

Layers (imports point down only): ``sql`` (sqlglot -> circuit), ``engine`` (Z-sets and
incremental operators on Polars), ``storage`` (journal, checkpoints), ``pipeline`` (lifecycle
and I/O), ``sync`` (checkpoints to object storage), ``widgets`` (notebook views).
"""

from feldera_nb.config import RuntimeConfig
from feldera_nb.enums import BootstrapPolicy, CheckpointStatus, FaultToleranceModel, PipelineStatus
from feldera_nb.errors import FelderaNbError, SqlError, UnsupportedSqlError
from feldera_nb.pipeline import Pipeline

__all__ = [
    "BootstrapPolicy",
    "CheckpointStatus",
    "FaultToleranceModel",
    "FelderaNbError",
    "Pipeline",
    "PipelineStatus",
    "RuntimeConfig",
    "SqlError",
    "UnsupportedSqlError",
]
__version__ = "0.1.0"


def load_ipython_extension(ip):  # noqa: ANN001, ANN201 - IPython's hook
    """``%load_ext feldera_nb``: register the ``%sql`` / ``%%sql`` magics."""
    from feldera_nb.magics import load_ipython_extension as load

    load(ip)
