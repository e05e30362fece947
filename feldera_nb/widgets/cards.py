"""Entry points: what ``Pipeline`` (and its checkpoint list, recovery report, sync status)
call to show themselves.

- :func:`pipeline_mimebundle`: the live dashboard in a kernel with ipywidgets, else the static
  card; always with deterministic ``text/plain`` and a static ``text/html`` that GitHub and
  nbviewer render.
- :func:`pipeline_html` / :func:`pipeline_text`: the static card and the text form.
- :func:`dashboard`: the pipeline's live :class:`~feldera_nb.widgets.live.Dashboard`
  (one per pipeline), or a :class:`StaticCard` when ipywidgets is missing (silently).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from feldera_nb.widgets import _html, _text
from feldera_nb.widgets.snapshot import (
    CheckpointRow, DashboardSnapshot, EventLog, _recovery_state, _sync_state, collect,
    redactor_for,
)

_DASHBOARDS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def widgets_available() -> bool:
    """True when ipywidgets can be imported (checked each time; the import is cached)."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where a widget can reach a front end)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


class StaticCard:
    """What :func:`dashboard` returns without ipywidgets: the static card, redrawn on display."""

    def __init__(self, pipeline: Any) -> None:
        self._pipeline = pipeline

    def refresh(self) -> DashboardSnapshot:
        """A fresh snapshot (the card is drawn from one on every display)."""
        return collect(self._pipeline)

    def _repr_html_(self) -> str:
        return _html.render_pipeline(self.refresh())

    def __repr__(self) -> str:
        return _text.render_pipeline(self.refresh())

    def close(self) -> None:
        """Nothing to release (for symmetry with the dashboard)."""


def dashboard(pipeline: Any) -> Any:
    """The live dashboard of ``pipeline`` (the same object on every call), or a
    :class:`StaticCard` when ipywidgets is not installed."""
    if not widgets_available():
        return StaticCard(pipeline)
    board = _DASHBOARDS.get(pipeline)
    if board is None or board._closed:
        from feldera_nb.widgets.live import Dashboard
        board = Dashboard(pipeline)
        _DASHBOARDS[pipeline] = board
    return board


def retarget(old: Any, new: Any) -> None:
    """Move ``old``'s live dashboard (if any) to ``new``: every view of it on the page now
    follows ``new``.  The SQL magics call this when they replace a pipeline."""
    board = _DASHBOARDS.pop(old, None)
    if board is not None and not board._closed and new not in _DASHBOARDS:
        board.retarget(new)
        _DASHBOARDS[new] = board


def _log_of(pipeline: Any) -> EventLog | None:
    board = _DASHBOARDS.get(pipeline)
    return None if board is None else board._events


def snapshot(pipeline: Any) -> DashboardSnapshot:
    """A snapshot of ``pipeline`` (with its dashboard's event log when it has one)."""
    return collect(pipeline, _log_of(pipeline))


def pipeline_html(pipeline: Any) -> str:
    """The static HTML card of ``pipeline`` (no I/O; renders without a kernel)."""
    return _html.render_pipeline(snapshot(pipeline))


def pipeline_text(pipeline: Any) -> str:
    """The deterministic text form of ``pipeline`` (no times, rates or uuids)."""
    return _text.render_pipeline(snapshot(pipeline))


def pipeline_mimebundle(pipeline: Any, include: Any = None, exclude: Any = None
                        ) -> dict[str, Any]:
    """What a notebook displays for ``pipeline``: the live dashboard inside a kernel with
    ipywidgets, else the static card; ``text/plain`` is always the deterministic text."""
    if widgets_available() and in_kernel():
        bundle = dashboard(pipeline)._repr_mimebundle_()
        if bundle:
            return _filter(bundle, include, exclude)
    s = snapshot(pipeline)
    return _filter({"text/plain": _text.render_pipeline(s),
                    "text/html": _html.render_pipeline(s)}, include, exclude)


def _filter(bundle: dict[str, Any], include: Any, exclude: Any) -> dict[str, Any]:
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle


# -- the other objects' cards -----------------------------------------------------------------
def _rows(entries: Iterable[Any]) -> tuple[CheckpointRow, ...]:
    out = []
    for e in entries:
        out.append(CheckpointRow(
            seq=int(getattr(e, "seq", 0)), uuid=getattr(e, "uuid", None),
            status=str(getattr(e, "status", "Success")), step=getattr(e, "step", None),
            size_bytes=getattr(e, "size_bytes", None), duration_s=getattr(e, "duration_s", None),
            created_at=getattr(e, "created_at", None)))
    return tuple(out)


class CheckpointList(list):  # type: ignore[type-arg]
    """A list of checkpoints (``pipeline.checkpoints()``) that shows itself as a table.

    Its ``repr`` names sequence numbers, steps and statuses only (uuids and times vary).
    """

    def _repr_html_(self) -> str:
        return checkpoints_html(self)

    def __repr__(self) -> str:
        items = ", ".join(f"seq {r.seq} at step {r.step} ({r.status})" for r in _rows(self))
        return f"CheckpointList([{items}])"


def checkpoints_html(entries: Iterable[Any]) -> str:
    """A card with the checkpoint table of ``entries`` (catalog entries or rows)."""
    rows = _rows(entries)
    body = _html.Html()
    _html.render_checkpoints(body, rows)
    return _html.wrap_card(f"Checkpoints ({len(rows)})", body)


def recovery_html(report: Any) -> str:
    """A card for a recovery report (``pipeline.recovery``)."""
    state = _recovery_state(report, {}, None, "Running")
    body = _html.Html()
    if state is None:
        body.element("div", "not started yet")
    else:
        _html.render_recovery(body, state)
    return _html.wrap_card("Recovery", body)


def recovery_text(report: Any) -> str:
    """One deterministic line for a recovery report."""
    state = _recovery_state(report, {}, None, "Running")
    return "not started yet" if state is None else state.summary


def sync_html(pipeline: Any) -> str:
    """A card for the pipeline's checkpoint sync (bucket shown without its credentials)."""
    cfg = getattr(pipeline, "runtime_config", None)
    state = _sync_state(pipeline, cfg, redactor_for(cfg))
    body = _html.Html()
    if state is None:
        body.element("div", "checkpoint sync is not configured")
    else:
        _html.render_sync(body, state, snapshot(pipeline).checkpoints)
    return _html.wrap_card("Checkpoint sync", body)
