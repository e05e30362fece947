"""The runtime config: the same JSON a Feldera pipeline takes, parsed once into frozen dataclasses.

Only three parts of Feldera's runtime config change what feldera_nb does, and they are typed here:
``fault_tolerance``, ``storage`` (with the checkpoint-sync settings under
``storage.backend.config.sync``) and ``storage_config``.  Every other Feldera field (``workers``,
``resources``, ``dev_tweaks``...) is checked lightly and kept, so the config moves to a Feldera
cluster unchanged.  A truly unknown key, or a bad value, raises :class:`ConfigError` naming the
dotted field and what is allowed.

Credentials are :class:`Secret` objects: their ``repr`` and ``str`` are ``***``, they never enter
an error message, and ``to_dict()`` leaves them out unless ``include_secrets=True``.

>>> cfg = RuntimeConfig.from_dict({
...     "fault_tolerance": {},
...     "storage_config": {"path": "/tmp/state"},
... })
>>> cfg.ft_model, cfg.checkpoint_interval_secs, cfg.storage_path
(<FaultToleranceModel.ExactlyOnce: 'exactly_once'>, 60, '/tmp/state')
>>> RuntimeConfig.from_dict({"fault_tolerance": {"checkpoint_interval_secs": 99999},
...     "storage_config": {"path": "/tmp/state"}}).checkpoint_interval_secs
3600
"""

from __future__ import annotations

import dataclasses
import hmac
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal, TypeVar

from feldera_nb.enums import FaultToleranceModel
from feldera_nb.errors import ConfigError

__all__ = [
    "CHECKPOINT_INTERVAL_RANGE",
    "DEFAULT_CHECKPOINT_INTERVAL_SECS",
    "FaultToleranceConfig",
    "RuntimeConfig",
    "Secret",
    "StorageBackend",
    "StorageConfig",
    "StorageOptions",
    "SyncConfig",
]

T = TypeVar("T")

DEFAULT_CHECKPOINT_INTERVAL_SECS: Final = 60
CHECKPOINT_INTERVAL_RANGE: Final = (1, 3600)
REDACTED: Final = "***"

Compression = Literal["default", "none", "snappy", "zstd", "lz4"]
COMPRESSIONS: Final = ("default", "none", "snappy", "zstd", "lz4")
BACKENDS: Final = ("default", "file", "object")
CACHES: Final = ("page_cache", "feldera_cache")


# --------------------------------------------------------------------------------------------
# Secret


class Secret:
    """A credential whose value is never shown.

    >>> s = Secret("wJalrXUtnFEMI")
    >>> s, str(s), f"{s}"
    ('***', '***', '***')
    >>> s.get_secret_value()
    'wJalrXUtnFEMI'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret value must be a str")
        object.__setattr__(self, "_value", value)

    def get_secret_value(self) -> str:
        """Return the value itself; hand it only to the client library that needs it."""
        return self._value

    def __repr__(self) -> str:
        return f"'{REDACTED}'"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))


# --------------------------------------------------------------------------------------------
# Field readers: each parser takes (value, dotted field) and returns the parsed value or raises
# ConfigError naming the field.  Secret parsers never put the value into a message.

Parser = Callable[[Any, str], T]


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _int(lo: int | None = None, hi: int | None = None, *, clamp: bool = False) -> Parser[int]:
    def parse(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(where, f"must be an integer{_range(lo, hi)}, got {_describe(value)}")
        if clamp:
            return max(lo if lo is not None else value, min(hi if hi is not None else value, value))
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(where, f"must be an integer{_range(lo, hi)}, got {value}")
        return value

    return parse


def _range(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f" in {lo}..{hi}"
    if lo is not None:
        return f" >= {lo}"
    return f" <= {hi}" if hi is not None else ""


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(where, f"must be true or false, got {_describe(value)}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(where, f"must be a non-empty string, got {_describe(value)}")
    return value


def _path(value: Any, where: str) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return _str(value, where)


def _secret(value: Any, where: str) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str) or not value:
        raise ConfigError(where, "must be a non-empty string (value not shown: it is a secret)")
    return Secret(value)


def _choice(*allowed: str) -> Parser[str]:
    def parse(value: Any, where: str) -> str:
        if isinstance(value, str) and value.lower() in allowed:
            return value.lower()
        options = ", ".join(repr(a) for a in allowed)
        raise ConfigError(where, f"must be one of {options}, got {_describe(value)}")

    return parse


def _optional(parse: Parser[T]) -> Parser[T | None]:
    def parse_optional(value: Any, where: str) -> T | None:
        return None if value is None else parse(value, where)

    return parse_optional


def _any(value: Any, where: str) -> Any:
    return value


def _str_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(where, "must be a list of strings")
    return tuple(value)


class _Reader:
    """Takes the keys of one JSON object one by one; ``done()`` rejects the keys left over."""

    def __init__(self, obj: Any, where: str) -> None:
        if not isinstance(obj, Mapping):
            # Only the type: a misplaced string could be a credential.
            raise ConfigError(
                where or "runtime_config", f"must be an object, got {type(obj).__name__}"
            )
        for key in obj:
            if not isinstance(key, str):
                raise ConfigError(where or "runtime_config", "keys must be strings")
        self._obj = dict(obj)
        self._where = where

    def field(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def has(self, key: str) -> bool:
        return key in self._obj

    def take(self, key: str, parse: Parser[T], default: T) -> T:
        if key not in self._obj:
            return default
        return parse(self._obj.pop(key), self.field(key))

    def rest(self) -> dict[str, Any]:
        rest, self._obj = self._obj, {}
        return rest

    def done(self, allowed: tuple[str, ...] = ()) -> None:
        for key in self._obj:
            hint = f"; allowed: {', '.join(allowed)}" if allowed else ""
            raise ConfigError(self.field(key), f"unknown field{hint}")


# --------------------------------------------------------------------------------------------
# fault_tolerance

_FT_MODELS: Final = {
    "exactly_once": FaultToleranceModel.ExactlyOnce,
    "at_least_once": FaultToleranceModel.AtLeastOnce,
    "none": FaultToleranceModel.NONE,
    # Feldera's legacy spellings of exactly_once.
    "initial_state": FaultToleranceModel.ExactlyOnce,
    "latest_checkpoint": FaultToleranceModel.ExactlyOnce,
}


def _ft_model(value: Any, where: str) -> FaultToleranceModel:
    if isinstance(value, FaultToleranceModel):
        return value
    if isinstance(value, str) and value.lower() in _FT_MODELS:
        return _FT_MODELS[value.lower()]
    raise ConfigError(
        where, f"must be one of 'exactly_once', 'at_least_once', 'none', got {_describe(value)}"
    )


@dataclass(frozen=True)
class FaultToleranceConfig:
    """``fault_tolerance``: the model and the period of automatic checkpoints.

    ``checkpoint_interval_secs`` is clamped to 1..3600; ``None`` turns periodic checkpoints off.

    >>> FaultToleranceConfig.from_dict({"checkpoint_interval_secs": 0})
    FaultToleranceConfig(model=<FaultToleranceModel.ExactlyOnce: 'exactly_once'>, \
checkpoint_interval_secs=1)
    >>> FaultToleranceConfig.from_dict(None).model
    <FaultToleranceModel.NONE: 'none'>
    """

    model: FaultToleranceModel = FaultToleranceModel.NONE
    checkpoint_interval_secs: int | None = DEFAULT_CHECKPOINT_INTERVAL_SECS

    @classmethod
    def from_dict(cls, d: Any, where: str = "fault_tolerance") -> FaultToleranceConfig:
        """Parse the ``fault_tolerance`` object (``None`` means fault tolerance off)."""
        if d is None:
            return cls()
        r = _Reader(d, where)
        model = r.take("model", _optional(_ft_model), None)
        interval = r.take(
            "checkpoint_interval_secs",
            _optional(_int(*CHECKPOINT_INTERVAL_RANGE, clamp=True)),
            DEFAULT_CHECKPOINT_INTERVAL_SECS,
        )
        r.done(("model", "checkpoint_interval_secs"))
        # An object without a model (or with model null) means the default model, exactly_once.
        return cls(model if model is not None else FaultToleranceModel.ExactlyOnce, interval)

    @property
    def enabled(self) -> bool:
        """True unless the model is ``none``."""
        return self.model is not FaultToleranceModel.NONE

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as Feldera writes it."""
        interval = self.checkpoint_interval_secs
        return {"model": self.model.value, "checkpoint_interval_secs": interval}


# --------------------------------------------------------------------------------------------
# storage.backend.config.sync

# Provider (lower case) -> (canonical spelling, fsspec protocol).  The S3-compatible ones are
# rclone provider names (Feldera passes the name to rclone) that feldera_nb.sync also maps.
_PROVIDERS: Final = {
    "aws": ("AWS", "s3"),
    "minio": ("Minio", "s3"),
    "ceph": ("Ceph", "s3"),
    "wasabi": ("Wasabi", "s3"),
    "other": ("Other", "s3"),
    "gcs": ("GCS", "gs"),
    "google": ("Google", "gs"),
    "azure": ("Azure", "az"),
}
# URL scheme -> protocol family (so s3a:// and s3:// compare equal for provider checks).
_SCHEMES: Final = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gs",
    "gcs": "gs",
    "az": "az",
    "abfs": "az",
    "abfss": "az",
    "file": "file",
    "memory": "memory",
}
_SCHEME_RE: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$")


def _provider(value: Any, where: str) -> str:
    if isinstance(value, str) and value.lower() in _PROVIDERS:
        return _PROVIDERS[value.lower()][0]
    names = ", ".join(sorted({c for c, _ in _PROVIDERS.values()}))
    raise ConfigError(where, f"must be one of {names} (case-insensitive), got {_describe(value)}")


def _bucket(value: Any, where: str) -> str:
    text = _str(value, where)
    m = _SCHEME_RE.match(text)
    if m is not None:
        if m.group(1).lower() not in _SCHEMES:
            allowed = ", ".join(f"{s}://" for s in _SCHEMES)
            raise ConfigError(where, f"unsupported URL scheme {m.group(1)!r}; allowed: {allowed}")
        if not m.group(2).strip("/") and m.group(1).lower() not in ("memory", "file"):
            raise ConfigError(where, "names no bucket after the scheme")
    elif text.startswith("/"):
        raise ConfigError(where, "a bare bucket must not start with '/'; use file:// for a path")
    return text


def _checkpoint_ref(value: Any, where: str) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        if value.lower() == "latest":
            return "latest"
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise ConfigError(where, f"must be 'latest' or a checkpoint UUID, got {_describe(value)}")


def _url(bucket: str, provider: str | None) -> str:
    if _SCHEME_RE.match(bucket):
        return bucket
    protocol = _PROVIDERS[provider.lower()][1] if provider else "s3"
    return f"{protocol}://{bucket}"


def _normalized_url(url: str) -> str:
    m = _SCHEME_RE.match(url)
    assert m is not None
    return f"{_SCHEMES[m.group(1).lower()]}://{m.group(2).strip('/')}"


@dataclass(frozen=True)
class SyncConfig:
    """``storage.backend.config.sync``: where checkpoints are pushed and pulled.

    ``bucket`` is an fsspec URL (``s3://b/prefix``, ``gs://``, ``az://``, ``file://``,
    ``memory://``) or a bare ``bucket/prefix`` whose protocol comes from ``provider`` (S3 when
    there is none).  :attr:`url` and :attr:`read_url` give the full URLs.

    >>> s = SyncConfig.from_dict({"bucket": "ckpt/team", "provider": "gcs", "gcs_token": "anon"})
    >>> s.url, s.provider, s.gcs_token
    ('gs://ckpt/team', 'GCS', '***')
    """

    bucket: str
    endpoint: str | None = None
    region: str | None = None
    provider: str | None = None
    access_key: Secret | None = field(default=None, repr=False)
    secret_key: Secret | None = field(default=None, repr=False)
    azure_account_name: str | None = None
    azure_account_key: Secret | None = field(default=None, repr=False)
    azure_connection_string: Secret | None = field(default=None, repr=False)
    gcs_token: Secret | None = field(default=None, repr=False)
    push_interval: int | None = None
    retention_min_count: int = 10
    retention_min_age: int = 30
    start_from_checkpoint: str | None = None
    fail_if_no_checkpoint: bool = False
    standby: bool = False
    pull_interval: int = 10
    read_bucket: str | None = None
    # Feldera's rclone tuning knobs: accepted and kept so the config moves to Feldera unchanged.
    transfers: int = 20
    checkers: int = 20
    ignore_checksum: bool = False
    multi_thread_streams: int = 10
    multi_thread_cutoff: str = "100M"
    optimize_download_resources: bool = True
    upload_concurrency: int = 10
    flags: tuple[str, ...] | None = None

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = (
        "access_key",
        "secret_key",
        "azure_account_key",
        "azure_connection_string",
        "gcs_token",
    )

    @classmethod
    def from_dict(cls, d: Any, where: str = "storage.backend.config.sync") -> SyncConfig:
        """Parse the ``sync`` object; errors name ``where.<field>``."""
        r = _Reader(d, where)
        if not r.has("bucket"):
            raise ConfigError(r.field("bucket"), "is required")
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in _SYNC_PARSERS:
                values[f.name] = r.take(f.name, _SYNC_PARSERS[f.name], f.default)
        r.done(tuple(_SYNC_PARSERS))
        cfg = cls(**values)
        cfg._check(r)
        return cfg

    def _check(self, r: _Reader) -> None:
        m = _SCHEME_RE.match(self.bucket)
        if m is not None and self.provider is not None:
            family = _SCHEMES[m.group(1).lower()]
            wanted = _PROVIDERS[self.provider.lower()][1]
            if family in ("s3", "gs", "az") and family != wanted:
                raise ConfigError(
                    r.field("provider"),
                    f"{self.provider!r} does not match the bucket's scheme {m.group(1)}://",
                )
        if self.read_bucket is not None and _normalized_url(self.read_url or "") == _normalized_url(
            self.url
        ):
            raise ConfigError(r.field("read_bucket"), "must differ from bucket")
        if self.standby and self.start_from_checkpoint is None:
            raise ConfigError(
                r.field("standby"), "standby needs start_from_checkpoint ('latest' or a UUID)"
            )

    @property
    def url(self) -> str:
        """``bucket`` as a full fsspec URL."""
        return _url(self.bucket, self.provider)

    @property
    def read_url(self) -> str | None:
        """``read_bucket`` as a full fsspec URL, or None."""
        return None if self.read_bucket is None else _url(self.read_bucket, self.provider)

    @property
    def protocol(self) -> str:
        """The fsspec protocol of :attr:`url` (``s3``, ``gs``, ``az``, ``abfs``, ``file``...)."""
        m = _SCHEME_RE.match(self.url)
        assert m is not None
        return m.group(1).lower()

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """The JSON form; secrets are left out unless ``include_secrets``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Secret):
                if not include_secrets:
                    continue
                value = value.get_secret_value()
            elif isinstance(value, tuple):
                value = list(value)
            if value is None and f.default is None:
                continue
            out[f.name] = value
        return out

    def __repr__(self) -> str:
        shown = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        ]
        return f"SyncConfig({', '.join(shown)})"


_SYNC_PARSERS: Final[dict[str, Parser[Any]]] = {
    "bucket": _bucket,
    "endpoint": _optional(_str),
    "region": _optional(_str),
    "provider": _optional(_provider),
    "access_key": _optional(_secret),
    "secret_key": _optional(_secret),
    "azure_account_name": _optional(_str),
    "azure_account_key": _optional(_secret),
    "azure_connection_string": _optional(_secret),
    "gcs_token": _optional(_secret),
    "push_interval": _optional(_int(1)),
    "retention_min_count": _int(1),
    "retention_min_age": _int(0),
    "start_from_checkpoint": _optional(_checkpoint_ref),
    "fail_if_no_checkpoint": _bool,
    "standby": _bool,
    "pull_interval": _int(1),
    "read_bucket": _optional(_bucket),
    "transfers": _int(1),
    "checkers": _int(1),
    "ignore_checksum": _bool,
    "multi_thread_streams": _int(0),
    "multi_thread_cutoff": _str,
    "optimize_download_resources": _bool,
    "upload_concurrency": _int(1),
    "flags": _optional(_str_list),
}


# --------------------------------------------------------------------------------------------
# storage, storage_config

# Option names of the object backend (flat object_store options) that hold credentials.
_OBJECT_SECRET_OPTIONS: Final = frozenset(
    {
        "access_key",
        "secret_key",
        "access_key_id",
        "secret_access_key",
        "aws_access_key_id",
        "aws_secret_access_key",
        "session_token",
        "aws_session_token",
        "token",
        "client_secret",
        "azure_client_secret",
        "account_key",
        "azure_storage_account_key",
        "connection_string",
        "sas_key",
        "sas_token",
        "service_account_key",
        "google_service_account_key",
        "password",
    }
)
_FILE_OPTIONS: Final[dict[str, Parser[Any]]] = {
    "async_threads": _optional(_bool),
    "ioop_delay": _optional(_int(0)),
}


def _frozen(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class StorageBackend:
    """``storage.backend``: ``default`` and ``file`` both mean local files here.

    ``sync`` is the checkpoint-sync config (``backend.config.sync``); ``options`` holds the other
    backend options (``async_threads``, ``ioop_delay``; for ``object``, ``url`` and its flat
    options, credentials wrapped in :class:`Secret`).
    """

    name: str = "default"
    sync: SyncConfig | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))

    @classmethod
    def from_dict(cls, d: Any, where: str = "storage.backend") -> StorageBackend:
        """Parse ``{"name": ..., "config": {...}}``."""
        r = _Reader(d, where)
        name = r.take("name", _choice(*BACKENDS), "default")
        config = r.take("config", _optional(_any), None)
        r.done(("name", "config"))
        if config is None:
            return cls(name)
        cr = _Reader(config, r.field("config"))
        if name == "object":
            url = cr.take("url", _str, None)
            if url is None:
                raise ConfigError(cr.field("url"), "is required for the object backend")
            options: dict[str, Any] = {"url": url}
            for key, value in cr.rest().items():
                parse = _secret if key.lower() in _OBJECT_SECRET_OPTIONS else _any
                options[key] = parse(value, cr.field(key))
            return cls(name, None, _frozen(options))
        sync = cr.take("sync", _optional(_sync), None)
        options = {k: cr.take(k, p, None) for k, p in _FILE_OPTIONS.items() if cr.has(k)}
        cr.done(("sync", *_FILE_OPTIONS))
        return cls(name, sync, _frozen(options))

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """The JSON form; secrets are left out unless ``include_secrets``."""
        config: dict[str, Any] = {}
        for key, value in self.options.items():
            if isinstance(value, Secret):
                if not include_secrets:
                    continue
                value = value.get_secret_value()
            config[key] = value
        if self.sync is not None:
            config["sync"] = self.sync.to_dict(include_secrets=include_secrets)
        out: dict[str, Any] = {"name": self.name}
        if config:
            out["config"] = config
        return out


@dataclass(frozen=True)
class StorageOptions:
    """``storage``: the backend, compression and Feldera's storage thresholds.

    >>> StorageOptions.from_dict({"compression": "ZSTD"}).compression
    'zstd'
    """

    backend: StorageBackend = field(default_factory=StorageBackend)
    compression: Compression = "default"
    min_storage_bytes: int | None = None
    min_step_storage_bytes: int | None = None
    cache_mib: int | None = None

    @classmethod
    def from_dict(cls, d: Any, where: str = "storage") -> StorageOptions:
        """Parse the ``storage`` object."""
        r = _Reader(d, where)
        backend = r.take("backend", _optional(_backend), None) or StorageBackend()
        compression = r.take("compression", _choice(*COMPRESSIONS), "default")
        sizes = {k: r.take(k, _optional(_int(0)), None) for k in _STORAGE_SIZES}
        r.done(("backend", "compression", *_STORAGE_SIZES))
        return cls(backend, compression, **sizes)  # type: ignore[arg-type]

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """The JSON form; secrets are left out unless ``include_secrets``."""
        out: dict[str, Any] = {
            "backend": self.backend.to_dict(include_secrets=include_secrets),
            "compression": self.compression,
        }
        out.update({k: getattr(self, k) for k in _STORAGE_SIZES if getattr(self, k) is not None})
        return out


_STORAGE_SIZES: Final = ("min_storage_bytes", "min_step_storage_bytes", "cache_mib")


def _backend(value: Any, where: str) -> StorageBackend:
    return StorageBackend.from_dict(value, where)


def _sync(value: Any, where: str) -> SyncConfig:
    return SyncConfig.from_dict(value, where)


@dataclass(frozen=True)
class StorageConfig:
    """``storage_config``: the local directory holding the journal and the checkpoints."""

    path: str | None = None
    cache: str = "page_cache"

    @classmethod
    def from_dict(cls, d: Any, where: str = "storage_config") -> StorageConfig:
        """Parse the ``storage_config`` object (``None`` means no path)."""
        if d is None:
            return cls()
        r = _Reader(d, where)
        path = r.take("path", _optional(_path), None)
        cache = r.take("cache", _choice(*CACHES), "page_cache")
        r.done(("path", "cache"))
        return cls(path, cache)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        out: dict[str, Any] = {"cache": self.cache}
        if self.path is not None:
            out["path"] = self.path
        return out


# --------------------------------------------------------------------------------------------
# The whole runtime config


def _storage(value: Any, where: str) -> StorageOptions | None:
    # Feldera's older form: true = default storage, false/null = no storage.
    if value is None or value is False:
        return None
    if value is True:
        return StorageOptions()
    return StorageOptions.from_dict(value, where)


def _opt_int(lo: int) -> Parser[int | None]:
    return _optional(_int(lo))


def _opt_bool(value: Any, where: str) -> bool | None:
    return None if value is None else _bool(value, where)


def _opt_object(value: Any, where: str) -> Any:
    if value is not None and not isinstance(value, Mapping):
        raise ConfigError(where, f"must be an object or null, got {_describe(value)}")
    return value


# Feldera runtime-config fields feldera_nb does not act on: checked lightly, kept verbatim.
_PASSTHROUGH: Final[dict[str, Parser[Any]]] = {
    "workers": _opt_int(1),
    "hosts": _opt_int(1),
    "cpu_profiler": _opt_bool,
    "tracing": _opt_bool,
    "tracing_endpoint_jaeger": _optional(_any),
    "min_batch_size_records": _opt_int(0),
    "max_buffering_delay_usecs": _opt_int(0),
    "resources": _opt_object,
    "clock_resolution_usecs": _opt_int(0),
    "pin_cpus": _optional(_any),
    "provisioning_timeout_secs": _opt_int(0),
    "max_parallel_connector_init": _opt_int(1),
    "init_containers": _optional(_any),
    "checkpoint_during_suspend": _opt_bool,
    "dev_tweaks": _opt_object,
    "logging": _optional(_any),
    "http_workers": _opt_int(1),
    "io_workers": _opt_int(1),
    "max_rss_mb": _opt_int(0),
    "env": _opt_object,
    "pipeline_template_configmap": _optional(_any),
}
_TYPED: Final = ("fault_tolerance", "storage", "storage_config")


@dataclass(frozen=True)
class RuntimeConfig:
    """The runtime config of a pipeline, parsed and validated.

    >>> cfg = RuntimeConfig.from_dict({
    ...     "workers": 4,
    ...     "fault_tolerance": {"model": "at_least_once", "checkpoint_interval_secs": None},
    ...     "storage": {"backend": {"name": "file", "config": {"sync": {
    ...         "bucket": "s3://ckpt/p1", "access_key": "AKIAEXAMPLE",
    ...         "secret_key": "wJalrEXAMPLE"}}}},
    ...     "storage_config": {"path": "/tmp/p1"},
    ... })
    >>> cfg.ft_enabled, cfg.checkpoint_interval_secs, cfg.sync.url, cfg.sync.secret_key
    (True, None, 's3://ckpt/p1', '***')
    >>> "wJalrEXAMPLE" in repr(cfg) + str(cfg.to_dict())
    False
    >>> RuntimeConfig.from_dict({"fault_tolerance": {}})
    Traceback (most recent call last):
    ...
    feldera_nb.errors.ConfigError: storage_config.path: fault tolerance (exactly_once) needs \
storage: set storage_config.path
    """

    fault_tolerance: FaultToleranceConfig = field(default_factory=FaultToleranceConfig)
    storage: StorageOptions | None = field(default_factory=StorageOptions)
    storage_config: StorageConfig = field(default_factory=StorageConfig)
    other: Mapping[str, Any] = field(default_factory=lambda: _frozen({}))
    """The Feldera fields feldera_nb keeps but does not act on (``workers``, ``resources``...)."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> RuntimeConfig:
        """Parse and validate a runtime-config dict (``None`` gives the defaults)."""
        r = _Reader({} if d is None else d, "")
        ft = r.take("fault_tolerance", FaultToleranceConfig.from_dict, FaultToleranceConfig())
        storage = r.take("storage", _storage, StorageOptions())
        storage_config = r.take("storage_config", StorageConfig.from_dict, StorageConfig())
        other = {k: r.take(k, p, None) for k, p in _PASSTHROUGH.items() if r.has(k)}
        r.done()
        cfg = cls(ft, storage, storage_config, _frozen(other))
        cfg._check()
        return cfg

    @classmethod
    def coerce(cls, x: RuntimeConfig | Mapping[str, Any] | None) -> RuntimeConfig:
        """Return ``x`` if it is a RuntimeConfig, else parse it.

        >>> RuntimeConfig.coerce(None).ft_enabled
        False
        """
        if isinstance(x, RuntimeConfig):
            return x
        if x is None or isinstance(x, Mapping):
            return cls.from_dict(x)
        raise ConfigError(
            "runtime_config", f"must be a RuntimeConfig, a dict or None, got {type(x).__name__}"
        )

    def _check(self) -> None:
        if not self.ft_enabled:
            return
        model = self.fault_tolerance.model.value
        if self.storage is None:
            raise ConfigError(
                "storage", f"fault tolerance ({model}) needs storage, but storage is disabled"
            )
        if self.storage_config.path is None:
            raise ConfigError(
                "storage_config.path",
                f"fault tolerance ({model}) needs storage: set storage_config.path",
            )

    def replace(self, **changes: Any) -> RuntimeConfig:
        """A copy with some fields changed, validated again."""
        cfg = dataclasses.replace(self, **changes)
        cfg._check()
        return cfg

    def with_storage_path(self, path: str | os.PathLike[str] | None) -> RuntimeConfig:
        """A copy whose ``storage_config.path`` is ``path``.

        >>> RuntimeConfig.from_dict(None).with_storage_path("/tmp/x").storage_path
        '/tmp/x'
        """
        p = None if path is None else _path(path, "storage_config.path")
        return self.replace(storage_config=dataclasses.replace(self.storage_config, path=p))

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """The JSON form, ready for ``from_dict`` or a Feldera pipeline.

        Credentials are left out unless ``include_secrets`` (use the default for anything that is
        stored or shown, such as the config kept beside a checkpoint).
        """
        out: dict[str, Any] = dict(self.other)
        out["fault_tolerance"] = self.fault_tolerance.to_dict()
        out["storage"] = (
            None if self.storage is None else self.storage.to_dict(include_secrets=include_secrets)
        )
        out["storage_config"] = self.storage_config.to_dict()
        return out

    # Convenience accessors ------------------------------------------------------------------

    @property
    def ft_model(self) -> FaultToleranceModel:
        """The fault-tolerance model (``FaultToleranceModel.NONE`` when off)."""
        return self.fault_tolerance.model

    @property
    def ft_enabled(self) -> bool:
        """True for exactly_once and at_least_once."""
        return self.fault_tolerance.enabled

    @property
    def storage_enabled(self) -> bool:
        """True when storage is on and has a path."""
        return self.storage is not None and self.storage_config.path is not None

    @property
    def storage_path(self) -> str | None:
        """``storage_config.path`` when storage is on, else None."""
        return self.storage_config.path if self.storage is not None else None

    @property
    def checkpoint_interval_secs(self) -> int | None:
        """Seconds between automatic checkpoints; None when off or fault tolerance is off."""
        return self.fault_tolerance.checkpoint_interval_secs if self.ft_enabled else None

    @property
    def compression(self) -> Compression:
        """``storage.compression`` (``default`` when storage is off)."""
        return self.storage.compression if self.storage is not None else "default"

    @property
    def sync(self) -> SyncConfig | None:
        """The checkpoint-sync config, or None."""
        return None if self.storage is None else self.storage.backend.sync
