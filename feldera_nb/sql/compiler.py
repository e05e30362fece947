"""Compile a program (tables and views) into one incremental circuit.

>>> prog = compile_program('''
...     CREATE TABLE t (k INT NOT NULL, v INT);
...     CREATE MATERIALIZED VIEW s AS SELECT k, SUM(v) AS total FROM t GROUP BY k;
... ''')
>>> [c for c, _ in prog.views["s"].columns]
['k', 'total']

``errors="collect"`` compiles every view it can and reports the others, as a compiler
reporting all its errors at once does:

>>> prog = compile_program('''
...     CREATE TABLE t (k INT NOT NULL);
...     CREATE VIEW bad AS SELECT nope FROM t;
...     CREATE VIEW on_bad AS SELECT * FROM bad;
...     CREATE VIEW good AS SELECT k FROM t;
... ''', errors="collect")
>>> list(prog.views), list(prog.errors)
(['good'], ['bad', 'on_bad'])
>>> str(prog.errors["on_bad"]).splitlines()[0]
"statement 3, line 4, column 37: view 'on_bad' reads view 'bad', which failed to compile (at 'bad')"
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

import polars as pl
from sqlglot import exp

from feldera_nb.engine.circuit import Circuit
from feldera_nb.errors import SqlError
from feldera_nb.sql.builder import Builder
from feldera_nb.sql.expressions import TypedExpr
from feldera_nb.sql.planner import Planner
from feldera_nb.sql.positions import position_of
from feldera_nb.sql.program import Program, TableDef, ViewDef, parse_program, parse_statement
from feldera_nb.sql.scope import Col, Rel
from feldera_nb.sql.types import SqlType, to_polars


@dataclass
class CompiledView:
    """A view's output operator and its columns (unique names, SQL types)."""

    definition: ViewDef
    rel: Rel
    columns: list[tuple[str, SqlType]]

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def materialized(self) -> bool:
        return self.definition.materialized

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {n: to_polars(t) for n, t in self.columns}


@dataclass
class CompiledTable:
    """A table's operator and columns."""

    definition: TableDef
    rel: Rel

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def columns(self) -> list[tuple[str, SqlType]]:
        return [(c.name, c.type) for c in self.definition.columns]

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {c.name: to_polars(c.type) for c in self.definition.columns}


@dataclass
class CompiledProgram:
    """A program's circuit: inputs are table names, outputs view names."""

    program: Program
    circuit: Circuit
    tables: dict[str, CompiledTable] = field(default_factory=dict)
    views: dict[str, CompiledView] = field(default_factory=dict)
    errors: dict[str, SqlError] = field(default_factory=dict)  # views left out (collect mode)

    def fresh(self) -> CompiledProgram:
        """The same program with a fresh circuit: every operator's state empty."""
        return dataclasses.replace(self, circuit=self.circuit.fresh(), tables=dict(self.tables),
                                   views=dict(self.views), errors=dict(self.errors))


def unique_names(names: list[str]) -> list[str]:
    """Make output column names unique by suffixing repeats (``a``, ``a_1``)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        base = n
        while n in seen:
            seen[base] += 1
            n = f"{base}_{seen[base]}"
        seen.setdefault(n, 0)
        out.append(n)
    return out


def compile_program(source: str | Program, *, errors: Literal["raise", "collect"] = "raise",
                    cache: bool = False) -> CompiledProgram:
    """Parse (if needed) and compile every table and view of a program.

    ``errors="raise"`` stops at the first view that does not compile; ``"collect"`` leaves
    such views (and the views reading them) out and lists their errors in ``errors`` (a
    statement that does not parse, or a bad table, still fails the whole program).
    ``cache=True`` reuses the compiled circuit of a recent identical program text (as a fresh
    copy), so re-creating a pipeline, or opening it again after a reset, compiles nothing.
    """
    if cache and isinstance(source, str):
        return _TEMPLATES.get(source, errors)
    program = parse_program(source) if isinstance(source, str) else source
    circuit = Circuit()
    out = CompiledProgram(program, circuit)
    relations: dict[str, Rel] = {}
    tb = Builder(circuit, "table")
    for t in program.tables:
        rel = tb.table(t.name, [(c.name, c.type) for c in t.columns], t.primary_key)
        relations[t.name] = rel
        circuit.inputs[t.name] = f"input:{t.name}"
        out.tables[t.name] = CompiledTable(t, rel)
    for v in program.views:
        mark = tb.mark()
        try:
            view = _compile_located(v, circuit, relations, program.sql, out.errors)
        except SqlError as e:
            if errors == "raise":
                raise
            tb.rollback(mark)  # drop the failed view's operators
            out.errors[v.name] = e
            continue
        relations[v.name] = Rel(view.rel.op, [Col(n, t, v.name, c.internal) for (n, t), c in
                                              zip(view.columns, view.rel.cols, strict=True)])
        circuit.outputs[v.name] = view.rel.op
        out.views[v.name] = view
    return out


def _compile_located(v: ViewDef, circuit: Circuit, relations: dict[str, Rel], full_sql: str,
                     failed: dict[str, SqlError]) -> CompiledView:
    try:
        broken = [t for t in v.query.find_all(exp.Table) if t.name.lower() in failed]
        if broken:
            raise SqlError(f"view '{v.name}' reads view '{broken[0].name.lower()}', which "
                           "failed to compile", sql=v.sql, **position_of(broken[0], v.sql))
        return compile_view(v, circuit, relations, full_sql)
    except SqlError as e:
        raise _locate(e, v, full_sql) from None


class _TemplateCache:
    """The last few compiled programs by exact text; callers get fresh copies."""

    size = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._templates: OrderedDict[str, CompiledProgram] = OrderedDict()

    def get(self, sql: str, errors: Literal["raise", "collect"]) -> CompiledProgram:
        with self._lock:
            template = self._templates.get(sql)
            if template is not None:
                self._templates.move_to_end(sql)
        if template is None:
            template = compile_program(sql, errors="collect")
            with self._lock:
                self._templates[sql] = template
                while len(self._templates) > self.size:
                    self._templates.popitem(last=False)
        if template.errors and errors == "raise":
            return compile_program(sql)  # raises the first error, with a fresh traceback
        return template.fresh()


_TEMPLATES = _TemplateCache()


def _locate(e: SqlError, v: ViewDef, full_sql: str) -> SqlError:
    if e.statement is not None:
        return e
    line = e.line + v.line - 1 if e.line is not None else None
    located = e.with_statement(v.statement, full_sql)
    located.line = line
    located.args = (located._format(),)
    return located


def compile_view(v: ViewDef, circuit: Circuit, relations: dict[str, Rel], sql: str | None
                 ) -> CompiledView:
    """Compile one view's query into ``circuit``."""
    planner = Planner(Builder(circuit, v.name), relations, sql=v.sql)
    rel = planner.query(v.query)
    names = [c.name for c in rel.cols]
    if v.column_names is not None:
        if len(v.column_names) != len(names):
            raise SqlError(f"view '{v.name}' lists {len(v.column_names)} columns but its query "
                           f"has {len(names)}", sql=v.sql)
        names = v.column_names
    names = unique_names(names)
    rel = planner.b.map(rel, [(n, v.name, TypedExpr(pl.col(c.internal), c.type))
                              for n, c in zip(names, rel.cols, strict=True)], label=f"view {v.name}")
    return CompiledView(v, rel, [(n, c.type) for n, c in zip(names, rel.cols, strict=True)])


def compile_query(sql: str, relations: dict[str, list[tuple[str, SqlType]]]
                  ) -> tuple[Circuit, CompiledView, list[str]]:
    """Compile an ad-hoc SELECT over named relations given as plain inputs.

    Returns the circuit, the result view and the names of the relations it reads (each an
    input of the circuit, to be fed its full contents in one step).
    """
    node = parse_statement(sql)
    if not isinstance(node, (exp.Select, exp.Union, exp.Except, exp.Intersect, exp.Subquery)):
        raise SqlError("query() takes a SELECT statement", sql=sql)
    circuit = Circuit()
    b = Builder(circuit, "query")
    used = sorted({t.name.lower() for t in node.find_all(exp.Table)} & set(relations))
    rels: dict[str, Rel] = {}
    for name in used:
        cols = [Col(n, t, name, f"c{i}") for i, (n, t) in enumerate(relations[name])]
        rels[name] = b.source(name, cols)
        circuit.inputs[name] = rels[name].op
    v = ViewDef("__query", node, True, [], sql, 1)
    view = compile_view(v, circuit, rels, sql)
    circuit.outputs["__query"] = view.rel.op
    return circuit, view, used
