"""What a person sees of a pipeline in a notebook.

- :mod:`~feldera_nb.widgets.snapshot`: :class:`DashboardSnapshot` and :func:`collect`, the
  one adapter that reads a pipeline (defensively, no I/O), plus the event log and secret
  redaction.
- :mod:`~feldera_nb.widgets._html`: pure HTML formatters over snapshots (static cards).
- :mod:`~feldera_nb.widgets._text`: deterministic plain-text forms.
- :mod:`~feldera_nb.widgets.live`: the live ipywidgets ``Dashboard`` (imported only when
  ipywidgets is installed).
- :mod:`~feldera_nb.widgets.cards`: entry points for ``Pipeline``'s reprs,
  ``pipeline.widget()`` and the cards of checkpoint lists, recovery reports and sync status.
"""

from feldera_nb.widgets.cards import (
    CheckpointList as CheckpointList,
    StaticCard as StaticCard,
    checkpoints_html as checkpoints_html,
    dashboard as dashboard,
    pipeline_html as pipeline_html,
    pipeline_mimebundle as pipeline_mimebundle,
    pipeline_text as pipeline_text,
    recovery_html as recovery_html,
    recovery_text as recovery_text,
    snapshot as snapshot,
    sync_html as sync_html,
    widgets_available as widgets_available,
)
from feldera_nb.widgets.snapshot import DashboardSnapshot as DashboardSnapshot
from feldera_nb.widgets.snapshot import collect as collect

__all__ = [
    "CheckpointList", "DashboardSnapshot", "StaticCard", "checkpoints_html", "collect",
    "dashboard", "pipeline_html", "pipeline_mimebundle", "pipeline_text", "recovery_html",
    "recovery_text", "snapshot", "sync_html", "widgets_available",
]
