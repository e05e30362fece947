"""Parse a SQL program (DDL) into table and view definitions.

>>> prog = parse_program('''
...     CREATE TABLE t (id INT NOT NULL PRIMARY KEY, name VARCHAR);
...     CREATE MATERIALIZED VIEW v AS SELECT name FROM t;
... ''')
>>> [t.name for t in prog.tables], [(v.name, v.materialized) for v in prog.views]
(['t'], [('v', True)])
>>> prog.tables[0].primary_key
['id']
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from feldera_nb.errors import SqlError, UnsupportedSqlError
from feldera_nb.sql.dialect import DIALECT
from feldera_nb.sql.positions import position_of
from feldera_nb.sql.types import SqlType, from_sqlglot



@dataclass(frozen=True)
class ColumnDef:
    """A table column: lowercase name and SQL type (nullability included)."""

    name: str
    type: SqlType


@dataclass
class TableDef:
    """A ``CREATE TABLE``."""

    name: str
    columns: list[ColumnDef]
    primary_key: list[str]
    connectors: list[dict[str, Any]]
    sql: str
    statement: int
    line: int = 1

    @property
    def fingerprint(self) -> str:
        """Hash of what defines the table's contents (columns, types, key)."""
        spec = [(c.name, str(c.type)) for c in self.columns], self.primary_key
        return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]


@dataclass
class ViewDef:
    """A ``CREATE [MATERIALIZED] VIEW``."""

    name: str
    query: exp.Expression
    materialized: bool
    connectors: list[dict[str, Any]]
    sql: str
    statement: int
    column_names: list[str] | None = None
    line: int = 1

    @property
    def fingerprint(self) -> str:
        """Hash of the view's normalised query text."""
        return hashlib.sha256(self.query.sql(dialect=DIALECT).encode()).hexdigest()[:16]


@dataclass
class Program:
    """The tables and views of a program, in definition order."""

    tables: list[TableDef] = field(default_factory=list)
    views: list[ViewDef] = field(default_factory=list)
    sql: str = ""

    def table(self, name: str) -> TableDef | None:
        return next((t for t in self.tables if t.name == name.lower()), None)

    def view(self, name: str) -> ViewDef | None:
        return next((v for v in self.views if v.name == name.lower()), None)

    def fingerprints(self) -> dict[str, dict[str, str]]:
        """``{"tables": {name: hash}, "views": {name: hash}}`` for bootstrap diffs."""
        return {
            "tables": {t.name: t.fingerprint for t in self.tables},
            "views": {v.name: v.fingerprint for v in self.views},
        }


def split_statements(sql: str) -> list[tuple[str, int, int]]:
    """Split a program at top-level semicolons: (text, start offset, 1-based start line)."""
    try:
        tokens = sqlglot.tokenize(sql, read=DIALECT)
    except TokenError as e:
        raise SqlError(f"cannot tokenize SQL: {e}", sql=sql) from None
    out: list[tuple[str, int, int]] = []
    start_tok = None
    for tok in [*tokens, None]:
        if tok is None or tok.token_type == TokenType.SEMICOLON:
            if start_tok is not None:
                end = prev.end + 1  # noqa: F821 - prev is set once start_tok is
                out.append((sql[start_tok.start:end], start_tok.start, start_tok.line))
            start_tok = None
            continue
        if start_tok is None:
            start_tok = tok
        prev = tok
    return out


def parse_statement(text: str, *, offset_line: int = 1, statement: int | None = None,
                    full_sql: str | None = None) -> exp.Expression:
    """Parse one statement, turning sqlglot's errors into :class:`SqlError` with positions."""
    try:
        node = sqlglot.parse_one(text, read=DIALECT)
    except ParseError as e:
        err = e.errors[0] if e.errors else {}
        line = err.get("line")
        raise SqlError(
            _clean(err.get("description") or str(e)),
            sql=full_sql or text,
            line=(line + offset_line - 1) if line else None,
            col=err.get("col"),
            highlight=err.get("highlight"),
            statement=statement,
        ) from None
    except TokenError as e:
        raise SqlError(f"cannot tokenize SQL: {e}", sql=full_sql or text, statement=statement) from None
    if node is None:
        raise SqlError("empty statement", statement=statement)
    return node


def _clean(desc: str) -> str:
    desc = desc.replace("<class 'sqlglot.expressions.", "").replace("'>", "")
    return desc


def parse_program(sql: str) -> Program:
    """Parse ``CREATE TABLE`` and ``CREATE [MATERIALIZED] VIEW`` statements."""
    prog = Program(sql=sql)
    names: set[str] = set()
    for index, (text, _offset, line) in enumerate(split_statements(sql), start=1):
        node = parse_statement(text, offset_line=line, statement=index, full_sql=sql)
        try:
            item = _definition(node, text, index)
            item.line = line
        except SqlError as e:
            if e.statement is None:
                raise _shift(e, line - 1).with_statement(index, sql) from None
            raise
        if item.name in names:
            raise SqlError(f"'{item.name}' is defined twice", statement=index, sql=sql,
                           line=line, highlight=item.name)
        names.add(item.name)
        (prog.tables if isinstance(item, TableDef) else prog.views).append(item)
    return prog


def _shift(e: SqlError, lines: int) -> SqlError:
    if e.line is not None:
        e.line += lines
        e.args = (e._format(),)
    return e


def _definition(node: exp.Expression, text: str, index: int) -> TableDef | ViewDef:
    if not isinstance(node, exp.Create):
        kind = type(node).__name__.upper()
        raise UnsupportedSqlError(f"{kind} statement in a program (only CREATE TABLE and "
                                  f"CREATE VIEW)", sql=text, **position_of(node, text))
    kind = (node.args.get("kind") or "").upper()
    if kind == "TABLE":
        return _table(node, text, index)
    if kind == "VIEW":
        return _view(node, text, index)
    raise UnsupportedSqlError(f"CREATE {kind}", sql=text, **position_of(node, text))


def _properties(node: exp.Create, text: str) -> tuple[list[dict[str, Any]], bool]:
    connectors: list[dict[str, Any]] = []
    materialized = False
    props = node.args.get("properties")
    for p in props.expressions if props else []:
        if isinstance(p, exp.MaterializedProperty):
            materialized = True
        elif isinstance(p, exp.Property):
            key = p.name.lower() if p.this is not None else ""
            value = p.args.get("value")
            if key == "connectors":
                raw = value.name if isinstance(value, exp.Literal) else str(value)
                try:
                    parsed = json.loads(raw)
                except json.JSONDecodeError as e:
                    raise SqlError(f"'connectors' is not valid JSON: {e.msg} at char {e.pos}",
                                   sql=text, **position_of(value, text)) from None
                if not isinstance(parsed, list):
                    raise SqlError("'connectors' must be a JSON array", sql=text,
                                   **position_of(value, text))
                connectors = parsed
            # Other Feldera properties (materialized, append_only, ...) are accepted.
            elif key == "materialized" and isinstance(value, exp.Literal):
                materialized = value.name.lower() == "true"
    return connectors, materialized


def _table(node: exp.Create, text: str, index: int) -> TableDef:
    schema = node.this
    if not isinstance(schema, exp.Schema):
        raise UnsupportedSqlError("CREATE TABLE without a column list", sql=text,
                                  **position_of(node, text))
    name = schema.this.name.lower()
    columns: list[ColumnDef] = []
    pk: list[str] = []
    for item in schema.expressions:
        if isinstance(item, exp.ColumnDef):
            cname = item.name.lower()
            kind = item.args.get("kind")
            if kind is None:
                raise SqlError(f"column '{cname}' has no type", sql=text, **position_of(item, text))
            ctype = from_sqlglot(kind, node=kind, sql=text)
            nullable = True
            for c in item.args.get("constraints") or []:
                ck = c.args.get("kind")
                if isinstance(ck, exp.NotNullColumnConstraint):
                    nullable = bool(ck.args.get("allow_null"))
                elif isinstance(ck, exp.PrimaryKeyColumnConstraint):
                    pk.append(cname)
                    nullable = False
                elif isinstance(ck, (exp.DefaultColumnConstraint, exp.CommentColumnConstraint)):
                    pass
                else:
                    # LATENESS, WATERMARK and friends: accepted, no effect here.
                    pass
            columns.append(ColumnDef(cname, ctype.with_nullable(nullable)))
        elif isinstance(item, exp.PrimaryKey):
            pk.extend(e.name.lower() for e in item.expressions)
        else:
            raise UnsupportedSqlError(f"table element {item.sql()}", sql=text,
                                      **position_of(item, text))
    names = [c.name for c in columns]
    for k in pk:
        if k not in names:
            raise SqlError(f"primary key column '{k}' is not a column of table '{name}'",
                           sql=text, highlight=k)
    if pk:
        columns = [ColumnDef(c.name, c.type.with_nullable(False)) if c.name in pk else c
                   for c in columns]
    connectors, _ = _properties(node, text)
    return TableDef(name, columns, pk, connectors, text, index)


def _view(node: exp.Create, text: str, index: int) -> ViewDef:
    target = node.this
    column_names = None
    if isinstance(target, exp.Schema):
        column_names = [e.name.lower() for e in target.expressions]
        target = target.this
    name = target.name.lower()
    query = node.args.get("expression")
    if query is None:
        raise SqlError(f"view '{name}' has no query", sql=text)
    connectors, materialized = _properties(node, text)
    return ViewDef(name, query, materialized, connectors, text, index, column_names)
