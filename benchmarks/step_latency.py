"""Step latency of an incremental join + filter + aggregate view against recomputing it.

For each state size N (rows in the fact table) it prints, in one run:

* bulk load: the time to load N fact rows (and N/10 dimension rows), in steps of at most
  ``--load-batch`` rows (as a connector would feed them);
* step: the median time of a step that changes 100 fact rows (50 inserts, 50 deletes);
* recompute: Polars computing the same view from scratch over the same tables;
* the pipeline process's peak RSS against the Arrow size of the tables.

Each size runs in a fresh process, so one size's peak memory does not leak into the next; the
recompute baseline runs in its own process too (its join would otherwise set the peak).

Usage: ``python benchmarks/step_latency.py [--sizes 1e5,1e6,1e7] [--steps 30]``
"""

from __future__ import annotations

import argparse
import gc
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


def facts(n: int, start: int, rng: np.random.Generator, n_dims: int) -> pl.DataFrame:
    return pl.DataFrame({
        "id": np.arange(start, start + n, dtype=np.int64),
        "k": rng.integers(0, n_dims, n, dtype=np.int32),
        "v": rng.integers(0, 1000, n, dtype=np.int32),
        "flag": rng.random(n) < 0.5,
    })


def recompute(f: pl.DataFrame, d: pl.DataFrame) -> pl.DataFrame:
    return (f.filter(pl.col("v") > 10).join(d, on="k")
            .group_by("grp").agg(pl.len().alias("n"), pl.col("v").sum().alias("total"),
                                 pl.col("v").mean().alias("mean")))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(n: int, steps: int, seed: int, load_batch: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    n_dims = max(n // 10, 10)
    dims = pl.DataFrame({"k": np.arange(n_dims, dtype=np.int32),
                         "grp": (np.arange(n_dims) % max(n_dims // 10, 1)).astype(np.int32),
                         "name": [f"d{i}" for i in range(n_dims)]})
    base = facts(n, 0, rng, n_dims)
    p = Pipeline(PROGRAM, name=f"bench{n}")
    p.start()
    p.input_polars("dims", dims)
    t0 = time.perf_counter()
    for start in range(0, n, load_batch):
        p.input_polars("facts", base.slice(start, load_batch))
    load = time.perf_counter() - t0
    live = base
    next_id = n
    times = []
    for _ in range(steps):
        ins = facts(50, next_id, rng, n_dims)
        next_id += 50
        victims = live.sample(50, seed=int(rng.integers(1 << 30)))
        change = pl.concat([ins.with_columns(pl.lit(1).alias("w")),
                            victims.with_columns(pl.lit(-1).alias("w"))])
        t0 = time.perf_counter()
        p.input_polars("facts", change, weight_column="w")
        times.append(time.perf_counter() - t0)
        live = pl.concat([live.join(victims.select("id"), on="id", how="anti"), ins])
    got = p.query("SELECT grp, n, total FROM summary").sort("grp")
    arrow_mib = (live.estimated_size() + dims.estimated_size()) / 2**20
    peak = peak_rss_mib()
    p.stop(force=True)
    del p, base
    gc.collect()
    live.write_parquet(f"/tmp/_bench_facts_{n}.parquet")
    dims.write_parquet(f"/tmp/_bench_dims_{n}.parquet")
    got.write_parquet(f"/tmp/_bench_got_{n}.parquet")
    return {"n": n, "load_s": load, "step_ms": statistics.median(times) * 1e3,
            "tables_mib": arrow_mib, "peak_rss_mib": peak}


def _recompute_job(n: int) -> float:
    f = pl.read_parquet(f"/tmp/_bench_facts_{n}.parquet")
    d = pl.read_parquet(f"/tmp/_bench_dims_{n}.parquet")
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        out = recompute(f, d)
        best = min(best, time.perf_counter() - t0)
    out.select("grp", pl.col("n").cast(pl.Int64), pl.col("total").cast(pl.Int64)).write_parquet(
        f"/tmp/_bench_want_{n}.parquet")
    return best


def _in_subprocess(fn, *args):  # noqa: ANN001, ANN202 - a tiny helper
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def main() -> None:
    # Polars' allocator (jemalloc) keeps freed pages by default; returning them at once makes
    # RSS track live data.  Read at process start, so it is set before spawning the runs.
    os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e5,1e6,1e7")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--load-batch", type=int, default=1_000_000)
    args = ap.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"python {platform.python_version()}, polars {pl.__version__}, "
          f"cores {len(os.sched_getaffinity(0))}, _RJEM_MALLOC_CONF={os.environ['_RJEM_MALLOC_CONF']}")
    print(f"{'rows':>10} {'bulk load s':>12} {'step ms (median)':>17} {'recompute ms':>13} "
          f"{'speedup':>8} {'tables MiB':>11} {'peak RSS MiB':>13}")
    rows = []
    for n in sizes:
        r = _in_subprocess(run, n, args.steps, args.seed, args.load_batch)
        # The recompute baseline runs in its own process: its join would otherwise set the
        # pipeline process's peak memory.  It also checks the incremental view.
        r["recompute_ms"] = _in_subprocess(_recompute_job, n) * 1e3
        got = pl.read_parquet(f"/tmp/_bench_got_{n}.parquet")
        want = pl.read_parquet(f"/tmp/_bench_want_{n}.parquet").sort("grp")
        assert got.equals(want.cast(got.schema)), "incremental result differs from the recompute"
        rows.append(r)
        print(f"{r['n']:>10,} {r['load_s']:>12.2f} {r['step_ms']:>17.2f} {r['recompute_ms']:>13.1f} "
              f"{r['recompute_ms'] / r['step_ms']:>7.0f}x {r['tables_mib']:>11.0f} "
              f"{r['peak_rss_mib']:>13.0f}", flush=True)
    if len(rows) > 1:
        print(f"step time ratio largest/smallest: {rows[-1]['step_ms'] / rows[0]['step_ms']:.2f}x; "
              f"peak RSS / tables at largest: {rows[-1]['peak_rss_mib'] / rows[-1]['tables_mib']:.1f}x; "
              f"step at largest vs recompute: {rows[-1]['recompute_ms'] / rows[-1]['step_ms']:.0f}x")


if __name__ == "__main__":
    main()
