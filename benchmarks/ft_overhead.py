"""Fault-tolerance overhead, side by side in one run.

1. Ingest throughput (rows/s) with fault tolerance none, at_least_once and exactly_once
   (exactly_once journals and fsyncs every step before running it).  Target: exactly_once at
   least 0.8x of none.
2. Checkpoint time and size against writing the same state frames to files with
   ``write_parquet`` (best of ``--rounds`` each).  Target: at most 1.5x.
3. Recovery time (bootstrap + replay of the journal after the checkpoint) against building the
   same state from scratch by feeding all the input again.  Target: faster.

Usage: ``python benchmarks/ft_overhead.py [--rows N] [--batch N]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from feldera_nb import Pipeline

SQL = """
CREATE TABLE orders (id BIGINT NOT NULL PRIMARY KEY, cust INT NOT NULL, amount INT NOT NULL);
CREATE TABLE customers (cust INT NOT NULL PRIMARY KEY, region VARCHAR NOT NULL);
CREATE MATERIALIZED VIEW totals AS
    SELECT c.region, COUNT(*) AS n, SUM(o.amount) AS total
    FROM orders o JOIN customers c ON o.cust = c.cust GROUP BY c.region;
CREATE MATERIALIZED VIEW big AS SELECT cust, SUM(amount) AS s FROM orders GROUP BY cust;
"""


def batches(rows: int, batch: int, seed: int = 7) -> list[pl.DataFrame]:
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        out.append(pl.DataFrame({"id": np.arange(start, start + n, dtype=np.int64),
                                 "cust": rng.integers(0, 5000, n).astype(np.int32),
                                 "amount": rng.integers(1, 1000, n).astype(np.int32)}))
    return out


def customers() -> pl.DataFrame:
    return pl.DataFrame({"cust": np.arange(5000, dtype=np.int32),
                         "region": [f"r{i % 17}" for i in range(5000)]})


def config(model: str, path: Path) -> dict | None:
    if model == "none":
        return None
    return {"fault_tolerance": {"model": model, "checkpoint_interval_secs": None},
            "storage_config": {"path": str(path)}}


def ingest(model: str, data: list[pl.DataFrame], root: Path) -> tuple[float, Pipeline]:
    p = Pipeline(SQL, name=f"bench-{model}", runtime_config=config(model, root / model))
    p.start()
    p.input_polars("customers", customers())
    t = time.perf_counter()
    for b in data:
        p.input_polars("orders", b)
    return time.perf_counter() - t, p


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    data = batches(args.rows, args.batch)
    root = Path(tempfile.mkdtemp(prefix="ft-bench-"))
    try:
        print(f"{args.rows} rows in batches of {args.batch} (join + 2 aggregates)\n")
        print(f"1. ingest throughput (best of {args.rounds} interleaved rounds)")
        models = ("none", "at_least_once", "exactly_once")
        best: dict[str, float] = {}
        pipelines: dict[str, Pipeline] = {}
        for rnd in range(args.rounds):
            for model in models:
                if model in pipelines:
                    pipelines[model].stop(force=True)
                    shutil.rmtree(root / model, ignore_errors=True)
                secs, pipelines[model] = ingest(model, data, root)
                best[model] = min(best.get(model, secs), secs)
        for model in models:
            rate = args.rows / best[model]
            print(f"   {model:14s} {rate:12,.0f} rows/s  "
                  f"({best['none'] / best[model]:.2f}x of none)")

        print(f"\n2. checkpoint vs write_parquet of the same frames to files "
              f"(best of {args.rounds} each)")
        p = pipelines["exactly_once"]
        ckpt_s, seq = float("inf"), 0
        for _ in range(args.rounds):  # every checkpoint writes the whole state again
            t = time.perf_counter()
            seq = p.checkpoint(wait=True)
            ckpt_s = min(ckpt_s, time.perf_counter() - t)
        entry = [e for e in p.checkpoints() if e.seq == seq][0]
        frames = p.program.circuit.state()
        raw_s, raw = float("inf"), 0
        for rnd in range(args.rounds):
            folder = root / f"raw{rnd}"
            folder.mkdir()
            t = time.perf_counter()
            for i, df in enumerate(frames.values()):
                df.write_parquet(folder / f"{i}.parquet")
            raw_s = min(raw_s, time.perf_counter() - t)
            raw = sum(f.stat().st_size for f in folder.iterdir())
        print(f"   checkpoint     {ckpt_s:8.3f} s  {entry.size_bytes / 1e6:8.2f} MB")
        print(f"   write_parquet  {raw_s:8.3f} s  {raw / 1e6:8.2f} MB   "
              f"(checkpoint {ckpt_s / raw_s:.2f}x the time; it also checksums, fsyncs and "
              "renames)")

        print("\n3. recovery (bootstrap + replay) vs rebuilding from scratch")
        extra = batches(args.rows // 10, args.batch, seed=8)
        for b in extra:
            p.input_polars("orders", b.with_columns(pl.col("id") + args.rows))
        p.stop(force=True)
        for q in pipelines.values():
            q.stop(force=True)
        t = time.perf_counter()
        r = Pipeline(SQL, name="bench-exactly_once", runtime_config=config("exactly_once",
                                                                            root / "exactly_once"))
        r.start()
        rec_s = time.perf_counter() - t
        t = time.perf_counter()
        fresh = Pipeline(SQL, name="rebuild")
        fresh.start()
        fresh.input_polars("customers", customers())
        for b in data:
            fresh.input_polars("orders", b)
        for b in extra:
            fresh.input_polars("orders", b.with_columns(pl.col("id") + args.rows))
        build_s = time.perf_counter() - t
        same = r.query("SELECT * FROM totals ORDER BY region").equals(
            fresh.query("SELECT * FROM totals ORDER BY region"))
        print(f"   recovery       {rec_s:8.3f} s  ({r.recovery})")
        print(f"   rebuild        {build_s:8.3f} s  (recovery {build_s / rec_s:.1f}x faster; "
              f"same result: {same})")
        r.stop(force=True)
        fresh.stop(force=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
