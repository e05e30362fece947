"""Backend-free parts of sync: secret scrubbing, URL resolution, the read-only wrapper."""

from __future__ import annotations

import builtins
import logging
from typing import Any

import fsspec
import pytest

from feldera_nb.config import Secret, SyncConfig
from feldera_nb.errors import SyncError
from feldera_nb.sync import Bucket, ReadOnlyFileSystem, Scrubber, open_bucket
from feldera_nb.sync.location import scrubber_for

KEY = "Zm9vYmFyLXNlY3JldC1rZXktZm9yLXRlc3RzLTEyMzQ1Ng=="


def test_scrubber_blanks_values_and_shapes() -> None:
    scrub = Scrubber([KEY, "wJalrXUtnFEMI/K7MDENG/bPxRfi"])
    text = (f"AccountName=a;AccountKey={KEY};BlobEndpoint=http://x | "
            "secret=wJalrXUtnFEMI%2FK7MDENG%2FbPxRfi | "
            "https://a.blob.core.windows.net/c?sv=1&sig=abcDEF%3D&se=2 | "
            "X-Amz-Signature=0123456789abcdef0123456789abcdef | "
            "-----BEGIN PRIVATE KEY-----\nMIIabc\n-----END PRIVATE KEY-----")
    out = scrub(text)
    for leak in (KEY, "wJalrXUtnFEMI", "abcDEF", "0123456789abcdef", "MIIabc"):
        assert leak not in out
    assert "AccountName=a" in out and "BlobEndpoint=http://x" in out


def test_scrubber_covers_connection_string_parts_and_json_keys() -> None:
    conn = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={KEY};"
    sa = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\\n-----END PRIVATE KEY-----\\n", "private_key_id": "deadbeefdeadbeefdeadbeef"}'  # noqa: E501
    scrub = Scrubber([conn, sa])
    assert KEY not in scrub(f"bad key {KEY}")
    assert "deadbeefdeadbeefdeadbeef" not in scrub("id deadbeefdeadbeefdeadbeef")
    assert "AAAAB3NzaC1yc2EAAAADAQABAAABAQ" not in scrub("AAAAB3NzaC1yc2EAAAADAQABAAABAQ")


def test_scrubbed_error_is_not_chained_and_short() -> None:
    scrub = Scrubber([KEY])
    try:
        try:
            raise PermissionError(f"denied for {KEY}\nRequestId: 1\nErrorCode:AuthFailure\n<xml/>")
        except PermissionError as exc:
            raise scrub.error("push failed", exc) from None
    except SyncError as err:
        assert str(err) == "push failed: PermissionError: denied for *** ErrorCode:AuthFailure"
        assert err.__cause__ is None and err.__suppress_context__


def test_config_secrets_never_in_repr_or_bucket() -> None:
    cfg = SyncConfig(bucket="s3://b/p", access_key=Secret("AKIAEXAMPLEKEY"),
                     secret_key=Secret(KEY), endpoint="http://127.0.0.1:1")
    bucket = open_bucket(cfg)
    for text in (repr(cfg), repr(bucket), str(bucket), repr(bucket.scrub)):
        assert KEY not in text and "AKIAEXAMPLEKEY" not in text
    assert scrubber_for(cfg)(f"x {KEY} y") == "x *** y"


@pytest.mark.parametrize(("bucket", "provider", "protocol", "root"), [
    ("my-bucket/ckpt", None, "s3", "my-bucket/ckpt"),
    ("my-bucket/ckpt", "Minio", "s3", "my-bucket/ckpt"),
    ("my-bucket/ckpt", "GCS", "gcs", "my-bucket/ckpt"),
    ("my-bucket/ckpt", "azure", "abfs", "my-bucket/ckpt"),
    ("s3://my-bucket/ckpt/", None, "s3", "my-bucket/ckpt"),
    ("gs://my-bucket/ckpt", None, "gcs", "my-bucket/ckpt"),
    ("abfs://c/ckpt", None, "abfs", "c/ckpt"),
    ("memory://b/ckpt", None, "memory", "/b/ckpt"),
])
def test_bucket_urls_resolve(bucket: str, provider: str | None, protocol: str,
                             root: str) -> None:
    extra: dict[str, Any] = {}
    if protocol == "abfs":
        extra = {"azure_connection_string": Secret(
            f"DefaultEndpointsProtocol=http;AccountName=a;AccountKey={KEY};"
            "BlobEndpoint=http://127.0.0.1:1/a;")}
    if protocol == "gcs":
        extra = {"endpoint": "http://127.0.0.1:1"}
    resolved = open_bucket(SyncConfig(bucket=bucket, provider=provider, **extra))
    protocols = resolved.fs.protocol
    assert protocol in (protocols if isinstance(protocols, tuple) else (protocols,))
    assert resolved.root == root
    assert "://" in resolved.url and KEY not in resolved.url


def test_user_info_never_shown() -> None:
    bucket = Bucket.from_url("memory://user:pw@b/x")
    assert "pw" not in bucket.url


def test_missing_backend_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_s3fs(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "s3fs":
            raise ImportError("No module named 's3fs'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_s3fs)
    monkeypatch.setattr("importlib.import_module", lambda name: no_s3fs(name))
    with pytest.raises(SyncError, match=r"pip install 'feldera-nb\[s3\]'"):
        open_bucket(SyncConfig(bucket="s3://b/p"))


def test_read_only_filesystem_refuses_every_write() -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe_file("/ro-test/a", b"1")
    ro = ReadOnlyFileSystem(fs, "memory://ro-test")
    assert ro.cat_file("/ro-test/a") == b"1" and ro.ls("/ro-test", detail=False)
    with ro.open("/ro-test/a", "rb") as fh:
        assert fh.read() == b"1"
    for call in (lambda: ro.pipe_file("/ro-test/b", b"2"), lambda: ro.rm("/ro-test/a"),
                 lambda: ro.put_file(__file__, "/ro-test/c"), lambda: ro.mkdir("/ro-test/d"),
                 lambda: ro.open("/ro-test/a", "ab"), lambda: ro.mv("/ro-test/a", "/x"),
                 lambda: ro.touch("/ro-test/e"), lambda: ro.rm_file("/ro-test/a")):
        with pytest.raises(SyncError, match="read-only"):
            call()
    assert fs.cat_file("/ro-test/a") == b"1" and fs.ls("/ro-test", detail=False) == ["/ro-test/a"]


def test_logs_carry_no_secret(caplog: pytest.LogCaptureFixture, tmp_path: Any) -> None:
    from feldera_nb.sync import StandbyPuller

    cfg = SyncConfig(bucket=f"file://{tmp_path}/none", start_from_checkpoint="latest",
                     standby=True, access_key=Secret("AKIAEXAMPLEKEY"), secret_key=Secret(KEY))
    caplog.set_level(logging.DEBUG, logger="feldera_nb")
    puller = StandbyPuller(cfg, tmp_path / "dest")
    with pytest.raises(SyncError):
        puller.final_pull()
    assert KEY not in caplog.text and KEY not in repr(puller)
