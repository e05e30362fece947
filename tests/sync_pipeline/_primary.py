"""A primary pipeline in its own process, driven line by line (JSON) on stdin.

First line: ``{"name": ..., "config": <runtime config>}``; it answers ``{"source": ...}``
once started.  Then one command per line, one JSON answer per line:

- ``{"op": "insert", "rows": [...]}`` -> ``{}``
- ``{"op": "checkpoint"}`` -> ``{"uuid": ...}`` (a local checkpoint, not synced)
- ``{"op": "sync"}`` -> ``{"uuid": ..., "views": {...}}``: a checkpoint, pushed and waited
  for, with the views it holds

The test kills it with SIGKILL; it never stops on its own.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _workload import SQL, views  # noqa: E402

from feldera_nb.pipeline import Pipeline  # noqa: E402


def main() -> None:
    job = json.loads(sys.stdin.readline())
    p = Pipeline(SQL, name=job["name"], runtime_config=job["config"])
    p.start()
    _say({"source": p.recovery.source if p.recovery else None})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "insert":
            p.input_json("t", cmd["rows"])
            _say({})
        elif cmd["op"] == "checkpoint":
            p.checkpoint(wait=True)
            _say({"uuid": p.checkpoints()[-1].uuid})
        elif cmd["op"] == "sync":
            p.checkpoint(wait=True)
            uuid = p.sync_checkpoint(wait=True, timeout_s=60)
            _say({"uuid": uuid, "views": views(p)})


def _say(doc: object) -> None:
    print(json.dumps(doc), flush=True)


if __name__ == "__main__":
    main()
