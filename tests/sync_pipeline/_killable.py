"""An object-store emulator in its own process, to kill with SIGKILL and restart on its port.

S3 is ``python -m moto.server`` (state in memory: it comes back empty, without auth), GCS is
``gcp-storage-emulator`` persisting under ``STORAGE_BASE``, Azure is Azurite with
``--location``: both come back with what they had stored.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
import pytest

import _servers

BUCKET = "ckpt-kill"


class _FastRetries:
    """``asyncio`` for gcsfs.retry with back-off cut to 50 ms.

    A push to a dead server fails only after the backend's retries: gcsfs tries a refused
    connection 6 times over ~30 s, azure-storage-blob 4 times over ~60 s.  The tests cut the
    back-off (the behaviour is the same, only faster)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(delay: float, *args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(min(delay, 0.05))


class KillableServer:
    def __init__(self, kind: str, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kind = kind
        self.data = data
        self.port = _servers.free_port()
        self.proc: subprocess.Popen[Any] | None = None
        self._azurite: _servers.Azurite | None = None
        data.mkdir(parents=True, exist_ok=True)
        if kind == "gcs":
            import gcsfs.retry

            monkeypatch.setattr(gcsfs.retry, "asyncio", _FastRetries())
        elif kind == "azure":
            from azure.storage.blob._shared import policies_async

            monkeypatch.setattr(policies_async.ExponentialRetry, "get_backoff_time",
                                lambda self, settings: 0.05)

    @property
    def endpoint_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        base = f"http://{self.endpoint_host}"
        return f"{base}/{_servers.AZURITE_ACCOUNT}" if self.kind == "azure" else base

    def start(self) -> None:
        if self.kind == "azure":
            self._azurite = _servers.start_azurite(self.data, self.port)
            self.proc = self._azurite.proc
        elif self.kind == "s3":
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _servers.wait_http(f"{self.endpoint}/moto-api/", proc=self.proc)
        else:
            exe = Path(sys.executable).with_name("gcp-storage-emulator")
            self.proc = subprocess.Popen(
                [str(exe), "start", "--host", "127.0.0.1", "--port", str(self.port),
                 "--default-bucket", BUCKET, "-q"],
                env={**os.environ, "STORAGE_BASE": str(self.data)},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _servers.wait_http(f"{self.endpoint}/storage/v1/b", proc=self.proc)
        fs = self.raw_fs()
        if not fs.exists(BUCKET):
            fs.mkdir(BUCKET)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    # -- clients ---------------------------------------------------------------------------

    def _protocol(self) -> str:
        return {"s3": "s3", "gcs": "gs", "azure": "az"}[self.kind]

    def url(self, prefix: str) -> str:
        return f"{self._protocol()}://{BUCKET}/{prefix}"

    def sync_options(self, prefix: str) -> dict[str, Any]:
        """The ``sync`` object for this server (plain JSON, as a user writes it)."""
        out: dict[str, Any] = {"bucket": self.url(prefix), "endpoint": self.endpoint}
        if self.kind == "s3":
            out.update(access_key="testing", secret_key="testing-secret", provider="Minio")
        elif self.kind == "azure":
            out.update(azure_account_name=_servers.AZURITE_ACCOUNT,
                       azure_account_key=_servers.AZURITE_KEY)
        return out

    def raw_fs(self) -> Any:
        options: dict[str, Any] = {"skip_instance_cache": True, "use_listings_cache": False}
        if self.kind == "s3":
            options.update(key="testing", secret="testing-secret", endpoint_url=self.endpoint)
        elif self.kind == "gcs":
            options.update(endpoint_url=self.endpoint, token="anon")
        else:
            options.update(connection_string=(
                f"DefaultEndpointsProtocol=http;AccountName={_servers.AZURITE_ACCOUNT};"
                f"AccountKey={_servers.AZURITE_KEY};BlobEndpoint={self.endpoint};"))
        return fsspec.filesystem(self._protocol(), **options)

    def listing(self, prefix: str) -> list[str]:
        """Every object name under ``prefix``."""
        fs = self.raw_fs()
        try:
            return sorted(fs.find(f"{BUCKET}/{prefix}"))
        except FileNotFoundError:
            return []
