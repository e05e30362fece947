"""The ``feldera-nb`` command.

``feldera-nb run PROGRAM.sql --config RUNTIME.json [--follow] [--name N]``
    Run a pipeline headless: recover from its storage if it has any, process its input
    connectors until they are exhausted (or forever with ``--follow``, until SIGINT/SIGTERM),
    then stop with a final checkpoint.  One progress line per event on stdout.

``feldera-nb inspect STORAGE_PATH``
    List the checkpoints (uuid, seq, step, size, created) and the journal (segments, first and
    last entry, torn tail) of a storage directory.

Exit codes: 0 done, 1 the pipeline failed, 2 bad arguments, SQL or config.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

from feldera_nb.errors import FelderaNbError, RecoveryWarning

CRASH_ENV = "FELDERA_NB_CRASH"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``feldera-nb``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="feldera-nb", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a pipeline until its inputs are exhausted")
    run.add_argument("program", help="SQL file with CREATE TABLE / CREATE VIEW statements")
    run.add_argument("--config", help="runtime config JSON file")
    run.add_argument("--name", default=None, help="pipeline name (default: the file's stem)")
    run.add_argument("--follow", action="store_true", help="keep running, following inputs")
    run.add_argument("--bootstrap-policy", default="allow",
                     choices=("allow", "reject", "await_approval"))
    run.add_argument("--checkpoint-every-steps", type=int, default=None, metavar="N",
                     help="also take a checkpoint every N steps")
    run.add_argument("--quiet", action="store_true", help="print no per-step lines")
    ins = sub.add_parser("inspect", help="list the checkpoints and journal of a storage path")
    ins.add_argument("storage_path")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        return _inspect(args.storage_path)
    except FelderaNbError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2 if _is_user_error(e) else 1


def _is_user_error(e: Exception) -> bool:
    from feldera_nb.errors import BootstrapRejectedError, ConfigError, SqlError
    return isinstance(e, (ConfigError, SqlError, BootstrapRejectedError))


def _say(line: str) -> None:
    print(line, flush=True)


def _run(args: argparse.Namespace) -> int:
    from feldera_nb.config import RuntimeConfig
    from feldera_nb.errors import ConfigError
    from feldera_nb.pipeline import Pipeline

    try:
        sql = Path(args.program).read_text()
    except OSError as e:
        raise ConfigError("program", f"cannot read {args.program}: {e.strerror}") from None
    config = None
    if args.config:
        try:
            config = json.loads(Path(args.config).read_text())
        except OSError as e:
            raise ConfigError("--config", f"cannot read {args.config}: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise ConfigError("--config", f"{args.config} is not valid JSON: {e}") from None
    cfg = RuntimeConfig.coerce(config)
    p = Pipeline(sql, name=args.name or Path(args.program).stem, runtime_config=cfg)
    crash = os.environ.get(CRASH_ENV)
    if crash:
        from feldera_nb.pipeline._crash import install
        install(p, crash)
    every = args.checkpoint_every_steps
    quiet = args.quiet

    def show(e: object) -> None:
        kind = getattr(e, "kind", "")
        if kind == "step":
            if not quiet:
                _say(f"step {e.step} records={e.records}")  # type: ignore[attr-defined]
            step = e.step  # type: ignore[attr-defined]
            if every and step and step % every == 0 and p.status().value == "Running":
                p.checkpoint()  # called on the step loop's thread, at a step boundary
        elif kind == "checkpoint" and getattr(e, "status", None) != "InProgress":
            _say(f"checkpoint seq={e.seq} {e.status} step={e.step}"  # type: ignore[attr-defined]
                 + (f" error={e.error}" if e.error else ""))  # type: ignore[attr-defined]
        elif kind != "checkpoint":
            _say(str(e))

    p.subscribe(show)
    with warnings.catch_warnings():
        warnings.simplefilter("always", RecoveryWarning)
        warnings.showwarning = lambda m, *a, **k: _say(f"warning {m}")  # type: ignore[assignment]
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        p.start(bootstrap_policy=args.bootstrap_policy)
        if p.status().value == "AwaitingApproval":
            _say(f"awaiting approval: {p.approval_diff}")
            return 2
        if args.follow:
            while not stop.wait(1.0):
                if p.status().value == "Failed":
                    break
        else:
            p.wait_for_idle()
        failed = p.status().value == "Failed"
        if failed:
            _say(f"failed: {p.error}")
            p.stop(force=True)
            return 1
        p.stop(force=False)
        _say(f"done step={p.program.circuit.steps} status={p.status().value}")
    return 0


def _inspect(path: str) -> int:
    from feldera_nb.storage import Catalog, Journal, checkpoints_dir, journal_dir
    from feldera_nb.storage.lock import read_lock_holder

    if not Path(path).is_dir():
        print(f"error: {path} is not a directory", file=sys.stderr)
        return 2
    holder = read_lock_holder(path)
    _say(f"storage {path}" + (f" (last holder pid {holder.get('pid')})" if holder else ""))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        entries = Catalog(checkpoints_dir(path)).entries() if checkpoints_dir(path).is_dir() \
            else []
        _say(f"checkpoints: {len(entries)}")
        for e in entries:
            _say(f"  {e.uuid} seq={e.seq} step={e.step} size={e.size_bytes} "
                 f"records={e.records_processed} created={e.created_at}")
        jdir = journal_dir(path)
        if jdir.is_dir():
            j = Journal(jdir)
            segs = j.segments()
            first = next(iter(j.records()), None)
            _say(f"journal: {len(segs)} segments, first entry "
                 f"{first.step if first else None}, last entry {j.last_step()}")
            j.close()
        else:
            _say("journal: none")
    torn = [str(w.message) for w in caught if "torn" in str(w.message)]
    _say(f"torn tail: {'yes' if torn else 'no'}")
    for w in caught:
        _say(f"warning {w.message}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
