"""``file_input``: a table's input from a CSV or JSON-lines file, read in chunks.

The position is the byte offset of the next unread line, so a chunk is a byte range: the step
loop journals it (exactly_once) and a checkpoint stores it (at_least_once rewinds to it).  A
last line without its newline is read only at the end of a file that is not followed (a
followed file may still be growing).

>>> import tempfile, os
>>> from feldera_nb.sql.compiler import compile_program
>>> t = compile_program("CREATE TABLE t (k INT NOT NULL, s VARCHAR)").tables["t"]
>>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
>>> _ = open(path, "w").write("1,a\\n2,b\\n3,\\n")
>>> src = FileInput("t.0", t, path, fmt="csv", max_batch_size=2)
>>> c = src.read(); (c.delta.height, c.start, c.end)
(2, 0, 8)
>>> src.seek(c.end); c = src.read(); (c.delta.to_dicts(), c.end)
([{'c0': 3, 'c1': None, '__w': 1}], 11)
>>> src.seek(c.end); src.read() is None
True
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import polars as pl

from feldera_nb.connectors.base import Chunk
from feldera_nb.errors import ConfigError, InputError
from feldera_nb.connectors.rows import UPDATE_FORMATS, from_json, to_zset
from feldera_nb.sql.compiler import CompiledTable
from feldera_nb.sql.types import to_polars

FORMATS = ("csv", "json")
DEFAULT_MAX_BATCH = 10_000


class FileInput:
    """Reads ``path`` for table ``table``, at most ``max_batch_size`` rows per chunk."""

    def __init__(self, id: str, table: CompiledTable, path: str, *, fmt: str = "csv",
                 update_format: str = "raw", follow: bool = False, headers: bool = False,
                 max_batch_size: int = DEFAULT_MAX_BATCH) -> None:
        if fmt not in FORMATS:
            raise ConfigError(f"{id}.format.name", f"must be one of {', '.join(FORMATS)}, "
                              f"not {fmt!r}")
        if update_format not in UPDATE_FORMATS:
            raise ConfigError(f"{id}.format.config.update_format",
                              f"must be one of {', '.join(UPDATE_FORMATS)}, not {update_format!r}")
        if fmt == "csv" and update_format != "raw":
            raise ConfigError(f"{id}.format.config.update_format", "csv supports only 'raw'")
        if max_batch_size < 1:
            raise ConfigError(f"{id}.max_batch_size", "must be >= 1")
        self.id = id
        self.table = table.name
        self._table = table
        self.path = path
        self.fmt = fmt
        self.update_format = update_format
        self.follow = follow
        self.headers = headers
        self.max_batch_size = max_batch_size
        self.position: int = 0
        self._file: io.BufferedReader | None = None

    def _open(self) -> io.BufferedReader | None:
        if self._file is None:
            try:
                self._file = open(self.path, "rb")  # noqa: SIM115 - kept open across reads
            except FileNotFoundError:
                if self.follow:
                    return None
                raise InputError(f"input connector {self.id}: file {self.path} does not exist"
                                 ) from None
        return self._file

    def seek(self, position: Any) -> None:
        """Continue from byte ``position``."""
        self.position = int(position or 0)

    def read(self) -> Chunk | None:
        """Up to ``max_batch_size`` lines after ``position``; None at the end (for now)."""
        f = self._open()
        if f is None:
            return None
        start = self.position
        f.seek(start)
        lines: list[bytes] = []
        end = start
        if start == 0 and self.headers:
            header = f.readline()
            if not header.endswith(b"\n"):
                return None
            end += len(header)
        while len(lines) < self.max_batch_size:
            line = f.readline()
            if not line:
                break
            if not line.endswith(b"\n"):
                if self.follow:
                    break  # the writer may not have finished this line
                line += b"\n"
                end -= 1  # the position counts the bytes of the file, not the added newline
            end += len(line)
            if line.strip():
                lines.append(line)
        if end == start:
            return None
        if not lines:
            return Chunk(None, start, end)
        try:
            delta = self._parse(b"".join(lines))
        except InputError as e:
            return Chunk(None, start, end, f"input connector {self.id}, bytes {start}..{end}: {e}")
        return Chunk(delta, start, end)

    def _parse(self, data: bytes) -> pl.DataFrame:
        t = self._table
        if self.fmt == "json":
            try:
                rows = [json.loads(line) for line in data.splitlines() if line.strip()]
            except json.JSONDecodeError as e:
                raise InputError(f"not valid JSON: {e}") from None
            return from_json(t, rows, self.update_format)
        names = [n for n, _ in t.columns]
        try:
            df = pl.read_csv(io.BytesIO(data), has_header=False, new_columns=names,
                             infer_schema=False)
        except pl.exceptions.PolarsError as e:
            raise InputError(f"not valid CSV for table '{t.name}': {str(e).splitlines()[0]}"
                             ) from None
        if df.width != len(names):
            raise InputError(f"CSV rows have {df.width} fields, table '{t.name}' has "
                             f"{len(names)} columns")
        casts = []
        for name, typ in t.columns:
            if typ.is_numeric and typ.kind != "DECIMAL":
                casts.append(pl.col(name).str.strip_chars().cast(to_polars(typ), strict=False))
            elif typ.kind == "BOOLEAN":
                casts.append(pl.col(name).str.strip_chars().str.to_lowercase()
                             .replace_strict({"true": True, "false": False, "t": True, "f": False,
                                              "1": True, "0": False}, default=None,
                                             return_dtype=pl.Boolean))
        if casts:
            cast = df.with_columns(casts)
            bad = [n for n, typ in t.columns if (typ.is_numeric and typ.kind != "DECIMAL")
                   or typ.kind == "BOOLEAN"]
            for n in bad:
                lost = cast[n].is_null() & df[n].is_not_null() & (df[n].str.strip_chars() != "")
                if lost.any():
                    i = int(lost.arg_true()[0])
                    raise InputError(f"column '{n}': {df[n][i]!r} (line {i + 1} of the chunk) "
                                     f"is not a valid {dict(t.columns)[n]}")
            df = cast
        return to_zset(t, df)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __repr__(self) -> str:
        return f"FileInput({self.id!r}, {self.path!r}, position={self.position})"


def file_input(id: str, table: CompiledTable, spec: dict[str, Any], tconf: dict[str, Any],
               fmt: str, fconf: dict[str, Any]) -> FileInput:
    """Build a :class:`FileInput` from a connector's JSON."""
    path = tconf.get("path")
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{id}.transport.config.path", "file_input needs a path")
    if fconf.get("array"):
        raise ConfigError(f"{id}.format.config.array", "JSON arrays are not supported; "
                          "use one JSON object per line")
    batch = spec.get("max_batch_size", tconf.get("max_batch_size", DEFAULT_MAX_BATCH))
    return FileInput(id, table, os.path.expanduser(path), fmt=fmt,
                     update_format=str(fconf.get("update_format", "raw")),
                     follow=bool(tconf.get("follow", False)),
                     headers=bool(fconf.get("headers", False)), max_batch_size=int(batch))
