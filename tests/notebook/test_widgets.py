"""The live dashboard without a kernel: DummyComms record what would reach the front end."""

from __future__ import annotations

import sys
import threading
import time
import warnings

import pytest

pytest.importorskip("ipywidgets")

from feldera_nb import widgets  # noqa: E402

pytestmark = pytest.mark.usefixtures("dummy_comm")


def _wait(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_one_dashboard_per_pipeline_and_first_draw(shop):
    board = shop.widget()
    assert shop.widget() is board
    assert board.status == "Stopped"
    assert 'data-status="Stopped"' in board.header.value
    assert "fnb-dashboard" in board._dom_classes
    assert repr(board) == "Dashboard(pipeline='shop', status=Stopped, step=0)"


def test_updates_come_from_events_without_polling(shop):
    board = shop.widget()
    before = board.renders
    shop.start()  # status events: Initializing, Running
    _wait(lambda: board.status == "Running")
    assert board.renders > before
    assert not [t for t in threading.enumerate() if t.name == "feldera-dashboard"
                and t.is_alive() and board._timer is None]
    idle = board.renders
    time.sleep(0.3)  # nothing happens: nothing is redrawn (no polling loop)
    assert board.renders == idle


def test_steps_are_coalesced(shop):
    board = shop.widget()
    board.min_interval_s = 0.2
    shop.start()
    _wait(lambda: board.status == "Running" and board._timer is None)
    before = board.renders
    started = time.monotonic()
    for i in range(40):
        shop.input_json("customers", [{"id": i, "name": f"c{i}"}])
    elapsed = time.monotonic() - started
    _wait(lambda: board.step == shop.program.circuit.steps, timeout=10)
    # at most one redraw per min_interval_s (plus the trailing one), however many steps
    assert board.renders - before <= elapsed / 0.2 + 2, (board.renders - before, elapsed)
    assert board.renders - before < 40
    assert "40" in board.counters.value or "41" in board.counters.value


def test_a_redraw_is_one_message_per_changed_widget(shop):
    board = shop.widget()
    shop.start()
    _wait(lambda: board.status == "Running" and board._timer is None)
    shop.input_json("customers", [{"id": 1, "name": "ada"}])
    _wait(lambda: board._timer is None)
    comms = {id(wd): wd.comm for wd in (board, *board._widgets)}
    counts = {k: len(c.messages) for k, c in comms.items()}
    shop.input_json("customers", [{"id": 2, "name": "bob"}])
    board.refresh()
    sent = {k: len(c.messages) - counts[k] for k, c in comms.items()}
    assert max(sent.values()) <= 2  # hold_sync: one update per widget (plus the timer's)
    assert board.counters.comm.messages  # the counters did change


def test_listener_and_redraw_never_wait_for_the_pipeline_lock(shop):
    from feldera_nb.pipeline.events import Event
    board = shop.widget()
    shop.start()
    _wait(lambda: board._timer is None)
    board.min_interval_s = 0.0
    renders = board.renders
    with shop._lock:  # as if another thread held the pipeline for a long recovery
        returned = threading.Event()

        def emit():
            board._on_event(Event("warning", message="journal tail cut"))
            returned.set()

        threading.Thread(target=emit).start()
        assert returned.wait(1.0)
        # the redraw runs (from the previous snapshot plus the events) while the lock is held
        _wait(lambda: board.renders > renders, timeout=2.0)
    assert board.snapshot.warnings == ("journal tail cut",)
    assert board.snapshot.status == "Running"


def test_recovery_progress_from_events(durable):
    board = durable.widget()
    durable.start()
    durable.input_json("customers", [{"id": 1, "name": "ada"}])
    from feldera_nb.pipeline.events import Event
    board._events.record(Event("status", status="Initializing"))
    board._events.record(Event("recovery", phase="replay", done=40, total=120, step=41))
    from feldera_nb.widgets.snapshot import collect
    s = collect(durable, board._events)
    assert s.recovery is not None
    # progress is only shown while the pipeline says it is recovering
    assert s.recovery.finished
    s2 = collect(_FakeStatus(durable, "Replaying"), board._events)
    assert s2.recovery.progress_text == "replaying step 41 of 120"


class _FakeStatus:
    def __init__(self, p, status):
        self._p, self._status = p, status

    def status(self):
        return self._status

    def __getattr__(self, name):
        return getattr(self._p, name)


def test_checkpoint_button_and_table(durable):
    board = durable.widget()
    durable.start()
    durable.input_json("customers", [{"id": 1, "name": "ada"}])
    assert not board.buttons["checkpoint"].disabled or board.refresh()
    text = board.run_action("checkpoint")
    assert text == "checkpoint 1 requested"
    durable.checkpoint(wait=True)
    _wait(lambda: "fnb-checkpoints" in board.checkpoints.value
          and ">Success<" in board.checkpoints.value.replace("</td>", "<"))
    assert board.buttons["pause"].description == "Pause"
    board.run_action("pause")
    assert board.buttons["pause"].description == "Resume"
    assert board.status == "Paused"


def test_button_errors_are_short_messages(shop):
    board = shop.widget()
    text = board.run_action("approve")
    assert text.startswith("approve failed: PipelineStateError")
    assert "Traceback" not in board.message.value


def test_awaiting_approval_shows_the_diff_and_approve(tmp_path):
    from feldera_nb import Pipeline
    cfg = {"fault_tolerance": {"checkpoint_interval_secs": None},
           "storage_config": {"path": str(tmp_path)}}
    p = Pipeline("CREATE TABLE t (x INT);", name="a", runtime_config=cfg)
    p.start()
    p.input_json("t", [{"x": 1}])
    p.stop()
    q = Pipeline("CREATE TABLE t (x INT); CREATE MATERIALIZED VIEW n AS SELECT COUNT(*) AS c "
                 "FROM t;", name="a", runtime_config=cfg)
    try:
        q.start(bootstrap_policy="await_approval")
        board = q.widget()
        assert board.status == "AwaitingApproval"
        assert "added views" in board.approval.value and "n" in board.approval.value
        assert board.buttons["approve"].layout.display is None
        board.run_action("approve")
        assert board.status == "Running"
        assert board.approval.value == ""
        assert "bootstrapped n" in board.recovery_text.value
    finally:
        q.stop(force=True)


def test_close_unsubscribes(shop):
    board = shop.widget()
    board.close()
    renders = board.renders
    shop.start()
    time.sleep(0.1)
    assert board.renders == renders
    assert shop.widget() is not board


def test_min_interval_is_validated(shop):
    from traitlets import TraitError
    board = shop.widget()
    with pytest.raises(TraitError, match="0..60"):
        board.min_interval_s = -1


def test_mimebundle_has_widget_text_and_static_html(shop):
    bundle = shop.widget()._repr_mimebundle_()
    assert set(bundle) == {"application/vnd.jupyter.widget-view+json", "text/plain",
                           "text/html"}
    assert bundle["text/plain"].startswith("Pipeline 'shop': Stopped")
    assert 'class="fnb-card"' in bundle["text/html"]


def test_without_ipywidgets_falls_back_silently(shop, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import raises ImportError
    monkeypatch.delitem(sys.modules, "feldera_nb.widgets.live", raising=False)
    assert not widgets.widgets_available()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        card = shop.widget()
        assert isinstance(card, widgets.StaticCard)
        assert 'data-status="Stopped"' in card._repr_html_()
        assert repr(card).startswith("Pipeline 'shop': Stopped")
        bundle = shop._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}


def test_widget_after_the_live_module_was_imported(shop):
    """Importing the live module must not shadow ``widgets.dashboard`` (what ``widget()``
    imports): a submodule of that name would replace the function on the package."""
    import feldera_nb.widgets.live  # noqa: F401
    assert callable(widgets.dashboard)
    assert shop.widget() is shop.widget()


def test_sync_panel_redraws_on_sync_events(tmp_path):
    """A push sends sync events; the dashboard's sync panel follows them (no polling)."""
    pytest.importorskip("fsspec")
    from feldera_nb import Pipeline
    cfg = {"fault_tolerance": {"model": "exactly_once", "checkpoint_interval_secs": None},
           "storage_config": {"path": str(tmp_path / "state")},
           "storage": {"backend": {"name": "file", "config": {"sync": {
               "bucket": f"memory://fnb-board-{tmp_path.name}", "push_interval": 60}}}}}
    p = Pipeline("CREATE TABLE t (x INT);", name="synced", runtime_config=cfg)
    try:
        p.start()
        board = p.widget()
        _wait(lambda: "Checkpoint sync" in board.sync.value)
        assert "last successful sync" in board.sync.value and "every 60 s" in board.sync.value
        assert board.buttons["sync"].layout.display is None
        p.input_json("t", [{"x": 1}])
        p.checkpoint(wait=True)
        p.sync_checkpoint(wait=True)
        _wait(lambda: "pushes" in board.sync.value)
        assert "1 done, 0 failed" in board.sync.value
        assert ">checkpoint 1<" in board.sync.value
    finally:
        p.stop(force=True)
