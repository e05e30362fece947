"""Indexed traces and Z-set helpers.

Oracle: a plain Polars filter/group_by over the concatenation of everything inserted.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from feldera_nb.engine import trace as trace_module
from feldera_nb.engine.trace import Trace
from feldera_nb.engine.zset import WEIGHT, consolidate, expand

SCHEMA = {"k": pl.Int64, "s": pl.String, "v": pl.Int64}


def random_delta(rng: np.random.Generator, n: int) -> pl.DataFrame:
    return pl.DataFrame({
        "k": rng.integers(0, 50, n),
        "s": rng.choice(["a", "b", None], n).tolist(),
        "v": rng.integers(0, 5, n),
        WEIGHT: rng.choice([1, 1, 2, -1], n),
    })


def oracle(parts: list[pl.DataFrame], keys: list[object], key: list[str]) -> pl.DataFrame:
    allz = consolidate(pl.concat(parts))
    probe = pl.DataFrame({key[0]: keys}, schema={key[0]: SCHEMA[key[0]]})
    return allz.join(probe, on=key, how="semi", nulls_equal=True)


def canon(z: pl.DataFrame) -> list[tuple]:
    return sorted(z.select(sorted(z.columns)).rows(), key=repr)


# Trace layouts: (SMALL_ROWS, SEAL_ROWS, NARROW_ROWS).  The defaults keep these tests' few
# hundred rows in one unsorted frame; the others force the index, runs sealed at 64 rows (so
# whole-trace compaction happens), narrowed weights, and a switch from small to indexed mid-way.
LAYOUTS = {"small": None, "indexed": (0, 1 << 21, 1), "sealed": (0, 64, 1),
           "outgrown": (200, 1 << 21, 1)}


@pytest.fixture(params=list(LAYOUTS))
def layout(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    sizes = LAYOUTS[request.param]
    if sizes is not None:
        for name, value in zip(("SMALL_ROWS", "SEAL_ROWS", "NARROW_ROWS"), sizes, strict=True):
            monkeypatch.setattr(trace_module, name, value)
    return request.param


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("key", [["k"], ["s"]])
def test_lookup_equals_filter_over_everything_inserted(seed: int, key: list[str],
                                                       layout: str) -> None:
    rng = np.random.default_rng(seed)
    t = Trace(SCHEMA, key)
    parts = []
    for _ in range(40):
        d = random_delta(rng, int(rng.integers(1, 30)))
        parts.append(d)
        t.insert(d)
        keys = rng.choice(t.to_zset()[key[0]].unique().to_list() + [None, 999 if key == ["k"]
                                                                  else "zz"], 3).tolist()
        assert canon(t.lookup(pl.DataFrame({key[0]: keys}, schema={key[0]: SCHEMA[key[0]]}))) == \
            canon(oracle(parts, keys, key))
    if layout != "sealed":  # sealed runs stop merging at 64 rows, so there are more of them
        assert len(t.runs) < 12, "runs must be merged as they pile up"
    assert canon(t.to_zset()) == canon(consolidate(pl.concat(parts)))
    assert t.small == (layout == "small")


def test_rollback_restores_content_and_layout(layout: str) -> None:
    rng = np.random.default_rng(11)
    t = Trace(SCHEMA, ["k"])
    t.insert(random_delta(rng, 150))
    before, mark = canon(t.to_zset()), t.mark()
    for _ in range(5):
        t.insert(random_delta(rng, 60))  # "outgrown" switches to the index here
    t.reset(mark)
    assert canon(t.to_zset()) == before
    assert t.small == (layout in ("small", "outgrown"))


def test_big_weights_survive_narrowed_runs(layout: str) -> None:
    t = Trace({"k": pl.Int64}, ["k"])
    t.insert(pl.DataFrame({"k": [1, 2, 3], WEIGHT: [300, 1, 70_000]}))
    t.insert(pl.DataFrame({"k": [1, 2], WEIGHT: [-200, 5]}))
    got = t.to_zset().sort("k")
    assert got.schema[WEIGHT] == pl.Int64
    assert got.rows() == [(1, 100), (2, 6), (3, 70_000)]


def test_lookup_reads_only_matching_rows_not_the_whole_trace() -> None:
    n = 200_000
    t = Trace({"k": pl.Int64, "v": pl.Int64}, ["k"])
    t.insert(pl.DataFrame({"k": np.arange(n), "v": np.arange(n), WEIGHT: np.ones(n, np.int64)}))
    for i in range(10):  # a few small runs on top, as steps leave them
        t.insert(pl.DataFrame({"k": [i], "v": [-1], WEIGHT: [1]}))
    before = t.rows_read
    got = t.lookup(pl.DataFrame({"k": [5, 7, 123_456]}))
    assert sorted(got["k"].to_list()) == [5, 5, 7, 7, 123_456]
    assert t.rows_read - before == 5


def test_state_round_trip() -> None:
    rng = np.random.default_rng(3)
    t = Trace(SCHEMA, ["k"])
    for _ in range(10):
        t.insert(random_delta(rng, 20))
    u = Trace(SCHEMA, ["k"])
    u.restore(t.state())
    probe = pl.DataFrame({"k": list(range(50))})
    assert canon(u.lookup(probe)) == canon(t.lookup(probe))


def test_expand_repeats_rows_by_weight_and_drops_non_positive() -> None:
    z = pl.DataFrame({"a": [1, 2, 3], WEIGHT: [2, 0, -1]})
    assert expand(z)["a"].to_list() == [1, 1]


def test_consolidate_cancels_and_keeps_null_rows() -> None:
    z = pl.DataFrame({"a": [None, None, 1, 1], WEIGHT: [1, 1, 1, -1]})
    assert consolidate(z).rows() == [(None, 2)]


def test_deletes_of_sealed_rows_are_compacted_away(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sealed runs never merge, so deleting their rows leaves cancelling pairs behind; the
    trace compacts once they dominate, so its size follows the live rows, not the churn."""
    monkeypatch.setattr(trace_module, "SMALL_ROWS", 0)
    monkeypatch.setattr(trace_module, "SEAL_ROWS", 64)
    t = Trace({"k": pl.Int64}, ["k"])
    t.insert(pl.DataFrame({"k": np.arange(100), WEIGHT: np.ones(100, np.int64)}))
    for i in range(1000):  # replace the oldest row by a new one, 1000 times
        t.insert(pl.DataFrame({"k": [i, 100 + i], WEIGHT: [-1, 1]}))
        assert t.rows <= 2 * 100 + 64 + 2
    assert sorted(t.to_zset()["k"].to_list()) == list(range(1000, 1100))
