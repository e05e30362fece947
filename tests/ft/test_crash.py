"""Crash tests: the CLI on file inputs with a join + aggregate view and a file output, killed by
SIGKILL at seeded moments (inside a step, a journal append, an output write, a checkpoint write,
between a checkpoint's commit and the catalog update, and at times read from its progress
output), restarted until it finishes; then its output file is compared with a crash-free run
and the view with DuckDB recomputing it from the inputs.

Each scenario makes 8 deterministic kills; 4 scenarios per model plus 3 externally timed kills
give 35 kills per model.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter

import pytest

from feldera_nb import Pipeline
from feldera_nb.testing import assert_view_equal
from tests.ft.workload import (
    expected_view, integrate, make_workload, output_lines, recovery_steps, run_and_kill_after,
)

SEED = 20261126
KILLS_PER_SCENARIO = 8
STEP_POINTS = {"exactly_once": ("before_step", "after_step", "journal", "output"),
               "at_least_once": ("before_step", "after_step", "output")}
CHECKPOINT_POINTS = ("checkpoint", "commit")
_baselines: dict[str, list[tuple[int, str]]] = {}


def baseline(zygote, tmp_path_factory, model: str, seed: int = SEED) -> list[tuple[int, str]]:
    key = f"{model}-{seed}"
    if key not in _baselines:
        w = make_workload(tmp_path_factory.mktemp(f"base-{key}"), seed)
        r = zygote.run(w, model)
        assert r.returncode == 0, r.stdout
        _baselines[key] = output_lines(w.dir / "out.jsonl")
        assert_view_equal(integrate(_baselines[key]), expected_view(w), check_column_names=False)
    return _baselines[key]


def last_step(stdout: str) -> int:
    steps = [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("step ")]
    return max(steps, default=0)


def check_outputs(model: str, got: list[tuple[int, str]], want: list[tuple[int, str]],
                  recovered_from: list[int]) -> None:
    if model == "exactly_once":
        assert [s for s, _ in got] == sorted(s for s, _ in got), "output steps out of order"
        assert sorted(got) == sorted(want), "exactly_once output differs from a crash-free run"
        return
    g, e = Counter(got), Counter(want)
    missing = e - g
    assert not missing, f"at_least_once lost output: {list(missing)[:5]}"
    assert set(g) <= set(e), f"unexpected output: {list(set(g) - set(e))[:5]}"
    extra = g - e
    if extra:
        first_dup = min(step for step, _ in extra)
        assert recovered_from and first_dup >= min(recovered_from), (
            f"duplicate output at step {first_dup}, before every recovered checkpoint "
            f"{recovered_from}")


def check_view(w, model: str) -> None:
    """Reopen the storage in-process: the recovered view equals DuckDB's."""
    config = json.loads(w.config(model).read_text())
    p = Pipeline((w.dir / "program.sql").read_text(), name="check", runtime_config=config)
    p.start()
    try:
        p.wait_for_idle(timeout_s=120)
        assert_view_equal(p.query("SELECT * FROM region_totals"), expected_view(w),
                          check_column_names=False, context={"model": model})
    finally:
        p.stop(force=True)


@pytest.mark.parametrize("model", ["exactly_once", "at_least_once"])
@pytest.mark.parametrize("scenario", range(4))
def test_crash_scenario(zygote, tmp_path_factory, model: str, scenario: int) -> None:
    rng = random.Random(f"{model}/{SEED}/{scenario}")
    want = baseline(zygote, tmp_path_factory, model)
    w = make_workload(tmp_path_factory.mktemp(f"crash-{model}-{scenario}"), SEED)
    kills, plan, recovered_from, seen = 0, [], [], 0
    while kills < KILLS_PER_SCENARIO:
        if seen < 50 and rng.random() < 0.3:
            crash = f"{rng.choice(CHECKPOINT_POINTS)}:1"
        else:
            point = rng.choice(STEP_POINTS[model])
            # a journal append happens only for a step not journaled yet (replay appends none)
            crash = f"{point}:{seen + rng.randint(2 if point == 'journal' else 1, 3)}"
        plan.append(crash)
        r = zygote.run(w, model, crash=crash)
        recovered_from += recovery_steps(r.stdout)
        assert r.returncode in (0, -9), f"run with {crash} failed:\n{r.stdout[-3000:]}"
        if r.returncode == 0:
            break
        kills += 1
        seen = max(seen, last_step(r.stdout))
    assert kills == KILLS_PER_SCENARIO, f"only {kills} kills happened (plan {plan})"
    r = zygote.run(w, model)
    assert r.returncode == 0, r.stdout[-3000:]
    recovered_from += recovery_steps(r.stdout)
    check_outputs(model, output_lines(w.dir / "out.jsonl"), want, recovered_from)
    assert_view_equal(integrate(want), expected_view(w), check_column_names=False)
    if model == "exactly_once":
        assert_view_equal(integrate(output_lines(w.dir / "out.jsonl")), expected_view(w),
                          check_column_names=False)
    check_view(w, model)


@pytest.mark.parametrize("model", ["exactly_once", "at_least_once"])
def test_externally_timed_kills(zygote, tmp_path_factory, model: str) -> None:
    """SIGKILL from outside once the process reports a seeded step (it is a few steps further
    by then), three times, in fresh interpreters."""
    rng = random.Random(f"timed/{model}")
    want = baseline(zygote, tmp_path_factory, model)
    w = make_workload(tmp_path_factory.mktemp(f"timed-{model}"), SEED)
    recovered_from: list[int] = []
    target = 0
    for _ in range(3):
        target += rng.randint(8, 20)
        r = run_and_kill_after(w, model, target)
        recovered_from += recovery_steps(r.stdout)
        assert r.returncode == -9, r.stdout[-2000:]
    r = zygote.run(w, model)
    assert r.returncode == 0, r.stdout[-3000:]
    recovered_from += recovery_steps(r.stdout)
    check_outputs(model, output_lines(w.dir / "out.jsonl"), want, recovered_from)
    check_view(w, model)
    shutil.rmtree(w.dir / "storage")
