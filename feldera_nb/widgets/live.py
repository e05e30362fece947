"""The live dashboard: an ipywidgets view over :class:`DashboardSnapshot`\\ s.

It subscribes to the pipeline's events.  An event only records a few fields and wakes a
short-lived render timer; the timer takes a snapshot and updates every widget inside
``hold_sync()`` (one message per widget).  Step events are coalesced to at most one render
per ``min_interval_s``; nothing polls, and nothing runs on the kernel's thread except button
clicks, whose work (which may wait for a checkpoint) is handed to a thread as well.

Import this module only when ipywidgets is installed; :func:`feldera_nb.widgets.dashboard`
falls back to the static card otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import ipywidgets as w
from traitlets import Float, Int, TraitError, Unicode, validate

from feldera_nb.widgets import _html, _text
from feldera_nb.widgets.snapshot import DashboardSnapshot, EventLog, collect

log = logging.getLogger(__name__)

_ACTIVE = ("Running", "Paused")
_STOPPED = ("Stopped", "Suspended", "Failed")


class Dashboard(w.VBox):
    """Live view of one pipeline: status, counters, recovery, checkpoints, sync, buttons.

    Create it with :func:`feldera_nb.widgets.dashboard` (one per pipeline, reused).
    """

    status = Unicode("", help="The pipeline's status, as the badge shows it.").tag(sync=True)
    step = Int(0, help="Steps the pipeline has run.").tag(sync=True)
    renders = Int(0, help="How many times the view was redrawn (for tests).")
    min_interval_s = Float(0.1, help="Shortest time between two redraws caused by steps.")

    @validate("min_interval_s")
    def _check_interval(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not 0.0 <= value <= 60.0:
            raise TraitError(f"min_interval_s must be within 0..60, not {value}")
        return value

    def __init__(self, pipeline: Any, **kwargs: Any) -> None:
        self._pipeline = weakref.ref(pipeline)
        self._events = EventLog()
        self._snapshot: DashboardSnapshot | None = None
        self._timer: threading.Timer | None = None
        self._timer_lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._last_render = 0.0
        self._closed = False

        self.header = w.HTML(layout=w.Layout(margin="0"))
        self.error_box = w.HTML()
        self.counters = w.HTML()
        self.recovery_text = w.HTML()
        self.recovery_bar = w.IntProgress(value=0, min=0, max=1, description="",
                                          layout=w.Layout(width="320px"))
        self.recovery_box = w.VBox([self.recovery_text, self.recovery_bar])
        self.approval = w.HTML()
        self.checkpoints = w.HTML()
        self.sync = w.HTML()
        self.buttons = {name: w.Button(description=label, layout=w.Layout(width="auto"),
                                       tooltip=tip)
                        for name, label, tip in (
                            ("checkpoint", "Checkpoint", "checkpoint(): save the state now"),
                            ("sync", "Sync", "sync_checkpoint(): push the latest checkpoint"),
                            ("pause", "Pause", "pause() / resume() / start()"),
                            ("stop", "Stop", "stop(): checkpoint (with storage) and stop"),
                            ("approve", "Approve", "approve(): bootstrap the changed program"),
                            ("activate", "Activate", "activate(): leave standby and run"))}
        for name, button in self.buttons.items():
            button.on_click(self._handler(name))
        self.message = w.HTML()
        self._widgets = [self.header, self.error_box, self.counters, self.recovery_text,
                         self.recovery_bar, self.recovery_box, self.approval, self.checkpoints,
                         self.sync, self.message, *self.buttons.values()]
        super().__init__([self.header, self.error_box, self.counters, self.recovery_box,
                          self.approval, self.checkpoints, self.sync,
                          w.HBox(list(self.buttons.values())), self.message],
                         layout=w.Layout(border="1px solid #d0d7de", padding="6px 10px",
                                         max_width="780px"), **kwargs)
        self.add_class("fnb-dashboard")
        self._unsubscribe: Callable[[], None] | None = None
        subscribe = getattr(pipeline, "subscribe", None)
        if callable(subscribe):
            self._unsubscribe = subscribe(self._on_event)
        self.refresh()

    def retarget(self, pipeline: Any) -> None:
        """Show ``pipeline`` from now on (``%%sql`` replaced the one shown by a new one)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._pipeline = weakref.ref(pipeline)
        self._events = EventLog()
        self._snapshot = None
        subscribe = getattr(pipeline, "subscribe", None)
        if callable(subscribe):
            self._unsubscribe = subscribe(self._on_event)
        self.refresh()

    # -- events -----------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        """Called on the pipeline's threads: record, then schedule a redraw (never block)."""
        self._events.record(event)
        urgent = getattr(event, "kind", None) != "step"
        self._schedule(0.0 if urgent else self.min_interval_s)

    def _schedule(self, min_gap: float) -> None:
        with self._timer_lock:
            if self._closed or self._timer is not None:
                return
            delay = max(0.0, self._last_render + min_gap - time.monotonic())
            self._timer = threading.Timer(delay, self._timer_fired)
            self._timer.daemon = True
            self._timer.name = "feldera-dashboard"
            self._timer.start()

    def _timer_fired(self) -> None:
        with self._timer_lock:
            self._timer = None
            self._last_render = time.monotonic()  # events from now on wait a full interval
        try:
            self.refresh()
        except Exception:  # noqa: BLE001 - a drawing bug must not reach the pipeline
            log.exception("dashboard refresh failed")

    # -- drawing ----------------------------------------------------------------------------
    def refresh(self) -> DashboardSnapshot | None:
        """Take a snapshot now and redraw; returns the snapshot (None once the pipeline is
        gone)."""
        p = self._pipeline()
        if p is None or self._closed:
            return None
        with self._render_lock:
            snap = collect(p, self._events, previous=self._snapshot)
            self._snapshot = snap
            with contextlib.ExitStack() as stack:
                for widget in (self, *self._widgets):
                    stack.enter_context(widget.hold_sync())
                self._draw(snap, p)
            self.renders += 1
        return snap

    def _draw(self, s: DashboardSnapshot, p: Any) -> None:
        self.status = s.status
        self.step = s.step
        h = _html.Html()
        with h.tag("div", "font-size:14px"):
            h.element("b", "Pipeline ")
            h.element("code", s.name)
            h.raw(" ")
            _html.status_badge(h, s.status)
            h.element("span", f"  fault tolerance: {s.model}", _html._MUTED)
        self.header.value = str(h)
        self.error_box.value = _escaped_div(s.error, "color:#cf222e") if s.error else ""
        h = _html.Html()
        _html.render_counters(h, s)
        self.counters.value = str(h)

        r = s.recovery
        if r is not None and not r.finished:
            self.recovery_text.value = _escaped_div(r.progress_text, "")
            self.recovery_bar.max = max(1, r.total or 1)
            self.recovery_bar.value = min(r.done or 0, self.recovery_bar.max)
            self.recovery_bar.layout.display = None
            self.recovery_box.layout.display = None
        elif r is not None:
            h = _html.Html()
            with h.tag("details"):
                h.element("summary", f"Recovery: {r.summary}")
                _html.render_recovery(h, r)
            self.recovery_text.value = str(h)
            self.recovery_bar.layout.display = "none"
            self.recovery_box.layout.display = None
        else:
            self.recovery_box.layout.display = "none"

        if s.approval is not None:
            h = _html.Html()
            _html.render_approval(h, s.approval)
            self.approval.value = str(h)
        else:
            self.approval.value = ""

        if s.storage_path is not None or s.checkpoints:
            h = _html.Html()
            with h.tag("details", open="open"):
                h.element("summary", f"Checkpoints ({len(s.checkpoints)})")
                _html.render_checkpoint_facts(h, s)
                _html.render_checkpoints(h, s.checkpoints[-10:])
            self.checkpoints.value = str(h)
        else:
            self.checkpoints.value = ""

        if s.sync is not None:
            h = _html.Html()
            with h.tag("details", open="open"):
                h.element("summary", "Checkpoint sync")
                _html.render_sync(h, s.sync, s.checkpoints)
            self.sync.value = str(h)
        else:
            self.sync.value = ""
        self._draw_buttons(s, p)

    def _draw_buttons(self, s: DashboardSnapshot, p: Any) -> None:
        b = self.buttons
        has_storage = s.storage_path is not None
        b["checkpoint"].disabled = not (has_storage and s.status in _ACTIVE)
        b["checkpoint"].layout.display = None if has_storage else "none"
        can_sync = s.sync is not None and callable(getattr(p, "sync_checkpoint", None))
        b["sync"].layout.display = None if can_sync else "none"
        b["sync"].disabled = not (can_sync and s.status in _ACTIVE)
        pause = b["pause"]
        if s.status == "Running":
            pause.description, pause.disabled = "Pause", False
        elif s.status == "Paused":
            pause.description, pause.disabled = "Resume", False
        elif s.status in _STOPPED:
            pause.description, pause.disabled = "Start", False
        else:
            pause.disabled = True
        b["stop"].disabled = s.status in _STOPPED
        b["approve"].layout.display = None if s.status == "AwaitingApproval" else "none"
        b["approve"].disabled = s.status != "AwaitingApproval"
        has_activate = callable(getattr(p, "activate", None))
        b["activate"].layout.display = None if s.status == "Standby" and has_activate else "none"
        b["activate"].disabled = s.status != "Standby"

    # -- buttons ----------------------------------------------------------------------------
    def _handler(self, name: str) -> Callable[[Any], None]:
        def on_click(_button: Any) -> None:
            threading.Thread(target=self.run_action, args=(name,), daemon=True,
                             name=f"feldera-dashboard-{name}").start()
        return on_click

    def run_action(self, name: str) -> str:
        """Do what button ``name`` does; returns (and shows) a one-line result."""
        p = self._pipeline()
        if p is None:
            return "the pipeline is gone"
        try:
            text = _ACTIONS[name](p)
        except Exception as e:  # noqa: BLE001 - shown to the user, short
            text = f"{name} failed: {type(e).__name__}: {e}"
            self.message.value = _escaped_div(text, "color:#cf222e")
        else:
            self.message.value = _escaped_div(text, "color:#57606a")
        self.refresh()
        return text

    # -- lifetime and display ---------------------------------------------------------------
    def close(self) -> None:
        """Stop listening to the pipeline and close the widgets."""
        with self._timer_lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for widget in self._widgets:
            widget.close()
        super().close()

    @property
    def snapshot(self) -> DashboardSnapshot | None:
        """The snapshot drawn last."""
        return self._snapshot

    def __repr__(self) -> str:
        s = self._snapshot
        if s is None:
            return "Dashboard(closed)"
        return f"Dashboard(pipeline={s.name!r}, status={s.status}, step={s.step})"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        s = self.refresh()  # what the stored output shows: the state at display time
        if s is not None:
            bundle["text/plain"] = _text.render_pipeline(s)
            bundle["text/html"] = _html.render_pipeline(s)
        return bundle


def _escaped_div(text: str, style: str) -> str:
    h = _html.Html()
    h.element("div", text, style or None)
    return str(h)


def _checkpoint(p: Any) -> str:
    return f"checkpoint {p.checkpoint()} requested"


def _sync(p: Any) -> str:
    uuid = p.sync_checkpoint(wait=False)
    return "sync requested" if uuid is None else "sync of the latest checkpoint requested"


def _pause(p: Any) -> str:
    status = str(getattr(p.status(), "value", p.status()))
    if status == "Running":
        p.pause()
        return "paused"
    if status == "Paused":
        p.resume()
        return "resumed"
    p.start(wait=False)
    return "starting"


def _stop(p: Any) -> str:
    p.stop()
    return f"stopped: {getattr(p.status(), 'value', p.status())}"


def _approve(p: Any) -> str:
    p.approve()
    return "approved"


def _activate(p: Any) -> str:
    p.activate()
    return "activated"


_ACTIONS: dict[str, Callable[[Any], str]] = {
    "checkpoint": _checkpoint, "sync": _sync, "pause": _pause, "stop": _stop,
    "approve": _approve, "activate": _activate,
}
