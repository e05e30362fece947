"""Catalog: crash leftovers, rebuild, retention, register and the fallback to an intact checkpoint."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feldera_nb.errors import CheckpointCorruptError, RecoveryWarning
from feldera_nb.storage.catalog import CATALOG_NAME, Catalog
from feldera_nb.storage.checkpoint import MANIFEST_NAME, read_manifest, write_checkpoint


def state(seq: int) -> dict[str, pl.DataFrame]:
    return {"op1.trace": pl.DataFrame({"k": [seq, seq + 1], "weight": [1, 1]}),
            "op2.in": pl.DataFrame({"v": [f"s{seq}"]})}


def take(cat: Catalog, seq: int) -> str:
    m = write_checkpoint(cat.directory, state(seq), seq=seq, step=10 * seq,
                         meta={"records_processed": 100 * seq})
    cat.add(m, duration_s=0.5)
    return m.uuid


def quiet(directory: Path, **kw: int) -> Catalog:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return Catalog(directory, **kw)


@pytest.fixture
def three(tmp_path: Path) -> tuple[Catalog, list[str]]:
    cat = Catalog(tmp_path, retain=5)
    return cat, [take(cat, s) for s in (1, 2, 3)]


def test_entries_and_reopen(three: tuple[Catalog, list[str]]) -> None:
    cat, uuids = three
    assert [e.uuid for e in cat.entries()] == uuids
    e = cat.latest()
    assert e is not None and (e.seq, e.step, e.records_processed) == (3, 30, 300)
    assert e.size_bytes == read_manifest(cat.checkpoint_dir(e.uuid)).size_bytes
    assert e.duration_s == 0.5 and e.status == "Success"
    again = quiet(cat.directory)
    assert again.entries() == cat.entries()
    doc = json.loads((cat.directory / CATALOG_NAME).read_text())
    assert set(doc["checkpoints"][0]) == {"uuid", "seq", "step", "created_at", "size_bytes",
                                          "duration_s", "records_processed", "status"}


def test_empty_directory_is_quiet(tmp_path: Path) -> None:
    cat = quiet(tmp_path / "checkpoints")
    assert cat.entries() == [] and cat.latest() is None and cat.latest_intact() is None


def test_latest_intact_is_newest(three: tuple[Catalog, list[str]]) -> None:
    cat, uuids = three
    result = cat.latest_intact()
    assert result is not None
    entry, st, manifest, skipped = result
    assert entry.uuid == uuids[-1] == manifest.uuid and skipped == []
    for name, df in state(3).items():
        assert_frame_equal(st[name], df)


def damage_flip(d: Path) -> None:
    f = next(p for p in d.iterdir() if p.suffix == ".parquet")
    data = bytearray(f.read_bytes())
    data[10] ^= 0xFF
    f.write_bytes(bytes(data))


def damage_delete_file(d: Path) -> None:
    next(p for p in d.iterdir() if p.suffix == ".parquet").unlink()


def damage_truncate_manifest(d: Path) -> None:
    m = d / MANIFEST_NAME
    m.write_bytes(m.read_bytes()[:40])


def damage_delete_dir(d: Path) -> None:
    shutil.rmtree(d)


@pytest.mark.parametrize(
    "damage, reason",
    [
        (damage_flip, "checksum"),
        (damage_delete_file, "missing"),
        (damage_truncate_manifest, "unreadable"),
        (damage_delete_dir, "missing"),
    ],
)
def test_fallback_to_previous_intact(three: tuple[Catalog, list[str]], damage, reason: str) -> None:
    cat, uuids = three
    damage(cat.checkpoint_dir(uuids[2]))
    with pytest.warns(RecoveryWarning, match=f"skipping checkpoint {uuids[2]}.*{reason}"):
        result = cat.latest_intact()
    assert result is not None
    entry, st, _, skipped = result
    assert entry.uuid == uuids[1]
    assert_frame_equal(st["op1.trace"], state(2)["op1.trace"])
    assert [u for u, _ in skipped] == [uuids[2]] and reason in skipped[0][1]


def test_all_damaged_gives_none(three: tuple[Catalog, list[str]]) -> None:
    cat, uuids = three
    for u in uuids:
        damage_flip(cat.checkpoint_dir(u))
    with pytest.warns(RecoveryWarning):
        assert cat.latest_intact() is None


@pytest.mark.parametrize(
    "damage",
    [lambda p: p.write_bytes(p.read_bytes()[:25]), lambda p: p.write_bytes(b""),
     lambda p: p.write_text('{"format": 1, "checkpoints": [{"uuid": "nope"}]}'), Path.unlink],
    ids=["truncated", "empty", "bad entry", "missing"],
)
def test_damaged_catalog_is_rebuilt(three: tuple[Catalog, list[str]], damage) -> None:
    cat, uuids = three
    damage(cat.directory / CATALOG_NAME)
    with pytest.warns(RecoveryWarning, match="rebuilding"):
        rebuilt = Catalog(cat.directory)
    assert [e.uuid for e in rebuilt.entries()] == uuids
    assert [e.step for e in rebuilt.entries()] == [10, 20, 30]
    assert quiet(cat.directory).entries() == rebuilt.entries()  # and written back


def test_rebuild_skips_broken_directories(three: tuple[Catalog, list[str]]) -> None:
    cat, uuids = three
    damage_truncate_manifest(cat.checkpoint_dir(uuids[2]))
    (cat.directory / CATALOG_NAME).unlink()
    with pytest.warns(RecoveryWarning):
        rebuilt = Catalog(cat.directory)
    assert [e.uuid for e in rebuilt.entries()] == uuids[:2]


def test_leftover_tmp_is_deleted(three: tuple[Catalog, list[str]]) -> None:
    cat, uuids = three
    tmp = cat.directory / "0190aaaa-0000-7000-8000-000000000000.tmp"
    tmp.mkdir()
    (tmp / "00000-x.parquet").write_bytes(b"partial")
    (cat.directory / (CATALOG_NAME + ".tmp")).write_bytes(b"partial")
    with pytest.warns(RecoveryWarning, match="incomplete checkpoint"):
        again = Catalog(cat.directory)
    assert not tmp.exists() and not (cat.directory / (CATALOG_NAME + ".tmp")).exists()
    assert [e.uuid for e in again.entries()] == uuids


def test_committed_but_unlisted_checkpoint_is_adopted(three: tuple[Catalog, list[str]]) -> None:
    cat, uuids = three
    m = write_checkpoint(cat.directory, state(4), seq=4, step=40)  # crash before cat.add
    with pytest.warns(RecoveryWarning, match=f"did not list checkpoint.*{m.uuid}"):
        again = Catalog(cat.directory)
    assert [e.uuid for e in again.entries()] == [*uuids, m.uuid]


def test_retention_keeps_newest(tmp_path: Path) -> None:
    cat = Catalog(tmp_path, retain=2)
    uuids = [take(cat, s) for s in (1, 2, 3, 4)]
    assert cat.apply_retention() == uuids[:2]
    assert [e.uuid for e in cat.entries()] == uuids[2:]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*uuids[2:], CATALOG_NAME])
    assert cat.apply_retention() == []


def test_retention_minimum_is_two(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        Catalog(tmp_path, retain=1)


def test_pinned_checkpoint_survives_retention(tmp_path: Path) -> None:
    cat = Catalog(tmp_path, retain=2)
    uuids = [take(cat, s) for s in (1, 2, 3)]
    cat.pin(uuids[0])
    cat.pin(uuids[0])
    assert cat.apply_retention() == []
    cat.unpin(uuids[0])
    assert cat.apply_retention() == []
    cat.unpin(uuids[0])
    assert cat.apply_retention() == [uuids[0]]


def test_half_done_retention_is_finished_on_open(three: tuple[Catalog, list[str]]) -> None:
    cat, uuids = three
    # The crash came after the rename to .del and before the catalog was rewritten.
    cat.checkpoint_dir(uuids[0]).rename(cat.directory / f"{uuids[0]}.del")
    again = quiet(cat.directory)
    assert [e.uuid for e in again.entries()] == uuids[1:]
    assert not (cat.directory / f"{uuids[0]}.del").exists()


def test_remove(three: tuple[Catalog, list[str]]) -> None:
    cat, uuids = three
    assert cat.remove(uuids[1]) and not cat.remove(uuids[1])
    assert [e.uuid for e in cat.entries()] == [uuids[0], uuids[2]]
    assert not cat.checkpoint_dir(uuids[1]).exists()


def test_register_pulled_checkpoint(tmp_path: Path) -> None:
    elsewhere = tmp_path / "remote"
    m = write_checkpoint(elsewhere, state(7), seq=7, step=70)
    cat = Catalog(tmp_path / "local")
    take(cat, 1)
    shutil.copytree(elsewhere / m.uuid, cat.directory / m.uuid)  # the sync layer's pull
    entry = cat.register(m.uuid)
    assert entry.step == 70 and cat.latest() == entry
    assert cat.register(m.uuid) == entry and len(cat.entries()) == 2
    result = cat.latest_intact()
    assert result is not None and result[0] == entry


def test_register_rejects_corrupt(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    m = write_checkpoint(tmp_path / "x", state(1), seq=1, step=1)
    shutil.copytree(tmp_path / "x" / m.uuid, cat.directory / m.uuid)
    damage_flip(cat.checkpoint_dir(m.uuid))
    with pytest.raises(CheckpointCorruptError):
        cat.register(m.uuid)
    assert cat.entries() == []
