"""Fixtures: checkpoint sync through a whole Pipeline, on S3 (moto), GCS (emulator), Azurite.

The server fixtures and per-backend settings are those of ``tests/sync/conftest.py`` (loaded
from there by path and registered here again, so this directory starts its own session
servers).  Every test works under its own random prefix of one bucket.
"""

from __future__ import annotations

import os

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import importlib.util  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid as uuidlib  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

from feldera_nb.config import Secret  # noqa: E402
from feldera_nb.pipeline import Pipeline  # noqa: E402
from feldera_nb.pipeline.events import Event  # noqa: E402

from ._workload import SQL, rows, views  # noqa: E402, F401

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
import _servers  # noqa: E402


def _load_sync_conftest() -> Any:
    spec = importlib.util.spec_from_file_location("_sync_conftest",
                                                  TESTS / "sync" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_sync = _load_sync_conftest()
Backend = _sync.Backend
BUCKET = _sync.BUCKET
BACKENDS = ("s3", "gcs", "azure")

# -- servers: tests/sync's fixtures, registered here again (this directory's own instances) --

moto_s3 = _sync.moto_s3
gcs_emulator = _sync.gcs_emulator
azurite = _sync.azurite


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return _sync._backend(request.param, request, tmp_path_factory)


@pytest.fixture
def prefix() -> str:
    return f"p-{uuidlib.uuid4().hex[:12]}"


# -- configs -----------------------------------------------------------------------------

def plain(options: dict[str, Any]) -> dict[str, Any]:
    """SyncConfig fields as the JSON a user writes (secrets as plain strings)."""
    return {k: (v.get_secret_value() if isinstance(v, Secret) else v)
            for k, v in options.items()}


def sync_config(backend: Any, prefix: str, **overrides: Any) -> dict[str, Any]:
    """The ``sync`` object for ``backend`` under ``prefix`` (``bucket=None`` drops it)."""
    out = {"bucket": backend.url(prefix), **plain(backend.options), **plain(overrides)}
    return {k: v for k, v in out.items() if v is not None}


def runtime_config(storage: Path, sync: dict[str, Any] | None) -> dict[str, Any]:
    """exactly_once with no periodic checkpoints (tests take them), storage, ``sync``."""
    backend: dict[str, Any] = {"name": "file"}
    if sync is not None:
        backend["config"] = {"sync": sync}
    return {"fault_tolerance": {"model": "exactly_once", "checkpoint_interval_secs": None},
            "storage": {"backend": backend}, "storage_config": {"path": str(storage)}}


class Events:
    """A pipeline's events, kept; :meth:`wait_for` blocks until one matches (no polling)."""

    def __init__(self, p: Pipeline) -> None:
        self.seen: list[Event] = []
        self._cond = threading.Condition()
        self.unsubscribe = p.subscribe(self._add)

    def _add(self, event: Event) -> None:
        with self._cond:
            self.seen.append(event)
            self._cond.notify_all()

    def wait_for(self, match: Callable[[Event], bool], timeout_s: float = 60.0) -> Event:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for event in self.seen:
                    if match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching event in {timeout_s} s; saw "
                                         f"{[str(e) for e in self.seen[-10:]]}")
                self._cond.wait(left)

    def sync(self, phase: str, status: str) -> list[Event]:
        return [e for e in self.seen if e.kind == "sync" and e.phase == phase
                and e.status == status]


@pytest.fixture
def make_pipeline(tmp_path: Path) -> Iterator[Callable[..., Pipeline]]:
    """``make_pipeline(name, storage_dir_name, sync_dict)``; every pipeline is stopped after."""
    made: list[Pipeline] = []

    def make(storage: str, sync: dict[str, Any] | None, *, name: str = "orders") -> Pipeline:
        p = Pipeline(SQL, name=name, runtime_config=runtime_config(tmp_path / storage, sync))
        made.append(p)
        return p

    yield make
    for p in made:
        try:
            p.stop(force=True)
        except Exception:  # noqa: BLE001 - the test's own failure matters more
            pass
