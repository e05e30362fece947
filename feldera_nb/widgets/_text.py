"""Deterministic plain-text forms of a snapshot: no times, rates, sizes or uuids, so a stored
notebook output compares equal on the next run."""

from __future__ import annotations

from feldera_nb.widgets._html import plural
from feldera_nb.widgets.snapshot import CheckpointRow, DashboardSnapshot, SyncState


def render_pipeline(s: DashboardSnapshot) -> str:
    """Several lines: status, counters, relations, checkpoints, recovery, sync."""
    lines = [f"Pipeline '{s.name}': {s.status} (fault tolerance: {s.model})"]
    if s.error:
        lines.append(f"  error: {s.error}")
    lines.append(f"  step {s.step}, {s.records_in:,} records in, {s.records_out:,} out")
    tables = ", ".join(t.name if t.rows is None else f"{t.name} ({plural(t.rows, 'row')})"
                       for t in s.tables)
    views = ", ".join(v.name if v.rows is None else f"{v.name} ({plural(v.rows, 'row')})"
                      for v in s.views)
    lines.append(f"  tables: {tables or 'none'}")
    lines.append(f"  views: {views or 'none'}")
    if s.approval is not None:
        changes = "; ".join(f"{k.replace('_', ' ')}: {', '.join(v)}"
                            for k, v in s.approval.items() if v)
        lines.append(f"  awaiting approval: {changes or 'no changes'}")
    if s.recovery is not None:
        lines.append(f"  recovery: {s.recovery.summary}")
    if s.storage_path is not None or s.checkpoints:
        lines.append(f"  checkpoints: {render_checkpoints(s.checkpoints)}")
    if s.sync is not None:
        lines.append(f"  sync: {render_sync(s.sync, s.checkpoints)}")
    return "\n".join(lines)


def render_checkpoints(rows: tuple[CheckpointRow, ...]) -> str:
    """``2 (latest: seq 2 at step 5, Success)``."""
    if not rows:
        return "none"
    last = rows[-1]
    failed = sum(1 for r in rows if r.status == "Failure")
    text = f"{len(rows)} (latest: seq {last.seq} at step {last.step}, {last.status})"
    if failed:
        text += f", {failed} failed"
    return text


def render_sync(s: SyncState, checkpoints: tuple[CheckpointRow, ...] = ()) -> str:
    """``s3://bucket/prefix, credentials hidden, last synced checkpoint 2`` (no uuids: a
    checkpoint not in the local list is "a checkpoint")."""
    seq_of = {c.uuid: c.seq for c in checkpoints if c.uuid}

    def name(uuid: str) -> str:
        return f"checkpoint {seq_of[uuid]}" if uuid in seq_of else "a checkpoint"

    parts = [s.bucket]
    if s.credentials:
        parts.append("credentials hidden")
    if s.standby:
        held = s.standby_held
        parts.append("standby, holds " + ("nothing yet" if held is None else name(held)))
    if s.last_success is not None:
        parts.append(f"last synced {name(s.last_success)}")
    if s.pushing is not None:
        parts.append("push in progress")
    if s.pulling is not None:
        parts.append("pull in progress")
    return ", ".join(parts)
