"""Run corpus files in worker processes, with a time and a memory limit per file.

Workers are spawned (not forked: Polars' thread pools do not survive a fork) and stream their
outcomes back in batches, so a file killed at its time limit still reports what it judged; the
queries it did not reach count as errors.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from .runner import Outcome
from .suite import FileResult, run_file, suite_sample

_BATCH = 200


@dataclass
class Task:
    """One file, run in every mode of ``modes`` by one worker."""

    file: str
    modes: list[str]
    planned: int = 0
    received: dict[str, list[Outcome]] = field(default_factory=dict)
    results: list[FileResult] | None = None


class Pool:
    """Runs tasks ``args.jobs`` at a time; kills a task past ``args.timeout`` seconds."""

    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        self.ctx = mp.get_context("spawn")
        self.queue = self.ctx.Queue()

    def run(self, tasks: list[Task]) -> list[FileResult]:
        # The jobs are the parallelism: one Polars thread per worker is faster on the corpus's
        # small frames (no thread hand-offs) and keeps two workers off each other's cores.
        # Workers read the variable when they import Polars; restored once all have started.
        saved = os.environ.get("POLARS_MAX_THREADS")
        os.environ["POLARS_MAX_THREADS"] = "1"
        try:
            return self._run(tasks)
        finally:
            if saved is None:
                os.environ.pop("POLARS_MAX_THREADS", None)
            else:
                os.environ["POLARS_MAX_THREADS"] = saved

    def _run(self, tasks: list[Task]) -> list[FileResult]:
        pending = list(range(len(tasks)))
        running: dict[int, tuple[mp.process.BaseProcess, float]] = {}
        while pending or running:
            while pending and len(running) < self.args.jobs:
                tid = pending.pop(0)
                proc = self.ctx.Process(
                    target=_worker,
                    args=(tid, tasks[tid].file, tasks[tid].modes, self._options(), self.queue),
                )
                proc.start()
                running[tid] = (proc, time.monotonic() + self.args.timeout)
            self._receive(tasks, timeout=0.5)
            for tid, (proc, deadline) in list(running.items()):
                late = time.monotonic() > deadline
                if tasks[tid].results is None and (late or not proc.is_alive()):
                    self._receive(tasks, timeout=0.2)  # a result may be in flight
                if tasks[tid].results is None and (late or not proc.is_alive()):
                    proc.kill()
                    why = "timeout" if late else f"worker died (exit code {proc.exitcode})"
                    tasks[tid].results = self._partial(tasks[tid], why)
                if tasks[tid].results is not None:
                    proc.join()
                    running.pop(tid)
                    for r in tasks[tid].results:
                        _progress(r)
        return [r for t in tasks for r in t.results or ()]

    def _receive(self, tasks: list[Task], timeout: float) -> None:
        while True:
            try:
                tid, kind, payload = self.queue.get(timeout=timeout)
            except queue.Empty:
                return
            task = tasks[tid]
            if kind == "plan":
                task.planned = payload
            elif kind == "outcomes":
                mode, outcomes = payload
                task.received.setdefault(mode, []).extend(outcomes)
            elif task.results is None:
                task.results = payload if kind == "done" else self._partial(task, payload)
            timeout = 0.0

    def _partial(self, task: Task, why: str) -> list[FileResult]:
        """Results for a task that did not finish: what arrived, the rest counted as errors."""
        results = []
        for mode in task.modes:
            result = FileResult(task.file, mode, self.args.engine)
            received = task.received.get(mode, [])
            for outcome in received:
                result.add(outcome)
            missing = max(task.planned - len(received), 0)
            if missing or not task.planned:
                result.add(Outcome(task.file, 0, "error", f"<{missing} queries not judged>", why))
                result.counts["error"] += max(missing - 1, 0)
            result.notes.append(why)
            results.append(result)
        return results

    def _options(self) -> dict:
        a = self.args
        return {"engine": a.engine, "sample": a.sample, "suite": a.suite, "chunk": a.chunk,
                "window": a.window, "root": str(self.root), "memory_gb": a.memory_gb}


def _progress(r: FileResult) -> None:
    c = r.counts
    print(f"{r.file} [{r.mode}] passed {c['passed']} failed {c['failed']} unsupported "
          f"{c['unsupported']} error {c['error']} skipped {c['skipped']} ({r.wall_s:.1f}s)",
          flush=True)


def _worker(tid: int, file: str, modes: list[str], opts: dict, out: mp.Queue) -> None:
    limit = int(opts["memory_gb"] * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    buffers: dict[str, list[Outcome]] = {m: [] for m in modes}
    last = time.monotonic()

    def flush(mode: str) -> None:
        if buffers[mode]:
            out.put((tid, "outcomes", (mode, list(buffers[mode]))))
            buffers[mode].clear()

    def emit(mode: str, outcome: Outcome) -> None:
        nonlocal last
        buffers[mode].append(outcome)
        if len(buffers[mode]) >= _BATCH or time.monotonic() - last > 2:
            flush(mode)
            last = time.monotonic()

    try:
        sample = suite_sample(file) if opts["suite"] else opts["sample"]
        results = run_file(file, engine=opts["engine"], modes=modes, sample=sample,
                           chunk=opts["chunk"], window=opts["window"], root=Path(opts["root"]),
                           emit=emit, on_plan=lambda n: out.put((tid, "plan", n)))
    except BaseException as exc:  # noqa: BLE001 - report, never hang the parent
        for mode in modes:
            flush(mode)
        out.put((tid, "crash", f"worker crashed: {type(exc).__name__}: {exc}"))
        return
    out.put((tid, "done", results))
