"""SQLite's sqllogictest corpus, run as incremental views (batch and incremental modes).

select1-5 run in full; every other file runs a fixed, evenly spread sample.  A file fails on
any wrong answer, on any error (a crash is a bug), or when its pass rate in a mode drops below
the floor in ``thresholds.json``.  Raise the floors as the engine grows:
``python -m tests.sqllogictest --suite --update-thresholds``.
"""

from __future__ import annotations

import pytest

from .report import table
from .schedule import MODES
from .suite import FileResult, corpus_dir, corpus_files, read_floors, run_file, suite_sample

RESULTS: list[FileResult] = []  # read by conftest's terminal summary


def _files() -> list[str]:
    if not corpus_dir().is_dir():
        return []
    return corpus_files()


@pytest.mark.slow
@pytest.mark.parametrize("file", _files() or ["<no corpus>"])
def test_sqllogictest_file(file: str) -> None:
    if file == "<no corpus>":
        pytest.skip(f"no sqllogictest corpus at {corpus_dir()} (set FELDERA_NB_SLT_DIR)")
    floors = read_floors().get(file, {})
    results = run_file(file, modes=MODES, sample=suite_sample(file))
    RESULTS.extend(results)
    problems = []
    for r in results:
        for o in r.problems[:5]:
            problems.append(f"[{r.mode}] line {o.line} {o.status}: {o.detail}\n    {o.sql[:300]}"
                            f"\n    expected: {o.expected[:200]}\n    actual: {o.actual[:300]}")
        floor = floors.get(r.mode, 0.0)
        if r.pass_rate < floor:
            problems.append(f"[{r.mode}] pass rate {r.pass_rate:.4f} is below the floor {floor}")
    summary = table(results)
    assert not problems, summary + "\n" + "\n".join(problems)
    for r in results:
        assert r.counts["failed"] == 0 and r.counts["error"] == 0, summary
