"""Turn a parsed script into a program: segments of tables, views, data states and queries.

The script's statements run, in file order, on an SQLite mirror (SQLite produced the expected
results, so its data state is the reference).  Each query is tied to the data state in force at
its position: a state is a full snapshot of every table, taken at a query when a data statement
ran since the previous one.  A *segment* is a run of the script whose tables and views keep one
definition; a table or view re-created with another definition starts a new segment.

Expected results are made comparable with a bag: listed values of a ``nosort`` query are
row-sorted; a hashed ``nosort`` result (ordered by the query's ORDER BY) is re-computed on the
mirror, checked against the hash, and kept row-sorted.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field

from .records import HashThreshold, ParsedScript, Query, Statement
from .values import format_rows, md5_of, sort_values

_DML = re.compile(r"^\s*(INSERT|DELETE|UPDATE|REPLACE)\b", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_CREATE_VIEW = re.compile(
    r"^\s*CREATE\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+AS\s+(.*)$", re.IGNORECASE | re.DOTALL
)
_DROP = re.compile(r"^\s*DROP\s+(TABLE|VIEW|INDEX)\s+(?:IF\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    """A table column: SQL kind (INTEGER, DOUBLE or VARCHAR) and nullability."""

    name: str
    kind: str
    not_null: bool


@dataclass(frozen=True)
class TableDef:
    """A table as the engine under test sees it (no keys: tables are bags)."""

    name: str
    columns: tuple[Column, ...]

    def ddl(self) -> str:
        cols = ", ".join(
            f"{c.name} {c.kind}{' NOT NULL' if c.not_null else ''}" for c in self.columns
        )
        return f"CREATE TABLE {self.name} ({cols})"


@dataclass
class QueryCase:
    """One query of the script, tied to a data state of its segment."""

    index: int
    query: Query
    state: int
    expected: list[str] | None = None  # bag-comparable listed values
    expected_hash: tuple[int, str] | None = None  # (count, md5) of the sorted values
    problem: str | None = None  # why the case cannot be checked

    @property
    def view(self) -> str:
        return f"q_{self.index}"


@dataclass
class Segment:
    """Tables, script views, data states (table -> rows) and queries under one schema."""

    tables: dict[str, TableDef] = field(default_factory=dict)
    views: dict[str, str] = field(default_factory=dict)
    states: list[dict[str, list[tuple]]] = field(default_factory=list)
    queries: list[QueryCase] = field(default_factory=list)


@dataclass
class Program:
    """A whole script prepared for an engine run."""

    path: str
    segments: list[Segment]
    skipped: int
    skipped_queries: int
    notes: list[str]

    @property
    def cases(self) -> list[QueryCase]:
        return [q for s in self.segments for q in s.queries]


def build_program(script: ParsedScript) -> Program:
    """Run the script on an SQLite mirror and collect segments, states and expectations."""
    return _Builder(script).run()


class _Builder:
    def __init__(self, script: ParsedScript) -> None:
        self.script = script
        self.db = sqlite3.connect(":memory:")
        self.threshold = 0
        self.segment = Segment()
        self.segments = [self.segment]
        self.live: set[str] = set()
        self.dirty = True
        self.notes: list[str] = []
        self.n_queries = 0

    def run(self) -> Program:
        for record in self.script.records:
            if isinstance(record, HashThreshold):
                self.threshold = record.value
            elif isinstance(record, Statement):
                self._statement(record)
            else:
                self._query(record)
        segments = [s for s in self.segments if s.queries]
        return Program(
            self.script.path, segments, self.script.skipped, self.script.skipped_queries, self.notes
        )

    def _statement(self, st: Statement) -> None:
        try:
            self.db.execute(st.sql)
            failed = None
        except sqlite3.Error as exc:
            failed = exc
        if st.expect_error:
            if failed is None:
                self.notes.append(f"line {st.line}: statement error succeeded on SQLite")
            return
        if failed is not None:
            self.notes.append(f"line {st.line}: statement failed on SQLite: {failed}")
            return
        self._track(st.sql)

    def _track(self, sql: str) -> None:
        if _DML.match(sql):
            self.dirty = True
        elif m := _CREATE_TABLE.match(sql):
            table = self._table_def(m.group(1))
            old = self.segment.tables.get(table.name)
            if old is not None and old != table:
                self._new_segment()
            self.segment.tables[table.name] = table
            self.live.add(table.name)
            self.dirty = True
        elif m := _CREATE_VIEW.match(sql):
            name, body = m.group(1).lower(), m.group(2).strip()
            old_body = self.segment.views.get(name)
            if old_body is not None and old_body != body:
                self._new_segment()
            self.segment.views[name] = body
            self.live.add(name)
        elif m := _DROP.match(sql):
            kind, name = m.group(1).upper(), m.group(2).lower()
            self.live.discard(name)
            self.dirty = self.dirty or kind == "TABLE"
        elif not _CREATE_INDEX.match(sql):
            self.notes.append(f"statement not understood by the runner: {sql[:60]!r}")

    def _new_segment(self) -> None:
        seg = Segment(
            tables={n: t for n, t in self.segment.tables.items() if n in self.live},
            views={n: v for n, v in self.segment.views.items() if n in self.live},
        )
        self.segment = seg
        self.segments.append(seg)
        self.dirty = True

    def _table_def(self, name: str) -> TableDef:
        info = self.db.execute(f"PRAGMA table_info({name})").fetchall()
        cols = tuple(
            Column(col_name, _kind(decl), bool(notnull) or bool(pk))
            for _, col_name, decl, notnull, _, pk in info
        )
        return TableDef(name.lower(), cols)

    def _snapshot(self) -> dict[str, list[tuple]]:
        return {
            name: self.db.execute(f"SELECT * FROM {name}").fetchall()
            for name in self.segment.tables
            if name in self.live
        }

    def _query(self, q: Query) -> None:
        seg = self.segment
        if self.dirty or not seg.states:
            snap = self._snapshot()
            if not seg.states or snap != seg.states[-1]:
                seg.states.append(snap)
            self.dirty = False
        case = QueryCase(self.n_queries, q, len(seg.states) - 1)
        self.n_queries += 1
        self._expect(case)
        seg.queries.append(case)

    def _expect(self, case: QueryCase) -> None:
        q = case.query
        ncols = len(q.types)
        mode = "rowsort" if q.sort == "nosort" else q.sort
        exp = q.expected
        if exp.values is not None:
            if len(exp.values) % ncols:
                case.problem = f"{len(exp.values)} expected values for {ncols} columns"
                return
            case.expected = sort_values(list(exp.values), ncols, mode)
            return
        assert exp.count is not None and exp.md5 is not None
        if q.sort != "nosort":
            case.expected_hash = (exp.count, exp.md5)
            return
        # ORDER BY order is lost in a view: re-compute on the mirror, check, then row-sort.
        try:
            values = format_rows(self.db.execute(q.sql).fetchall(), q.types)
        except (sqlite3.Error, ValueError) as exc:
            case.problem = f"SQLite cannot run the query: {exc}"
            return
        if (len(values), md5_of(values)) != (exp.count, exp.md5):
            case.problem = "SQLite's result does not match the expected hash"
            return
        case.expected = sort_values(values, ncols, "rowsort")


def _kind(decl: str) -> str:
    """SQLite's type affinity rules, mapped to the engine's types."""
    d = decl.upper()
    if "INT" in d:
        return "INTEGER"
    if "CHAR" in d or "CLOB" in d or "TEXT" in d:
        return "VARCHAR"
    return "DOUBLE"
