"""Deterministic crash points for the crash tests (installed by the CLI from an env var).

Never used by a normal run.  A spec is ``point:n`` items separated by commas; the process
SIGKILLs itself at the first one reached:

- ``before_step:N``  step N's input is journaled, the step has not run
- ``after_step:N``   step N ran and its outputs were written
- ``journal:N``      half of step N's journal record is written (a torn journal tail)
- ``output:N``       half of step N's output bytes are written (a torn output line)
- ``checkpoint:K``   the K-th checkpoint of this process has written part of a state file
- ``commit:K``       the K-th checkpoint's directory is committed, the catalog not updated
"""

from __future__ import annotations

import os
import signal
from typing import Any

import feldera_nb.storage.checkpoint as checkpoint_mod
import feldera_nb.storage.checkpointer as checkpointer_mod
import feldera_nb.storage.journal as journal_mod

POINTS = ("before_step", "after_step", "journal", "output", "checkpoint", "commit")


def die() -> None:
    """SIGKILL this process (no cleanup, no flush: like a power cut for the page cache)."""
    os.kill(os.getpid(), signal.SIGKILL)


def parse(spec: str) -> dict[str, int]:
    """``"after_step:7,checkpoint:2"`` -> ``{"after_step": 7, "checkpoint": 2}``."""
    out = {}
    for item in spec.split(","):
        point, _, n = item.strip().partition(":")
        if point not in POINTS or not n.isdigit():
            raise ValueError(f"bad crash point {item!r}; points: {', '.join(POINTS)}")
        out[point] = int(n)
    return out


def install(pipeline: Any, spec: str) -> None:
    """Arm the crash points of ``spec`` in this process."""
    points = parse(spec)

    def crash(point: str, step: int) -> None:
        if points.get(point) == step:
            die()

    pipeline._crash = crash
    if "journal" in points:
        real_write_all = journal_mod.write_all

        def torn_write_all(fd: int, parts: list[Any]) -> int:
            if pipeline.program.circuit.steps == points["journal"]:
                data = b"".join(bytes(p) for p in parts)
                os.write(fd, data[: len(data) // 2])
                die()
            return real_write_all(fd, parts)

        journal_mod.write_all = torn_write_all  # type: ignore[assignment]
    if "output" in points:
        for out in pipeline._outputs:
            _arm_output(pipeline, out, points["output"])
        real_reset = pipeline._reset_state

        def reset() -> None:
            real_reset()
            for out in pipeline._outputs:
                _arm_output(pipeline, out, points["output"])

        pipeline._reset_state = reset
    if "checkpoint" in points or "commit" in points:
        _arm_checkpoint(points)


def _arm_output(pipeline: Any, out: Any, step: int) -> None:
    real_emit = out._emit

    def emit(data: bytes) -> None:
        if pipeline.program.circuit.steps - 1 == step and len(data) > 1:
            real_emit(data[: len(data) // 2])
            die()
        real_emit(data)

    out._emit = emit


def _arm_checkpoint(points: dict[str, int]) -> None:
    real_write = checkpointer_mod.write_checkpoint
    real_file = checkpoint_mod.write_file
    state = {"n": 0, "writing": False}

    def write_checkpoint(*args: Any, **kwargs: Any) -> Any:
        state["n"] += 1
        state["writing"] = state["n"] == points.get("checkpoint")
        manifest = real_write(*args, **kwargs)
        if state["n"] == points.get("commit"):
            die()
        return manifest

    def write_file(path: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        if state["writing"] and len(data) > 1:
            with open(path, "wb") as f:
                f.write(bytes(data)[: len(data) // 2])
            die()
        return real_file(path, data, *args, **kwargs)

    checkpointer_mod.write_checkpoint = write_checkpoint  # type: ignore[assignment]
    checkpoint_mod.write_file = write_file  # type: ignore[assignment]
