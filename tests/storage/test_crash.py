"""SIGKILL a real process at each step of a checkpoint commit (and while journaling): what it
leaves on disk is either the previous state or the complete new one, never a checkpoint that
looks valid but is not."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from feldera_nb.storage.catalog import Catalog
from feldera_nb.storage.checkpoint import read_manifest, verify_checkpoint
from feldera_nb.storage.journal import Journal

CHECKPOINT_CHILD = """
import os, sys
import polars as pl
from feldera_nb.storage import catalog as catmod
from feldera_nb.storage.catalog import Catalog
from feldera_nb.storage.checkpointer import Checkpointer

POINT, PATH = %r, %r

def frames(seq, n):
    return {f"op{i}.trace.run{seq}": pl.DataFrame(
        {"k": pl.int_range(n, eager=True) + seq, "s": pl.int_range(n, eager=True).cast(pl.String),
         "weight": pl.repeat(1, n, eager=True)}) for i in range(4)}

def block(where):
    print("AT", where, flush=True)
    if POINT != "anytime":
        sys.stdin.readline()

armed = False

class Progress:
    def set_size(self, n): pass
    def relative_update(self, n):
        if armed and POINT in ("file", "anytime"):
            block("file")

cat = Catalog(PATH, retain=2)
cp = Checkpointer(cat, progress=Progress())
cp.request(1, frames(1, 10), {"step": 1})
cp.request(2, frames(2, 10), {"step": 2})
cp.wait(2)

real_rename, real_replace, real_write = os.rename, os.replace, catmod.atomic_write
def rename(src, dst):
    if POINT == "commit" and str(src).endswith(".tmp"):
        block("commit")
    if POINT == "retention" and str(dst).endswith(".del"):
        block("retention")
    return real_rename(src, dst)
def replace(src, dst):
    if POINT == "catalog-replace":
        block("catalog-replace")
    return real_replace(src, dst)
def atomic_write(path, data):
    if POINT == "catalog":
        block("catalog")
    return real_write(path, data)
os.rename, os.replace, catmod.atomic_write = rename, replace, atomic_write
armed = True

cp.request(3, frames(3, 100_000), {"step": 3})
cp.wait(3)
print("AT done", flush=True)
sys.stdin.readline()
"""

# Kill point -> which checkpoint must recovery find (None: either 2 or 3).
POINTS = {
    "file": 2,  # state files half written, no manifest
    "commit": 2,  # manifest written in <uuid>.tmp, not yet renamed
    "catalog": 3,  # renamed, catalog not yet updated: the complete checkpoint is adopted
    "catalog-replace": 3,  # new catalog.json.tmp written, not yet renamed over the old one
    "retention": 3,  # checkpoint listed, retention half done
    "anytime": None,  # killed as soon as the first file is written, while it keeps going
}


def assert_nothing_looks_valid_but_is_not(directory: Path) -> None:
    assert not [p for p in directory.iterdir() if p.name.endswith((".tmp", ".del"))]
    cat = Catalog(directory)
    listed = {e.uuid for e in cat.entries()}
    on_disk = {p.name for p in directory.iterdir() if p.is_dir()}
    assert listed == on_disk
    for uuid in listed:
        verify_checkpoint(directory / uuid)  # raises if anything is off


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_during_checkpoint(tmp_path: Path, child, point: str) -> None:
    c = child(CHECKPOINT_CHILD % (point, str(tmp_path)))
    c.expect("AT")
    c.kill()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # repairs are reported; checked in test_catalog
        cat = Catalog(tmp_path, retain=2)
    assert_nothing_looks_valid_but_is_not(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no checkpoint is skipped: none is damaged
        result = cat.latest_intact()
    assert result is not None
    entry, state, manifest, skipped = result
    expected = POINTS[point]
    assert entry.seq == expected if expected is not None else entry.seq in (2, 3)
    assert skipped == [] and read_manifest(tmp_path / entry.uuid) == manifest
    n = 10 if entry.seq == 2 else 100_000
    assert {df.height for df in state.values()} == {n}
    assert set(state) == {f"op{i}.trace.run{entry.seq}" for i in range(4)}


def test_completed_checkpoint_survives_kill(tmp_path: Path, child) -> None:
    c = child(CHECKPOINT_CHILD % ("none", str(tmp_path)))
    c.expect("AT done")
    c.kill()
    cat = Catalog(tmp_path, retain=2)
    assert [e.seq for e in cat.entries()] == [2, 3]
    assert_nothing_looks_valid_but_is_not(tmp_path)


JOURNAL_CHILD = """
import polars as pl
from feldera_nb.storage.journal import Journal
j = Journal(%r, segment_bytes=200_000)
step = 0
while True:
    step += 1
    j.append(step, {"t": pl.DataFrame({"x": pl.int_range(5000, eager=True) + step})},
             {"step": step})
    print("appended", step, flush=True)
"""


def test_kill_while_journaling(tmp_path: Path, child) -> None:
    c = child(JOURNAL_CHILD % str(tmp_path))
    for _ in range(20):
        acked = int(c.expect("appended").split()[1])
    c.kill()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a torn tail, if the kill hit a write
        j = Journal(tmp_path)
    steps = [r.step for r in j.records()]
    # Every acknowledged append is there, in order, with nothing after a gap.
    assert steps == list(range(1, len(steps) + 1)) and len(steps) >= acked
    last = j.last_step()
    assert last is not None
    j.append(last + 1, {"t": __import__("polars").DataFrame({"x": [1]})}, {})
    assert [r.step for r in j.records(after_step=last)] == [last + 1]
