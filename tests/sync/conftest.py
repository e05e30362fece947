"""Fixtures: one checkpoint store per backend, every sync scenario runs on each.

Backends: ``memory://``, local ``file://``, S3 (moto server with IAM auth), GCS
(gcp-storage-emulator) and Azure (Azurite, skipped only when node/Azurite are absent; run
``scripts/install-test-servers.sh``).  Servers are session-scoped; each test works under its
own random prefix of one shared bucket.
"""

from __future__ import annotations

import os

# gcsfs reads this when first imported; without it every call waits ~60 s on gRPC.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import hashlib  # noqa: E402
import json  # noqa: E402
import uuid as uuidlib  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, UTC  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import fsspec  # noqa: E402
import pytest  # noqa: E402

import sys  # noqa: E402

from feldera_nb.config import Secret, SyncConfig  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import _servers  # noqa: E402

BUCKET = "ckpt-test"
BACKENDS = ("memory", "file", "s3", "gcs", "azure")


@dataclass
class Backend:
    """A checkpoint store under test: builds sync configs and a raw fs to inspect it."""

    name: str
    base: str  # URL of the shared bucket, without trailing slash
    options: dict[str, Any] = field(default_factory=dict)  # SyncConfig fields
    raw_options: dict[str, Any] = field(default_factory=dict)  # storage options, raw fs
    bad: dict[str, Any] | None = None  # SyncConfig fields with a wrong secret
    server: Any = None

    def url(self, prefix: str) -> str:
        return f"{self.base}/{prefix}"

    def config(self, prefix: str, **overrides: Any) -> SyncConfig:
        fields = {"bucket": self.url(prefix), **self.options, **overrides}
        return SyncConfig(**fields)

    def raw_fs(self) -> fsspec.AbstractFileSystem:
        fs, _ = fsspec.core.url_to_fs(self.base, skip_instance_cache=True,
                                      use_listings_cache=False, **self.raw_options)
        return fs

    def raw_path(self, prefix: str) -> str:
        fs = self.raw_fs()
        return str(fs._strip_protocol(self.url(prefix))).rstrip("/")

    def listing(self, prefix: str) -> dict[str, bytes]:
        """Every object under ``prefix`` with its content (for before/after comparisons)."""
        fs, root = self.raw_fs(), self.raw_path(prefix)
        try:
            names = sorted(fs.find(root))
        except FileNotFoundError:
            return {}
        return {n[len(root):]: fs.cat_file(n) for n in names}


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[_servers.MotoS3]:
    server = _servers.start_moto()
    import s3fs

    fs = s3fs.S3FileSystem(key=server.key, secret=server.secret, endpoint_url=server.endpoint,
                           skip_instance_cache=True)
    if not fs.exists(BUCKET):  # moto's state is per process: another fixture may have made it
        fs.mkdir(BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[_servers.GcsEmulator]:
    server = _servers.start_gcs(default_bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_servers.Azurite]:
    if _servers.azurite_command() is None:
        pytest.skip("Azurite is not installed (needs node and "
                    "scripts/install-test-servers.sh)")
    server = _servers.start_azurite(tmp_path_factory.mktemp("azurite"))
    import adlfs

    adlfs.AzureBlobFileSystem(connection_string=server.connection_string,
                              skip_instance_cache=True).mkdir(BUCKET)
    yield server
    server.stop()


def _backend(name: str, request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Backend:
    if name == "memory":
        return Backend(name, f"memory://{BUCKET}")
    if name == "file":
        root = tmp_path_factory.getbasetemp() / "file-bucket"
        root.mkdir(exist_ok=True)
        return Backend(name, f"file://{root}", raw_options={"auto_mkdir": True})
    if name == "s3":
        s3 = request.getfixturevalue("moto_s3")
        return Backend(
            name, f"s3://{BUCKET}",
            options={"endpoint": s3.endpoint, "access_key": Secret(s3.key),
                     "secret_key": Secret(s3.secret), "provider": "Minio"},
            raw_options={"key": s3.key, "secret": s3.secret, "endpoint_url": s3.endpoint},
            bad={"secret_key": Secret("WRONG-s3-secret-" + "x" * 24)}, server=s3)
    if name == "gcs":
        gcs = request.getfixturevalue("gcs_emulator")
        return Backend(
            name, f"gs://{BUCKET}", options={"endpoint": gcs.endpoint},
            raw_options={"endpoint_url": gcs.endpoint, "token": "anon"},
            # The emulators check no credentials: a malformed service-account key is
            # refused by google-auth on the client instead.
            bad={"gcs_token": Secret(json.dumps(_bad_service_account()))}, server=gcs)
    if name == "azure":
        az = request.getfixturevalue("azurite")
        return Backend(
            name, f"az://{BUCKET}",
            options={"endpoint": az.endpoint, "azure_account_name": _servers.AZURITE_ACCOUNT,
                     "azure_account_key": Secret(_servers.AZURITE_KEY)},
            raw_options={"connection_string": az.connection_string},
            bad={"azure_account_key": Secret("V1JPTkctYXp1cmUta2V5LXdyb25nLWtleS0xMjM0NTY=")},
            server=az)
    raise ValueError(name)


def _bad_service_account() -> dict[str, str]:
    return {"type": "service_account", "project_id": "p", "private_key_id": "k1d" * 8,
            "private_key": "-----BEGIN PRIVATE KEY-----\nTk9UQUtFWW5vdGFrZXlub3Rha2V5\n"
                           "-----END PRIVATE KEY-----\n",
            "client_email": "ci@p.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": "http://127.0.0.1:9/token"}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Backend:
    return _backend(request.param, request, tmp_path_factory)


@pytest.fixture
def prefix() -> str:
    return f"t-{uuidlib.uuid4().hex[:12]}"


# -- local checkpoints ------------------------------------------------------------------

def make_checkpoint(checkpoints_dir: Path, files: dict[str, bytes], *, seq: int = 1,
                    step: int = 0, created_at: datetime | None = None,
                    uuid: str | None = None) -> Path:
    """Write an opaque checkpoint directory with a format-1 manifest; return its path."""
    uuid = uuid or str(uuidlib.uuid4())
    directory = checkpoints_dir / uuid
    entries = {}
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries[rel] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                        "name": rel.rsplit("/", 1)[-1].split(".")[0]}
    manifest = {"format": 1, "uuid": uuid, "seq": seq, "step": step,
                "created_at": (created_at or datetime.now(UTC)).isoformat(),
                "files": entries, "meta": {"program": "test"}}
    (directory / "CHECKPOINT.json").write_bytes(json.dumps(manifest, indent=1).encode())
    return directory


def sample_files(seed: int = 0, big: int = 256 * 1024) -> dict[str, bytes]:
    rng = hashlib.sha256(str(seed).encode()).digest()
    return {
        "state/op1/run-000.parquet": (rng * (big // 32 + 1))[:big],
        "state/op2/run-000.parquet": bytes(range(256)) * 40 + rng,
        "empty.bin": b"",
        "meta.json": json.dumps({"seed": seed}).encode(),
    }


def tree_bytes(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def checkpoint_factory(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1, 1000))

    def make(files: dict[str, bytes] | None = None, **kwargs: Any) -> Path:
        seq = kwargs.pop("seq", next(counter))
        return make_checkpoint(tmp_path / "local", files or sample_files(seq), seq=seq,
                               **kwargs)

    return make
