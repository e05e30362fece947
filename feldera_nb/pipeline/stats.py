"""Counters a pipeline keeps about its steps."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class PipelineStats:
    """Totals since the pipeline started (or recovered)."""

    steps: int = 0
    records_in: int = 0
    records_out: int = 0
    busy_seconds: float = 0.0

    def record_step(self, records_in: int, records_out: int, seconds: float) -> None:
        self.steps += 1
        self.records_in += records_in
        self.records_out += records_out
        self.busy_seconds += seconds

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)
