"""RuntimeConfig: defaults, clamping, every error path names its field, secrets never leak."""

from __future__ import annotations

import copy
import logging
import pickle
from typing import Any

import pytest

from feldera_nb.config import RuntimeConfig, Secret, SyncConfig
from feldera_nb.enums import FaultToleranceModel
from feldera_nb.errors import ConfigError

PATH = {"storage_config": {"path": "/tmp/state"}}
SECRETS = {
    "access_key": "AKIA-ACCESS-7f3k",
    "secret_key": "wJalr-SECRET-q9z2",
    "azure_account_key": "AZ-ACCOUNT-KEY-55x",
    "azure_connection_string": "DefaultEndpoints;AccountKey=AZ-CONN-91q",
    "gcs_token": '{"private_key": "GCS-PRIVATE-0a8"}',
}


def with_sync(**sync: Any) -> dict[str, Any]:
    return {
        **PATH,
        "fault_tolerance": {},
        "storage": {"backend": {"name": "file", "config": {"sync": sync}}},
    }


def full_config() -> dict[str, Any]:
    return {
        "workers": 4,
        "resources": {"memory_mb_max": 1024},
        "dev_tweaks": {"x": 1},
        "fault_tolerance": {"model": "exactly_once", "checkpoint_interval_secs": 30},
        "storage": {
            "backend": {
                "name": "file",
                "config": {
                    "sync": {
                        "bucket": "ckpt/prefix",
                        "provider": "Minio",
                        "endpoint": "http://127.0.0.1:9000",
                        "region": "us-east-1",
                        "push_interval": 300,
                        "retention_min_count": 3,
                        "retention_min_age": 1,
                        "start_from_checkpoint": "latest",
                        "read_bucket": "backup/prefix",
                        "flags": ["--fast-list"],
                        **{k: v for k, v in SECRETS.items() if k in ("access_key", "secret_key")},
                    }
                },
            },
            "compression": "zstd",
        },
        "storage_config": {"path": "/tmp/state", "cache": "page_cache"},
    }


# --- defaults and fault_tolerance ------------------------------------------------------------


def test_defaults_have_no_fault_tolerance() -> None:
    cfg = RuntimeConfig.from_dict(None)
    assert cfg.ft_model is FaultToleranceModel.NONE
    assert not cfg.ft_enabled
    assert cfg.checkpoint_interval_secs is None
    assert cfg.storage_path is None
    assert cfg.compression == "default"
    assert cfg.sync is None
    assert RuntimeConfig.coerce(None) == cfg == RuntimeConfig.from_dict({})


def test_object_without_model_is_exactly_once_with_60s() -> None:
    cfg = RuntimeConfig.from_dict({"fault_tolerance": {}, **PATH})
    assert cfg.ft_model is FaultToleranceModel.ExactlyOnce
    assert cfg.ft_enabled
    assert cfg.checkpoint_interval_secs == 60
    assert cfg.storage_path == "/tmp/state"


@pytest.mark.parametrize(
    "model, expected",
    [
        ("exactly_once", FaultToleranceModel.ExactlyOnce),
        ("AT_LEAST_ONCE", FaultToleranceModel.AtLeastOnce),
        ("none", FaultToleranceModel.NONE),
        (None, FaultToleranceModel.ExactlyOnce),
        ("latest_checkpoint", FaultToleranceModel.ExactlyOnce),
        (FaultToleranceModel.AtLeastOnce, FaultToleranceModel.AtLeastOnce),
    ],
)
def test_models(model: Any, expected: FaultToleranceModel) -> None:
    cfg = RuntimeConfig.from_dict({"fault_tolerance": {"model": model}, **PATH})
    assert cfg.ft_model is expected


def test_null_fault_tolerance_is_off() -> None:
    assert not RuntimeConfig.from_dict({"fault_tolerance": None}).ft_enabled


@pytest.mark.parametrize(
    "given, expected", [(0, 1), (-5, 1), (1, 1), (60, 60), (3600, 3600), (3601, 3600), (10**9, 3600)]
)
def test_interval_is_clamped(given: int, expected: int) -> None:
    cfg = RuntimeConfig.from_dict({"fault_tolerance": {"checkpoint_interval_secs": given}, **PATH})
    assert cfg.checkpoint_interval_secs == expected


def test_null_interval_turns_periodic_checkpoints_off() -> None:
    cfg = RuntimeConfig.from_dict({"fault_tolerance": {"checkpoint_interval_secs": None}, **PATH})
    assert cfg.ft_enabled and cfg.checkpoint_interval_secs is None


def test_interval_without_fault_tolerance_is_none() -> None:
    cfg = RuntimeConfig.from_dict({"fault_tolerance": {"model": "none"}})
    assert cfg.fault_tolerance.checkpoint_interval_secs == 60
    assert cfg.checkpoint_interval_secs is None


# --- storage -------------------------------------------------------------------------------


@pytest.mark.parametrize("storage", [True, {}, {"backend": {"name": "default"}}])
def test_storage_forms_enable_storage(storage: Any) -> None:
    cfg = RuntimeConfig.from_dict({"storage": storage, **PATH})
    assert cfg.storage_enabled and cfg.storage_path == "/tmp/state"


@pytest.mark.parametrize("storage", [False, None])
def test_storage_off_forms(storage: Any) -> None:
    cfg = RuntimeConfig.from_dict({"storage": storage, **PATH})
    assert cfg.storage is None and not cfg.storage_enabled and cfg.storage_path is None


def test_compression_is_case_insensitive() -> None:
    assert RuntimeConfig.from_dict({"storage": {"compression": "LZ4"}}).compression == "lz4"


def test_ft_without_path_names_storage_config_path() -> None:
    with pytest.raises(ConfigError) as e:
        RuntimeConfig.from_dict({"fault_tolerance": {"model": "at_least_once"}})
    assert e.value.field == "storage_config.path"
    assert "needs storage" in str(e.value)


def test_ft_with_storage_disabled_names_storage() -> None:
    with pytest.raises(ConfigError) as e:
        RuntimeConfig.from_dict({"fault_tolerance": {}, "storage": False, **PATH})
    assert e.value.field == "storage"
    assert "disabled" in str(e.value)


def test_pathlike_path() -> None:
    from pathlib import Path

    cfg = RuntimeConfig.from_dict({"storage_config": {"path": Path("/tmp/p")}})
    assert cfg.storage_path == "/tmp/p"
    assert RuntimeConfig.from_dict(None).with_storage_path(Path("/x")).storage_path == "/x"


def test_object_backend_keeps_url_and_hides_credentials() -> None:
    cfg = RuntimeConfig.from_dict(
        {
            "storage": {
                "backend": {
                    "name": "object",
                    "config": {"url": "s3://b/p", "secret_access_key": "OBJ-SECRET-77"},
                }
            }
        }
    )
    assert cfg.storage is not None
    assert cfg.storage.backend.options["url"] == "s3://b/p"
    assert "OBJ-SECRET-77" not in repr(cfg) + str(cfg.to_dict())
    assert "OBJ-SECRET-77" in str(cfg.to_dict(include_secrets=True))


# --- sync ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bucket, provider, url",
    [
        ("b/prefix", None, "s3://b/prefix"),
        ("b/prefix", "aws", "s3://b/prefix"),
        ("b/prefix", "MINIO", "s3://b/prefix"),
        ("b/prefix", "Google", "gs://b/prefix"),
        ("b/prefix", "gcs", "gs://b/prefix"),
        ("b/prefix", "azure", "az://b/prefix"),
        ("gs://b/p", None, "gs://b/p"),
        ("abfs://c/p", "Azure", "abfs://c/p"),
        ("memory://ckpt", None, "memory://ckpt"),
        ("file:///tmp/bucket", None, "file:///tmp/bucket"),
    ],
)
def test_sync_urls(bucket: str, provider: str | None, url: str) -> None:
    sync = RuntimeConfig.from_dict(with_sync(bucket=bucket, provider=provider)).sync
    assert sync is not None and sync.url == url


def test_sync_defaults() -> None:
    sync = RuntimeConfig.from_dict(with_sync(bucket="b")).sync
    assert sync == SyncConfig(bucket="b")
    assert (sync.retention_min_count, sync.retention_min_age, sync.pull_interval) == (10, 30, 10)
    assert sync.push_interval is None and sync.start_from_checkpoint is None
    assert not sync.standby and not sync.fail_if_no_checkpoint


def test_start_from_checkpoint_uuid_is_normalized() -> None:
    u = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    sync = RuntimeConfig.from_dict(with_sync(bucket="b", start_from_checkpoint=u)).sync
    assert sync is not None and sync.start_from_checkpoint == u.lower()


SYNC = "storage.backend.config.sync"


@pytest.mark.parametrize(
    "config, field, words",
    [
        ({"bogus": 1}, "bogus", "unknown field"),
        ({"fault_tolerance": {"model": "twice"}}, "fault_tolerance.model", "exactly_once"),
        ({"fault_tolerance": {"interval": 5}}, "fault_tolerance.interval", "unknown"),
        ({"fault_tolerance": {"checkpoint_interval_secs": "60"}},
         "fault_tolerance.checkpoint_interval_secs", "integer"),
        ({"fault_tolerance": {"checkpoint_interval_secs": True}},
         "fault_tolerance.checkpoint_interval_secs", "integer"),
        ({"fault_tolerance": "exactly_once"}, "fault_tolerance", "object"),
        ({"storage": {"compression": "brotli"}}, "storage.compression", "'zstd'"),
        ({"storage": {"backend": {"name": "s3"}}}, "storage.backend.name", "'file'"),
        ({"storage": {"backend": {"name": "file", "config": {"nope": 1}}}},
         "storage.backend.config.nope", "unknown"),
        ({"storage": {"backend": {"name": "object", "config": {}}}},
         "storage.backend.config.url", "required"),
        ({"storage": {"cache_mib": -1}}, "storage.cache_mib", ">= 0"),
        ({"storage": 3}, "storage", "object"),
        ({"storage_config": {"path": ""}}, "storage_config.path", "non-empty"),
        ({"storage_config": {"cache": "ram"}}, "storage_config.cache", "page_cache"),
        ({"storage_config": {"path": "/x", "size": 1}}, "storage_config.size", "unknown"),
        ({"workers": 0}, "workers", ">= 1"),
        ({"resources": [1]}, "resources", "object"),
        (with_sync(), f"{SYNC}.bucket", "required"),
        (with_sync(bucket=""), f"{SYNC}.bucket", "non-empty"),
        (with_sync(bucket="ftp://b"), f"{SYNC}.bucket", "s3://"),
        (with_sync(bucket="/abs/path"), f"{SYNC}.bucket", "file://"),
        (with_sync(bucket="b", provider="dropbox"), f"{SYNC}.provider", "AWS"),
        (with_sync(bucket="gs://b", provider="AWS"), f"{SYNC}.provider", "does not match"),
        (with_sync(bucket="b", retention_min_count=0), f"{SYNC}.retention_min_count", ">= 1"),
        (with_sync(bucket="b", retention_min_count="3"), f"{SYNC}.retention_min_count", "integer"),
        (with_sync(bucket="b", retention_min_age=-1), f"{SYNC}.retention_min_age", ">= 0"),
        (with_sync(bucket="b", push_interval=0), f"{SYNC}.push_interval", ">= 1"),
        (with_sync(bucket="b", pull_interval=0), f"{SYNC}.pull_interval", ">= 1"),
        (with_sync(bucket="b", start_from_checkpoint="newest"),
         f"{SYNC}.start_from_checkpoint", "'latest' or a checkpoint UUID"),
        (with_sync(bucket="b", fail_if_no_checkpoint="yes"),
         f"{SYNC}.fail_if_no_checkpoint", "true or false"),
        (with_sync(bucket="b", standby=True), f"{SYNC}.standby", "start_from_checkpoint"),
        (with_sync(bucket="b/p", read_bucket="s3://b/p/"), f"{SYNC}.read_bucket", "differ"),
        (with_sync(bucket="b", flags="--x"), f"{SYNC}.flags", "list of strings"),
        (with_sync(bucket="b", secret=1), f"{SYNC}.secret", "unknown"),
    ],
)
def test_every_error_names_its_field(config: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        RuntimeConfig.from_dict(config)
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}: ")
    assert words in str(e.value)


def test_coerce_rejects_other_types() -> None:
    with pytest.raises(ConfigError) as e:
        RuntimeConfig.coerce(42)  # type: ignore[arg-type]
    assert e.value.field == "runtime_config"


def test_passthrough_fields_are_kept() -> None:
    cfg = RuntimeConfig.from_dict(full_config())
    out = cfg.to_dict()
    assert out["workers"] == 4 and out["resources"] == {"memory_mb_max": 1024}
    assert out["dev_tweaks"] == {"x": 1}


# --- secrets -------------------------------------------------------------------------------


def all_secrets_config() -> dict[str, Any]:
    return with_sync(bucket="b", **SECRETS)


def test_secret_wrapper() -> None:
    s = Secret("hunter2-xyz")
    for text in (repr(s), str(s), f"{s}", f"{s!r}", "%s" % s, repr([s]), repr({"k": s})):
        assert "hunter2-xyz" not in text
    assert str(s) == "***" and repr(s) == "'***'"
    assert s.get_secret_value() == "hunter2-xyz"
    assert s == Secret("hunter2-xyz") and s != Secret("other")
    assert pickle.loads(pickle.dumps(s)) == s
    assert copy.deepcopy(s) == s
    with pytest.raises(AttributeError):
        s._value = "x"  # type: ignore[misc]


def test_secrets_are_wrapped_and_readable() -> None:
    sync = RuntimeConfig.from_dict(all_secrets_config()).sync
    assert sync is not None
    for name, value in SECRETS.items():
        secret = getattr(sync, name)
        assert isinstance(secret, Secret) and secret.get_secret_value() == value


def test_secrets_never_leak_in_repr_str_or_to_dict() -> None:
    cfg = RuntimeConfig.from_dict(all_secrets_config())
    shown = " ".join([repr(cfg), str(cfg), repr(cfg.sync), str(cfg.sync), str(cfg.to_dict())])
    for value in SECRETS.values():
        assert value not in shown
    assert "'***'" in repr(cfg.sync)
    assert all(k not in cfg.to_dict()["storage"]["backend"]["config"]["sync"] for k in SECRETS)


def test_include_secrets_keeps_them() -> None:
    cfg = RuntimeConfig.from_dict(all_secrets_config())
    sync = cfg.to_dict(include_secrets=True)["storage"]["backend"]["config"]["sync"]
    assert {k: sync[k] for k in SECRETS} == SECRETS
    assert RuntimeConfig.from_dict(cfg.to_dict(include_secrets=True)) == cfg


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_bad_secret_value_error_does_not_echo(name: str, caplog: pytest.LogCaptureFixture) -> None:
    # A non-string secret: the error names the field but never shows the value.
    leaked = ["LEAKY-SECRET-123"]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as e:
        RuntimeConfig.from_dict(with_sync(bucket="b", **{name: leaked}))
    assert e.value.field == f"{SYNC}.{name}"
    assert "LEAKY-SECRET-123" not in str(e.value) + repr(e.value) + caplog.text


def test_unknown_key_error_does_not_echo_value() -> None:
    with pytest.raises(ConfigError) as e:
        RuntimeConfig.from_dict(with_sync(bucket="b", secret_access_key="LEAKY-SECRET-456"))
    assert "LEAKY-SECRET-456" not in str(e.value)


def test_later_error_does_not_echo_earlier_secrets() -> None:
    with pytest.raises(ConfigError) as e:
        RuntimeConfig.from_dict(with_sync(bucket="b", **SECRETS, retention_min_count=-1))
    assert not any(v in str(e.value) for v in SECRETS.values())


# --- round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        None,
        {"storage": False},
        {"fault_tolerance": {"checkpoint_interval_secs": None}, **PATH},
        full_config(),
    ],
)
def test_round_trip(config: dict[str, Any] | None) -> None:
    cfg = RuntimeConfig.from_dict(config)
    again = RuntimeConfig.from_dict(cfg.to_dict())
    # Without secrets, only the credentials are lost.
    assert again.to_dict() == cfg.to_dict()
    assert RuntimeConfig.from_dict(cfg.to_dict(include_secrets=True)) == cfg


def test_full_config_to_dict_shape() -> None:
    out = RuntimeConfig.from_dict(full_config()).to_dict()
    assert out["fault_tolerance"] == {"model": "exactly_once", "checkpoint_interval_secs": 30}
    assert out["storage"]["compression"] == "zstd"
    sync = out["storage"]["backend"]["config"]["sync"]
    assert sync["bucket"] == "ckpt/prefix" and sync["provider"] == "Minio"
    assert sync["flags"] == ["--fast-list"]


def test_config_is_frozen() -> None:
    cfg = RuntimeConfig.from_dict(None)
    with pytest.raises(AttributeError):
        cfg.storage = None  # type: ignore[misc]


def test_docstring_examples_run() -> None:
    import doctest

    import feldera_nb.config

    result = doctest.testmod(feldera_nb.config, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
