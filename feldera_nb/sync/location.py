"""Where checkpoints live remotely: a sync config resolved to an fsspec filesystem and a root.

:func:`open_bucket` turns the ``bucket`` (or ``read_bucket``) of a sync config into a
:class:`Bucket`: the filesystem, the root path inside it, a display URL without credentials
and the :class:`~feldera_nb.sync._scrub.Scrubber` for that config's secrets.  The read bucket
comes back wrapped in :class:`ReadOnlyFileSystem`, which refuses every write and delete, so no
code path can modify it by mistake.

gcsfs note: gcsfs >= 2026 asks Google's Storage Control API (gRPC) about every bucket, which
hangs for a minute per call against an emulator.  ``GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT=false``
turns that off, and gcsfs reads it when it is first imported; :func:`open_bucket` sets it with
``os.environ.setdefault`` right before importing gcsfs for a ``gs://`` bucket (set it yourself
to override).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import socket
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import fsspec
from fsspec.spec import AbstractFileSystem

from feldera_nb.errors import SyncError

from ._scrub import Scrubber, secret_value

BucketRole = Literal["bucket", "read_bucket"]

# provider (lower case) -> fsspec protocol
_PROVIDER_PROTOCOL: Final = {
    "aws": "s3", "minio": "s3", "s3": "s3", "other": "s3", "ceph": "s3", "wasabi": "s3",
    "gcs": "gs", "google": "gs", "gs": "gs",
    "azure": "az", "az": "az", "abfs": "az",
}
# protocol -> (module to import, extra to install)
_BACKEND: Final = {
    "s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"), "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"), "abfs": ("adlfs", "azure"), "abfss": ("adlfs", "azure"),
}
_GCSFS_ENV: Final = "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"
_URL_RE: Final = re.compile(r"^(?P<proto>[a-z][a-z0-9+.-]*)://(?P<rest>.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Bucket:
    """A resolved checkpoint location: ``fs`` plus ``root`` (a path in ``fs``, no protocol).

    ``url`` is for display and never holds credentials; ``scrub`` blanks this config's
    secrets out of any text; ``read_only`` is true for a read bucket (its ``fs`` then refuses
    writes).
    """

    fs: AbstractFileSystem = field(repr=False)
    root: str
    url: str
    scrub: Scrubber = field(repr=False, default_factory=Scrubber)
    read_only: bool = False
    endpoint: str | None = None

    @classmethod
    def from_url(cls, url: str, *, read_only: bool = False, **storage_options: Any) -> Bucket:
        """A bucket from a plain fsspec URL (tests, benchmarks, ad-hoc use)."""
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
        secrets = [v for k, v in storage_options.items() if k in _SECRET_OPTIONS]
        return _make(fs, root, _display_url(url), Scrubber(secrets), read_only)

    def path(self, *parts: str) -> str:
        """``root/part/...`` inside ``fs``."""
        return "/".join([self.root.rstrip("/"), *(p.strip("/") for p in parts)])

    def check_reachable(self, timeout_s: float = 5.0) -> None:
        """Fail fast with the cause when a custom ``endpoint`` does not accept connections.

        The backends retry a refused connection for 30-80 s before giving up; a start should
        say at once that the server is down.  No-op without a custom endpoint.
        """
        if not self.endpoint:
            return
        parts = urllib.parse.urlsplit(self.endpoint)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise SyncError(f"cannot reach {self.url} at endpoint {self.endpoint}: "
                            f"{reason}") from None

    def writable(self, what: str) -> AbstractFileSystem:
        """The filesystem, after checking that ``what`` may write here."""
        if self.read_only:
            raise SyncError(f"{what}: {self.url} is a read-only bucket; it is never written")
        return self.fs


def open_bucket(sync: Any, role: BucketRole = "bucket") -> Bucket:
    """Resolve ``sync.bucket`` (or ``sync.read_bucket``) to a :class:`Bucket`.

    ``sync`` is a ``SyncConfig`` (duck-typed).  A bare ``bucket/prefix`` takes its protocol
    from ``sync.provider`` (default S3, like Feldera).  Raises :class:`SyncError` naming the
    extra to install when the backend package is missing.
    """
    raw = getattr(sync, role)
    if not raw:
        raise SyncError(f"sync.{role} is not set")
    protocol, rest = _split_url(raw, getattr(sync, "provider", None))
    scrub = scrubber_for(sync)
    url = _display_url(f"{protocol}://{rest}")
    _import_backend(protocol)
    try:
        options = _OPTIONS.get(protocol, _no_options)(sync)
        fs = fsspec.filesystem(protocol, skip_instance_cache=True, **options)
    except Exception as exc:  # backend constructors raise anything (ValueError, KeyError...)
        raise scrub.error(f"cannot open {role} {url}", exc) from None
    root = fs._strip_protocol(f"{protocol}://{rest}").rstrip("/")
    return _make(fs, root, url, scrub, role == "read_bucket", _endpoint(sync, options))


_SECRET_OPTIONS: Final = frozenset({"key", "secret", "account_key", "connection_string",
                                    "token", "sas_token", "client_secret"})
_SECRET_FIELDS: Final = ("access_key", "secret_key", "azure_account_key",
                         "azure_connection_string", "gcs_token")


def scrubber_for(sync: Any) -> Scrubber:
    """A scrubber for every secret of a sync config."""
    return Scrubber(secret_value(getattr(sync, name, None)) for name in _SECRET_FIELDS)


def _make(fs: AbstractFileSystem, root: str, url: str, scrub: Scrubber,
          read_only: bool, endpoint: str | None = None) -> Bucket:
    if read_only:
        fs = ReadOnlyFileSystem(fs, url)  # type: ignore[assignment]
    return Bucket(fs=fs, root=root, url=url, scrub=scrub, read_only=read_only,
                  endpoint=endpoint)


def _endpoint(sync: Any, options: dict[str, Any]) -> str | None:
    """The custom endpoint: ``sync.endpoint``, or an Azure connection string's BlobEndpoint."""
    if sync.endpoint:
        return str(sync.endpoint)
    match = re.search(r"BlobEndpoint=([^;]+)", str(options.get("connection_string") or ""))
    return match.group(1) if match else None


def _split_url(raw: str, provider: str | None) -> tuple[str, str]:
    match = _URL_RE.match(raw.strip())
    if match:
        proto = match["proto"].lower()
        return ("az" if proto in ("abfs", "abfss") else proto), match["rest"]
    name = (provider or "aws").strip().lower()
    try:
        return _PROVIDER_PROTOCOL[name], raw.strip()
    except KeyError:
        known = ", ".join(sorted({"AWS", "Minio", "GCS", "Google", "Azure"}))
        raise SyncError(f"sync.provider {provider!r} is not known; use one of {known} "
                        "or put the protocol in the bucket URL") from None


def _display_url(url: str) -> str:
    """The URL without user-info (``s3://key:secret@bucket`` -> ``s3://bucket``)."""
    return re.sub(r"^([a-z0-9+.-]+://)[^/@]*@", r"\1", url, flags=re.IGNORECASE)


def _import_backend(protocol: str) -> None:
    module, extra = _BACKEND.get(protocol, (None, None))
    if module is None:
        return
    if module == "gcsfs":
        os.environ.setdefault(_GCSFS_ENV, "false")
    try:
        importlib.import_module(module)
    except ImportError:
        raise SyncError(f"{protocol}:// needs the {module} package: "
                        f"pip install 'feldera-nb[{extra}]'") from None


def _no_options(sync: Any) -> dict[str, Any]:
    return {}


def _s3_options(sync: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {"use_listings_cache": False}
    key, secret = secret_value(sync.access_key), secret_value(sync.secret_key)
    if key or secret:
        opts.update(key=key, secret=secret)
    if sync.endpoint:
        opts["endpoint_url"] = sync.endpoint
    if sync.region:
        opts["client_kwargs"] = {"region_name": sync.region}
    # Fail fast on an unreachable endpoint instead of retrying for minutes.
    opts["config_kwargs"] = {"connect_timeout": 5, "retries": {"max_attempts": 2}}
    return opts


def _gcs_options(sync: Any) -> dict[str, Any]:
    opts: dict[str, Any] = {"use_listings_cache": False}
    token = secret_value(sync.gcs_token)
    if token and token.lstrip().startswith("{"):
        opts["token"] = _gcs_json_token(json.loads(token))
    elif token:
        opts["token"] = token
    elif sync.endpoint:
        opts["token"] = "anon"  # an emulator
    if sync.endpoint:
        opts["endpoint_url"] = sync.endpoint
    return opts


def _gcs_json_token(doc: Any) -> Any:
    """A JSON token: a service-account key becomes credentials here, so a bad key fails
    with google-auth's reason (gcsfs would hide it behind ``KeyError: 'refresh_token'``)."""
    if isinstance(doc, dict) and doc.get("type") == "service_account":
        from google.oauth2 import service_account

        scope = "https://www.googleapis.com/auth/devstorage.full_control"
        try:
            return service_account.Credentials.from_service_account_info(doc, scopes=[scope])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"gcs_token is not a valid service-account key "
                             f"({type(exc).__name__}: {exc})") from None
    return doc


def _azure_options(sync: Any) -> dict[str, Any]:
    conn = secret_value(sync.azure_connection_string)
    name, key = sync.azure_account_name, secret_value(sync.azure_account_key)
    if not conn and sync.endpoint and name and key:
        conn = (f"DefaultEndpointsProtocol={sync.endpoint.split(':', 1)[0]};"
                f"AccountName={name};AccountKey={key};BlobEndpoint={sync.endpoint};")
    if conn:
        return {"connection_string": conn, "use_listings_cache": False}
    opts: dict[str, Any] = {"account_name": name, "use_listings_cache": False}
    if key:
        opts["account_key"] = key
    return opts


def _file_options(sync: Any) -> dict[str, Any]:
    return {"auto_mkdir": True}


# protocol -> storage options built from the sync config
_OPTIONS: Final[dict[str, Callable[[Any], dict[str, Any]]]] = {
    "s3": _s3_options, "s3a": _s3_options,
    "gs": _gcs_options, "gcs": _gcs_options,
    "az": _azure_options,
    "file": _file_options, "local": _file_options,
}


class ReadOnlyFileSystem:
    """A view of a filesystem that can only read: any other attribute raises SyncError.

    Only the methods listed in :attr:`ALLOWED` pass through, and ``open`` only in a read
    mode, so a new write method of fsspec cannot slip through either.
    """

    ALLOWED: Final = frozenset({
        "ls", "info", "exists", "isdir", "isfile", "find", "glob", "walk", "du", "size",
        "sizes", "cat", "cat_file", "cat_ranges", "get", "get_file", "head", "tail",
        "invalidate_cache", "checksum", "ukey", "modified", "created", "protocol",
        "root_marker", "sep", "async_impl", "_strip_protocol", "unstrip_protocol",
    })

    def __init__(self, fs: AbstractFileSystem, url: str) -> None:
        self._fs = fs
        self._url = url

    def __repr__(self) -> str:
        return f"ReadOnlyFileSystem({self._url})"

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        if set(mode) - set("rbt"):
            raise self._refuse(f"open(mode={mode!r})")
        return self._fs.open(path, mode, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in self.ALLOWED:
            return getattr(self._fs, name)
        raise self._refuse(name)

    def _refuse(self, what: str) -> SyncError:
        return SyncError(f"{self._url} is a read-only bucket: {what} is not allowed")
