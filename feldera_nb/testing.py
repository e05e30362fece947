"""Test helpers that ship with feldera_nb: the differential-testing toolkit.

The oracle for every incremental view is the same view recomputed from scratch.  This module
holds the pieces a test needs to check that, step after step:

- :class:`TableSchema` / :func:`parse_tables`: the tables of a program, read from its DDL.
- :class:`ChangeStream`: a seeded generator of per-step changes (inserts, deletes, updates,
  NULLs, duplicate rows, upserts on primary keys) that also keeps the table contents those
  changes produce, so an oracle can recompute any view over them.
- :class:`Step`: one step's changes, as Polars frames with a weight column or as
  ``insert_delete`` JSON records, and :meth:`Step.feed` to push them into a pipeline.
- :class:`DuckDBOracle`: DuckDB (a ``test`` extra) holding the same table contents, to
  recompute views from scratch.
- :func:`assert_view_equal`: compares two frames as bags (multisets of rows), with NULLs, a
  float tolerance and exact decimals, and says where they differ.
- :func:`change_streams`: a hypothesis strategy of change streams (needs ``hypothesis``).

Examples
--------
>>> tables = parse_tables("CREATE TABLE t (k INTEGER NOT NULL PRIMARY KEY, v VARCHAR);")
>>> stream = ChangeStream(tables, seed=7)
>>> for step in stream.steps(3):
...     pass
>>> stream.contents("t").columns
['k', 'v']
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
import random
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from feldera_nb.sql.types import SqlType, to_polars

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "ChangeStream",
    "Column",
    "DuckDBOracle",
    "Step",
    "TableSchema",
    "assert_view_equal",
    "change_streams",
    "derive_seed",
    "integrate_changes",
    "parse_tables",
]

Row = tuple[Any, ...]
Change = tuple[Row, int]
FeedFormat = Literal["polars", "json"]

# sqlglot type names -> SqlType kinds.  sqlglot reads REAL as FLOAT; Feldera's FLOAT is a DOUBLE.
_KINDS: Mapping[str, str] = {
    "BOOLEAN": "BOOLEAN",
    "TINYINT": "TINYINT",
    "SMALLINT": "SMALLINT",
    "INT": "INTEGER",
    "BIGINT": "BIGINT",
    "FLOAT": "DOUBLE",
    "DOUBLE": "DOUBLE",
    "DECIMAL": "DECIMAL",
    "VARCHAR": "VARCHAR",
    "CHAR": "CHAR",
    "TEXT": "VARCHAR",
    "DATE": "DATE",
    "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP",
    "DATETIME": "TIMESTAMP",
}


# ---------------------------------------------------------------------------------------------
# Schemas


@dataclasses.dataclass(frozen=True)
class Column:
    """One column: its name (lowercase), its SQL type and its value domain.

    ``domain`` lists the non-NULL values the generator draws from; ``None`` picks a small
    default domain for the type (small on purpose, so that joins, groups and DISTINCT collide).
    """

    name: str
    type: SqlType
    domain: tuple[Any, ...] | None = None

    @property
    def dtype(self) -> pl.DataType:
        """The Polars dtype of the column."""
        return to_polars(self.type)


@dataclasses.dataclass(frozen=True)
class TableSchema:
    """A table: name (lowercase), columns, and the primary-key column names (may be empty).

    A table without a primary key is a multiset; with one, an insert of an existing key
    replaces the row (upsert) and a delete needs only the key.
    """

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        """Column names, in declaration order."""
        return [c.name for c in self.columns]

    @property
    def polars_schema(self) -> pl.Schema:
        """The Polars schema of the table's rows."""
        return pl.Schema({c.name: c.dtype for c in self.columns})

    def key_of(self, row: Row) -> Row:
        """The primary-key part of ``row`` (the whole row for a multiset)."""
        if not self.primary_key:
            return row
        names = self.column_names
        return tuple(row[names.index(k)] for k in self.primary_key)

    def with_domains(self, domains: Mapping[str, Sequence[Any]]) -> TableSchema:
        """A copy whose columns named in ``domains`` draw their values from the given lists."""
        cols = tuple(
            dataclasses.replace(c, domain=tuple(domains[c.name])) if c.name in domains else c
            for c in self.columns
        )
        return dataclasses.replace(self, columns=cols)


def parse_tables(sql: str) -> list[TableSchema]:
    """Read the ``CREATE TABLE`` statements of a SQL program; other statements are skipped.

    >>> [t.name for t in parse_tables("CREATE TABLE A (x INT); CREATE VIEW v AS SELECT 1")]
    ['a']
    >>> t = parse_tables("CREATE TABLE t (k INT NOT NULL, d DECIMAL(10, 2), PRIMARY KEY (k))")[0]
    >>> t.primary_key, str(t.columns[1].type)
    (('k',), 'DECIMAL(10, 2)')
    """
    import sqlglot
    from sqlglot import exp

    tables = []
    for stmt in sqlglot.parse(sql):
        if not isinstance(stmt, exp.Create) or stmt.kind != "TABLE":
            continue
        schema = stmt.this
        columns: list[Column] = []
        pk: list[str] = []
        for item in schema.expressions:
            if isinstance(item, exp.PrimaryKey):
                pk.extend(e.name.lower() for e in item.expressions)
                continue
            if not isinstance(item, exp.ColumnDef):
                continue
            kinds = {type(c.args.get("kind")) for c in item.args.get("constraints") or []}
            is_pk = exp.PrimaryKeyColumnConstraint in kinds
            if is_pk:
                pk.append(item.name.lower())
            not_null = is_pk or exp.NotNullColumnConstraint in kinds
            columns.append(Column(item.name.lower(), _sql_type(item.args["kind"], not not_null)))
        tables.append(TableSchema(schema.this.name.lower(), tuple(columns), tuple(pk)))
    return tables


def _sql_type(dtype: Any, nullable: bool) -> SqlType:
    name = dtype.this.name
    if name not in _KINDS:
        raise ValueError(f"feldera_nb.testing cannot generate values of type {dtype.sql()}")
    kind = _KINDS[name]
    params = [int(p.this.name) for p in dtype.expressions]
    if kind == "DECIMAL":
        precision = params[0] if params else 38
        scale = params[1] if len(params) > 1 else 0
        return SqlType(kind, nullable, precision, scale)
    return SqlType(kind, nullable, params[0] if params else None)


# ---------------------------------------------------------------------------------------------
# Value domains


_STRINGS = (
    "", "a", "ab", "abc", "B", "Abc", "x_y", "a%b", "hello", "HeLLo wOrld", " pad ", "é", "zz"
)
_FLOATS = (-2.5, -1.0, 0.0, 0.1, 0.25, 1.0 / 3.0, 1.5, 2.0, 3.0, 7.75, 100.125)
_DECIMALS = ("-12.50", "-1.05", "0.00", "0.01", "1.10", "1.50", "2.50", "3.33", "10.00", "99.99")
_DATES = tuple(dt.date(2024, 1, 1) + dt.timedelta(days=d) for d in (0, 1, 2, 5, 9, 31, 59)) + (
    dt.date(1999, 12, 31),
)
_TIMESTAMPS = tuple(
    dt.datetime(2024, 1, 1) + dt.timedelta(minutes=m)
    for m in (0, 1, 59, 60, 61, 720, 1439, 1440, 2 * 1440 + 30, 40 * 1440)
)
_TIMES = (dt.time(0, 0), dt.time(0, 0, 1), dt.time(9, 30), dt.time(12, 0), dt.time(23, 59, 59))
_INTS = {"TINYINT": 6, "SMALLINT": 8, "INTEGER": 10, "BIGINT": 12}


def _default_domain(t: SqlType) -> tuple[Any, ...]:
    kind = t.kind
    if kind in _INTS:
        return tuple(range(-3, _INTS[kind]))
    if kind == "DECIMAL":
        scale = t.scale or 0
        quantum = decimal.Decimal(1).scaleb(-scale)
        limit = decimal.Decimal(10) ** ((t.precision or 38) - scale)
        values = {decimal.Decimal(v).quantize(quantum, decimal.ROUND_HALF_UP) for v in _DECIMALS}
        return tuple(sorted(v for v in values if abs(v) < limit))
    if kind in ("DOUBLE", "REAL"):
        return _FLOATS
    if kind in ("VARCHAR", "CHAR"):
        n = t.precision
        return tuple(dict.fromkeys(s if n is None else s[:n] for s in _STRINGS))
    return {
        "BOOLEAN": (True, False),
        "DATE": _DATES,
        "TIMESTAMP": _TIMESTAMPS,
        "TIME": _TIMES,
    }[kind]


def _json_value(v: Any) -> Any:
    """A value as Feldera's JSON format writes it."""
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v


# ---------------------------------------------------------------------------------------------
# Change streams


@dataclasses.dataclass(frozen=True)
class Step:
    """The changes of one step: per table, an ordered list of ``(row, weight)``; weight n > 0
    inserts n copies, -n deletes n copies (a primary-key table only sees +1 and -1).

    ``index`` counts from 1; ``fmt`` is the input path :meth:`feed` uses; with
    ``key_only_deletes`` a JSON delete on a primary-key table carries only the key columns;
    with ``split`` each table's changes go in two calls.
    """

    index: int
    changes: Mapping[str, Sequence[Change]]
    tables: Mapping[str, TableSchema]
    fmt: FeedFormat = "polars"
    key_only_deletes: bool = False
    split: bool = False

    def __len__(self) -> int:
        return sum(len(c) for c in self.changes.values())

    def to_polars(
        self, table: str, weight_column: str = "weight", part: slice = slice(None)
    ) -> pl.DataFrame:
        """The table's changes (``part`` of them) as a frame with a weight column, in order."""
        schema = self.tables[table].polars_schema
        changes = self.changes.get(table, ())[part]
        rows = [row for row, _ in changes]
        df = pl.DataFrame(rows, schema=schema, orient="row")
        return df.with_columns(pl.Series(weight_column, [w for _, w in changes], pl.Int64))

    def to_json(self, table: str, part: slice = slice(None)) -> list[dict[str, dict[str, Any]]]:
        """The table's changes (``part`` of them) as ``insert_delete`` records, values in
        Feldera's JSON format."""
        schema = self.tables[table]
        names = schema.column_names
        key_only = self.key_only_deletes and bool(schema.primary_key)
        out = []
        for row, w in self.changes.get(table, ())[part]:
            record = dict(zip(names, map(_json_value, row)))
            if w < 0 and key_only:
                record = {k: record[k] for k in schema.primary_key}
            out += [{"insert" if w > 0 else "delete": record}] * abs(w)  # JSON has no weights
        return out

    def feed(self, pipeline: Any, *, fmt: FeedFormat | None = None) -> None:
        """Push the step into ``pipeline`` as one step.

        Changes to several tables, or split into two calls, go in one transaction; otherwise
        one ``input_*`` call.  ``fmt`` overrides the step's own input path.
        """
        fmt = fmt or self.fmt
        other: FeedFormat = "polars" if fmt == "json" else "json"
        calls: list[tuple[str, FeedFormat, slice]] = []
        for table, changes in self.changes.items():
            half = len(changes) // 2
            if self.split and half:
                calls += [(table, fmt, slice(0, half)), (table, other, slice(half, None))]
            elif changes:
                calls.append((table, fmt, slice(None)))
        several = len(calls) > 1
        if several:
            pipeline.start_transaction()
        for table, how, part in calls:
            if how == "json":
                records = self.to_json(table, part)
                pipeline.input_json(table, records, update_format="insert_delete")
            else:
                df = self.to_polars(table, "w", part)
                pipeline.input_polars(table, df, weight_column="w")
        if several:
            pipeline.commit_transaction()


class ChangeStream:
    """A seeded, reproducible stream of changes to a set of tables.

    Each step touches a random non-empty subset of the tables with a few changes each: fresh
    inserts, copies of existing rows (duplicates, as one change of weight n), deletes of
    existing rows (sometimes of all copies at once), updates (delete the old row, insert a
    changed copy), and now and then a step that empties a table.  For a primary-key table it
    also emits upserts (an insert of an existing key) and deletes of missing keys (which the
    pipeline ignores).  A step touches each key at most once (an update sent as delete + insert
    of the same key aside), except that with probability ``key_churn_fraction`` it may change
    a key several times, to be applied in order (the last change wins).  Nullable columns are
    NULL with probability ``null_fraction``.

    The stream keeps the contents its changes produce, so an oracle can recompute views.

    Parameters
    ----------
    tables
        The table schemas (see :func:`parse_tables`), or a SQL program to read them from.
    seed
        Seeds the generator; the same seed gives the same stream.
    domains
        ``{"table.column": values}`` overrides a column's value domain.
    max_changes
        Upper bound on the changes per table per step.
    initial_rows
        The first step inserts this many fresh rows into every table (a bulk load), so that
        later steps change tables that are not tiny.
    clear_fraction
        Chance that a step touching a table empties it; a mapping gives it per table (tables
        it does not name get 0.03).
    json_fraction
        Share of steps whose :meth:`Step.feed` goes through ``input_json`` (else
        ``input_polars``).
    split_fraction
        Share of steps whose :meth:`Step.feed` sends each table's changes in two calls, the
        second through the other input path, inside one transaction.

    Examples
    --------
    >>> s = ChangeStream("CREATE TABLE t (a INT, b VARCHAR)", seed=1, max_changes=4)
    >>> step = next(iter(s.steps(1)))
    >>> step.index, step.to_polars("t").columns
    (1, ['a', 'b', 'weight'])
    >>> s.contents("t").height == sum(w for _, w in step.changes["t"])
    True
    """

    def __init__(
        self,
        tables: Sequence[TableSchema] | str,
        seed: int,
        *,
        domains: Mapping[str, Sequence[Any]] | None = None,
        max_changes: int = 8,
        initial_rows: int = 0,
        null_fraction: float = 0.2,
        delete_fraction: float = 0.25,
        update_fraction: float = 0.2,
        duplicate_fraction: float = 0.15,
        upsert_fraction: float = 0.15,
        missing_delete_fraction: float = 0.05,
        key_churn_fraction: float = 0.15,
        split_fraction: float = 0.2,
        clear_fraction: float | Mapping[str, float] = 0.03,
        json_fraction: float = 0.3,
    ) -> None:
        if isinstance(tables, str):
            tables = parse_tables(tables)
        domains = domains or {}
        self.tables: dict[str, TableSchema] = {}
        for t in tables:
            own = {k.split(".", 1)[1]: v for k, v in domains.items() if k.split(".")[0] == t.name}
            self.tables[t.name] = t.with_domains(own)
        self.seed = seed
        self.max_changes = max_changes
        self.initial_rows = initial_rows
        self.null_fraction = null_fraction
        self.delete_fraction = delete_fraction
        self.update_fraction = update_fraction
        self.duplicate_fraction = duplicate_fraction
        self.upsert_fraction = upsert_fraction
        self.missing_delete_fraction = missing_delete_fraction
        self.key_churn_fraction = key_churn_fraction
        self.split_fraction = split_fraction
        if isinstance(clear_fraction, Mapping):
            self.clear_fraction = {t: clear_fraction.get(t, 0.03) for t in self.tables}
        else:
            self.clear_fraction = dict.fromkeys(self.tables, clear_fraction)
        self.json_fraction = json_fraction
        self._rng = random.Random(seed)
        self._index = 0
        # Multisets: a list of rows.  Keyed tables: key -> row, in insertion order.
        self._bags: dict[str, list[Row]] = {t: [] for t in self.tables}
        self._keyed: dict[str, dict[Row, Row]] = {t: {} for t in self.tables}

    def __repr__(self) -> str:
        return f"ChangeStream(tables={list(self.tables)}, seed={self.seed}, step={self._index})"

    # -- contents ------------------------------------------------------------------------------

    def rows(self, table: str) -> list[Row]:
        """The table's current rows (a multiset; order carries no meaning)."""
        if self.tables[table].primary_key:
            return list(self._keyed[table].values())
        return list(self._bags[table])

    def contents(self, table: str) -> pl.DataFrame:
        """The table's current contents as a frame."""
        schema = self.tables[table].polars_schema
        return pl.DataFrame(self.rows(table), schema=schema, orient="row")

    def all_contents(self) -> dict[str, pl.DataFrame]:
        """Every table's current contents."""
        return {t: self.contents(t) for t in self.tables}

    # -- generation ----------------------------------------------------------------------------

    def steps(self, n: int) -> Iterator[Step]:
        """The next ``n`` steps; each is applied to :meth:`contents` when it is yielded."""
        for _ in range(n):
            yield self.next_step()

    def next_step(self) -> Step:
        """Generate the next step and apply it to the contents."""
        rng = self._rng
        self._index += 1
        names = list(self.tables)
        changes: dict[str, list[Change]] = {}
        if self._index == 1 and self.initial_rows:
            for name in names:
                changes[name] = self._bulk_load(self.tables[name], self.initial_rows)
        else:
            touched = rng.sample(names, rng.randint(1, len(names)))
            for name in names:
                if name in touched:
                    changes[name] = self._table_changes(self.tables[name])
        fmt: FeedFormat = "json" if rng.random() < self.json_fraction else "polars"
        return Step(
            self._index,
            changes,
            self.tables,
            fmt,
            key_only_deletes=rng.random() < 0.5,
            split=rng.random() < self.split_fraction,
        )

    def _value(self, col: Column) -> Any:
        if col.type.nullable and self._rng.random() < self.null_fraction:
            return None
        domain = col.domain if col.domain is not None else _default_domain(col.type)
        return self._rng.choice(domain)

    def _fresh_row(self, table: TableSchema) -> Row:
        return tuple(self._value(c) for c in table.columns)

    def _changed(self, table: TableSchema, row: Row) -> Row:
        """A copy of ``row`` with one or two non-key columns changed."""
        candidates = [i for i, c in enumerate(table.columns) if c.name not in table.primary_key]
        if not candidates:
            return row
        new = list(row)
        for i in self._rng.sample(candidates, min(len(candidates), self._rng.randint(1, 2))):
            new[i] = self._value(table.columns[i])
        return tuple(new)

    def _table_changes(self, table: TableSchema) -> list[Change]:
        rng = self._rng
        if rng.random() < self.clear_fraction[table.name]:
            return self._clear(table)
        n = rng.randint(1, self.max_changes)
        if table.primary_key:
            return self._keyed_changes(table, n)
        return self._bag_changes(table, n)

    def _bulk_load(self, table: TableSchema, n: int) -> list[Change]:
        out: list[Change] = []
        for _ in range(n):
            row = self._fresh_row(table)
            if table.primary_key:
                if table.key_of(row) in self._keyed[table.name]:
                    continue
                self._keyed[table.name][table.key_of(row)] = row
            else:
                self._bags[table.name].append(row)
            out.append((row, +1))
        return out

    def _clear(self, table: TableSchema) -> list[Change]:
        changes = [(row, -1) for row in self.rows(table.name)]
        self._bags[table.name].clear()
        self._keyed[table.name].clear()
        return changes

    def _bag_changes(self, table: TableSchema, n: int) -> list[Change]:
        rng = self._rng
        bag = self._bags[table.name]
        out: list[Change] = []
        for _ in range(n):
            r = rng.random()
            if bag and r < self.delete_fraction:
                row = bag.pop(rng.randrange(len(bag)))
                # Now and then delete every copy of a duplicated row in one weighted change.
                extra = bag.count(row) if rng.random() < 0.3 else 0
                for _ in range(extra):
                    bag.remove(row)
                out.append((row, -1 - extra))
            elif bag and r < self.delete_fraction + self.update_fraction:
                old = bag.pop(rng.randrange(len(bag)))
                new = self._changed(table, old)
                bag.append(new)
                out += [(old, -1), (new, +1)]
            elif bag and r < self.delete_fraction + self.update_fraction + self.duplicate_fraction:
                row = rng.choice(bag)
                copies = rng.randint(1, 3)
                bag.extend([row] * copies)
                out.append((row, copies))  # one change with weight n: n more copies
            else:
                row = self._fresh_row(table)
                bag.append(row)
                out.append((row, +1))
        return out

    def _keyed_changes(self, table: TableSchema, n: int) -> list[Change]:
        rng = self._rng
        state = self._keyed[table.name]
        used: set[Row] = set()
        churn = rng.random() < self.key_churn_fraction
        out: list[Change] = []
        for _ in range(n):
            r = rng.random()
            if churn:
                used.clear()
            present = [k for k in state if k not in used]
            if present and r < self.delete_fraction:
                key = rng.choice(present)
                out.append((state.pop(key), -1))
            elif present and r < self.delete_fraction + self.update_fraction:
                key = rng.choice(present)
                old = state[key]
                new = state[key] = self._changed(table, old)
                out += [(old, -1), (new, +1)]
            elif present and r < self.delete_fraction + self.update_fraction + self.upsert_fraction:
                key = rng.choice(present)
                new = state[key] = self._changed(table, state[key])
                out.append((new, +1))
            else:
                row = self._fresh_row(table)
                key = table.key_of(row)
                if key in used:
                    continue
                if key in state:
                    if rng.random() >= self.missing_delete_fraction:
                        continue
                    # Not an insert: a delete of a key that is present is a plain delete.
                    out.append((state.pop(key), -1))
                elif rng.random() < self.missing_delete_fraction:
                    out.append((row, -1))  # a delete of a missing key: ignored
                else:
                    state[key] = row
                    out.append((row, +1))
            used.add(key)
        return out


def derive_seed(base: int, name: str) -> int:
    """A per-test seed from a base seed and a name, stable across runs and platforms.

    >>> derive_seed(0, "v") == derive_seed(0, "v") != derive_seed(1, "v")
    True
    """
    return zlib.crc32(f"{base}:{name}".encode()) & 0x7FFFFFFF


def change_streams(
    tables: Sequence[TableSchema] | str, **kwargs: Any
) -> Any:  # -> hypothesis.strategies.SearchStrategy[ChangeStream]
    """A hypothesis strategy of :class:`ChangeStream` over ``tables``; shrinks by seed.

    Keyword arguments go to :class:`ChangeStream`.

    >>> from hypothesis import given, settings
    >>> @settings(max_examples=3, database=None)
    ... @given(change_streams("CREATE TABLE t (a INT)"))
    ... def check(stream):
    ...     assert all(len(s) >= 0 for s in stream.steps(2))
    >>> check()
    """
    from hypothesis import strategies as st

    if isinstance(tables, str):
        tables = parse_tables(tables)
    return st.builds(
        lambda seed: ChangeStream(tables, seed, **kwargs), st.integers(0, 2**31 - 1)
    )


def integrate_changes(
    changes: pl.DataFrame, *, weight_column: str = "weight", as_bag: bool = True
) -> pl.DataFrame:
    """Add up weighted changes (a listener's output): equal rows merge, zero weights drop.

    With ``as_bag`` the result is the bag itself, each row repeated weight times (a negative
    total weight is an AssertionError); otherwise the consolidated changes with their weights.

    >>> ch = pl.DataFrame({"a": [1, 1, 2, None], "weight": [2, -1, 1, 1]})
    >>> integrate_changes(ch).sort("a", nulls_last=True)["a"].to_list()
    [1, 2, None]
    """
    cols = [c for c in changes.columns if c != weight_column]
    z = (
        changes.group_by(cols, maintain_order=True)
        .agg(pl.col(weight_column).sum())
        .filter(pl.col(weight_column) != 0)
    )
    if not as_bag:
        return z
    negative = z.filter(pl.col(weight_column) < 0)
    if negative.height:
        raise AssertionError(f"rows with a negative total weight:\n{negative}")
    index = pl.int_range(pl.len()).repeat_by(pl.col(weight_column)).explode()
    return z.select(cols)[z.select(index.alias("i"))["i"]]


# ---------------------------------------------------------------------------------------------
# The DuckDB oracle


class DuckDBOracle:
    """DuckDB holding given table contents, recomputing views from scratch.

    ``views`` maps a view name to its SELECT in DuckDB's dialect; they become plain (not
    materialized) DuckDB views, so a view over a view recomputes both.  Needs ``duckdb``.

    >>> tables = parse_tables("CREATE TABLE t (a INT, b VARCHAR)")
    >>> oracle = DuckDBOracle(tables, {"v": "SELECT a + 1 AS a1 FROM t"})
    >>> oracle.load({"t": pl.DataFrame({"a": [1, None], "b": ["x", "y"]})})
    >>> sorted(oracle.query("SELECT * FROM v")["a1"].to_list(), key=str)
    [2, None]
    >>> oracle.close()
    """

    def __init__(self, tables: Sequence[TableSchema], views: Mapping[str, str] = {}) -> None:
        import duckdb

        self.tables = {t.name: t for t in tables}
        self.con: duckdb.DuckDBPyConnection = duckdb.connect()
        for t in tables:
            cols = ", ".join(
                f"{c.name} {_duckdb_type(c.type)}{'' if c.type.nullable else ' NOT NULL'}"
                for c in t.columns
            )
            self.con.execute(f"CREATE TABLE {t.name} ({cols})")
        for name, sql in views.items():
            self.con.execute(f"CREATE VIEW {name} AS {sql}")

    def load(self, contents: Mapping[str, pl.DataFrame]) -> None:
        """Replace the contents of the tables named in ``contents``."""
        for name, df in contents.items():
            self.con.execute(f"DELETE FROM {name}")
            if df.height:
                self.con.register("_feldera_nb_load", df.to_arrow())
                self.con.execute(f"INSERT INTO {name} SELECT * FROM _feldera_nb_load")
                self.con.unregister("_feldera_nb_load")

    def query(self, sql: str) -> pl.DataFrame:
        """Run a query; the result as a Polars frame."""
        return self.con.sql(sql).pl()

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.con.close()


def _duckdb_type(t: SqlType) -> str:
    # SqlType prints DECIMAL(p, s), VARCHAR(n) etc. in a form DuckDB reads.
    return str(t.with_nullable(True))


# ---------------------------------------------------------------------------------------------
# Bag comparison


def assert_view_equal(
    actual: pl.DataFrame,
    expected: pl.DataFrame,
    *,
    float_tol: float = 1e-9,
    check_column_names: bool = True,
    context: str | Mapping[str, Any] = "",
    max_rows_shown: int = 10,
) -> None:
    """Assert that two frames hold the same bag of rows (row order ignored, duplicates count).

    Values compare by kind, not dtype: integers and decimals exactly as numbers (an INTEGER 2
    equals a DECIMAL 2.00), floats within a relative tolerance ``float_tol`` (or absolute, near
    zero), NULL equals NULL, NaN equals NaN; timestamps compare in microseconds.  Column
    names compare case-insensitively and in order.  On a difference, the AssertionError
    starts with ``context`` (a string or ``{"step": 3, "seed": 42}``) and shows the rows found
    only on one side.

    >>> a = pl.DataFrame({"k": [1, 1, None], "x": [0.1 + 0.2, 1.0, None]})
    >>> e = pl.DataFrame({"K": [None, 1, 1], "x": [None, 1.0, 0.3]})
    >>> assert_view_equal(a, e)
    >>> assert_view_equal(a, e.head(2), context={"step": 3})
    Traceback (most recent call last):
    ...
    AssertionError: step=3: 3 actual rows, 2 expected rows
    ...
    """
    ctx = context if isinstance(context, str) else ", ".join(f"{k}={v}" for k, v in context.items())
    prefix = f"{ctx}: " if ctx else ""
    a_names = [c.lower() for c in actual.columns]
    e_names = [c.lower() for c in expected.columns]
    if check_column_names and a_names != e_names:
        raise AssertionError(f"{prefix}columns differ: actual {a_names}, expected {e_names}")
    if len(a_names) != len(e_names):
        raise AssertionError(f"{prefix}{len(a_names)} actual columns, {len(e_names)} expected")
    actual = actual.rename(dict(zip(actual.columns, e_names)))
    expected = expected.rename(dict(zip(expected.columns, e_names)))
    actual, expected, float_cols = _normalize_pair(actual, expected, prefix)

    problem = None
    if actual.height != expected.height:
        problem = f"{actual.height} actual rows, {expected.height} expected rows"
    else:
        order = [c for c in e_names if c not in float_cols] + float_cols
        a_sorted = actual.sort(order, nulls_last=False, maintain_order=True)
        e_sorted = expected.sort(order, nulls_last=False, maintain_order=True)
        bad = _differing_rows(a_sorted, e_sorted, float_cols, float_tol)
        if bad is not None:
            problem = f"{bad.sum()} of {actual.height} rows differ"
    if problem is None:
        return
    raise AssertionError(
        prefix + problem + "\n" + _describe_diff(actual, expected, float_cols, max_rows_shown)
    )


def _normalize_pair(
    a: pl.DataFrame, e: pl.DataFrame, prefix: str
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Cast each column pair to one comparable dtype; also return the float columns."""
    a_casts, e_casts, floats = [], [], []
    for name in e.columns:
        ta, te = a.schema[name], e.schema[name]
        target = _common_dtype(ta, te)
        if target is None:
            raise AssertionError(f"{prefix}column {name!r}: actual {ta} vs expected {te}")
        if target == pl.Float64:
            floats.append(name)
        a_casts.append(pl.col(name).cast(target))
        e_casts.append(pl.col(name).cast(target))
    return a.select(a_casts), e.select(e_casts), floats


def _common_dtype(a: pl.DataType, b: pl.DataType) -> pl.DataType | None:
    if a == pl.Null:
        a = b
    if b == pl.Null:
        b = a
    if a == pl.Null:
        return pl.Null
    if a.is_numeric() and b.is_numeric():
        if a.is_float() or b.is_float():
            return pl.Float64
        if isinstance(a, pl.Decimal) or isinstance(b, pl.Decimal):
            scale = max(getattr(a, "scale", 0) or 0, getattr(b, "scale", 0) or 0)
            return pl.Decimal(38, scale)
        return pl.Int128
    if isinstance(a, pl.Datetime) and isinstance(b, pl.Datetime):
        return pl.Datetime("us")
    if isinstance(a, pl.Duration) and isinstance(b, pl.Duration):
        return pl.Duration("us")
    if a.is_(b) or (a == pl.String and b == pl.String):
        return a
    return None


def _differing_rows(
    a: pl.DataFrame, e: pl.DataFrame, float_cols: Sequence[str], tol: float
) -> pl.Series | None:
    """A mask of sorted positions that differ, or None when all rows match."""
    both = pl.concat([a, e.rename(lambda c: c + "\x00e")], how="horizontal")
    masks = []
    for name in e.columns:
        x, y = pl.col(name), pl.col(name + "\x00e")
        if name in float_cols:
            diff = (x - y).abs()
            same = (
                (x.is_null() & y.is_null())
                | (x.is_nan() & y.is_nan()).fill_null(False)
                | (x == y).fill_null(False)  # equal infinities
                | (diff <= tol * pl.max_horizontal(x.abs(), y.abs(), pl.lit(1.0))).fill_null(False)
            )
            masks.append(~same)
        else:
            masks.append(x.ne_missing(y))
    if not masks:
        return None
    bad = both.select(pl.any_horizontal(masks).alias("bad"))["bad"]
    return bad if bad.any() else None


def _row_key(row: Row, float_idx: set[int]) -> Row:
    """A hashable row for counting: floats rounded to 9 significant digits, NaN made equal."""
    return tuple(
        _float_key(v) if i in float_idx and v is not None else v for i, v in enumerate(row)
    )


def _float_key(v: float) -> Any:
    if math.isnan(v):
        return "NaN"
    return float(f"{v:.9g}") if math.isfinite(v) else v


def _describe_diff(
    a: pl.DataFrame, e: pl.DataFrame, float_cols: Sequence[str], max_rows: int
) -> str:
    """Rows only in one side (floats rounded to 9 significant digits), as small tables."""
    idx = {i for i, c in enumerate(e.columns) if c in float_cols}
    ca = Counter(_row_key(r, idx) for r in a.iter_rows())
    ce = Counter(_row_key(r, idx) for r in e.iter_rows())
    parts = []
    for label, extra, df in (("actual", ca - ce, a), ("expected", ce - ca, e)):
        rows = sorted(extra.elements(), key=lambda r: tuple((v is None, str(v)) for v in r))
        rows = [tuple(float("nan") if v == "NaN" else v for v in r) for r in rows]
        shown = pl.DataFrame(rows[:max_rows], schema=df.schema, orient="row")
        with pl.Config(tbl_rows=max_rows, tbl_cols=-1, fmt_str_lengths=40, tbl_width_chars=160):
            parts.append(
                f"rows only in {label} ({min(len(rows), max_rows)} of {len(rows)} shown):\n{shown}"
            )
    if not (ca - ce) and not (ce - ca):
        parts.append("(the bags differ only beyond 9 significant digits of a float column)")
    return "\n".join(parts)
