"""Step latency of an incremental join + filter + aggregate view against recomputing it.

For each state size N (rows in the fact table) it prints, in one run:

* bulk load: the time to load N fact rows (and N/10 dimension rows), in steps of at most
  ``--load-batch`` rows (as a connector would feed them);
* step: the median time of a step that changes 100 fact rows (50 inserts, 50 deletes);
* recompute: Polars computing the same view from scratch over the same tables;
* the pipeline process's peak RSS against the Arrow size of the tables, and its RSS before
  the load (Python, Polars, sqlglot and the compiled pipeline).

The driver never holds the data: a fact row's values are a hash of its id, so inserts and
deletes are generated from ids, and the recompute rebuilds the final tables from the ids alive.

Each size runs in a fresh process, so one size's peak memory does not leak into the next; the
recompute baseline runs in its own process too (its join would otherwise set the peak).

Usage: ``python benchmarks/step_latency.py [--sizes 1e5,1e6,1e7] [--steps 100]``
"""

from __future__ import annotations

import argparse
import os
import multiprocessing
import platform
import resource
import statistics
import time

import numpy as np
import polars as pl

from feldera_nb import Pipeline

PROGRAM = """
CREATE TABLE facts (id BIGINT NOT NULL, k INT NOT NULL, v INT NOT NULL, flag BOOLEAN);
CREATE TABLE dims (k INT NOT NULL PRIMARY KEY, grp INT NOT NULL, name VARCHAR);
CREATE MATERIALIZED VIEW summary AS
    SELECT d.grp, COUNT(*) AS n, SUM(f.v) AS total, AVG(f.v) AS mean
    FROM facts f JOIN dims d ON f.k = d.k
    WHERE f.v > 10
    GROUP BY d.grp;
"""


def _mix(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of ``x + salt``: a row's values are a function of its id."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(salt) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def facts(ids: np.ndarray, n_dims: int) -> pl.DataFrame:
    """The fact rows with these ids.  Rows are recomputed from ids, never stored by the
    driver, so the process's memory is the pipeline's (a connector streams its input too)."""
    return pl.DataFrame({
        "id": ids.astype(np.int64),
        "k": (_mix(ids, 1) % np.uint64(n_dims)).astype(np.int32),
        "v": (_mix(ids, 2) % np.uint64(1000)).astype(np.int32),
        "flag": (_mix(ids, 3) & np.uint64(1)).astype(bool),
    })


def dims(n: int) -> pl.DataFrame:
    n_dims = max(n // 10, 10)
    return pl.DataFrame({"k": np.arange(n_dims, dtype=np.int32),
                         "grp": (np.arange(n_dims) % max(n_dims // 10, 1)).astype(np.int32),
                         "name": [f"d{i}" for i in range(n_dims)]})


def recompute(f: pl.DataFrame, d: pl.DataFrame) -> pl.DataFrame:
    return (f.filter(pl.col("v") > 10).join(d, on="k")
            .group_by("grp").agg(pl.len().alias("n"), pl.col("v").sum().alias("total"),
                                 pl.col("v").mean().alias("mean")))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def live_ids(next_id: int, deleted: set[int]) -> np.ndarray:
    ids = np.arange(next_id, dtype=np.int64)
    return ids[~np.isin(ids, np.fromiter(deleted, np.int64, len(deleted)))]


def run(n: int, steps: int, seed: int, load_batch: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    d = dims(n)
    n_dims = d.height
    p = Pipeline(PROGRAM, name=f"bench{n}")
    p.start()
    p.input_polars("dims", d)
    baseline = peak_rss_mib()
    t0 = time.perf_counter()
    for start in range(0, n, load_batch):
        p.input_polars("facts", facts(np.arange(start, min(n, start + load_batch)), n_dims))
    load = time.perf_counter() - t0
    next_id, deleted = n, set()
    times = []
    for _ in range(steps):
        ins = facts(np.arange(next_id, next_id + 50), n_dims)
        next_id += 50
        victims: set[int] = set()
        while len(victims) < 50:
            i = int(rng.integers(next_id - 50))
            if i not in deleted:
                victims.add(i)
        deleted |= victims
        change = pl.concat([
            ins.with_columns(pl.lit(1).alias("w")),
            facts(np.array(sorted(victims)), n_dims).with_columns(pl.lit(-1).alias("w"))])
        t0 = time.perf_counter()
        p.input_polars("facts", change, weight_column="w")
        times.append(time.perf_counter() - t0)
    got = p.query("SELECT grp, n, total FROM summary").sort("grp")
    peak = peak_rss_mib()
    p.stop(force=True)
    got.write_parquet(f"/tmp/_bench_got_{n}.parquet")
    return {"n": n, "load_s": load, "step_ms": statistics.median(times) * 1e3,
            "peak_rss_mib": peak, "baseline_mib": baseline, "next_id": next_id,
            "deleted": sorted(deleted)}


def _recompute_job(n: int, next_id: int, deleted: list[int]) -> tuple[float, float]:
    """Best of three recomputes over the final tables, and the tables' Arrow size in MiB."""
    d = dims(n)
    f = facts(live_ids(next_id, set(deleted)), d.height)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        out = recompute(f, d)
        best = min(best, time.perf_counter() - t0)
    out.select("grp", pl.col("n").cast(pl.Int64), pl.col("total").cast(pl.Int64)).write_parquet(
        f"/tmp/_bench_want_{n}.parquet")
    return best, (f.estimated_size() + d.estimated_size()) / 2**20


def _in_subprocess(fn, *args):  # noqa: ANN001, ANN202 - a tiny helper
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e5,1e6,1e7")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--load-batch", type=int, default=100_000,
                    help="rows per load step (default 100,000; a file connector's default "
                         "max_batch_size is 10,000)")
    args = ap.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"python {platform.python_version()}, polars {pl.__version__}, "
          f"cores {len(os.sched_getaffinity(0))}")
    print(f"{'rows':>10} {'bulk load s':>12} {'step ms (median)':>17} {'recompute ms':>13} "
          f"{'speedup':>8} {'tables MiB':>11} {'peak RSS MiB':>13} {'RSS before load':>16}")
    rows = []
    for n in sizes:
        r = _in_subprocess(run, n, args.steps, args.seed, args.load_batch)
        # The recompute baseline runs in its own process: its join would otherwise set the
        # pipeline process's peak memory.  It also checks the incremental view.
        best, r["tables_mib"] = _in_subprocess(_recompute_job, n, r["next_id"], r["deleted"])
        r["recompute_ms"] = best * 1e3
        got = pl.read_parquet(f"/tmp/_bench_got_{n}.parquet")
        want = pl.read_parquet(f"/tmp/_bench_want_{n}.parquet").sort("grp")
        assert got.equals(want.cast(got.schema)), "incremental result differs from the recompute"
        rows.append(r)
        print(f"{r['n']:>10,} {r['load_s']:>12.2f} {r['step_ms']:>17.2f} {r['recompute_ms']:>13.1f} "
              f"{r['recompute_ms'] / r['step_ms']:>7.0f}x {r['tables_mib']:>11.0f} "
              f"{r['peak_rss_mib']:>13.0f} {r['baseline_mib']:>16.0f}", flush=True)
    if len(rows) > 1:
        print(f"step time ratio largest/smallest: {rows[-1]['step_ms'] / rows[0]['step_ms']:.2f}x; "
              f"peak RSS / tables at largest: {rows[-1]['peak_rss_mib'] / rows[-1]['tables_mib']:.1f}x; "
              f"step at largest vs recompute: {rows[-1]['recompute_ms'] / rows[-1]['step_ms']:.0f}x")


if __name__ == "__main__":
    main()
