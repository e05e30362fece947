"""A seeded multi-step workload for crash tests: two file inputs, a join + aggregate view with a
file output, run through the ``feldera-nb`` CLI in a subprocess."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

REGIONS = ("eu", "us", "apac", "latam", "mea")
VIEW_SQL = ("SELECT c.region, COUNT(*) AS n, SUM(o.amount) AS total FROM orders o "
            "JOIN customers c ON o.cust = c.cust GROUP BY c.region")


def program(d: Path) -> str:
    def conn(spec: dict) -> str:
        return json.dumps([spec]).replace("'", "''")

    cust = conn({"transport": {"name": "file_input", "config": {"path": str(d / "customers.csv")}},
                 "format": {"name": "csv"}, "max_batch_size": 20})
    orders = conn({"transport": {"name": "file_input", "config": {"path": str(d / "orders.jsonl")}},
                   "format": {"name": "json", "config": {"update_format": "insert_delete"}},
                   "max_batch_size": 30})
    out = conn({"transport": {"name": "file_output", "config": {"path": str(d / "out.jsonl")}},
                "format": {"name": "json"}})
    return f"""
CREATE TABLE customers (cust INT NOT NULL PRIMARY KEY, region VARCHAR NOT NULL)
    WITH ('connectors' = '{cust}');
CREATE TABLE orders (id INT NOT NULL PRIMARY KEY, cust INT NOT NULL, amount INT NOT NULL)
    WITH ('connectors' = '{orders}');
CREATE MATERIALIZED VIEW region_totals WITH ('connectors' = '{out}') AS {VIEW_SQL};
"""


@dataclass
class Workload:
    dir: Path
    customers: pl.DataFrame
    orders: pl.DataFrame  # final contents

    def config(self, model: str) -> Path:
        path = self.dir / f"{model}.json"
        path.write_text(json.dumps({
            "fault_tolerance": {"model": model, "checkpoint_interval_secs": None},
            "storage_config": {"path": str(self.dir / "storage")}}))
        return path


def make_workload(d: Path, seed: int, n_orders: int = 2400) -> Workload:
    rng = random.Random(seed)
    d.mkdir(parents=True, exist_ok=True)
    custs = [(c, rng.choice(REGIONS)) for c in range(100)]
    (d / "customers.csv").write_text("".join(f"{c},{r}\n" for c, r in custs))
    live: dict[int, tuple[int, int]] = {}
    lines = []
    next_id = 0
    for _ in range(n_orders):
        roll = rng.random()
        if live and roll < 0.15:
            oid = rng.choice(sorted(live))
            cust, amount = live.pop(oid)
            lines.append({"delete": {"id": oid, "cust": cust, "amount": amount}})
        elif live and roll < 0.3:
            oid = rng.choice(sorted(live))
            live[oid] = (rng.randrange(100), rng.randrange(1, 500))
            lines.append({"insert": {"id": oid, "cust": live[oid][0], "amount": live[oid][1]}})
        else:
            live[next_id] = (rng.randrange(120), rng.randrange(1, 500))  # some never join
            lines.append({"insert": {"id": next_id, "cust": live[next_id][0],
                                     "amount": live[next_id][1]}})
            next_id += 1
    (d / "orders.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (d / "program.sql").write_text(program(d))
    orders = pl.DataFrame([(k, c, a) for k, (c, a) in sorted(live.items())],
                          schema={"id": pl.Int32, "cust": pl.Int32, "amount": pl.Int32},
                          orient="row")
    customers = pl.DataFrame(custs, schema={"cust": pl.Int32, "region": pl.String}, orient="row")
    return Workload(d, customers, orders)


def expected_view(w: Workload) -> pl.DataFrame:
    con = duckdb.connect()
    con.register("customers", w.customers.to_arrow())
    con.register("orders", w.orders.to_arrow())
    out = con.sql(VIEW_SQL).pl()
    con.close()
    return out


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def cli_args(w: Workload, model: str) -> list[str]:
    return ["run", str(w.dir / "program.sql"), "--config", str(w.config(model)),
            "--checkpoint-every-steps", "6"]


def _env(crash: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FELDERA_NB_CRASH"}
    if crash:
        env["FELDERA_NB_CRASH"] = crash
    return env


class Zygote:
    """Forks CLI runs from a pre-imported process (see ``_zygote.py``)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.ft._zygote"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=Path(__file__).resolve().parents[2])
        self.n = 0

    def run(self, w: Workload, model: str, *, crash: str | None = None) -> Run:
        self.n += 1
        out = w.dir / f"run{self.n}.log"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"argv": cli_args(w, model), "env": _env(crash),
                                          "out": str(out)}) + "\n")
        self.proc.stdin.flush()
        json.loads(self.proc.stdout.readline())  # {"pid": ...}
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the zygote died")
        rc = json.loads(line)["rc"]
        text = out.read_text()
        return Run(rc, text, text)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run_cli(w: Workload, model: str, *, crash: str | None = None, timeout: float = 120) -> Run:
    """One CLI run in a fresh interpreter."""
    cmd = [sys.executable, "-m", "feldera_nb.cli", *cli_args(w, model)]
    p = subprocess.run(cmd, env=_env(crash), capture_output=True, text=True, timeout=timeout)
    return Run(p.returncode, p.stdout, p.stderr)


def run_and_kill_after(w: Workload, model: str, step: int, timeout: float = 120) -> Run:
    """Start the CLI in a fresh interpreter, SIGKILL it once it reports ``step`` (or finishes)."""
    cmd = [sys.executable, "-m", "feldera_nb.cli", *cli_args(w, model)]
    p = subprocess.Popen(cmd, env=_env(None), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    seen = []
    assert p.stdout is not None
    for line in p.stdout:
        seen.append(line)
        if line.startswith(f"step {step} ") or line.startswith("done"):
            p.kill()
            break
    rest = p.stdout.read()
    p.wait(timeout=timeout)
    return Run(p.returncode, "".join(seen) + rest, "")


def output_lines(path: Path) -> list[tuple[int, str]]:
    """(step, line) of every line of a file output."""
    out = []
    for line in path.read_text().splitlines():
        out.append((json.loads(line)["step"], line))
    return out


def integrate(lines: list[tuple[int, str]]) -> pl.DataFrame:
    """The view contents an output file adds up to."""
    weights: Counter[tuple] = Counter()
    for _, line in lines:
        rec = json.loads(line)
        kind = "insert" if "insert" in rec else "delete"
        row = rec[kind]
        weights[(row["region"], row["n"], row["total"])] += 1 if kind == "insert" else -1
    assert all(w >= 0 for w in weights.values()), "an output deletes a row it never inserted"
    rows = [k for k, w in weights.items() for _ in range(w)]
    return pl.DataFrame(rows, schema={"region": pl.String, "n": pl.Int64, "total": pl.Int64},
                        orient="row")


def recovery_steps(stdout: str) -> list[int]:
    """Checkpoint steps this run recovered from (from its progress lines)."""
    steps = []
    for line in stdout.splitlines():
        if line.startswith("recovery phase=bootstrap done=1"):
            steps.append(int(line.split("step=")[1].split()[0]))
    return steps
