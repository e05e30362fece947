"""Run the sqllogictest corpus: ``python -m tests.sqllogictest`` (from the repository root).

Prints passed / failed / unsupported / error / skipped per file and mode with totals, and
writes ``artifacts/slt_failures.txt`` (wrong answers and errors with SQL, expected and actual),
``artifacts/slt_unsupported.txt``, ``artifacts/slt_reasons.txt`` and
``artifacts/slt_summary.json``.  Exit status 1 when any query gave a wrong answer or an error.

Examples::

    python -m tests.sqllogictest                            # whole corpus, both modes
    python -m tests.sqllogictest select1.test --mode batch  # one file
    python -m tests.sqllogictest --engine duckdb            # DuckDB standing in as the engine
    python -m tests.sqllogictest index --sample 200         # 200 queries of each index/ file
    python -m tests.sqllogictest --suite --update-thresholds  # re-measure the pytest floors

Each file runs (all its modes) in its own process (``--jobs`` at a time) under a time limit
(``--timeout``) and a memory limit (``--memory-gb``); on a timeout the queries not yet judged
count as errors.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .pool import Pool, Task
from .report import table, timing_summary, write_artifacts
from .schedule import MODES
from .suite import REPO, THRESHOLDS, corpus_dir, corpus_files, longest_first, write_floors


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = Path(args.corpus) if args.corpus else corpus_dir()
    if not root.is_dir():
        print(f"no sqllogictest corpus at {root} (set FELDERA_NB_SLT_DIR)", file=sys.stderr)
        return 2
    files = _select(root, args.files)
    if args.update_thresholds and not args.suite:
        raise SystemExit("--update-thresholds needs --suite (floors hold for the suite's samples)")
    modes = list(MODES) if args.mode == "both" else [args.mode]
    tasks = [Task(f, modes) for f in longest_first(files, root)]
    start = time.perf_counter()
    results = Pool(args, root).run(tasks)
    wall = time.perf_counter() - start
    print()
    print(table(results))
    print(f"\nwall {wall:.1f}s with {args.jobs} jobs; {timing_summary(results)}")
    out = Path(args.out)
    write_artifacts(results, out)
    print(f"artifacts in {out}/ (slt_failures.txt, slt_unsupported.txt, slt_reasons.txt, "
          "slt_summary.json)")
    if args.update_thresholds:
        write_floors(results)
        print(f"floors written to {THRESHOLDS}")
    bad = sum(r.counts["failed"] + r.counts["error"] for r in results)
    return 1 if bad else 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.sqllogictest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="*",
                   help="files or folders relative to the corpus (default: all)")
    p.add_argument("--engine", default="feldera", choices=["feldera", "duckdb", "sqlite"])
    p.add_argument("--mode", default="both", choices=[*MODES, "both"])
    p.add_argument("--jobs", type=int, default=2, help="files run at once (default 2)")
    p.add_argument("--sample", type=int, default=None, help="queries per file (default all)")
    p.add_argument("--suite", action="store_true",
                   help="the pytest suite's selection: select1-5 in full, others sampled")
    p.add_argument("--update-thresholds", action="store_true",
                   help="with --suite: set thresholds.json floors to the measured pass rates")
    p.add_argument("--chunk", type=int, default=1000, help="views per pipeline (default 1000)")
    p.add_argument("--window", type=int, default=4,
                   help="data states one pipeline is read at (default 4)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per file (all its modes)")
    p.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit per job")
    p.add_argument("--corpus", default=None, help="corpus folder (default: $FELDERA_NB_SLT_DIR "
                   "or <repo>/../shared/data/sqllogictest)")
    p.add_argument("--out", default=str(REPO / "artifacts"), help="artifacts folder")
    return p


def _select(root: Path, picks: Sequence[str]) -> list[str]:
    every = corpus_files(root)
    if not picks:
        return every
    chosen = []
    for pick in picks:
        pick = pick.rstrip("/")
        hits = [f for f in every if f == pick or f.startswith(pick + "/")]
        if not hits:
            raise SystemExit(f"no corpus file matches {pick!r}")
        chosen += [h for h in hits if h not in chosen]
    return chosen


if __name__ == "__main__":
    sys.exit(main())
