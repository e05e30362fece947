"""The runner itself: SQLite (the reference) must pass everything it is given.

A wrong answer here is a bug in the runner (parsing, mirroring, rendering, sorting, hashing or
change schedules), not in feldera_nb.  The last tests drive feldera_nb through the runner's
compile-once path on a small script whose expected values come from SQLite: refusals sorted
out of a chunk, and a chunk that crashes the compiler checked view by view.
"""

from __future__ import annotations

import doctest
import random
from collections import Counter

import pytest

from . import records, schedule, values
from .program import Column
from .records import parse_text
from .schedule import MODES, integrate, transition
from .suite import corpus_dir, corpus_files, run_file


@pytest.mark.parametrize("module", [records, schedule, values])
def test_doctests(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_onlyif_is_skipped_and_skipif_kept() -> None:
    text = (
        "onlyif mysql\nquery I nosort\nSELECT 1\n----\n1\n\n"
        "skipif mysql\nquery I nosort\nSELECT 2\n----\n2\n"
    )
    recs = parse_text(text)
    assert [r.sql for r in recs] == ["SELECT 2"]


def test_sqlite_percent_3f() -> None:
    # SQLite rounds halves up after a nudge; C's printf rounds the binary value.
    assert values.format_value(-19.9985, "R") == "-19.999"
    assert values.format_value(0.0125, "R") == "0.013"
    assert values.format_value(-0.0, "R") == "0.000"
    assert values.format_value(-0.0001, "R") == "-0.000"


def test_integer_rendering_truncates_and_keeps_32_bits() -> None:
    assert values.format_value(-2.7, "I") == "-2"
    assert values.format_value(2**31, "I") == str(-(2**31))
    assert values.format_value("12abc", "I") == "12"


@pytest.mark.parametrize("seed", range(20))
def test_incremental_schedule_reaches_the_next_state(seed: int) -> None:
    rng = random.Random(seed)
    cols = {"t": [Column("a", "INTEGER", False), Column("b", "VARCHAR", False)]}

    def bag() -> list[tuple]:
        return [(rng.randint(0, 3), rng.choice("xy")) for _ in range(rng.randint(0, 8))]

    prev, nxt = {"t": bag()}, {"t": bag()}
    steps = transition(prev, nxt, cols, "incremental", rng)
    assert integrate(prev["t"], [s.get("t", []) for s in steps]) == Counter(nxt["t"])


def _sample_files() -> list[str]:
    return corpus_files() if corpus_dir().is_dir() else []


@pytest.mark.parametrize("file", _sample_files() or ["<no corpus>"])
def test_sqlite_reference_passes(file: str) -> None:
    if file == "<no corpus>":
        pytest.skip(f"no sqllogictest corpus at {corpus_dir()}")
    for r in run_file(file, engine="sqlite", modes=MODES, sample=60):
        assert r.counts["passed"] == r.judged, (r.mode, r.problems[:3])


_SCRIPT = """\
statement ok
CREATE TABLE t(a INTEGER, b INTEGER)

statement ok
INSERT INTO t VALUES(1, 10), (2, 20), (2, 5)

query I rowsort
SELECT SUM(b) FROM t GROUP BY a
----
10
25

query II rowsort
SELECT a, b FROM t WHERE b > 6
----
1
10
2
20

query II rowsort
SELECT a, b FROM t GROUP BY a
----
1
10
2
5

statement ok
DELETE FROM t WHERE a = 1

query I rowsort
SELECT COUNT(*) FROM t
----
2
"""

# What feldera_nb must say of each query of _SCRIPT (a bare column of a GROUP BY is refused).
_EXPECTED = ["passed", "passed", "unsupported", "passed"]


def _statuses(engine: object) -> dict[str, list[str]]:
    from .program import build_program
    from .records import parse_script
    from .runner import Runner

    program = build_program(parse_script(_SCRIPT, "<script>"))
    runs = Runner(engine).run(program, MODES)  # type: ignore[arg-type]
    return {mode: [o.status for o in sorted(r.outcomes, key=lambda o: o.line)]
            for mode, r in runs.items()}


def test_feldera_chunk_compiles_once_and_refusals_are_sorted_out() -> None:
    from .engines import FelderaEngine

    assert _statuses(FelderaEngine()) == {mode: _EXPECTED for mode in MODES}


def test_a_chunk_that_cannot_be_prepared_is_checked_view_by_view() -> None:
    # A crash while compiling a chunk (not a refusal) must cost only the view that causes it.
    from .engines import FelderaEngine

    class Flaky(FelderaEngine):
        def prepare(self, schema, views):  # type: ignore[no-untyped-def]
            if len(views) > 1:
                raise RuntimeError("compiler crashed on the chunk")
            return super().prepare(schema, views)

        def check(self, schema, view, sql):  # type: ignore[no-untyped-def]
            if "COUNT" in sql:
                raise RuntimeError("compiler crashed on this view")
            return super().check(schema, view, sql)

    statuses = _statuses(Flaky())
    assert statuses == {mode: ["passed", "passed", "unsupported", "error"] for mode in MODES}
