"""``file_output``: every change of a view, tagged with its step, appended to a file.

JSON lines (default), one line per unit of weight, deletes of a step before its inserts::

    {"step":12,"delete":{"region":"eu","total":10}}
    {"step":12,"insert":{"region":"eu","total":15}}

or CSV with the view's columns then ``step`` and ``weight`` (``format.name = "csv"``).  Lines
are in step order, and every line starts with its step, so the file's tail tells which step was
written last.

Fault tolerance (``dedup``, exactly_once): on recovery from a checkpoint of step ``c`` a torn
last line is cut; if the last step in the file, ``s``, is at least ``c`` it may be incomplete,
so its lines are cut too and every step below ``s`` is skipped when replay produces it again.
Steps below ``c`` were made durable (fsynced) before that checkpoint was committed.  Without
``dedup`` (at_least_once) only the torn line is cut and replayed steps are written again.

>>> import tempfile, os, polars as pl
>>> path = os.path.join(tempfile.mkdtemp(), "v.jsonl")
>>> out = FileOutput("v.0", "v", path)
>>> out.open(resume_step=None, dedup=False)
>>> out.write(0, pl.DataFrame({"x": [1, 2], "weight": [1, -1]}))
>>> print(open(path).read(), end="")
{"step":0,"delete":{"x":2}}
{"step":0,"insert":{"x":1}}
>>> out.close(); out.open(resume_step=0, dedup=True); out.skip_below
0
"""

from __future__ import annotations

import io
import os
import re
from typing import Any

import polars as pl

from feldera_nb.engine.zset import WEIGHT, expand
from feldera_nb.errors import ConfigError, RecoveryWarning, warn

FORMATS = ("json", "csv")
_STEP = re.compile(rb'^(?:\{"step":)?(\d+)[,}]')
_BLOCK = 1 << 16


class FileOutput:
    """Appends view ``view``'s changes to ``path``."""

    def __init__(self, id: str, view: str, path: str, *, fmt: str = "json") -> None:
        if fmt not in FORMATS:
            raise ConfigError(f"{id}.format.name", f"must be one of {', '.join(FORMATS)}, "
                              f"not {fmt!r}")
        self.id = id
        self.view = view
        self.path = path
        self.fmt = fmt
        self._fd: int | None = None
        self.size = 0
        self.last_step: int | None = None
        self.skip_below = 0
        self.skipped_steps = 0

    # -- opening ----------------------------------------------------------------------------
    def open(self, *, resume_step: int | None, dedup: bool) -> None:
        """Open fresh (truncate) when ``resume_step`` is None, else recover the file's tail."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        if resume_step is None:
            flags |= os.O_TRUNC
        self._fd = os.open(self.path, flags, 0o644)
        self.size = os.fstat(self._fd).st_size
        self.skip_below = 0
        self.last_step = None
        if resume_step is None:
            return
        self._cut_torn_line()
        last, last_start = self._last_step()
        self.last_step = last
        self.skip_below = resume_step
        if dedup and last is not None and last >= resume_step:
            self._truncate(last_start)
            self.skip_below = last
            self.last_step = last - 1

    def _truncate(self, size: int) -> None:
        assert self._fd is not None
        os.ftruncate(self._fd, size)
        os.fsync(self._fd)
        self.size = size

    def _tail(self, n: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(max(0, self.size - n))
            return f.read(min(n, self.size))

    def _cut_torn_line(self) -> None:
        if self.size == 0:
            return
        n = _BLOCK
        while True:
            tail = self._tail(n)
            cut = tail.rfind(b"\n")
            if cut != -1 or len(tail) == self.size:
                keep = self.size - len(tail) + cut + 1
                if keep != self.size:
                    warn(f"output {self.path}: cut a torn last line ({self.size - keep} bytes)",
                         RecoveryWarning)
                    self._truncate(keep)
                return
            n *= 4

    def _last_step(self) -> tuple[int | None, int]:
        """(last step in the file, offset where its lines begin)."""
        if self.size == 0:
            return None, 0
        n = _BLOCK
        while True:
            tail = self._tail(n)
            base = self.size - len(tail)
            lines = tail.split(b"\n")[:-1]
            offsets, pos = [], base
            for line in lines:
                offsets.append(pos)
                pos += len(line) + 1
            whole = base == 0
            if not whole:  # the first piece may be a partial line
                lines, offsets = lines[1:], offsets[1:]
            steps = [_step_of(line) for line in lines]
            known = [(s, o) for s, o in zip(steps, offsets, strict=True) if s is not None]
            if known:
                last = known[-1][0]
                start = known[-1][1]
                for s, o in reversed(known):
                    if s != last:
                        return last, start
                    start = o
                if whole:
                    return last, start
            elif whole:
                return None, self.size
            n *= 4

    # -- writing ----------------------------------------------------------------------------
    def write(self, step: int, delta: pl.DataFrame) -> None:
        """Append the changes of ``step`` (skipped when already written)."""
        if step < self.skip_below:
            self.skipped_steps += 1
            return
        if delta.height == 0:
            return
        data = self._encode(step, delta)
        self._emit(data)
        self.size += len(data)
        self.last_step = step

    def _emit(self, data: bytes) -> None:
        assert self._fd is not None, "output connector is not open"
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def _encode(self, step: int, delta: pl.DataFrame) -> bytes:
        w = "weight" if "weight" in delta.columns else WEIGHT
        z = delta.rename({w: WEIGHT}) if w != WEIGHT else delta
        cols = [c for c in z.columns if c != WEIGHT]
        dels = expand(z.filter(pl.col(WEIGHT) < 0).with_columns(-pl.col(WEIGHT)))
        ins = expand(z.filter(pl.col(WEIGHT) > 0))
        buf = io.BytesIO()
        if self.fmt == "csv":
            frame = pl.concat([
                dels.with_columns(pl.lit(step, pl.Int64).alias("step"),
                                  pl.lit(-1, pl.Int64).alias("weight")),
                ins.with_columns(pl.lit(step, pl.Int64).alias("step"),
                                 pl.lit(1, pl.Int64).alias("weight")),
            ]).select("step", *cols, "weight")
            frame.write_csv(buf, include_header=False)
            return buf.getvalue()
        parts = []
        for kind, rows in (("delete", dels), ("insert", ins)):
            if rows.height:
                parts.append(rows.select(pl.lit(step, pl.Int64).alias("step"),
                                         pl.struct(cols).alias(kind)))
        for p in parts:
            p.write_ndjson(buf)
        return buf.getvalue()

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def state(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "size": self.size}

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __repr__(self) -> str:
        return f"FileOutput({self.id!r}, {self.path!r}, last_step={self.last_step})"


def _step_of(line: bytes) -> int | None:
    m = _STEP.match(line)
    return int(m.group(1)) if m else None


def file_output(id: str, view: str, tconf: dict[str, Any], fmt: str) -> FileOutput:
    """Build a :class:`FileOutput` from a connector's JSON."""
    path = tconf.get("path")
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{id}.transport.config.path", "file_output needs a path")
    return FileOutput(id, view, os.path.expanduser(path), fmt=fmt)
