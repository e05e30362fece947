"""Static cards and text reprs: pure, escaped, deterministic, and never showing a secret."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import pytest

from feldera_nb import Pipeline
from feldera_nb.widgets import CheckpointList, checkpoints_html, collect, recovery_text, sync_html
from feldera_nb.widgets._html import fmt_bytes, fmt_seconds

ACCESS_KEY = "AKIAZ7QEXAMPLE4RTY2X"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
CONN = ("DefaultEndpointsProtocol=http;AccountName=devstore;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq==;")
VOLATILE = re.compile(r'<span class="fnb-v">[^<]*</span>')


def _text(p: Pipeline) -> str:
    """What a notebook shows as text/plain for ``p`` (outside a kernel: the static forms)."""
    return p._repr_mimebundle_(include={"text/plain"})["text/plain"]


def _sync_config(tmp_path, **sync):
    return {"fault_tolerance": {"checkpoint_interval_secs": None},
            "storage_config": {"path": str(tmp_path / "state")},
            "storage": {"backend": {"name": "file", "config": {"sync": sync}}}}


def test_card_escapes_everything(tmp_path):
    p = Pipeline('CREATE TABLE "<b>t</b>" (x INT);', name="<script>alert(1)</script>")
    html = p._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>t</b>" not in html
    ElementTree.fromstring(html.replace("&nbsp;", " "))  # well-formed


def test_text_is_deterministic_and_has_no_volatile_values(shop):
    shop.start()
    shop.input_json("customers", [{"id": 1, "name": "ada"}])
    shop.input_json("orders", [{"id": 1, "customer": 1, "amount": 5}])
    text = _text(shop)
    assert text == _text(shop)
    assert text.splitlines()[:3] == [
        "Pipeline 'shop': Running (fault tolerance: none)",
        "  step 3, 2 records in, 1 out",
        "  tables: customers (1 row), orders (1 row)",
    ]
    assert not re.search(r"\d+\.\d+ ?(s|ms)\b|records/s|\d{4}-\d\d-\d\d", text)


def test_html_is_deterministic_once_volatile_spans_are_blanked(shop):
    shop.start()
    shop.input_json("customers", [{"id": 1, "name": "ada"}])
    a, b = shop._repr_html_(), shop._repr_html_()
    assert VOLATILE.sub("", a) == VOLATILE.sub("", b)
    assert 'data-status="Running"' in a
    assert "<details" in a


def test_mimebundle_outside_a_kernel_is_the_static_card(shop):
    bundle = shop._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert shop._repr_mimebundle_(include={"text/plain"}).keys() == {"text/plain"}


def test_checkpoint_list_and_recovery_cards(durable):
    durable.start()
    durable.input_json("customers", [{"id": 1, "name": "ada"}])
    durable.checkpoint(wait=True)
    entries = durable.checkpoints()
    assert isinstance(entries, CheckpointList) and isinstance(entries, list)
    assert repr(entries) == "CheckpointList([seq 1 at step 2 (Success)])"
    html = entries._repr_html_()
    assert html == checkpoints_html(durable.checkpoints())
    assert "Checkpoints (1)" in html and entries[0].uuid[:8] in html
    assert recovery_text(durable.recovery) == "started empty"
    assert "started empty" in durable.recovery._repr_html_()
    durable.stop()
    again = Pipeline(durable.sql, name="durable", runtime_config=durable.runtime_config)
    again.start()
    try:
        assert recovery_text(again.recovery).startswith("checkpoint seq 2 (step 2)")
        card = again._repr_html_()
        assert "Recovery" in card and "checkpoint seq 2" in card
        assert "Checkpoints (" in card
    finally:
        again.stop(force=True)


@pytest.mark.parametrize("sync", [
    {"bucket": "s3://ckpt/team", "endpoint": "http://127.0.0.1:5000",
     "access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "push_interval": 30},
    {"bucket": "az://ckpt/team", "azure_connection_string": CONN},
    {"bucket": f"s3://{ACCESS_KEY}:{SECRET_KEY.replace('/', '%2F')}@ckpt/team"},
])
def test_secrets_never_shown(tmp_path, sync):
    cfg = _sync_config(tmp_path, **sync)
    p = Pipeline("CREATE TABLE t (x INT);", name="s", runtime_config=cfg)
    outputs = [p._repr_html_(), _text(p), sync_html(p), repr(collect(p)),
               *p._repr_mimebundle_().values()]
    secrets = [ACCESS_KEY, SECRET_KEY, SECRET_KEY.replace("/", "%2F"),
               "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq=="]
    for out in outputs:
        for secret in secrets:
            assert secret not in out
    assert "ckpt/team" in _text(p)
    if "access_key" in sync:
        assert "access_key ***" in sync_html(p)
        assert "every 30 s" in sync_html(p)


def test_failed_pipeline_shows_its_error(shop):
    shop.error = ValueError("disk <full>")
    html = shop._repr_html_()
    assert "ValueError: disk &lt;full&gt;" in html
    assert "error: ValueError: disk <full>" in _text(shop)


def test_formatters():
    assert fmt_bytes(None) == "-" and fmt_bytes(512) == "512 B" and fmt_bytes(2048) == "2.0 KiB"
    assert fmt_seconds(0.0123) == "12 ms" and fmt_seconds(2.5) == "2.50 s"


def _memory_sync(tmp_path, name, **sync):
    cfg = _sync_config(tmp_path / name, bucket=f"memory://fnb-cards-{tmp_path.name}", **sync)
    cfg["fault_tolerance"]["model"] = "exactly_once"
    return cfg


def test_sync_panel_follows_pushes_and_the_standby(tmp_path):
    """The sync panel reads the pipeline's SyncSnapshot: last successful push, the synced
    column, a standby's held checkpoint, where an activated standby started from."""
    pytest.importorskip("fsspec")
    import threading
    sql = "CREATE TABLE t (x INT); CREATE MATERIALIZED VIEW n AS SELECT COUNT(*) AS c FROM t;"
    primary = Pipeline(sql, name="p", runtime_config=_memory_sync(tmp_path, "primary"))
    standby = Pipeline(sql, name="p", runtime_config=_memory_sync(
        tmp_path, "standby", standby=True, pull_interval=1, start_from_checkpoint="latest"))
    try:
        primary.start()
        primary.input_json("t", [{"x": 1}])
        primary.checkpoint(wait=True)
        uuid = primary.sync_checkpoint(wait=True)
        text = _text(primary)
        assert "last synced checkpoint 1" in text and uuid not in text
        html = primary._repr_html_()
        assert "last successful sync" in html and "checkpoint 1" in html
        assert collect(primary).checkpoints[0].synced is True
        pulled = threading.Event()
        standby.subscribe(lambda e: pulled.set() if e.kind == "sync" and e.phase == "pull"
                          and e.status == "Success" else None)
        standby.start()
        assert pulled.wait(30)
        assert collect(standby).sync.standby_held == uuid
        assert "standby, holds a checkpoint" in _text(standby)
        assert "standby holds" in standby._repr_html_()
        primary.stop(force=True)
        standby.activate()
        text = _text(standby)
        assert "recovery: started from the bucket; checkpoint seq 1" in text
        assert uuid not in text and "standby" not in text
        assert "started from" in sync_html(standby)
    finally:
        primary.stop(force=True)
        standby.stop(force=True)
