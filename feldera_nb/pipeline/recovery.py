"""Recovery: from storage to a running pipeline, through Bootstrapping and Replaying.

:func:`plan` finds the newest intact checkpoint (damaged newer ones are skipped with a warning
naming what was wrong) and diffs its program against the pipeline's.  :func:`run` then:

1. **Bootstrapping.**  With an unchanged program every operator, materialized view and
   connector position is restored from the checkpoint.  With a changed program (and policy
   ALLOW) the new circuit starts empty and the checkpointed contents of every table whose
   definition did not change are fed through it in one step: every view is rebuilt from the
   tables (correct by construction, at the cost of a full recompute).  Only the added and
   modified views send that step's output to their listeners and output connectors.  The
   journal of the old program is discarded (as Feldera does) and a checkpoint of the new
   program is taken at once.
2. **Replaying** (exactly_once).  Each journaled step after the checkpoint is checked (its step
   number follows, its record counts and content hashes match what was journaled) and run
   again.  Outputs carry the original step numbers, so fault-tolerant outputs skip the steps
   they already wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from feldera_nb.enums import FaultToleranceModel, PipelineStatus
from feldera_nb.errors import RecoveryError, RecoveryWarning, warn
from feldera_nb.pipeline.bootstrap import ProgramDiff, dependencies, program_diff
from feldera_nb.pipeline.events import Event, RecoveryReport
from feldera_nb.pipeline.fault_tolerance import FaultTolerance, delta_hash
from feldera_nb.storage import CatalogEntry, Manifest

if TYPE_CHECKING:
    from feldera_nb.pipeline.pipeline import Pipeline

STORE_PREFIX = "__store:"


@dataclass
class RecoveryPlan:
    """What :func:`run` will do: the checkpoint to load (if any) and the program diff."""

    entry: CatalogEntry | None = None
    state: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    manifest: Manifest | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    diff: ProgramDiff = field(default_factory=ProgramDiff)


def plan(p: Pipeline, ft: FaultTolerance) -> RecoveryPlan:
    """Load the newest intact checkpoint and diff its program with ``p``'s."""
    had_entries = bool(ft.catalog.entries())
    found = ft.catalog.latest_intact()
    if found is None:
        out = RecoveryPlan()
        if had_entries:
            out.skipped = [(e.uuid, "damaged") for e in ft.catalog.entries()]
            _no_intact_checkpoint(p, ft)
        return out
    entry, state, manifest, skipped = found
    for uuid, reason in skipped:
        p._events.emit(Event("warning", message=f"skipped checkpoint {uuid}: {reason}"))
    old = manifest.meta.get("fingerprints") or {}
    program = p.program.program
    diff = program_diff(old, program.fingerprints(), dependencies(program))
    return RecoveryPlan(entry, state, manifest, skipped, diff)


def _no_intact_checkpoint(p: Pipeline, ft: FaultTolerance) -> None:
    """Every listed checkpoint is damaged: only a journal that reaches step 0 can help."""
    if ft.journal is not None:
        first = next(iter(ft.journal.records()), None)
        if first is None or first.step == 0:
            warn("no intact checkpoint; replaying the whole journal", RecoveryWarning)
            return
    raise RecoveryError(f"pipeline '{p.name}': every checkpoint in {ft.path} is damaged and "
                        "there is no journal to rebuild the state from; clear_storage() to "
                        "start empty")


def run(p: Pipeline, ft: FaultTolerance, rp: RecoveryPlan) -> RecoveryReport:
    """Bootstrap from ``rp`` and replay the journal; the caller holds the pipeline's lock."""
    exactly_once = ft.model is FaultToleranceModel.ExactlyOnce
    report: dict[str, Any] = {"skipped": tuple(rp.skipped)}
    ckpt_step = 0
    journal_seq: int | None = None
    if rp.manifest is not None:
        p._set_status(PipelineStatus.BOOTSTRAPPING)
        meta = rp.manifest.meta
        ckpt_step = rp.manifest.step
        journal_seq = meta.get("journal_seq")
        report.update(checkpoint_uuid=rp.manifest.uuid, checkpoint_seq=rp.manifest.seq,
                      checkpoint_step=ckpt_step)
        p._events.emit(Event("recovery", phase="bootstrap", done=0, total=1,
                             checkpoint=rp.manifest.uuid, step=ckpt_step))
        positions = meta.get("inputs") or {}
        for conn in p._inputs:
            conn.seek(positions.get(conn.id, 0))
        p._stats.records_in = int(meta.get("records_processed") or 0)
        if not rp.diff.is_empty:
            return _bootstrap_changed(p, ft, rp, report)
        p.program.circuit.restore(rp.state)
        for view, store in p._stores.items():
            frame = rp.state.get(f"{STORE_PREFIX}{view}/rows")
            if frame is not None:
                store.trace.restore(frame)
        for out in p._outputs:
            out.open(resume_step=ckpt_step, dedup=exactly_once)
        p._events.emit(Event("recovery", phase="bootstrap", done=1, total=1,
                             checkpoint=rp.manifest.uuid, step=ckpt_step))
    records = []
    if ft.journal is not None:
        records = list(ft.journal.records(after_step=journal_seq))
        last_on_disk = ft.jseq
        # A checkpoint taken during replay must name the last entry its state includes.
        ft.jseq = journal_seq if journal_seq is not None else -1
    if rp.manifest is None:
        fresh = not records
        for out in p._outputs:
            out.open(resume_step=None if fresh else 0, dedup=exactly_once)
        if fresh:
            return RecoveryReport(**report)
    if records:
        _replay(p, ft, records, journal_seq)
    if ft.journal is not None:
        ft.jseq = max(ft.jseq, last_on_disk)
    report["replayed_steps"] = len(records)
    return RecoveryReport(**report)


def _replay(p: Pipeline, ft: FaultTolerance, records: list[Any], journal_seq: int | None) -> None:
    p._set_status(PipelineStatus.REPLAYING)
    circuit = p.program.circuit
    expected_seq = None if journal_seq is None else journal_seq + 1
    total = len(records)
    for i, rec in enumerate(records):
        if expected_seq is not None and rec.step != expected_seq:
            raise RecoveryError(f"journal in {ft.path} has a gap: expected entry {expected_seq}, "
                                f"found {rec.step}")
        expected_seq = rec.step + 1
        step = rec.meta.get("step")
        if step != circuit.steps:
            raise RecoveryError(f"journal entry {rec.step} is for step {step}, but the pipeline "
                                f"is at step {circuit.steps}")
        counts = {t: d.height for t, d in rec.deltas.items()}
        hashes = {t: delta_hash(d) for t, d in rec.deltas.items()}
        if counts != rec.meta.get("records") or hashes != rec.meta.get("hashes"):
            raise RecoveryError(f"journal entry {rec.step} (step {step}) does not match what was "
                                f"journaled: records {counts} vs {rec.meta.get('records')}, "
                                f"hashes {hashes} vs {rec.meta.get('hashes')}")
        p._events.emit(Event("recovery", phase="replay", done=i, total=total, step=step))
        try:
            p._run_step(dict(rec.deltas), rec.meta.get("positions"), journal=False)
        except p.StepError:
            pass  # the step failed the first time too; its input was never applied
        ft.jseq = rec.step
    p._events.emit(Event("recovery", phase="replay", done=total, total=total,
                         step=circuit.steps))


def _bootstrap_changed(p: Pipeline, ft: FaultTolerance, rp: RecoveryPlan,
                       report: dict[str, Any]) -> RecoveryReport:
    assert rp.manifest is not None
    diff = rp.diff
    ckpt_step = rp.manifest.step
    keep = set(p.program.tables) - set(diff.added_tables) - set(diff.modified_tables)
    deltas = {}
    for t in sorted(keep):
        frame = rp.state.get(f"table:{t}/rows")
        if frame is not None and frame.height:
            deltas[t] = frame
    if diff.modified_tables:
        warn(f"tables {', '.join(diff.modified_tables)} changed definition; they start empty",
             RecoveryWarning)
    if ft.journal is not None:
        stale = list(ft.journal.records(after_step=rp.manifest.meta.get("journal_seq")))
        if stale:
            warn(f"the program changed: {len(stale)} journaled steps after checkpoint "
                 f"{rp.manifest.uuid} are discarded", RecoveryWarning)
        ft.jseq = max(ft.jseq, int(rp.manifest.meta.get("journal_seq", -1)))
        ft.journal.truncate_below(ft.jseq + 1)
    for out in p._outputs:
        out.open(resume_step=ckpt_step, dedup=False)
    circuit = p.program.circuit
    circuit.steps = 0  # a first step: constants and global aggregates appear
    loud = set(diff.views_to_compute)
    p._run_step(deltas, None, journal=False, quiet={v for v in p.program.views} - loud,
                tag=ckpt_step)
    circuit.steps = ckpt_step + 1
    p._events.emit(Event("recovery", phase="bootstrap", done=1, total=1,
                         checkpoint=rp.manifest.uuid, step=ckpt_step))
    report["bootstrapped_views"] = diff.views_to_compute
    return RecoveryReport(**report)
