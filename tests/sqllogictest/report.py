"""Per-file tables, totals, and the artifacts a run leaves behind.

``slt_failures.txt`` lists every wrong answer and error (SQL, expected, actual);
``slt_unsupported.txt`` every refused query with the engine's reason; ``slt_summary.json`` the
counts and timings per file and mode; ``slt_reasons.txt`` refusals and errors grouped by cause.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .runner import Outcome, Timings
from .suite import FileResult

_COLUMNS = ("passed", "failed", "unsupported", "error", "skipped")


def table(results: Sequence[FileResult]) -> str:
    """A fixed-width table: one line per file and mode, then totals per mode."""
    head = f"{'file':48} {'mode':11} " + " ".join(f"{c:>11}" for c in _COLUMNS)
    head += f" {'pass%':>6} {'secs':>7}"
    lines = [head, "-" * len(head)]
    for r in sorted(results, key=lambda r: (r.file, r.mode)):
        lines.append(_line(r.file, r.mode, r.counts, r.pass_rate, r.wall_s))
    for mode in sorted({r.mode for r in results}):
        picked = [r for r in results if r.mode == mode]
        total: Counter = Counter()
        for r in picked:
            total.update(r.counts)
        judged = sum(total[c] for c in _COLUMNS if c != "skipped")
        rate = total["passed"] / judged if judged else 1.0
        lines.append(_line("TOTAL", mode, total, rate, sum(r.wall_s for r in picked)))
    return "\n".join(lines)


def _line(name: str, mode: str, counts: Counter, rate: float, secs: float) -> str:
    cells = " ".join(f"{counts[c]:>11}" for c in _COLUMNS)
    return f"{name[-48:]:48} {mode:11} {cells} {100 * rate:6.2f} {secs:7.1f}"


def timing_summary(results: Sequence[FileResult]) -> str:
    """Where the time went, summed over files."""
    t = Timings()
    build = 0.0
    for r in results:
        t.add(r.timings)
        build += r.build_s
    return (
        f"parse+mirror {build:.1f}s, compile {t.compile:.1f}s, "
        f"open pipelines {t.open:.1f}s ({t.sessions} sessions), steps {t.step:.1f}s "
        f"({t.steps} steps), reads {t.read:.1f}s, compare {t.compare:.1f}s"
    )


def reasons(outcomes: Sequence[Outcome], top: int = 40) -> list[tuple[str, int, Outcome]]:
    """Group outcomes by their detail with numbers, quoted text and names blurred."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(_cause(o.detail), []).append(o)
    ranked = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:top]
    return [(cause, len(items), min(items, key=lambda o: len(o.sql))) for cause, items in ranked]


def _cause(detail: str) -> str:
    text = re.sub(r"^(statement|line|column) \d+(, (line|column) \d+)*: ", "", detail)
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r'"[^"]*"', '"…"', text)
    text = re.sub(r"\b(q|col|tab|view)_?\w*\d+\w*\b", r"\1…", text)
    text = re.sub(r"\b\d+\b", "N", text)
    return text[:160]


def write_artifacts(results: Sequence[FileResult], out: Path) -> None:
    """Write the failure list, the refusal list, grouped causes and a JSON summary."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "slt_failures.txt", "w", encoding="utf-8") as f:
        for r in sorted(results, key=lambda r: (r.file, r.mode)):
            for o in r.problems:
                f.write(f"== {o.path}:{o.line} [{r.mode}] {o.status.upper()}: {o.detail}\n")
                f.write(f"{o.sql}\n-- expected: {o.expected}\n-- actual: {o.actual}\n\n")
    with open(out / "slt_unsupported.txt", "w", encoding="utf-8") as f:
        for r in sorted(results, key=lambda r: (r.file, r.mode)):
            for o in r.unsupported:
                f.write(f"{o.path}:{o.line} [{r.mode}] {o.detail}\n    {_one_line(o.sql)}\n")
    with open(out / "slt_reasons.txt", "w", encoding="utf-8") as f:
        kinds = (("errors and wrong answers", "problems"), ("unsupported", "unsupported"))
        for title, pick in kinds:
            items = [o for r in results for o in getattr(r, pick)]
            f.write(f"# {title}: {len(items)}\n")
            for cause, n, example in reasons(items):
                f.write(f"{n:7}  {cause}\n         e.g. {example.path}:{example.line} "
                        f"{_one_line(example.sql)[:200]}\n")
            f.write("\n")
    summary = [
        {
            "file": r.file,
            "mode": r.mode,
            "engine": r.engine,
            "counts": {c: r.counts[c] for c in _COLUMNS},
            "pass_rate": round(r.pass_rate, 4),
            "skipped_onlyif": r.skipped_onlyif,
            "seconds": round(r.wall_s, 2),
            "build_seconds": round(r.build_s, 2),
            "timings": {k: round(v, 2) for k, v in vars(r.timings).items()},
            "notes": r.notes[:20],
        }
        for r in sorted(results, key=lambda r: (r.file, r.mode))
    ]
    (out / "slt_summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


def _one_line(sql: str) -> str:
    return " ".join(sql.split())
