"""Fixtures for the notebook-surface tests: widgets without a kernel (a DummyComm records
what would be sent to the front end), pipelines with and without storage."""

from __future__ import annotations

import pytest

from feldera_nb import Pipeline

SHOP = """
    CREATE TABLE customers (id INT NOT NULL PRIMARY KEY, name VARCHAR NOT NULL);
    CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, customer INT NOT NULL, amount INT);
    CREATE MATERIALIZED VIEW revenue AS
        SELECT c.name, SUM(o.amount) AS total
        FROM orders o JOIN customers c ON o.customer = c.id GROUP BY c.name;
"""


class DummyComm:
    """Stands in for a kernel comm: keeps every message a widget sends."""

    comm_id = "a-b-c-d"
    kernel = "Truthy"

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.messages: list[tuple[tuple, dict]] = []

    def open(self, *args: object, **kwargs: object) -> None:
        pass

    def on_msg(self, *args: object, **kwargs: object) -> None:
        pass

    def send(self, *args: object, **kwargs: object) -> None:
        self.messages.append((args, kwargs))

    def close(self, *args: object, **kwargs: object) -> None:
        pass


@pytest.fixture
def dummy_comm(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widgets created in the test talk to DummyComms (ipywidgets' own test approach)."""
    comm = pytest.importorskip("comm")
    ipywidgets = pytest.importorskip("ipywidgets")
    monkeypatch.setattr(comm, "create_comm", lambda **kw: DummyComm())
    monkeypatch.setattr(comm, "get_comm_manager", lambda **kw: {})
    monkeypatch.setattr(ipywidgets.Widget.comm, "klass", DummyComm, raising=False)


@pytest.fixture
def shop():
    p = Pipeline(SHOP, name="shop")
    yield p
    p.stop(force=True)


@pytest.fixture
def durable(tmp_path):
    """A pipeline with storage and exactly-once fault tolerance (no periodic checkpoints)."""
    cfg = {"fault_tolerance": {"model": "exactly_once", "checkpoint_interval_secs": None},
           "storage_config": {"path": str(tmp_path / "state")}}
    p = Pipeline(SHOP, name="durable", runtime_config=cfg)
    yield p
    p.stop(force=True)
