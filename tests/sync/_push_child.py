"""Child process for the kill-mid-push test: push a checkpoint, pause after N files.

Reads ``{"config": {...}, "local_dir": str, "pause_after": int}`` as JSON on stdin (secret
fields as plain strings), prints ``PAUSED`` once N files are up, then sleeps until killed.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

from feldera_nb.config import Secret, SyncConfig  # noqa: E402
from feldera_nb.sync import TransferProgress, open_bucket, push_checkpoint  # noqa: E402


class PauseAfter(TransferProgress):
    def __init__(self, files: int) -> None:
        super().__init__()
        self.limit = files

    def file_done(self) -> None:
        super().file_done()
        if self.files_done == self.limit:
            print("PAUSED", flush=True)
            time.sleep(600)


def main() -> None:
    job = json.load(sys.stdin)
    fields = {k: (Secret(v) if k in SyncConfig.SECRET_FIELDS and v is not None else v)
              for k, v in job["config"].items()}
    push_checkpoint(job["local_dir"], open_bucket(SyncConfig(**fields)),
                    callback=PauseAfter(job["pause_after"]), max_concurrency=1)
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
