"""Pure HTML formatters over :class:`~feldera_nb.widgets.snapshot.DashboardSnapshot`.

No I/O, no pipeline access, every value escaped.  Styles are inline (GitHub and nbviewer
drop ``<style>`` blocks), sections are ``<details>``, and values that differ between runs
(times, durations, rates, uuids, sizes) sit in ``<span class="fnb-v">`` so a notebook test can
blank them with one sanitize rule.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from feldera_nb.widgets.snapshot import (
    CheckpointRow, DashboardSnapshot, RecoveryState, SyncState,
)

STATUS_COLORS = {
    "Running": "#1a7f37", "Paused": "#9a6700", "Initializing": "#0969da",
    "Bootstrapping": "#0969da", "Replaying": "#0969da", "Standby": "#8250df",
    "AwaitingApproval": "#bc4c00", "Stopped": "#57606a", "Suspended": "#57606a",
    "Failed": "#cf222e",
}
_CARD = ("font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;"
         "border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:4px 0;"
         "max-width:760px;line-height:1.4")
_TABLE = "border-collapse:collapse;margin:4px 0"
_CELL = "padding:1px 10px 1px 0;text-align:left;vertical-align:top"
_MUTED = "color:#57606a"


class Html:
    """A list of strings built with :meth:`tag` blocks; text is escaped on the way in."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    @contextmanager
    def tag(self, name: str, style: str | None = None, **attrs: Any) -> Iterator[None]:
        self.parts.append(_open(name, style, attrs))
        yield
        self.parts.append(f"</{name}>")

    def text(self, value: Any) -> None:
        self.parts.append(html.escape(str(value)))

    def raw(self, markup: str) -> None:
        self.parts.append(markup)

    def element(self, name: str, value: Any, style: str | None = None, **attrs: Any) -> None:
        with self.tag(name, style, **attrs):
            self.text(value)

    def volatile(self, value: Any) -> None:
        """A value that changes between runs (blanked by ``notebooks/nbval_sanitize.cfg``)."""
        self.element("span", value, class_="fnb-v")

    def __str__(self) -> str:
        return "".join(self.parts)


def _open(name: str, style: str | None, attrs: dict[str, Any]) -> str:
    out = [name]
    for key, value in attrs.items():
        if value is None:
            continue
        out.append(f'{key.rstrip("_").replace("_", "-")}="{html.escape(str(value))}"')
    if style:
        out.append(f'style="{html.escape(style)}"')
    return "<" + " ".join(out) + ">"


# -- small value formatters (shared with the text repr and the dashboard) ---------------------
def fmt_bytes(n: int | None) -> str:
    """``1.2 MiB``."""
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def fmt_seconds(s: float | None) -> str:
    """``35 ms``, ``1.20 s``."""
    if s is None:
        return "-"
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def fmt_rate(r: float | None) -> str:
    """``12,345 records/s``."""
    return "-" if r is None else f"{r:,.0f} records/s"


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# -- the pipeline card ------------------------------------------------------------------------
def status_badge(h: Html, status: str) -> None:
    color = STATUS_COLORS.get(status, "#57606a")
    h.element("span", status, f"background:{color};color:#fff;border-radius:10px;"
              "padding:1px 8px;font-weight:600;font-size:12px",
              class_="fnb-status", data_status=status)


def render_pipeline(s: DashboardSnapshot) -> str:
    """The static card of a pipeline (what GitHub and nbviewer show)."""
    h = Html()
    with h.tag("div", _CARD, class_="fnb-card"):
        with h.tag("div", "margin-bottom:4px"):
            h.element("b", "Pipeline ")
            h.element("code", s.name)
            h.raw(" ")
            status_badge(h, s.status)
            h.element("span", f"  fault tolerance: {s.model}", _MUTED)
        if s.error:
            h.element("div", s.error, "color:#cf222e;white-space:pre-wrap", class_="fnb-error")
        render_counters(h, s)
        if s.approval is not None:
            render_approval(h, s.approval)
        if s.recovery is not None:
            with h.tag("details", open="open"):
                h.element("summary", "Recovery")
                render_recovery(h, s.recovery)
        render_relations(h, s)
        if s.storage_path is not None or s.checkpoints:
            with h.tag("details", open="open" if s.checkpoints else None):
                n = len(s.checkpoints)
                h.element("summary", f"Checkpoints ({n})")
                render_checkpoint_facts(h, s)
                render_checkpoints(h, s.checkpoints)
        if s.sync is not None:
            with h.tag("details", open="open"):
                h.element("summary", "Checkpoint sync")
                render_sync(h, s.sync, s.checkpoints)
        if s.warnings:
            with h.tag("details"):
                h.element("summary", f"Warnings ({len(s.warnings)})")
                with h.tag("ul", "margin:2px 0"):
                    for w in s.warnings:
                        h.element("li", w)
    return str(h)


def _kv(h: Html, rows: Iterable[tuple[str, Any, bool]]) -> None:
    with h.tag("table", _TABLE):
        for key, value, volatile in rows:
            with h.tag("tr"):
                h.element("th", key, _CELL + ";font-weight:normal;" + _MUTED)
                with h.tag("td", _CELL):
                    h.volatile(value) if volatile else h.text(value)


def render_counters(h: Html, s: DashboardSnapshot) -> None:
    rows: list[tuple[str, Any, bool]] = [
        ("steps", s.step, False),
        ("records", f"{s.records_in:,} in, {s.records_out:,} out", False),
    ]
    if s.state_rows is not None:
        rows.append(("state", f"{s.state_rows:,} rows in stateful operators", False))
    if s.throughput is not None:
        rows.append(("throughput", fmt_rate(s.throughput), True))
    if s.input_errors:
        rows.append(("input errors", s.input_errors, False))
    if s.storage_path is not None:
        rows.append(("storage", s.storage_path, True))
    _kv(h, rows)


def render_relations(h: Html, s: DashboardSnapshot) -> None:
    with h.tag("details"):
        h.element("summary", f"Tables ({len(s.tables)}) and views ({len(s.views)})")
        with h.tag("table", _TABLE):
            for t in s.tables:
                with h.tag("tr"):
                    h.element("td", "table", _CELL + ";" + _MUTED)
                    with h.tag("td", _CELL):
                        h.element("code", t.name)
                    h.element("td", "" if t.rows is None else plural(t.rows, "row"), _CELL)
            for v in s.views:
                with h.tag("tr"):
                    h.element("td", "materialized view" if v.materialized else "view",
                              _CELL + ";" + _MUTED)
                    with h.tag("td", _CELL):
                        h.element("code", v.name)
                    h.element("td", "" if v.rows is None else plural(v.rows, "row"), _CELL)


def render_checkpoint_facts(h: Html, s: DashboardSnapshot) -> None:
    every = ("off" if s.checkpoint_interval_secs is None
             else f"every {s.checkpoint_interval_secs} s")
    line = f"periodic checkpoints: {every}"
    if s.checkpoint_in_progress:
        line += "; a checkpoint is being written"
    h.element("div", line, _MUTED)


CHECKPOINT_COLUMNS = ("seq", "uuid", "status", "step", "size", "duration", "when", "synced")


def render_checkpoints(h: Html, rows: Iterable[CheckpointRow]) -> None:
    """The checkpoint table (also the card of ``pipeline.checkpoints()``)."""
    rows = list(rows)
    if not rows:
        h.element("div", "no checkpoints yet", _MUTED)
        return
    with h.tag("table", _TABLE, class_="fnb-checkpoints"):
        with h.tag("tr"):
            for col in CHECKPOINT_COLUMNS:
                h.element("th", col, _CELL + ";border-bottom:1px solid #d0d7de")
        for r in rows:
            with h.tag("tr"):
                h.element("td", r.seq, _CELL)
                with h.tag("td", _CELL):
                    if r.uuid:
                        with h.tag("code", title=None):
                            h.volatile(r.uuid[:8])
                    else:
                        h.text("-")
                color = {"Success": "#1a7f37", "Failure": "#cf222e"}.get(r.status, "#0969da")
                with h.tag("td", _CELL + f";color:{color}"):
                    h.text(r.status)
                    if r.error:
                        h.element("div", r.error, "font-size:11px")
                h.element("td", "-" if r.step is None else r.step, _CELL)
                with h.tag("td", _CELL):
                    h.volatile(fmt_bytes(r.size_bytes))
                with h.tag("td", _CELL):
                    h.volatile(fmt_seconds(r.duration_s))
                with h.tag("td", _CELL):
                    h.volatile(r.created_at or "-")
                h.element("td", {None: "-", True: "yes", False: "no"}[r.synced], _CELL)


def render_recovery(h: Html, r: RecoveryState) -> None:
    if not r.finished:
        text = r.progress_text
        with h.tag("div", class_="fnb-recovery"):
            h.text(text)
            if r.total:
                with h.tag("progress", "width:240px;margin-left:8px",
                           value=min(r.done or 0, r.total), max=r.total):
                    pass
        return
    h.element("div", r.summary, class_="fnb-recovery")
    if r.duration_s is not None:
        with h.tag("div", _MUTED):
            h.text("took ")
            h.volatile(fmt_seconds(r.duration_s))
    for uuid, reason in r.skipped:
        h.element("div", f"skipped damaged checkpoint {uuid[:8]}: {reason}", "color:#9a6700")
    for w in r.warnings:
        h.element("div", w, "color:#9a6700")


def render_approval(h: Html, diff: dict[str, tuple[str, ...]]) -> None:
    with h.tag("details", "border-left:3px solid #bc4c00;padding-left:6px", open="open"):
        h.element("summary", "The program changed: approve() to bootstrap")
        rows = [(k.replace("_", " "), ", ".join(v), False) for k, v in diff.items() if v]
        _kv(h, rows or [("changes", "none", False)])


def render_sync(h: Html, s: SyncState, checkpoints: tuple[CheckpointRow, ...] = ()) -> None:
    """The sync panel: bucket (credentials hidden), last push, transfer in progress, standby."""
    seq_of = {c.uuid: c.seq for c in checkpoints if c.uuid}

    def name(uuid: str | None) -> tuple[str, bool]:
        """How a checkpoint is named, and whether that name varies between runs (a uuid)."""
        if uuid is None:
            return "none", False
        if uuid in seq_of:
            return f"checkpoint {seq_of[uuid]}", False
        return f"checkpoint {uuid[:8]}", True

    def transfer(uuid: str | None) -> str:
        return (f"{name(uuid)[0]}: {fmt_bytes(s.bytes_done)} of {fmt_bytes(s.bytes_total)}, "
                f"{s.files_done}/{s.files_total} files")

    rows: list[tuple[str, Any, bool]] = [("bucket", s.bucket, False)]
    if s.provider:
        rows.append(("provider", s.provider, False))
    if s.endpoint:
        rows.append(("endpoint", s.endpoint, True))
    if s.read_bucket:
        rows.append(("read bucket", s.read_bucket, False))
    rows.append(("credentials", ", ".join(f"{c} ***" for c in s.credentials) or "none", False))
    rows.append(("periodic push", "off" if s.push_interval is None
                 else f"every {s.push_interval} s", False))
    if s.started_from in ("bucket", "read_bucket"):
        rows.append(("started from", f"the {s.started_from.replace('_', ' ')}", False))
    if s.standby:
        rows.append(("standby", f"pulls every {s.pull_interval} s until activate()", False))
        rows.append(("standby holds", *name(s.standby_held)))
        if s.standby_error:
            rows.append(("standby error", s.standby_error, False))
    rows.append(("last successful sync", *name(s.last_success)))
    if s.pushing:
        rows.append(("pushing", transfer(s.pushing), True))
    if s.pulling:
        rows.append(("pulling", transfer(s.pulling), True))
    if s.next_push_in_s is not None:
        rows.append(("next push in", fmt_seconds(s.next_push_in_s), True))
    if s.pushed or s.failed:
        rows.append(("pushes", f"{s.pushed} done, {s.failed} failed", False))
    if s.last_error:
        rows.append(("last error", s.last_error, False))
    _kv(h, rows)


def wrap_card(title: str, body: Html) -> str:
    """A titled card around ``body`` (checkpoint list, recovery report, sync status)."""
    h = Html()
    with h.tag("div", _CARD, class_="fnb-card"):
        h.element("b", title)
        h.raw(str(body))
    return str(h)
