"""Run a program against an engine and judge every query.

Per segment: check the script's views one by one, then cut the queries into chunks (views
that read the same tables, read at a few consecutive data states).  Each chunk is compiled
once (``Engine.prepare``: the views the engine refuses are sorted out, the rest is compiled
and kept), then run in every mode: one session per chunk and mode, fed the data states in
order (as the mode's change schedule), each view read at its query's state.  A step that
raises is retried on halves of the chunk until the view that breaks it stands alone.

Outcomes: ``passed``; ``failed`` (a wrong answer); ``unsupported`` (the engine refused the view
when compiling it); ``error`` (any other exception); ``skipped`` (the runner cannot check the
query, e.g. SQLite's own result does not match the script's hash).
"""

from __future__ import annotations

import random
import re
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .engines import Engine, Schema, Session
from .program import Program, QueryCase, Segment
from .schedule import transition
from .values import format_rows, md5_of, sort_values

_WORD = re.compile(r"\w+")
STATUSES = ("passed", "failed", "unsupported", "error", "skipped")


@dataclass
class Outcome:
    """The verdict on one query."""

    path: str
    line: int
    status: str
    sql: str
    detail: str = ""
    expected: str = ""
    actual: str = ""


@dataclass
class Timings:
    """Seconds spent per phase (compile = preparing the chunks, shared by the modes)."""

    compile: float = 0.0
    open: float = 0.0
    step: float = 0.0
    read: float = 0.0
    compare: float = 0.0
    sessions: int = 0
    steps: int = 0

    def add(self, other: Timings) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class RunResult:
    outcomes: list[Outcome] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)


class _StepFailed(Exception):
    pass


class Runner:
    """Compiles a program's views once, chunk by chunk, and runs each chunk in every mode.

    ``chunk`` caps the views of one session and ``window`` the distinct data states they are
    read at; ``seed`` fixes the junk rows.
    """

    def __init__(
        self, engine: Engine, *, seed: int = 0, chunk: int = 1000, window: int = 4
    ) -> None:
        self.engine = engine
        self.seed = seed
        self.chunk = chunk
        self.window = window

    def run(
        self,
        program: Program,
        modes: Sequence[str],
        only: set[int] | None = None,
        emit: Callable[[str, Outcome], None] | None = None,
    ) -> dict[str, RunResult]:
        """Judge every query (``only``: these query indexes) in each mode.

        ``emit(mode, outcome)`` sees each outcome as it is decided.  Compile time is charged
        to the first mode.
        """
        runs = {m: _Run(self, program.path, m, emit) for m in modes}
        first = runs[modes[0]].result.timings
        for i, seg in enumerate(program.segments):
            t0 = time.perf_counter()
            cases = [c for c in seg.queries if only is None or c.index in only]
            if not cases:
                continue
            views = self._script_views(seg)
            # Views that read the same tables share sessions; a session is fed only its
            # tables, so it takes no step for a state that changed other tables.
            groups: dict[tuple[str, ...], list[QueryCase]] = defaultdict(list)
            for case in cases:
                if case.problem:
                    for run in runs.values():
                        run.out(case, "skipped", case.problem)
                    continue
                tables = _schema(seg, views, [case.query.sql]).tables
                groups[tuple(t.name for t in tables)].append(case)
            first.compile += time.perf_counter() - t0
            for _, group in sorted(groups.items()):
                for chunk in self._windows(group):
                    t0 = time.perf_counter()
                    good = self._prepare(seg, views, chunk, runs.values())
                    first.compile += time.perf_counter() - t0
                    if not good:
                        continue
                    schema = _schema(seg, views, [c.query.sql for c in good])
                    for run in runs.values():
                        run.views(i, seg, schema, good)
        return {m: run.result for m, run in runs.items()}

    def _windows(self, cases: list[QueryCase]) -> list[list[QueryCase]]:
        """Split cases (in state order) into sessions of at most ``chunk`` views read at no
        more than ``window`` distinct states; a session loads its first state and then takes
        the script's changes in order up to its last, so no view sits through every step of
        a long script."""
        out: list[list[QueryCase]] = []
        current: list[QueryCase] = []
        states: set[int] = set()
        for case in sorted(cases, key=lambda c: c.state):
            new_state = case.state not in states
            full = len(current) >= self.chunk or (new_state and len(states) >= self.window)
            if current and full:
                out.append(current)
                current, states = [], set()
            current.append(case)
            states.add(case.state)
        if current:
            out.append(current)
        return out

    def _script_views(self, seg: Segment) -> dict[str, str]:
        """The script's views that compile (in order; each may read the earlier ones)."""
        views: dict[str, str] = {}
        for name, sql in seg.views.items():
            try:
                if self.engine.check(_schema(seg, views, [sql]), name, sql) is None:
                    views[name] = sql
            except Exception:  # noqa: BLE001, S112 - its queries will be refused and reported
                continue
        return views

    def _prepare(self, seg: Segment, views: dict[str, str], chunk: list[QueryCase],
                 runs: Iterable[_Run]) -> list[QueryCase]:
        """Compile a chunk; report the views the engine refuses in every run, return the rest.

        When the engine cannot sort the chunk out as a whole (a crash while compiling), each
        view is compiled alone, so one bad view costs only itself.
        """
        schema = _schema(seg, views, [c.query.sql for c in chunk])
        refused: dict[str, tuple[str, str]] = {}
        try:
            reasons = self.engine.prepare(schema, [(c.view, c.query.sql) for c in chunk])
            refused = {v: ("unsupported", why) for v, why in reasons.items()}
        except Exception:  # noqa: BLE001 - fall back to one view at a time
            for case in chunk:
                try:
                    reason = self.engine.check(_schema(seg, views, [case.query.sql]), case.view,
                                               case.query.sql)
                except Exception as exc:  # noqa: BLE001 - a crash while compiling is a bug
                    refused[case.view] = ("error", f"compile crashed: {_exc_text(exc)}")
                    continue
                if reason is not None:
                    refused[case.view] = ("unsupported", reason)
            rest = [c for c in chunk if c.view not in refused]
            if refused and rest:  # compile the rest together: opening it is then a cache hit
                try:
                    self.engine.prepare(_schema(seg, views, [c.query.sql for c in rest]),
                                        [(c.view, c.query.sql) for c in rest])
                except Exception:  # noqa: BLE001, S110 - opening the session will report it
                    pass
        for case in chunk:
            if case.view in refused:
                for run in runs:
                    run.out(case, *refused[case.view])
        return [c for c in chunk if c.view not in refused]


def _schema(seg: Segment, views: dict[str, str], sqls: list[str]) -> Schema:
    """The tables and script views ``sqls`` read, directly or through other views.

    Names are found as words of the SQL, so a mention in a string or as a column name only
    adds a table the view does not need.
    """
    wanted: set[str] = set()
    words: set[str] = set()
    todo = list(sqls)
    while todo:
        found = set(_WORD.findall(todo.pop().lower()))
        words |= found
        for word in found:
            if word in views and word not in wanted:
                wanted.add(word)
                todo.append(views[word])
    views_read = tuple((n, v) for n, v in views.items() if n in wanted)
    return Schema(tuple(t for n, t in seg.tables.items() if n in words), views_read)


class _Run:
    """One mode's run: sessions, reads, verdicts."""

    def __init__(
        self, runner: Runner, path: str, mode: str, emit: Callable[[str, Outcome], None] | None
    ) -> None:
        self.engine = runner.engine
        self.seed = runner.seed
        self.path = path
        self.mode = mode
        self.emit = emit
        self.result = RunResult()
        self.labels: dict[str, tuple[str, str]] = {}

    def views(self, index: int, seg: Segment, schema: Schema, cases: list[QueryCase]) -> None:
        """Run ``cases`` in one session; on a failing step, split and retry."""
        try:
            verdicts = self._session(index, seg, schema, cases)
        except _StepFailed as failed:
            if len(cases) == 1:
                self.out(cases[0], "error", str(failed))
                return
            half = len(cases) // 2
            self.views(index, seg, schema, cases[:half])
            self.views(index, seg, schema, cases[half:])
            return
        for case, (status, detail, actual) in verdicts:
            self.out(case, status, detail, actual)

    def _session(
        self, index: int, seg: Segment, schema: Schema, cases: list[QueryCase]
    ) -> list[tuple[QueryCase, tuple[str, str, str]]]:
        timings = self.result.timings
        t0 = time.perf_counter()
        try:
            session: Session = self.engine.open(schema, [(c.view, c.query.sql) for c in cases])
        except Exception as exc:  # noqa: BLE001
            raise _StepFailed(f"pipeline failed to open: {_exc_text(exc)}") from exc
        timings.open += time.perf_counter() - t0
        timings.sessions += 1
        by_state: dict[int, list[QueryCase]] = defaultdict(list)
        for case in cases:
            by_state[case.state].append(case)
        columns = {t.name: t.columns for t in schema.tables}
        rng = random.Random(f"{self.seed}:{self.path}:{index}:{cases[0].index}")
        verdicts: list[tuple[QueryCase, tuple[str, str, str]]] = []
        prev: dict[str, list[tuple]] = {}
        try:
            for k in range(min(by_state), max(by_state) + 1):
                state = {t: rows for t, rows in seg.states[k].items() if t in columns}
                t0 = time.perf_counter()
                for step in transition(prev, state, columns, self.mode, rng):
                    try:
                        session.step(step)
                    except Exception as exc:  # noqa: BLE001
                        raise _StepFailed(f"step failed: {_exc_text(exc)}") from exc
                    timings.steps += 1
                timings.step += time.perf_counter() - t0
                prev = state
                for case in by_state.get(k, ()):
                    verdicts.append((case, self._read(session, case)))
        finally:
            try:
                session.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken pipeline may fail too
                pass
        return verdicts

    def _read(self, session: Session, case: QueryCase) -> tuple[str, str, str]:
        t0 = time.perf_counter()
        try:
            rows = session.read(case.view)
        except Exception as exc:  # noqa: BLE001
            return "error", f"read failed: {_exc_text(exc)}", ""
        finally:
            self.result.timings.read += time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            return self._compare(case, rows)
        finally:
            self.result.timings.compare += time.perf_counter() - t0

    def _compare(self, case: QueryCase, rows: Sequence[Sequence]) -> tuple[str, str, str]:
        q = case.query
        ncols = len(q.types)
        if rows and len(rows[0]) != ncols:
            return "failed", f"{len(rows[0])} columns, expected {ncols}", _show(rows, None)
        values = format_rows(rows, q.types)
        mode = "rowsort" if q.sort == "nosort" else q.sort
        values = sort_values(values, ncols, mode)
        if case.expected_hash is not None:
            ok = (len(values), md5_of(values)) == case.expected_hash
        else:
            ok = values == case.expected
        if not ok:
            return "failed", "wrong result", _show(rows, values)
        if q.label:
            seen = self.labels.setdefault(q.label, (mode, md5_of(values)))
            if seen[0] == mode and seen[1] != md5_of(values):
                return "failed", f"label {q.label} disagrees with an earlier query", ""
        return "passed", "", ""

    def out(self, case: QueryCase, status: str, detail: str = "", actual: str = "") -> None:
        q = case.query
        expected = ""
        if status in ("failed", "error"):
            if case.expected is not None:
                expected = " ".join(case.expected[:60])
            elif case.expected_hash is not None:
                expected = "{} values hashing to {}".format(*case.expected_hash)
        outcome = Outcome(self.path, q.line, status, q.sql, detail, expected, actual)
        self.result.outcomes.append(outcome)
        if self.emit is not None:
            self.emit(self.mode, outcome)


def _show(rows: Sequence[Sequence], values: list[str] | None) -> str:
    head = " | ".join(repr(tuple(r)) for r in rows[:8])
    more = f" ... ({len(rows)} rows)" if len(rows) > 8 else f" ({len(rows)} rows)"
    if values is not None:
        head += f"\n  rendered: {' '.join(values[:60])}"
        if len(values) > 0:
            head += f"\n  hash: {len(values)} values hashing to {md5_of(values)}"
    return head + more


def _exc_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" [{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}]" if frames else ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}{where}"
