"""Run corpus files in worker processes, with a time and a memory limit per file and mode.

Workers are spawned (not forked: Polars' thread pools do not survive a fork) and stream their
outcomes back in batches, so a file killed at its time limit still reports what it judged; the
queries it did not reach count as errors.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from .runner import Outcome
from .suite import FileResult, run_file

_BATCH = 200


@dataclass
class Task:
    file: str
    mode: str
    planned: int = 0
    received: list[Outcome] = field(default_factory=list)
    result: FileResult | None = None


class Pool:
    """Runs tasks in spawned processes, streaming outcomes back; kills a task past its time."""

    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        self.ctx = mp.get_context("spawn")
        self.queue = self.ctx.Queue()

    def run(self, tasks: list[Task]) -> list[FileResult]:
        pending = list(enumerate(tasks))
        running: dict[int, tuple[mp.process.BaseProcess, float]] = {}
        results: list[FileResult] = []
        while pending or running:
            while pending and len(running) < self.args.jobs:
                tid, task = pending.pop(0)
                proc = self.ctx.Process(target=_worker, args=(tid, task.file, task.mode,
                                                              self._options(), self.queue))
                proc.start()
                running[tid] = (proc, time.monotonic() + self.args.timeout)
            try:
                tid, kind, payload = self.queue.get(timeout=0.5)
            except queue.Empty:
                tid, kind, payload = -1, "", None
            if kind == "plan":
                tasks[tid].planned = payload
            elif kind == "outcomes":
                tasks[tid].received.extend(payload)
            elif kind in ("done", "crash"):
                task = tasks[tid]
                task.result = payload if kind == "done" else self._partial(task, payload)
                results.append(task.result)
                running.pop(tid)[0].join()
                self._progress(task.result)
            for tid, (proc, deadline) in list(running.items()):
                late = time.monotonic() > deadline
                if late or not proc.is_alive():
                    self._drain(tasks)
                    if tasks[tid].result is not None:
                        continue
                    proc.kill()
                    proc.join()
                    why = "timeout" if late else f"worker died (exit code {proc.exitcode})"
                    result = self._partial(tasks[tid], why)
                    tasks[tid].result = result
                    results.append(result)
                    running.pop(tid)
                    self._progress(result)
        return results

    def _drain(self, tasks: list[Task]) -> None:
        while True:
            try:
                tid, kind, payload = self.queue.get(timeout=0.2)
            except queue.Empty:
                return
            if kind == "outcomes":
                tasks[tid].received.extend(payload)
            elif kind == "plan":
                tasks[tid].planned = payload
            elif kind in ("done", "crash") and tasks[tid].result is None:
                tasks[tid].result = payload if kind == "done" else self._partial(tasks[tid], payload)

    def _partial(self, task: Task, why: str) -> FileResult:
        """A result for a task that did not finish: what arrived, the rest counted as errors."""
        result = FileResult(task.file, task.mode, self.args.engine)
        for outcome in task.received:
            result.add(outcome)
        missing = max(task.planned - len(task.received), 0)
        if missing or not task.planned:
            result.add(Outcome(task.file, 0, "error", f"<{missing} queries not judged>", why))
            result.counts["error"] += max(missing - 1, 0)
        result.notes.append(why)
        result.wall_s = self.args.timeout if why == "timeout" else 0.0
        return result

    def _options(self) -> dict:
        a = self.args
        return {"engine": a.engine, "sample": a.sample, "chunk": a.chunk, "root": str(self.root),
                "memory_gb": a.memory_gb}

    @staticmethod
    def _progress(r: FileResult) -> None:
        c = r.counts
        print(f"{r.file} [{r.mode}] passed {c['passed']} failed {c['failed']} unsupported "
              f"{c['unsupported']} error {c['error']} skipped {c['skipped']} "
              f"({r.wall_s:.1f}s)", flush=True)


def _worker(tid: int, file: str, mode: str, opts: dict, out: mp.Queue) -> None:
    limit = int(opts["memory_gb"] * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    buffer: list[Outcome] = []
    last = time.monotonic()

    def emit(outcome: Outcome) -> None:
        nonlocal last
        buffer.append(outcome)
        if len(buffer) >= _BATCH or time.monotonic() - last > 2:
            out.put((tid, "outcomes", list(buffer)))
            buffer.clear()
            last = time.monotonic()

    try:
        result = run_file(file, engine=opts["engine"], mode=mode, sample=opts["sample"],
                          chunk=opts["chunk"], root=Path(opts["root"]), emit=emit,
                          on_plan=lambda n: out.put((tid, "plan", n)))
    except BaseException as exc:  # noqa: BLE001 - report, never hang the parent
        if buffer:
            out.put((tid, "outcomes", list(buffer)))
        out.put((tid, "crash", f"worker crashed: {type(exc).__name__}: {exc}"))
        return
    out.put((tid, "done", result))
