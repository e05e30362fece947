"""How a pipeline shows itself in a notebook.

The formatters and the live dashboard live in :mod:`feldera_nb.widgets`, a layer above the
pipeline; these methods import them lazily, so the pipeline works (and imports fast) where
ipywidgets is not installed, and the static card is used instead.
"""

from __future__ import annotations

from typing import Any


class NotebookViews:
    """Mixin of :class:`~feldera_nb.pipeline.pipeline.Pipeline`: reprs, widget, plan."""

    def _repr_html_(self) -> str:
        from feldera_nb.widgets import pipeline_html

        return pipeline_html(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from feldera_nb.widgets import pipeline_mimebundle

        return pipeline_mimebundle(self, include, exclude)

    def widget(self) -> Any:
        """The live dashboard (ipywidgets); the static card when ipywidgets is missing."""
        from feldera_nb.widgets import dashboard

        return dashboard(self)

    def explain(self, view: str, *, expand_views: bool = False) -> Any:
        """The view's incremental circuit: an SVG in a notebook, a text tree with ``print()``.

        >>> from feldera_nb import Pipeline
        >>> p = Pipeline("CREATE TABLE t (k INT, v INT); "
        ...              "CREATE VIEW s AS SELECT k, SUM(v) AS total FROM t GROUP BY k;")
        >>> "LinearAggregate" in str(p.explain("s"))
        True
        """
        from feldera_nb.explain import explain

        return explain(self, view, expand_views=expand_views)
