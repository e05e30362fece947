"""Run many file transfers concurrently, stopping at the first failure.

Push and pull both reduce to a list of :class:`Job` (copy one file) handed to
:func:`run_jobs`, which runs them on a thread pool.  fsspec's async backends (s3fs, gcsfs,
adlfs) run every call on one event-loop thread, so threads here mean concurrent requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Final

from .progress import FileCallback, Meter

DEFAULT_CONCURRENCY: Final = 64  # one request per file for most checkpoints


class Cancelled(Exception):
    """A transfer was stopped on request (``should_stop`` returned True)."""


@dataclass(frozen=True)
class Job:
    """Copy ``src`` to ``dst`` (``size`` bytes) with ``op(src, dst, callback)``."""

    src: str
    dst: str
    size: int


Op = Callable[[str, str, FileCallback], None]


def run_jobs(jobs: Sequence[Job], op: Op, meter: Meter, *, max_concurrency: int,
             should_stop: Callable[[], bool] | None = None) -> None:
    """Run ``op`` for every job, at most ``max_concurrency`` at a time.

    The first exception stops the jobs not yet started and is raised once the running ones
    end.  Biggest files go first, so one large file does not finish alone at the end.
    """
    if max_concurrency < 1:
        raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
    failed = threading.Event()

    def one(job: Job) -> None:
        if failed.is_set() or (should_stop is not None and should_stop()):
            failed.set()
            raise Cancelled()
        cb = meter.file()
        try:
            op(job.src, job.dst, cb)
        except BaseException:
            failed.set()
            raise
        meter.done(cb, job.size)

    ordered = sorted(jobs, key=lambda j: j.size, reverse=True)
    if max_concurrency == 1 or len(ordered) <= 1:
        for job in ordered:
            one(job)
        return
    with ThreadPoolExecutor(max_workers=min(max_concurrency, len(ordered)),
                            thread_name_prefix="feldera-sync") as pool:
        futures = [pool.submit(one, job) for job in ordered]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed_first = None
        for fut in futures:
            if fut.cancelled():
                continue
            exc = fut.exception()
            if exc is not None and (failed_first is None or isinstance(failed_first, Cancelled)):
                failed_first = exc
        if failed_first is not None:
            for fut in futures:
                fut.cancel()
            raise failed_first
