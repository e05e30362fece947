"""SQLite's sqllogictest corpus, run as incremental views (batch and incremental modes).

select1-5 run in full; every other file runs a fixed, evenly spread sample.  The files run in
the runner's worker processes (``pool.py``), as many at once as there are cores.  A file fails on
any wrong answer, on any error (a crash is a bug), or when its pass rate in a mode drops below
the floor in ``thresholds.json``.  Raise the floors as the engine grows:
``python -m tests.sqllogictest --suite --update-thresholds``.
"""

from __future__ import annotations

import os

import pytest

from .__main__ import _parser
from .pool import Pool, Task
from .report import table
from .schedule import MODES
from .suite import FileResult, corpus_dir, corpus_files, longest_first, read_floors

RESULTS: list[FileResult] = []  # read by conftest's terminal summary


def _files() -> list[str]:
    if not corpus_dir().is_dir():
        return []
    return corpus_files()


@pytest.fixture(scope="module")
def suite_results() -> dict[str, list[FileResult]]:
    """Every file's results, run once by the runner's worker pool (one job per core, each
    under the runner's time and memory limits), longest files first."""
    root = corpus_dir()
    jobs = max(1, min(4, len(os.sched_getaffinity(0))))
    args = _parser().parse_args(["--suite", "--jobs", str(jobs), "--timeout", "1500"])
    tasks = [Task(f, list(MODES)) for f in longest_first(_files(), root)]
    by_file: dict[str, list[FileResult]] = {}
    for r in Pool(args, root).run(tasks):
        by_file.setdefault(r.file, []).append(r)
    return by_file


@pytest.mark.slow
@pytest.mark.parametrize("file", _files() or ["<no corpus>"])
def test_sqllogictest_file(file: str, suite_results: dict[str, list[FileResult]]) -> None:
    if file == "<no corpus>":
        pytest.skip(f"no sqllogictest corpus at {corpus_dir()} (set FELDERA_NB_SLT_DIR)")
    floors = read_floors().get(file, {})
    results = suite_results[file]
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
