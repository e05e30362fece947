"""Journal: round trip, torn tails cut at every offset, mid-file corruption, segments."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feldera_nb.errors import JournalError, RecoveryWarning
from feldera_nb.storage.journal import HEADER_SIZE, Journal


def delta(step: int, n: int = 3) -> dict[str, pl.DataFrame]:
    return {
        "t.one": pl.DataFrame({"x": list(range(step, step + n)), "s": [f"v{step}"] * n,
                               "weight": [1] * n}),
        "t2": pl.DataFrame({"y": [float(step)], "weight": [-1]}),
    }


def fill(j: Journal, steps: list[int]) -> None:
    for s in steps:
        j.append(s, delta(s), {"step": s, "positions": {"kafka": [s, s + 1]}})


def steps_of(j: Journal, after: int | None = None) -> list[int]:
    return [r.step for r in j.records(after_step=after)]


def reopen_quietly(path: Path) -> Journal:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return Journal(path)


def only_segment(path: Path) -> Path:
    (seg,) = sorted(path.glob("*.wal"))
    return seg


def test_round_trip(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    assert j.last_step() is None and steps_of(j) == []
    fill(j, [0, 1, 5])
    j.close()
    j = reopen_quietly(tmp_path)
    records = list(j.records())
    assert [r.step for r in records] == [0, 1, 5]
    for r in records:
        assert r.meta == {"step": r.step, "positions": {"kafka": [r.step, r.step + 1]}}
        assert list(r.deltas) == ["t.one", "t2"]
        for name, df in delta(r.step).items():
            assert_frame_equal(r.deltas[name], df)
    assert j.last_step() == 5
    assert steps_of(j, after=1) == [5] and steps_of(j, after=5) == []


def test_empty_delta_and_many_dtypes(tmp_path: Path, frames: dict[str, pl.DataFrame]) -> None:
    with Journal(tmp_path) as j:
        j.append(1, frames, {})
        j.append(2, {}, {"note": "no input"})
    (r1, r2) = Journal(tmp_path).records()
    for name, df in frames.items():
        assert_frame_equal(r1.deltas[name], df)
    assert r2.deltas == {} and r2.meta == {"note": "no input"}


def test_steps_must_increase(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    fill(j, [3])
    with pytest.raises(JournalError, match="step 3 is not after step 3"):
        fill(j, [3])
    j.close()
    with pytest.raises(JournalError):
        fill(Journal(tmp_path), [2])


def _three_records() -> tuple[bytes, int]:
    """The bytes of a segment holding steps 1..3 and where the last record starts; step 3 is
    a small record so that cutting at each of its offsets stays quick."""
    with tempfile.TemporaryDirectory() as d:
        j = Journal(d)
        fill(j, [1, 2])
        start = only_segment(Path(d)).stat().st_size
        j.append(3, {"t": pl.DataFrame({"x": [3], "weight": [1]})}, {"step": 3})
        j.close()
        return only_segment(Path(d)).read_bytes(), start


THREE, LAST_START = _three_records()
SEGMENT = f"{1:020d}.wal"


@pytest.mark.parametrize("cut", range(len(THREE) - LAST_START))
def test_torn_tail_cut_at_every_offset(tmp_path: Path, cut: int) -> None:
    seg = tmp_path / SEGMENT
    seg.write_bytes(THREE[: LAST_START + cut])
    if cut == 0:
        j = reopen_quietly(tmp_path)  # a clean end: nothing torn
    else:
        with pytest.warns(RecoveryWarning, match=f"{seg}.*offset {LAST_START}"):
            j = Journal(tmp_path)
    assert seg.stat().st_size == LAST_START
    assert steps_of(j) == [1, 2] and j.last_step() == 2
    fill(j, [3, 4])
    j.close()
    assert steps_of(reopen_quietly(tmp_path)) == [1, 2, 3, 4]


def record_bounds(path: Path, steps: list[int]) -> tuple[int, int]:
    """(start, end) of the last record of a journal holding ``steps``."""
    j = Journal(path)
    fill(j, steps[:-1])
    start = only_segment(path).stat().st_size
    fill(j, steps[-1:])
    j.close()
    return start, only_segment(path).stat().st_size


@pytest.mark.parametrize("where", ["header", "payload", "last byte"])
def test_bad_checksum_on_last_record_is_a_torn_tail(tmp_path: Path, where: str) -> None:
    start, end = record_bounds(tmp_path, [1, 2, 3])
    pos = {"header": start + 6, "payload": start + HEADER_SIZE + 10, "last byte": end - 1}[where]
    seg = only_segment(tmp_path)
    data = bytearray(seg.read_bytes())
    data[pos] ^= 0xFF
    seg.write_bytes(bytes(data))
    with pytest.warns(RecoveryWarning, match=f"offset {start}"):
        j = Journal(tmp_path)
    assert steps_of(j) == [1, 2]


def test_zero_filled_tail_is_cut(tmp_path: Path) -> None:
    _, end = record_bounds(tmp_path, [1, 2])
    seg = only_segment(tmp_path)
    with open(seg, "ab") as f:
        f.write(b"\0" * 4096)
    with pytest.warns(RecoveryWarning, match=f"offset {end}"):
        j = Journal(tmp_path)
    assert steps_of(j) == [1, 2] and seg.stat().st_size == end


@pytest.mark.parametrize("where", ["header", "payload"])
def test_corruption_followed_by_good_records_raises(tmp_path: Path, where: str) -> None:
    j = Journal(tmp_path)
    fill(j, [1])
    second = only_segment(tmp_path).stat().st_size
    fill(j, [2, 3])
    j.close()
    seg = only_segment(tmp_path)
    data = bytearray(seg.read_bytes())
    data[second + (5 if where == "header" else HEADER_SIZE + 3)] ^= 0x55
    seg.write_bytes(bytes(data))
    with pytest.raises(JournalError) as e:
        Journal(tmp_path)
    assert str(seg) in str(e.value) and f"offset {second}" in str(e.value)
    assert seg.stat().st_size == len(data)  # nothing was cut


def test_corruption_in_an_older_segment_raises_on_read(tmp_path: Path) -> None:
    j = Journal(tmp_path, segment_bytes=1)  # one record per segment
    fill(j, [1, 2, 3])
    j.close()
    first = sorted(tmp_path.glob("*.wal"))[0]
    data = bytearray(first.read_bytes())
    data[-1] ^= 1
    first.write_bytes(bytes(data))
    j = Journal(tmp_path)  # only the newest segment is checked on open
    with pytest.raises(JournalError, match=f"{first}.*offset 0"):
        list(j.records())
    assert steps_of(j, after=1) == [2, 3]  # the damaged segment is not needed


def test_segments_and_truncate_below(tmp_path: Path) -> None:
    j = Journal(tmp_path, segment_bytes=1)
    fill(j, [1, 2, 3, 4])
    names = [p.name for p in sorted(tmp_path.glob("*.wal"))]
    assert names == [f"{s:020d}.wal" for s in (1, 2, 3, 4)]
    deleted = j.truncate_below(3)
    assert [p.name for p in deleted] == names[:2]
    assert steps_of(j) == [3, 4] and steps_of(j, after=3) == [4]
    assert j.truncate_below(3) == []
    j.truncate_below(10)  # a checkpoint covers everything, the open segment too
    assert list(tmp_path.glob("*.wal")) == [] and steps_of(j) == []
    fill(j, [10])
    assert [p.name for p in tmp_path.glob("*.wal")] == [f"{10:020d}.wal"]
    j.close()
    assert steps_of(reopen_quietly(tmp_path)) == [10]


def test_truncate_keeps_segment_with_uncovered_steps(tmp_path: Path) -> None:
    j = Journal(tmp_path)  # one big segment
    fill(j, [1, 2, 3])
    assert j.truncate_below(3) == []
    assert steps_of(j) == [1, 2, 3]
    assert steps_of(j, after=2) == [3]


def test_records_skip_whole_segments(tmp_path: Path) -> None:
    j = Journal(tmp_path, segment_bytes=1)
    fill(j, [1, 2, 3])
    sorted(tmp_path.glob("*.wal"))[0].write_bytes(b"garbage")  # never read for after_step=1
    assert steps_of(j, after=1) == [2, 3]


def test_rotation_continues_after_reopen(tmp_path: Path) -> None:
    with Journal(tmp_path, segment_bytes=1) as j:
        fill(j, [1, 2])
    with Journal(tmp_path, segment_bytes=1) as j:
        assert j.last_step() == 2
        fill(j, [3])
    assert len(list(tmp_path.glob("*.wal"))) == 3
    assert steps_of(Journal(tmp_path)) == [1, 2, 3]


def test_empty_newest_segment_falls_back_to_previous(tmp_path: Path) -> None:
    with Journal(tmp_path, segment_bytes=1) as j:
        fill(j, [1, 2])
    (tmp_path / f"{3:020d}.wal").write_bytes(b"")  # created, then the crash
    j = reopen_quietly(tmp_path)
    assert j.last_step() == 2
    fill(j, [3])
    assert steps_of(j) == [1, 2, 3]
