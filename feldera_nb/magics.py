"""SQL magics: ``%load_ext feldera_nb``, then ``%%sql`` and ``%sql``.

Define tables and views of a pipeline by name (the pipeline is created on first use and
started)::

    %%sql shop
    CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, amount DECIMAL(10, 2));
    CREATE MATERIALIZED VIEW big AS SELECT * FROM orders WHERE amount > 100;

Run an ad-hoc query (a Polars frame comes back)::

    %sql shop SELECT COUNT(*) AS n FROM big
    %%sql shop -o result
    SELECT * FROM big ORDER BY id

How a later ``%%sql shop`` cell changes the pipeline
----------------------------------------------------
A program is compiled as a whole, so a cell that adds or redefines statements builds a new
:class:`~feldera_nb.Pipeline` from the pipeline's statements plus the cell's.  A statement
whose name is already defined (re-running an edited cell) replaces the old definition in
place; ``--replace`` starts from the cell's statements alone.  The new program is compiled
first: on an error nothing changes.  Then, if the old pipeline was running:

- with storage (``storage_config.path``) it is stopped with a final checkpoint and the new one
  starts from it; the new and changed views are bootstrapped from the checkpointed tables
  (bootstrap policy ``allow``, as in Feldera);
- without storage the contents of every table whose definition did not change are copied into
  the new pipeline in one step, which computes every view from them.

Every notebook variable that referred to the old pipeline (and the variable named after the
pipeline) now refers to the new one; ``listen()`` handles of the old one stop receiving.

Options: ``--config VAR`` (runtime config dict or RuntimeConfig from a variable, for a new
pipeline), ``--replace``, ``--no-start``, ``-o VAR`` (store a query's frame).  Errors show as
one short message with the line and column inside the cell, not a traceback.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from feldera_nb.errors import FelderaNbError, SqlError

_SQL_START = {"SELECT", "WITH", "VALUES", "CREATE", "(", "TABLE", "EXPLAIN", "--", "/*"}
_ACTIVE = ("Running", "Paused")
_REGISTRY: dict[str, Any] = {}
_LAST: list[str] = []


class SqlMagicError(FelderaNbError):
    """An error from a ``%sql`` / ``%%sql`` cell, shown as a short message (IPython calls
    ``_render_traceback_`` instead of printing the traceback)."""

    def __init__(self, message: str, detail: list[str] | None = None) -> None:
        super().__init__(message)
        self.detail = detail or []

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}", *self.detail]


def pipelines() -> dict[str, Any]:
    """The pipelines the magics know, by name (a copy)."""
    return dict(_REGISTRY)


def register(pipeline: Any) -> None:
    """Make ``pipeline`` known to the magics under its name."""
    _REGISTRY[pipeline.name] = pipeline
    _remember(pipeline.name)


def _remember(name: str) -> None:
    if name in _LAST:
        _LAST.remove(name)
    _LAST.append(name)


# -- parsing the magic line ----------------------------------------------------------------------
@dataclass
class Invocation:
    """What a ``%sql`` line (plus cell) asked for."""

    name: str | None = None
    sql: str = ""
    config: str | None = None
    out: str | None = None
    replace: bool = False
    start: bool = True
    sql_line_offset: int = 0
    """Lines before the SQL's first line inside the cell body (for error positions)."""
    flags: list[str] = field(default_factory=list)


_TOKEN = re.compile(r"\s*(\S+)")


def parse_invocation(line: str, cell: str | None = None) -> Invocation:
    """Split ``line`` into options, an optional pipeline name and SQL (the rest plus ``cell``).

    >>> parse_invocation("shop -o df SELECT * FROM t").__dict__ == {
    ...     'name': 'shop', 'sql': 'SELECT * FROM t', 'config': None, 'out': 'df',
    ...     'replace': False, 'start': True, 'sql_line_offset': 0, 'flags': []}
    True
    >>> inv = parse_invocation("shop --replace", "CREATE TABLE t (x INT)")
    >>> inv.name, inv.replace, inv.sql
    ('shop', True, 'CREATE TABLE t (x INT)')
    >>> parse_invocation("select 1").name is None
    True
    """
    inv = Invocation()
    rest = line
    while True:
        m = _TOKEN.match(rest)
        if m is None:
            rest = ""
            break
        tok = m.group(1)
        after = rest[m.end():]
        if tok in ("--config", "-c", "-o", "--out"):
            m2 = _TOKEN.match(after)
            if m2 is None:
                raise SqlMagicError(f"{tok} needs a variable name")
            if tok in ("--config", "-c"):
                inv.config = m2.group(1)
            else:
                inv.out = m2.group(1)
            rest = after[m2.end():]
        elif tok in ("--replace", "--no-start"):
            inv.replace = inv.replace or tok == "--replace"
            inv.start = inv.start and tok != "--no-start"
            rest = after
        elif tok.startswith("-") and not tok.startswith("--") or tok.startswith("--") and \
                len(tok) > 2:
            raise SqlMagicError(f"unknown option {tok} (options: --config VAR, --replace, "
                                "--no-start, -o VAR)")
        elif inv.name is None and _is_name(tok):
            inv.name = tok
            rest = after
        else:
            break
    line_sql = rest.strip()
    if cell is not None and cell.strip():
        inv.sql = (line_sql + "\n" + cell) if line_sql else cell
        inv.sql_line_offset = -1 if line_sql else 0
    else:
        inv.sql = line_sql
    inv.sql = inv.sql.strip("\n")
    return inv


def _is_name(tok: str) -> bool:
    return (re.fullmatch(r"[A-Za-z_][\w\-]*", tok) is not None
            and tok.upper() not in _SQL_START and tok.upper() != "SELECT")


def _kind(sql: str) -> str:
    """``ddl`` for CREATE statements, else ``query``."""
    text = re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL).strip()
    return "ddl" if re.match(r"create\b", text, re.IGNORECASE) else "query"


# -- errors ------------------------------------------------------------------------------------
def sql_error(e: SqlError, sql: str, *, where: str = "cell", line_shift: int = 0
              ) -> SqlMagicError:
    """A short error: message, position in the cell, the line with a caret under the column."""
    line = e.line + line_shift if e.line is not None else None
    parts = []
    if line is not None:
        parts.append(f"line {line}")
    if e.col is not None:
        parts.append(f"column {e.col}")
    pos = f" ({where} {', '.join(parts)})" if parts else ""
    text = e.description
    if e.highlight and len(e.highlight) < 60 and e.highlight not in text:
        text += f": '{e.highlight}'"
    detail: list[str] = []
    lines = sql.splitlines()
    if line is not None and 1 <= line <= len(lines):
        src = lines[line - 1]
        detail.append(f"  {line} | {src}")
        if e.col is not None:
            width = max(1, len(e.highlight or "x")) if e.highlight and "\n" not in e.highlight \
                else 1
            detail.append("  " + " " * len(str(line)) + " | " + " " * max(0, e.col - 1)
                          + "^" * width)
    return SqlMagicError(f"{type(e).__name__}{pos}: {text}", detail)


# -- defining tables and views -----------------------------------------------------------------
@dataclass
class Statement:
    name: str
    kind: str
    sql: str
    from_cell: bool
    cell_line: int = 1


def _statements(sql: str, *, from_cell: bool) -> list[Statement]:
    from feldera_nb.sql.program import parse_program
    program = parse_program(sql)
    defs = sorted([*program.tables, *program.views], key=lambda d: d.statement)
    return [Statement(d.name.lower(), "table" if d in program.tables else "view", d.sql,
                      from_cell, getattr(d, "line", 1)) for d in defs]


@dataclass
class Change:
    """What a ``%%sql`` definition cell did, as one deterministic line."""

    name: str
    added: list[str]
    replaced: list[str]
    carried_rows: int | None
    status: str
    note: str = ""

    def __str__(self) -> str:
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.replaced:
            parts.append("redefined " + ", ".join(self.replaced))
        if not parts:
            parts.append("no changes")
        text = f"pipeline '{self.name}': {'; '.join(parts)} ({self.status})"
        if self.carried_rows is not None:
            text += f"; {self.carried_rows} table rows carried over"
        return text + (f"; {self.note}" if self.note else "")


def define(name: str, sql: str, *, previous: Any = None, runtime_config: Any = None,
           replace: bool = False, start: bool = True) -> tuple[Any, Change]:
    """Add (or redefine) the statements of ``sql`` in pipeline ``name``; returns the new
    pipeline and what changed.  ``previous`` is the pipeline to extend (None: a new one).

    Raises :class:`SqlMagicError` (positions inside ``sql``) when the result does not compile;
    the previous pipeline is then untouched.
    """
    from feldera_nb.pipeline import Pipeline

    try:
        new_stmts = _statements(sql, from_cell=True)
    except SqlError as e:
        raise sql_error(e, sql) from None
    old_stmts = [] if previous is None or replace else _statements(previous.sql, from_cell=False)
    merged: dict[str, Statement] = {s.name: s for s in old_stmts}
    added, replaced = [], []
    for s in new_stmts:
        old = merged.get(s.name)
        if old is None:
            added.append(f"{s.kind} {s.name}")
        elif _norm(old.sql) != _norm(s.sql):
            replaced.append(f"{s.kind} {s.name}")
        merged[s.name] = s
    order = list(merged.values())
    program_sql = ";\n\n".join(s.sql for s in order) + ";\n"
    config = runtime_config if runtime_config is not None else (
        previous.runtime_config if previous is not None else None)
    try:
        new = Pipeline(program_sql, name=name, runtime_config=config)
    except SqlError as e:
        raise _program_error(e, order, sql) from None
    status = _status(previous) if previous is not None else None
    carried: int | None = None
    note = ""
    if previous is None:
        if start:
            new.start()
    elif not added and not replaced and not replace:
        return previous, Change(name, [], [], None, _status(previous))
    elif status in _ACTIVE:
        if new.runtime_config.storage_enabled:
            previous.stop()
            new.start()
            note = "bootstrapped from the final checkpoint"
        else:
            tables = _carry_tables(previous, new)
            previous.stop(force=True)
            new.start()
            if tables:
                new.start_transaction()
                for t, frame in tables.items():
                    new.input_polars(t, frame)
                new.commit_transaction()
            carried = sum(f.height for f in tables.values())
        if status == "Paused":
            new.pause()
    return new, Change(name, added, replaced, carried, _status(new), note)


def _norm(sql: str) -> str:
    return " ".join(sql.split())


def _status(p: Any) -> str:
    status = p.status()
    return str(getattr(status, "value", status))


def _carry_tables(previous: Any, new: Any) -> dict[str, Any]:
    """Contents of the tables whose definition is the same in both pipelines."""
    out = {}
    old_tables = previous.program.tables
    for t, compiled in new.program.tables.items():
        old = old_tables.get(t)
        if old is None or old.definition.fingerprint != compiled.definition.fingerprint:
            continue
        frame = previous.query(f'SELECT * FROM "{t}"')
        if frame.height:
            out[t] = frame
    return out


def _program_error(e: SqlError, order: list[Statement], cell_sql: str) -> SqlMagicError:
    """Map an error in the combined program back to the cell (or name the earlier statement)."""
    if e.statement is None or not 1 <= e.statement <= len(order):
        return SqlMagicError(f"{type(e).__name__}: {e.description}")
    stmt = order[e.statement - 1]
    if not stmt.from_cell:
        return SqlMagicError(f"{type(e).__name__} in {stmt.kind} {stmt.name} (defined in an "
                             f"earlier cell): {e.description}")
    start = 1 + sum(s.sql.count("\n") + 2 for s in order[: e.statement - 1])
    shift = stmt.cell_line - start
    return sql_error(e, cell_sql, line_shift=shift)


# -- IPython -----------------------------------------------------------------------------------
def _user_ns(shell: Any) -> dict[str, Any]:
    return shell.user_ns if shell is not None else {}


def resolve(name: str | None, ns: dict[str, Any]) -> Any | None:
    """The pipeline called ``name`` (registry first, then a notebook variable), or the last
    one used when ``name`` is None."""
    from feldera_nb.pipeline import Pipeline
    if name is None:
        return _REGISTRY.get(_LAST[-1]) if _LAST else None
    if name in _REGISTRY:
        return _REGISTRY[name]
    value = ns.get(name)
    if isinstance(value, Pipeline):
        return value
    for value in ns.values():
        if isinstance(value, Pipeline) and value.name == name:
            return value
    return None


def run(line: str, cell: str | None = None, shell: Any = None) -> Any:
    """What ``%sql line`` / ``%%sql line\\ncell`` does (usable without IPython)."""
    inv = parse_invocation(line, cell)
    ns = _user_ns(shell)
    if inv.name is None and not inv.sql:
        raise SqlMagicError("usage: %%sql NAME (then CREATE statements), or %sql [NAME] SELECT ...")
    if inv.sql and _kind(inv.sql) == "ddl":
        if inv.name is None:
            raise SqlMagicError("name the pipeline to define tables and views in: %%sql NAME")
        return _define_cell(inv, ns)
    p = resolve(inv.name, ns)
    if p is None:
        known = ", ".join(sorted(_REGISTRY)) or "none yet"
        who = f"no pipeline '{inv.name}'" if inv.name else "no pipeline yet"
        raise SqlMagicError(f"{who} (known: {known}); define one with %%sql NAME")
    register(p)
    if not inv.sql:
        return p
    try:
        frame = p.query(inv.sql)
    except SqlError as e:
        raise sql_error(e, inv.sql, where="query") from None
    except FelderaNbError as e:
        raise SqlMagicError(f"{type(e).__name__}: {e}") from None
    if inv.out:
        ns[inv.out] = frame
    return frame


def _define_cell(inv: Invocation, ns: dict[str, Any]) -> None:
    assert inv.name is not None
    previous = resolve(inv.name, ns)
    config = None
    if inv.config is not None:
        if inv.config not in ns:
            raise SqlMagicError(f"--config {inv.config}: no such variable")
        config = ns[inv.config]
    try:
        new, change = define(inv.name, inv.sql, previous=previous, runtime_config=config,
                             replace=inv.replace, start=inv.start)
    except SqlMagicError:
        raise
    except FelderaNbError as e:
        raise SqlMagicError(f"{type(e).__name__}: {e}") from None
    register(new)
    if previous is not None and new is not previous:
        from feldera_nb.widgets.cards import retarget
        retarget(previous, new)
        for key, value in list(ns.items()):
            if value is previous:
                ns[key] = new
    if inv.name.isidentifier() and not keyword.iskeyword(inv.name):
        current = ns.get(inv.name)
        if current is None or current is previous or current is new \
                or type(current).__name__ == "Pipeline":
            ns[inv.name] = new
    print(change)


def load_ipython_extension(ip: Any) -> None:
    """Register ``%sql`` / ``%%sql`` (called by ``%load_ext feldera_nb``)."""
    from IPython.core.magic import Magics, line_cell_magic, magics_class

    @magics_class
    class SqlMagics(Magics):
        """``%sql`` and ``%%sql`` for feldera_nb pipelines (see :mod:`feldera_nb.magics`)."""

        @line_cell_magic
        def sql(self, line: str, cell: str | None = None) -> Any:
            return run(line, cell, self.shell)

    ip.register_magics(SqlMagics)
