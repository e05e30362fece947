"""What the reprs and the dashboard show: a frozen :class:`DashboardSnapshot` of a pipeline.

:func:`collect` is the only place that reads a pipeline.  It reads public attributes
defensively (``getattr`` with defaults), never does I/O and never waits long for the
pipeline's lock, so drawing a card can neither hang nor fail: a part that cannot be read is
left out.  Every string that could carry a credential goes through :func:`redactor_for`.

>>> from feldera_nb import Pipeline
>>> p = Pipeline("CREATE TABLE t (x INT); CREATE VIEW v AS SELECT x FROM t;", name="doc")
>>> s = collect(p)
>>> s.name, s.status, s.tables, [v.name for v in s.views]
('doc', 'Stopped', (TableInfo(name='t', rows=0),), ['v'])
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

REDACTED = "***"

# Credentials inside URLs (``s3://KEY:SECRET@bucket``) and connection strings.
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
# "started from bucket checkpoint <uuid>" in a recovery report: the text forms name no uuids
_STARTED_FROM = re.compile(r"started from (bucket|read_bucket) checkpoint [0-9a-f-]{36}")
_LOCK_WAIT_S = 0.05


# -- the dataclasses --------------------------------------------------------------------------
@dataclass(frozen=True)
class TableInfo:
    """A table and its row count (None when unknown)."""

    name: str
    rows: int | None = None


@dataclass(frozen=True)
class ViewInfo:
    """A view: materialized or not, and its row count when materialized."""

    name: str
    materialized: bool = False
    rows: int | None = None


@dataclass(frozen=True)
class CheckpointRow:
    """One checkpoint as the dashboard lists it.  ``synced``: None when sync is off."""

    seq: int
    uuid: str | None = None
    status: str = "Success"
    step: int | None = None
    size_bytes: int | None = None
    duration_s: float | None = None
    created_at: str | None = None
    synced: bool | None = None
    error: str | None = None


@dataclass(frozen=True)
class RecoveryState:
    """Recovery in progress (``phase`` bootstrap/replay) or finished (``finished``)."""

    phase: str | None = None
    done: int | None = None
    total: int | None = None
    checkpoint_uuid: str | None = None
    checkpoint_seq: int | None = None
    checkpoint_step: int | None = None
    replayed_steps: int = 0
    skipped: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    bootstrapped_views: tuple[str, ...] = ()
    duration_s: float | None = None
    finished: bool = False
    report_text: str | None = None

    @property
    def progress_text(self) -> str:
        """``replaying step 41 of 120 from checkpoint 7`` (deterministic)."""
        if self.phase is None:
            return ""
        what = "bootstrapping" if self.phase == "bootstrap" else "replaying"
        text = what
        if self.total:
            unit = "step" if self.phase == "replay" else "part"
            text += f" {unit} {min((self.done or 0) + 1, self.total)} of {self.total}"
        if self.checkpoint_seq is not None:
            text += f" from checkpoint {self.checkpoint_seq}"
        elif self.checkpoint_step is not None and self.phase == "bootstrap":
            text += f" from the checkpoint of step {self.checkpoint_step}"
        return text

    @property
    def summary(self) -> str:
        """One deterministic line: the recovery report's own text once finished (``checkpoint
        seq 3 (step 12); replayed 4 journaled steps``), else the progress line."""
        if not self.finished:
            return self.progress_text
        return self.report_text or "started empty"


@dataclass(frozen=True)
class SyncState:
    """Checkpoint sync: where (credentials hidden) and what it is doing."""

    bucket: str
    provider: str | None = None
    endpoint: str | None = None
    read_bucket: str | None = None
    credentials: tuple[str, ...] = ()
    push_interval: int | None = None
    standby: bool = False
    pull_interval: int | None = None
    last_success: str | None = None
    last_error: str | None = None
    pushing: str | None = None
    pulling: str | None = None
    bytes_done: int = 0
    bytes_total: int = 0
    files_done: int = 0
    files_total: int = 0
    next_push_in_s: float | None = None
    pushed: int = 0
    failed: int = 0
    standby_held: str | None = None
    standby_error: str | None = None
    standby_pulls: int = 0
    started_from: str | None = None


@dataclass(frozen=True)
class DashboardSnapshot:
    """Everything a card, a text repr or the dashboard shows, at one moment.

    Fields that change from run to run (times, durations, rates, uuids, sizes) are rendered
    as *volatile* by the formatters, so stored notebook outputs stay comparable.
    """

    name: str
    status: str
    error: str | None = None
    model: str = "none"
    storage_path: str | None = None
    checkpoint_interval_secs: int | None = None
    step: int = 0
    records_in: int = 0
    records_out: int = 0
    busy_seconds: float | None = None
    tables: tuple[TableInfo, ...] = ()
    views: tuple[ViewInfo, ...] = ()
    state_rows: int | None = None
    checkpoints: tuple[CheckpointRow, ...] = ()
    checkpoint_in_progress: bool = False
    recovery: RecoveryState | None = None
    sync: SyncState | None = None
    approval: dict[str, tuple[str, ...]] | None = None
    warnings: tuple[str, ...] = ()
    input_errors: int = 0

    @property
    def throughput(self) -> float | None:
        """Records in per second of step time (volatile)."""
        if not self.busy_seconds or not self.records_in:
            return None
        return self.records_in / self.busy_seconds


# -- event-derived state ----------------------------------------------------------------------
class EventLog:
    """What only the pipeline's events say: recovery progress, checkpoint progress, warnings.

    :meth:`record` is called on the pipeline's threads; it only updates a few fields under
    its own lock (never the pipeline's), so it cannot slow or deadlock the pipeline.
    """

    def __init__(self, max_warnings: int = 5) -> None:
        self._lock = threading.Lock()
        self._max = max_warnings
        self.recovery: dict[str, Any] = {}
        self.recovery_started: float | None = None
        self.recovery_duration: float | None = None
        self.checkpoints: dict[int, dict[str, Any]] = {}
        self.warnings: list[str] = []

    def record(self, event: Any) -> None:
        kind = getattr(event, "kind", None)
        with self._lock:
            if kind == "status":
                if event.status in ("Initializing",):
                    self.recovery = {}
                    self.recovery_started = time.monotonic()
                    self.recovery_duration = None
            elif kind == "recovery":
                if event.phase == "done":
                    if self.recovery_started is not None:
                        self.recovery_duration = time.monotonic() - self.recovery_started
                    self.recovery = {}
                else:
                    self.recovery = {"phase": event.phase, "done": event.done,
                                     "total": event.total,
                                     "checkpoint": event.checkpoint or
                                     self.recovery.get("checkpoint"),
                                     "step": event.step}
            elif kind == "checkpoint" and event.seq is not None:
                row = self.checkpoints.setdefault(event.seq, {})
                for key in ("status", "step", "bytes_written", "error", "checkpoint"):
                    value = getattr(event, key, None)
                    if value is not None:
                        row[key] = value
                if len(self.checkpoints) > 50:
                    del self.checkpoints[min(self.checkpoints)]
            elif kind == "warning" and event.message:
                self.warnings = [*self.warnings, event.message][-self._max:]

    def view(self) -> tuple[dict[str, Any], float | None, dict[int, dict[str, Any]], list[str]]:
        with self._lock:
            return (dict(self.recovery), self.recovery_duration,
                    {k: dict(v) for k, v in self.checkpoints.items()}, list(self.warnings))


# -- secrets ----------------------------------------------------------------------------------
def _secret_values(obj: Any, seen: set[int] | None = None) -> Iterable[str]:
    """Plain values of every ``Secret`` reachable from a config object."""
    seen = set() if seen is None else seen
    if obj is None or id(obj) in seen:
        return
    seen.add(id(obj))
    getter = getattr(obj, "get_secret_value", None)
    if callable(getter):
        value = getter()
        if isinstance(value, str) and value:
            yield value
        return
    if isinstance(obj, dict) or hasattr(obj, "items") and callable(obj.items):
        for value in obj.values():
            yield from _secret_values(value, seen)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _secret_values(value, seen)
    elif hasattr(obj, "__dataclass_fields__"):
        for name in obj.__dataclass_fields__:
            yield from _secret_values(getattr(obj, name, None), seen)


def redactor_for(config: Any) -> Callable[[str], str]:
    """A function that blanks the config's secret values (and URL credentials) from text.

    >>> from feldera_nb.config import RuntimeConfig
    >>> cfg = RuntimeConfig.from_dict({"storage_config": {"path": "/tmp/x"}, "storage": {
    ...     "backend": {"name": "file", "config": {"sync": {"bucket": "s3://b/p",
    ...     "access_key": "AKIAEXAMPLE123", "secret_key": "wJalrXUtnFEMI/K7MDENG"}}}}})
    >>> redactor_for(cfg)("denied for AKIAEXAMPLE123 at s3://AKIA:x@b/p")
    'denied for *** at s3://***@b/p'
    """
    scrub: Callable[[str], str] | None = None
    values = sorted(set(_secret_values(config)), key=len, reverse=True)
    try:
        from feldera_nb.sync._scrub import Scrubber
        scrub = Scrubber(values)
    except ImportError:  # sync needs fsspec; the value scrub below still runs
        pass

    def redact(text: str) -> str:
        for value in values:
            text = text.replace(value, REDACTED)
        if scrub is not None:
            text = scrub(text)
        return _URL_USERINFO.sub(REDACTED + "@", text)

    return redact


# -- the adapter ------------------------------------------------------------------------------
def collect(p: Any, log: EventLog | None = None, *,
            previous: DashboardSnapshot | None = None) -> DashboardSnapshot:
    """Take a :class:`DashboardSnapshot` of pipeline ``p`` (no I/O, never blocks for long).

    ``log`` adds what only events tell (recovery progress, checkpoints in flight, warnings).
    When another thread holds the pipeline's lock for long (a recovery), the parts that need
    it (counters, relations, checkpoints) are taken from ``previous`` (or left out) rather
    than waited for.
    """
    cfg = getattr(p, "runtime_config", None)
    redact = redactor_for(cfg)
    status = _status_of(p)
    err = getattr(p, "error", None)
    program = getattr(p, "program", None)
    lock = getattr(p, "_lock", None)
    got = lock.acquire(timeout=_LOCK_WAIT_S) if lock is not None else True
    try:
        stats = _call(p, "stats") if got else None
        tables, views = _relations(p, program, stats if got else None)
        entries = _local_checkpoints(p) if got else []
    finally:
        if got and lock is not None:
            lock.release()
    if not got and previous is not None:
        return _with_live_parts(previous, p, log, status, redact)
    stats = stats or {}
    recovery_live, recovery_duration, ck_events, warnings = (
        log.view() if log is not None else ({}, None, {}, []))
    sync = _sync_state(p, cfg, redact)
    synced = _synced_uuids(p, [getattr(e, "uuid", None) for e in entries])
    checkpoints = _checkpoint_rows(entries, ck_events, synced if sync is not None else None)
    state_rows = stats.get("state_rows")
    return DashboardSnapshot(
        name=str(getattr(p, "name", "pipeline")),
        status=status,
        error=None if err is None else redact(f"{type(err).__name__}: {err}"),
        model=_value(getattr(cfg, "ft_model", None), "none") if cfg is not None else "none",
        storage_path=getattr(cfg, "storage_path", None),
        checkpoint_interval_secs=getattr(cfg, "checkpoint_interval_secs", None)
        if getattr(cfg, "ft_enabled", False) else None,
        step=int(stats.get("step", _circuit_steps(program))),
        records_in=int(stats.get("records_in", 0) or 0),
        records_out=int(stats.get("records_out", 0) or 0),
        busy_seconds=stats.get("busy_seconds"),
        tables=tables,
        views=views,
        state_rows=sum(state_rows.values()) if isinstance(state_rows, dict) else None,
        checkpoints=checkpoints,
        checkpoint_in_progress=any(c.status == "InProgress" for c in checkpoints),
        recovery=_recovery_state(getattr(p, "recovery", None), recovery_live, recovery_duration,
                                 status, trivial=getattr(cfg, "storage_path", None) is not None),
        sync=sync,
        approval=_approval(p),
        warnings=tuple(redact(w) for w in warnings),
        input_errors=int(stats.get("input_errors", 0) or 0),
    )


def _with_live_parts(previous: DashboardSnapshot, p: Any, log: EventLog | None, status: str,
                     redact: Callable[[str], str]) -> DashboardSnapshot:
    """``previous`` with what can be read without the pipeline's lock brought up to date."""
    live, duration, _, warnings = log.view() if log is not None else ({}, None, {}, [])
    return dataclasses.replace(
        previous, status=status,
        step=_circuit_steps(getattr(p, "program", None)) or previous.step,
        recovery=_recovery_state(getattr(p, "recovery", None), live, duration, status,
                                 trivial=previous.storage_path is not None),
        approval=_approval(p), warnings=tuple(redact(w) for w in warnings))


def _call(obj: Any, name: str) -> Any:
    fn = getattr(obj, name, None)
    if not callable(fn):
        return None
    try:
        return fn()
    except Exception:  # noqa: BLE001 - a card shows what it can
        return None


def _value(x: Any, default: str) -> str:
    if x is None:
        return default
    return str(getattr(x, "value", x))


def _status_of(p: Any) -> str:
    status = _call(p, "status")
    return _value(status, "Unknown")


def _circuit_steps(program: Any) -> int:
    return int(getattr(getattr(program, "circuit", None), "steps", 0) or 0)


def _relations(p: Any, program: Any, stats: dict[str, Any] | None
               ) -> tuple[tuple[TableInfo, ...], tuple[ViewInfo, ...]]:
    state = (stats or {}).get("state_rows") or {}
    tables = []
    for name, t in (getattr(program, "tables", None) or {}).items():
        op = getattr(getattr(t, "rel", None), "op", None)
        rows = state.get(op) if stats is not None else None
        tables.append(TableInfo(name, rows))
    stores = getattr(p, "_stores", None) or {}
    views = []
    for name, v in (getattr(program, "views", None) or {}).items():
        materialized = bool(getattr(getattr(v, "definition", v), "materialized",
                                    getattr(v, "materialized", False)))
        rows = None
        store = stores.get(name)
        if stats is not None and store is not None:
            rows = store.trace.live_rows()
        views.append(ViewInfo(name, materialized, rows))
    return tuple(tables), tuple(views)


def _local_checkpoints(p: Any) -> list[Any]:
    """The catalog's entries when storage is open (in memory); never reads the disk."""
    ft = getattr(p, "_ft", None)
    catalog = getattr(ft, "catalog", None)
    if catalog is None:
        return list(getattr(p, "_last_checkpoints", None) or [])
    try:
        return list(catalog.entries())
    except Exception:  # noqa: BLE001
        return []


def _checkpoint_rows(entries: list[Any], events: dict[int, dict[str, Any]],
                     synced: set[str] | None) -> tuple[CheckpointRow, ...]:
    rows: dict[int, CheckpointRow] = {}
    for e in entries:
        seq = int(getattr(e, "seq", 0))
        uuid = getattr(e, "uuid", None)
        rows[seq] = CheckpointRow(
            seq=seq, uuid=uuid, status=str(getattr(e, "status", "Success")),
            step=getattr(e, "step", None), size_bytes=getattr(e, "size_bytes", None),
            duration_s=getattr(e, "duration_s", None), created_at=getattr(e, "created_at", None),
            synced=None if synced is None else uuid in synced)
    for seq, ev in events.items():
        if seq in rows and ev.get("status") != "Failure":
            continue
        if ev.get("status") == "Success" and seq not in rows:
            continue  # retention removed it
        rows[seq] = CheckpointRow(seq=seq, uuid=ev.get("checkpoint"),
                                  status=str(ev.get("status", "Unknown")), step=ev.get("step"),
                                  size_bytes=ev.get("bytes_written"), error=ev.get("error"),
                                  synced=None if synced is None else False)
    return tuple(rows[k] for k in sorted(rows))


def _recovery_state(report: Any, live: dict[str, Any], duration: float | None,
                    status: str, *, trivial: bool = True) -> RecoveryState | None:
    """Live progress while recovering, else the last report (None for a start from
    nothing when ``trivial`` is False: a pipeline without storage has nothing to recover)."""
    if live.get("phase") in ("bootstrap", "replay") and status in ("Bootstrapping", "Replaying",
                                                                    "Initializing"):
        return RecoveryState(phase=live["phase"], done=live.get("done"), total=live.get("total"),
                             checkpoint_uuid=live.get("checkpoint"),
                             checkpoint_step=live.get("step") if live["phase"] == "bootstrap"
                             else None)
    if report is None:
        return None
    if (not trivial and getattr(report, "checkpoint_uuid", None) is None
            and not getattr(report, "replayed_steps", 0)):
        return None
    return RecoveryState(
        checkpoint_uuid=getattr(report, "checkpoint_uuid", None),
        checkpoint_seq=getattr(report, "checkpoint_seq", None),
        checkpoint_step=getattr(report, "checkpoint_step", None),
        replayed_steps=int(getattr(report, "replayed_steps", 0) or 0),
        skipped=tuple(getattr(report, "skipped", ()) or ()),
        warnings=tuple(getattr(report, "warnings", ()) or ()),
        bootstrapped_views=tuple(getattr(report, "bootstrapped_views", ()) or ()),
        duration_s=duration, finished=True,
        report_text=_STARTED_FROM.sub(lambda m: f"started from the {m[1].replace('_', ' ')}",
                                      str(report)))


def _approval(p: Any) -> dict[str, tuple[str, ...]] | None:
    diff = getattr(p, "approval_diff", None)
    if diff is None:
        return None
    to_dict = getattr(diff, "to_dict", None)
    d = to_dict() if callable(to_dict) else dict(diff)
    return {k: tuple(v) for k, v in d.items()}


def _sync_config(cfg: Any) -> Any:
    return getattr(cfg, "sync", None) if cfg is not None else None


def _sync_state(p: Any, cfg: Any, redact: Callable[[str], str]) -> SyncState | None:
    """The sync panel's state: the config (credentials named, never shown) and, once the
    pipeline has started with sync, its :class:`~feldera_nb.pipeline.events.SyncSnapshot`
    (``p._sync_snapshot()``, no I/O)."""
    sync = _sync_config(cfg)
    if sync is None:
        return None
    url = getattr(sync, "url", None) or getattr(sync, "bucket", "")
    creds = tuple(name for name in getattr(sync, "SECRET_FIELDS", ())
                  if getattr(sync, name, None) is not None)
    read_url = getattr(sync, "read_url", None)
    values: dict[str, Any] = {"standby": bool(getattr(sync, "standby", False))}
    snap = _call(p, "_sync_snapshot")
    if snap is not None:
        phase = getattr(snap, "phase", None)
        following = bool(getattr(snap, "standby", False))
        values.update(
            last_success=getattr(snap, "last_synced", None),
            last_error=getattr(snap, "last_error", None),
            pushing=getattr(snap, "checkpoint", None) if phase == "push" else None,
            pulling=getattr(snap, "checkpoint", None) if phase == "pull" else None,
            bytes_done=int(getattr(snap, "bytes_done", 0) or 0),
            bytes_total=int(getattr(snap, "bytes_total", 0) or 0),
            files_done=int(getattr(snap, "files_done", 0) or 0),
            files_total=int(getattr(snap, "files_total", 0) or 0),
            pushed=int(getattr(snap, "pushed", 0) or 0),
            failed=int(getattr(snap, "failed", 0) or 0),
            next_push_in_s=_seconds_until(getattr(snap, "next_push_at", None)),
            standby=following,
            standby_held=getattr(snap, "held_checkpoint", None) if following else None,
            standby_pulls=int(getattr(snap, "pulls", 0) or 0),
            started_from=getattr(snap, "start_source", None))
        if following:
            values["standby_error"], values["last_error"] = values["last_error"], None
    for key in ("last_error", "standby_error"):
        if values.get(key):
            values[key] = redact(str(values[key]))
    return SyncState(
        bucket=redact(str(url)), provider=getattr(sync, "provider", None),
        endpoint=redact(str(sync.endpoint)) if getattr(sync, "endpoint", None) else None,
        read_bucket=redact(str(read_url)) if read_url else None, credentials=creds,
        push_interval=getattr(sync, "push_interval", None),
        pull_interval=getattr(sync, "pull_interval", None), **values)


def _seconds_until(when: Any) -> float | None:
    if when is None:
        return None
    try:
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except Exception:  # noqa: BLE001
        return None


def _synced_uuids(p: Any, uuids: Iterable[str | None]) -> set[str]:
    """Which of ``uuids`` were pushed successfully (asks the pipeline's sync, no I/O; never
    creates it)."""
    csync = getattr(p, "_csync", None)
    if csync is None:
        return set()
    out = set()
    for uuid in uuids:
        if uuid is None:
            continue
        try:
            status = csync.status(uuid)
        except Exception:  # noqa: BLE001 - a card shows what it can
            continue
        if _value(status, "") == "Success":
            out.add(uuid)
    return out
