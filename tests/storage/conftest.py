"""Shared helpers of the storage tests: frames of many dtypes and a killable child process."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

REPO = Path(__file__).resolve().parents[2]


def many_dtypes() -> dict[str, pl.DataFrame]:
    """One frame per dtype family, with nulls, edge values, an empty frame and a weight column."""
    tz = pl.Series([dt.datetime(2024, 3, 31, 1, 30, tzinfo=dt.UTC)] * 3)
    return {
        "op1.ints": pl.DataFrame(
            {
                "i8": pl.Series([1, None, -128], dtype=pl.Int8),
                "i64": [2**62, None, -(2**63)],
                "u64": pl.Series([0, 2**64 - 1, None], dtype=pl.UInt64),
            }
        ),
        "op2.floats": pl.DataFrame(
            {
                "f32": pl.Series([1.5, None, float("nan")], dtype=pl.Float32),
                "f64": [float("inf"), -0.0, None],
            }
        ),
        "op3.decimals": pl.DataFrame(
            {"d": pl.Series(["1.23", None, "-99999999.99"], dtype=pl.String).cast(pl.Decimal(10, 2))}
        ),
        "op4.strings/bools": pl.DataFrame(
            {"s": ["a", None, "ü€ 😀 'x'"], "b": [True, None, False], "bin": [b"\x00", None, b""]}
        ),
        "op5.temporal": pl.DataFrame(
            {
                "date": [dt.date(2024, 2, 29), None, dt.date(1, 1, 1)],
                "time": [dt.time(23, 59, 59, 999999), None, dt.time(0)],
                "ts": [dt.datetime(2024, 1, 1, 1, 2, 3, 4), None, dt.datetime(1970, 1, 1)],
                "ts_tz": tz.dt.convert_time_zone("Europe/Amsterdam"),
                "dur": [dt.timedelta(microseconds=1), None, dt.timedelta(days=-3)],
            }
        ),
        "op6.nulls": pl.DataFrame(
            {"n": pl.Series([None, None], dtype=pl.Null), "i": pl.Series([None, None], dtype=pl.Int32)}
        ),
        "op7.empty": pl.DataFrame(
            {"a": pl.Series([], dtype=pl.Int64), "s": pl.Series([], dtype=pl.String)}
        ),
        "op8.no_columns": pl.DataFrame(),
        "op9.nested": pl.DataFrame(
            {"l": [[1, 2], None, []], "st": [{"a": 1, "b": "x"}, None, {"a": None, "b": None}]}
        ),
        "op10.categorical": pl.DataFrame(
            {
                "c": pl.Series(["a", "b", "a"], dtype=pl.Categorical),
                "e": pl.Series(["x", "y", "x"], dtype=pl.Enum(["x", "y"])),
            }
        ),
        "op12.trace.run0": pl.DataFrame(
            {
                "k": [1, 2, 2],
                "v": [decimal.Decimal("0.1"), decimal.Decimal("0.2"), None],
                "weight": [1, -1, 2],
            }
        ),
    }


@pytest.fixture
def frames() -> dict[str, pl.DataFrame]:
    """The frames of :func:`many_dtypes`."""
    return many_dtypes()


class Child:
    """A Python child process running ``script``; ``expect(marker)`` reads its stdout up to a
    line starting with ``marker`` (the child then blocks on stdin until killed)."""

    def __init__(self, script: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )

    def expect(self, marker: str) -> str:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(marker):
                return line.strip()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        raise AssertionError(f"child ended before printing {marker!r}: {err}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        assert self.proc.returncode == -signal.SIGKILL

    def finish(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


@pytest.fixture
def child() -> Iterator[type[Child]]:
    started: list[Child] = []

    class Tracked(Child):
        def __init__(self, script: str) -> None:
            super().__init__(script)
            started.append(self)

    yield Tracked
    for c in started:
        c.finish()
