"""A pre-imported process that forks CLI runs on request, so each crash-test run skips the
interpreter and import start-up (several seconds on a loaded machine) yet is its own process,
killed for real.  It never runs Polars itself, so forking it is safe.

Protocol (JSON lines): stdin ``{"argv": [...], "env": {...}, "out": path}`` ->
stdout ``{"pid": n}`` then ``{"rc": code}`` (negative: killed by that signal).
"""

import json
import os
import sys

import feldera_nb.cli as cli  # noqa: F401 - the point is to import it before forking
import feldera_nb.pipeline  # noqa: F401
import feldera_nb.pipeline._crash  # noqa: F401


def main() -> None:
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os.environ.clear()
            os.environ.update(req["env"])
            fd = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdin.close()
            try:
                code = cli.main(req["argv"])
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
            except BaseException:  # noqa: BLE001
                import traceback
                traceback.print_exc()
                code = 3
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"rc": rc}), flush=True)


if __name__ == "__main__":
    main()
