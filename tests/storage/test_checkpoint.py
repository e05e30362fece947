"""One checkpoint directory: round trip of many dtypes, and every kind of damage is detected."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feldera_nb.errors import CheckpointCorruptError
from feldera_nb.storage.checkpoint import (
    MANIFEST_NAME,
    new_uuid,
    read_checkpoint,
    read_manifest,
    state_file_name,
    verify_checkpoint,
    write_checkpoint,
)


class Recorder:
    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.value = 0

    def set_size(self, size: int) -> None:
        self.sizes.append(size)

    def relative_update(self, inc: int = 1) -> None:
        self.value += inc


@pytest.mark.parametrize("file_format", ["parquet", "ipc"])
@pytest.mark.parametrize("compression", ["default", "none", "snappy", "zstd", "lz4"])
def test_round_trip_many_dtypes(
    tmp_path: Path, frames: dict[str, pl.DataFrame], file_format: str, compression: str
) -> None:
    progress = Recorder()
    meta = {"program_hash": "abc", "records_processed": 7, "positions": {"k": [1, 2]}}
    m = write_checkpoint(tmp_path, frames, seq=4, step=12, meta=meta, file_format=file_format,
                         compression=compression, progress=progress)
    d = tmp_path / m.uuid
    assert (d / MANIFEST_NAME).exists() and not (tmp_path / f"{m.uuid}.tmp").exists()
    state, manifest = read_checkpoint(d)
    assert list(state) == list(frames)
    for name, df in frames.items():
        assert_frame_equal(state[name], df)
    assert manifest == m and manifest.meta == meta
    assert (manifest.seq, manifest.step) == (4, 12)
    assert progress.value == m.size_bytes == progress.sizes[-1]
    assert verify_checkpoint(d) == m


def test_manifest_layout(tmp_path: Path, frames: dict[str, pl.DataFrame]) -> None:
    m = write_checkpoint(tmp_path, frames, seq=1, step=2, meta={"x": 1})
    doc = json.loads((tmp_path / m.uuid / MANIFEST_NAME).read_text())
    assert set(doc) == {"format", "uuid", "seq", "step", "created_at", "files", "meta"}
    assert doc["format"] == 1 and doc["uuid"] == m.uuid
    assert [f["name"] for f in doc["files"].values()] == list(frames)
    for rel, f in doc["files"].items():
        assert (tmp_path / m.uuid / rel).stat().st_size == f["size"]
        assert len(f["sha256"]) == 64
    assert "op12.trace.run0.parquet" in "".join(doc["files"])
    assert sorted(p.name for p in (tmp_path / m.uuid).iterdir()) == sorted(
        [*doc["files"], MANIFEST_NAME]
    )


def test_file_names_are_sanitized_and_unique() -> None:
    assert state_file_name(0, "a/b") != state_file_name(1, "a_b")
    assert state_file_name(2, "../../etc/passwd") == "00002-.._.._etc_passwd.parquet"
    assert "/" not in state_file_name(0, "x" * 500) and len(state_file_name(0, "x" * 500)) < 100


def test_uuids_are_time_ordered() -> None:
    ids = [new_uuid() for _ in range(200)]
    assert ids == sorted(ids) and len(set(ids)) == 200


@pytest.fixture
def ckpt(tmp_path: Path, frames: dict[str, pl.DataFrame]) -> Path:
    m = write_checkpoint(tmp_path, frames, seq=1, step=1)
    return tmp_path / m.uuid


def a_state_file(d: Path) -> Path:
    return d / next(iter(read_manifest(d).files))


@pytest.mark.parametrize("reader", [read_checkpoint, verify_checkpoint])
def test_flipped_byte_names_the_file(ckpt: Path, reader) -> None:
    f = a_state_file(ckpt)
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(CheckpointCorruptError) as e:
        reader(ckpt)
    assert e.value.path == str(f) and str(f) in str(e.value)
    assert e.value.expected == read_manifest(ckpt).files[f.name].sha256
    assert e.value.actual not in (None, e.value.expected)


def test_appended_byte_is_a_size_mismatch(ckpt: Path) -> None:
    f = a_state_file(ckpt)
    f.write_bytes(f.read_bytes() + b"\0")
    with pytest.raises(CheckpointCorruptError, match="bytes, the manifest says"):
        read_checkpoint(ckpt)


def test_unverified_read_skips_checksums(ckpt: Path, frames: dict[str, pl.DataFrame]) -> None:
    doc = json.loads((ckpt / MANIFEST_NAME).read_text())
    for f in doc["files"].values():
        f["sha256"] = "0" * 64
    (ckpt / MANIFEST_NAME).write_text(json.dumps(doc))
    with pytest.raises(CheckpointCorruptError):
        read_checkpoint(ckpt)
    state, _ = read_checkpoint(ckpt, verify=False)
    assert_frame_equal(state["op12.trace.run0"], frames["op12.trace.run0"])


@pytest.mark.parametrize("reader", [read_checkpoint, verify_checkpoint])
def test_truncated_file_is_a_size_mismatch(ckpt: Path, reader) -> None:
    f = a_state_file(ckpt)
    f.write_bytes(f.read_bytes()[:-3])
    with pytest.raises(CheckpointCorruptError) as e:
        reader(ckpt)
    assert e.value.path == str(f)
    assert int(e.value.expected) == int(e.value.actual) + 3


@pytest.mark.parametrize("reader", [read_checkpoint, verify_checkpoint])
def test_deleted_state_file(ckpt: Path, reader) -> None:
    f = a_state_file(ckpt)
    f.unlink()
    with pytest.raises(CheckpointCorruptError, match="missing") as e:
        reader(ckpt)
    assert e.value.path == str(f)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.unlink(),
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        lambda p: p.write_bytes(b""),
        lambda p: p.write_text(json.dumps({"format": 99})),
        lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "uuid": new_uuid()})),
        lambda p: p.write_text(json.dumps(
            {**json.loads(p.read_text()), "files": {"../x": {"size": 1, "sha256": "", "name": ""}}}
        )),
    ],
    ids=["missing", "truncated", "empty", "wrong format", "wrong uuid", "unsafe path"],
)
def test_bad_manifest(ckpt: Path, damage) -> None:
    damage(ckpt / MANIFEST_NAME)
    with pytest.raises(CheckpointCorruptError) as e:
        read_checkpoint(ckpt)
    assert e.value.path == str(ckpt / MANIFEST_NAME)


def test_undecodable_file_with_matching_checksum_is_corrupt(tmp_path: Path) -> None:
    m = write_checkpoint(tmp_path, {"t": pl.DataFrame({"x": [1]})}, seq=1, step=1)
    d = tmp_path / m.uuid
    f = a_state_file(d)
    f.write_bytes(b"not parquet")
    doc = json.loads((d / MANIFEST_NAME).read_text())
    import hashlib

    doc["files"][f.name] = {"size": 11, "sha256": hashlib.sha256(b"not parquet").hexdigest(),
                            "name": "t"}
    (d / MANIFEST_NAME).write_text(json.dumps(doc))
    with pytest.raises(CheckpointCorruptError, match="cannot be decoded"):
        read_checkpoint(d)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    bad = pl.DataFrame({"o": pl.Series([object()], dtype=pl.Object)})
    with pytest.raises(Exception):
        write_checkpoint(tmp_path, {"ok": pl.DataFrame({"x": [1]}), "bad": bad}, seq=1, step=1)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file_format"):
        write_checkpoint(tmp_path, {}, seq=1, step=1, file_format="csv")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compression"):
        write_checkpoint(tmp_path, {}, seq=1, step=1, compression="brotli")


def test_empty_state(tmp_path: Path) -> None:
    m = write_checkpoint(tmp_path, {}, seq=1, step=0)
    assert read_checkpoint(tmp_path / m.uuid) == ({}, m)
