"""Where the corpus lives, which queries a sample takes, and one file's run end to end.

The corpus stays in the shared data folder beside the repository
(``<repo>/../shared/data/sqllogictest``); ``FELDERA_NB_SLT_DIR`` points elsewhere.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .engines import engine_named
from .program import Program, build_program
from .records import parse_file
from .runner import STATUSES, Outcome, Runner, Timings

ENV_DIR = "FELDERA_NB_SLT_DIR"
REPO = Path(__file__).resolve().parents[2]
THRESHOLDS = Path(__file__).with_name("thresholds.json")

# The pytest suite: these files in full, every other file an evenly spread sample.
SUITE_FULL = ("select1.test", "select2.test", "select3.test", "select4.test", "select5.test")
SUITE_SAMPLE = 200


# Seconds per file (both modes, whole file) from a whole-corpus run on the development machine
# (2026-11-27 03:15): the pool starts the longest files first, so the run does not end on one
# long file alone (select5's many-way joins cost four times as much per byte as most files).
_MEASURED_SECONDS = {
    "select5.test": 247, "random/groupby/slt_good_1.test": 119,
    "random/groupby/slt_good_0.test": 99, "select3.test": 97, "select4.test": 90,
    "random/aggregates/slt_good_1.test": 64, "random/aggregates/slt_good_0.test": 64,
    "index/delete/1/slt_good_0.test": 61, "random/expr/slt_good_0.test": 48,
    "index/orderby_nosort/10/slt_good_14.test": 41, "index/random/10/slt_good_0.test": 36,
    "select2.test": 35, "select1.test": 34, "index/view/10/slt_good_1.test": 31,
    "index/commute/10/slt_good_10.test": 23,
}


def longest_first(files: Sequence[str], root: Path) -> list[str]:
    """``files`` ordered by expected run time, longest first (measured, else by size)."""
    def cost(f: str) -> float:
        return _MEASURED_SECONDS.get(f, (root / f).stat().st_size / 15_000)
    return sorted(files, key=cost, reverse=True)


def suite_sample(file: str) -> int | None:
    """How many queries of ``file`` the pytest suite runs (None: all)."""
    return None if file in SUITE_FULL else SUITE_SAMPLE


def read_floors() -> dict[str, dict[str, float]]:
    """Per file and mode, the lowest pass rate the suite accepts."""
    return json.loads(THRESHOLDS.read_text(encoding="utf-8"))["files"]


def write_floors(results: Sequence[FileResult]) -> None:
    """Set the floors of the files in ``results`` to their measured pass rates."""
    data = json.loads(THRESHOLDS.read_text(encoding="utf-8")) if THRESHOLDS.exists() else {}
    files = data.setdefault("files", {})
    for r in results:
        files.setdefault(r.file, {})[r.mode] = math.floor(r.pass_rate * 10000) / 10000
    data["files"] = dict(sorted(files.items()))
    THRESHOLDS.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def corpus_dir() -> Path:
    """The corpus folder: ``$FELDERA_NB_SLT_DIR``, else ``<repo>/../shared/data/sqllogictest``."""
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else REPO.parent / "shared" / "data" / "sqllogictest"


def corpus_files(root: Path | None = None) -> list[str]:
    """Every ``.test`` file under the corpus folder, as paths relative to it."""
    root = root or corpus_dir()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.test"))


def sample_indexes(program: Program, size: int | None) -> set[int] | None:
    """A fixed, evenly spread sample of ``size`` query indexes (all when ``size`` is None)."""
    cases = program.cases
    if size is None or size >= len(cases):
        return None
    stride = len(cases) / size
    return {cases[int(i * stride)].index for i in range(size)}


@dataclass
class FileResult:
    """One file in one mode: counts per status, the non-passing outcomes, timings."""

    file: str
    mode: str
    engine: str
    counts: Counter = field(default_factory=Counter)
    problems: list[Outcome] = field(default_factory=list)
    unsupported: list[Outcome] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    build_s: float = 0.0
    wall_s: float = 0.0
    skipped_onlyif: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        if outcome.status in ("failed", "error"):
            self.problems.append(outcome)
        elif outcome.status == "unsupported":
            self.unsupported.append(outcome)

    @property
    def judged(self) -> int:
        return sum(self.counts[s] for s in STATUSES if s != "skipped")

    @property
    def pass_rate(self) -> float:
        return self.counts["passed"] / self.judged if self.judged else 1.0


def _busy(t: Timings) -> float:
    return t.open + t.step + t.read + t.compare


def run_file(
    file: str,
    *,
    engine: str = "feldera",
    modes: Sequence[str] = ("batch",),
    sample: int | None = None,
    chunk: int = 1000,
    window: int = 4,
    root: Path | None = None,
    emit: Callable[[str, Outcome], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> list[FileResult]:
    """Parse, mirror, compile and run one corpus file (relative to the corpus folder).

    Each chunk of views is compiled once and run in every mode.  ``emit(mode, outcome)``
    sees outcomes as they are decided; ``on_plan`` gets the number of queries per mode.
    """
    root = root or corpus_dir()
    start = time.perf_counter()
    script = parse_file(root / file)
    program = build_program(script)
    program.path = file
    built = time.perf_counter() - start
    picked = sample_indexes(program, sample)
    if on_plan is not None:
        on_plan(len(picked) if picked is not None else len(program.cases))
    runner = Runner(engine_named(engine), chunk=chunk, window=window)
    t0 = time.perf_counter()
    runs = runner.run(program, modes, picked, emit)
    wall = time.perf_counter() - t0
    results = []
    for mode in modes:
        result = FileResult(file, mode, engine, skipped_onlyif=script.skipped_queries)
        result.notes = list(program.notes)
        result.build_s = built
        for outcome in runs[mode].outcomes:
            result.add(outcome)
        result.timings = runs[mode].timings
        results.append(result)
    # Modes run chunk by chunk, interleaved: the wall time is shared out by each mode's own
    # phases; the shared ones (parse, mirror, compile) are charged to the first mode.
    spent = [_busy(r.timings) for r in results]
    for r, own in zip(results, spent, strict=True):
        share = own / sum(spent) if sum(spent) else 1 / len(results)
        r.wall_s = (wall - results[0].timings.compile) * share
    results[0].wall_s += built + results[0].timings.compile
    return results
