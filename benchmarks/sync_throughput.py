"""Checkpoint push/pull throughput against plain fsspec put/get of the same bytes (moto S3).

Usage: ``.venv/bin/python benchmarks/sync_throughput.py [--mib 200] [--files 40] [--rounds 2]``

Starts ``moto_server`` in its own process (so the server does not share the client's GIL),
writes a checkpoint of ``--files`` random files totalling ``--mib`` MiB, and times:

- plain put:  ``fs.put([files], [paths])`` (s3fs's own concurrent batch)
- push:       :func:`feldera_nb.sync.push_checkpoint` (files, then the manifest)
- plain get:  ``fs.get([paths], [files])``
- pull:       :func:`feldera_nb.sync.pull_checkpoint` (download + sha256 verify + rename)

and prints MiB/s side by side with the ratio (target: >= 0.8x).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid as uuidlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import s3fs

from feldera_nb.sync import Bucket, pull_checkpoint, push_checkpoint

BUCKET = "bench-ckpt"


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return proc, endpoint
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("moto_server did not start")


def make_checkpoint(root: Path, mib: int, files: int) -> Path:
    uuid = str(uuidlib.uuid4())
    directory = root / uuid
    directory.mkdir(parents=True)
    size = mib * 2**20 // files
    entries = {}
    for i in range(files):
        data = os.urandom(size)
        rel = f"state/op{i % 8}/run-{i:04d}.parquet"
        (directory / rel).parent.mkdir(parents=True, exist_ok=True)
        (directory / rel).write_bytes(data)
        entries[rel] = {"size": size, "sha256": hashlib.sha256(data).hexdigest(), "name": rel}
    manifest = {"format": 1, "uuid": uuid, "seq": 1, "step": 0,
                "created_at": datetime.now(UTC).isoformat(), "files": entries,
                "meta": {}}
    (directory / "CHECKPOINT.json").write_text(json.dumps(manifest))
    return directory


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=None,
                        help="max_concurrency for push/pull (default: the library's)")
    args = parser.parse_args()

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    proc, endpoint = start_moto()
    work = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    try:
        opts = {"key": "bench", "secret": "bench", "endpoint_url": endpoint}
        fs = s3fs.S3FileSystem(skip_instance_cache=True, **opts)
        fs.mkdir(BUCKET)
        local = make_checkpoint(work / "local", args.mib, args.files)
        rels = [str(p.relative_to(local)) for p in sorted(local.rglob("*")) if p.is_file()
                and p.name != "CHECKPOINT.json"]
        total = sum((local / r).stat().st_size for r in rels)
        mib = total / 2**20
        conc = {} if args.concurrency is None else {"max_concurrency": args.concurrency}
        best = {"plain put": 1e9, "push": 1e9, "plain get": 1e9, "pull": 1e9}
        for rnd in range(args.rounds):
            plain_root = f"{BUCKET}/plain-{rnd}"
            remote = [f"{plain_root}/{r}" for r in rels]
            best["plain put"] = min(best["plain put"], timed(
                lambda: fs.put([str(local / r) for r in rels], remote)))
            bucket = Bucket.from_url(f"s3://{BUCKET}/push-{rnd}", **opts)
            best["push"] = min(best["push"], timed(lambda: push_checkpoint(local, bucket, **conc)))
            dest = work / f"get-{rnd}"
            for r in rels:
                (dest / r).parent.mkdir(parents=True, exist_ok=True)
            best["plain get"] = min(best["plain get"], timed(
                lambda: fs.get(remote, [str(dest / r) for r in rels])))
            best["pull"] = min(best["pull"], timed(
                lambda: pull_checkpoint(bucket, local.name, work / f"pull-{rnd}", **conc)))
            fs.rm(plain_root, recursive=True)
            bucket.fs.rm(bucket.root, recursive=True)
            shutil.rmtree(dest)
            shutil.rmtree(work / f"pull-{rnd}")
        print(f"checkpoint: {mib:.0f} MiB in {len(rels)} files, moto_server, "
              f"best of {args.rounds}")
        print(f"{'':10} {'plain fsspec':>14} {'feldera_nb':>12} {'ratio':>7}")
        for label, plain, ours in (("upload", "plain put", "push"),
                                   ("download", "plain get", "pull")):
            p_rate, o_rate = mib / best[plain], mib / best[ours]
            print(f"{label:10} {p_rate:>9.1f} MiB/s {o_rate:>7.1f} MiB/s {o_rate / p_rate:>6.2f}x")
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
