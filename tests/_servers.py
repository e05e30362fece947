"""Real object-store servers on 127.0.0.1 for tests: moto (S3), a GCS emulator, Azurite.

Each ``start_*`` returns a handle with ``endpoint`` and ``stop()``; readiness is checked with
a real HTTP request, never a sleep.  Azurite is the npm package that
``scripts/install-test-servers.sh`` installs into ``.test-servers/``; :func:`azurite_command`
returns None when it (or node) is absent, and the fixtures skip with that reason.

gcsfs must be imported with ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false`` in the environment
(see ``feldera_nb.sync.location``); ``tests/sync/conftest.py`` sets it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
AZURITE_DIR = Path(os.environ.get("FELDERA_NB_TEST_SERVERS", REPO / ".test-servers"))
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's documented, public development key (not a secret).
AZURITE_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
               "K1SZFPTOtr/KBHBeksoGMGw==")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, *, timeout_s: float = 30.0, proc: subprocess.Popen[Any] | None = None,
              ) -> None:
    """Wait until ``url`` answers any HTTP response (an error status counts as up)."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout_s} s: {last}")


# -- S3: moto ---------------------------------------------------------------------------

@dataclass
class MotoS3:
    """moto's threaded server with IAM auth on: only ``key``/``secret`` are accepted."""

    endpoint: str
    key: str
    secret: str
    server: Any = field(repr=False)

    def stop(self) -> None:
        self.server.stop()


_MOTO_KEY: tuple[str, str] | None = None  # the signing key, once IAM auth is on


def start_moto(port: int = 0) -> MotoS3:
    """Start a moto S3 server (``port`` 0 picks a free one).

    moto keeps its state per process, so every server started here serves the same buckets
    and accepts the same key: a second call (another test directory's fixture, a server
    restarted on the same port) reuses the key the first one created.
    """
    global _MOTO_KEY
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    import boto3
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://127.0.0.1:{port}"
    wait_http(f"{endpoint}/moto-api/")
    if _MOTO_KEY is not None:
        return MotoS3(endpoint, *_MOTO_KEY, server)
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam.create_user(UserName="feldera-ci")
    iam.put_user_policy(UserName="feldera-ci", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="feldera-ci")["AccessKey"]
    _MOTO_KEY = (key["AccessKeyId"], key["SecretAccessKey"])
    # From now on every request must be signed with that key (a bad secret is refused).
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    return MotoS3(endpoint, key["AccessKeyId"], key["SecretAccessKey"], server)


# -- GCS: gcp-storage-emulator ----------------------------------------------------------

@dataclass
class GcsEmulator:
    endpoint: str
    server: Any = field(repr=False)

    def stop(self) -> None:
        self.server.stop()


def start_gcs(default_bucket: str, *, port: int | None = None,
              data_dir: Path | None = None) -> GcsEmulator:
    """Start gcp-storage-emulator in this process; in memory, or persisting to ``data_dir``
    (so a server stopped mid-request can be restarted on the same ``port`` with its data)."""
    logging.getLogger("gcp_storage_emulator").setLevel(logging.ERROR)
    from gcp_storage_emulator.server import create_server

    port = port or free_port()
    server = create_server("127.0.0.1", port, in_memory=data_dir is None,
                           default_bucket=default_bucket,
                           data_dir=None if data_dir is None else str(data_dir))
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    # The emulator logs a bind failure from a thread but keeps running: ask it for real.
    wait_http(f"{endpoint}/storage/v1/b")
    return GcsEmulator(endpoint, server)


# -- Azure: Azurite ---------------------------------------------------------------------

def azurite_command() -> list[str] | None:
    """``[node, azurite-blob.js]`` when node and the installed Azurite exist, else None."""
    node = shutil.which("node")
    script = AZURITE_DIR / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if node is None or not script.exists():
        return None
    return [node, str(script)]


@dataclass
class Azurite:
    endpoint: str  # the blob endpoint, with the account: http://127.0.0.1:PORT/devstoreaccount1
    proc: subprocess.Popen[Any] = field(repr=False)
    location: Path

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
                f"AccountKey={AZURITE_KEY};BlobEndpoint={self.endpoint};")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_azurite(location: Path, port: int | None = None) -> Azurite:
    """Start Azurite's blob service persisting to ``location`` (so it can be restarted)."""
    command = azurite_command()
    if command is None:
        raise RuntimeError("Azurite is not installed: run scripts/install-test-servers.sh")
    port = port or free_port()
    location.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [*command, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location",
         str(location), "--skipApiVersionCheck", "--loose", "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    try:
        wait_http(f"{endpoint}?comp=list", proc=proc)
    except BaseException:
        proc.kill()
        raise
    return Azurite(endpoint, proc, location)
