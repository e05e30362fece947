"""The enums of the public API, named as in Feldera's Python SDK."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

_E = TypeVar("_E", bound="_ParseableEnum")


class _ParseableEnum(Enum):
    """Base that parses members from their name or value, case-insensitively."""

    @classmethod
    def from_str(cls: type[_E], value: str | _E) -> _E:
        if isinstance(value, cls):
            return value
        text = str(value).strip().lower().replace("-", "_")
        for member in cls:
            if text in (member.name.lower(), str(member.value).lower()):
                return member
        allowed = ", ".join(str(m.value) for m in cls)
        raise ValueError(f"unknown {cls.__name__} {value!r}; allowed: {allowed}")


class PipelineStatus(_ParseableEnum):
    """Where a pipeline is in its lifecycle."""

    STOPPED = "Stopped"
    """Not running; storage (if any) is kept."""
    INITIALIZING = "Initializing"
    """Compiling the program and opening storage."""
    STANDBY = "Standby"
    """Following a bucket's newest checkpoint until ``activate()``."""
    AWAITINGAPPROVAL = "AwaitingApproval"
    """The program changed since the checkpoint; waiting for ``approve()``."""
    BOOTSTRAPPING = "Bootstrapping"
    """Loading a checkpoint (and computing new or changed views)."""
    REPLAYING = "Replaying"
    """Replaying journaled steps after the checkpoint."""
    PAUSED = "Paused"
    """Accepting input calls but connectors are paused."""
    RUNNING = "Running"
    """Processing input."""
    SUSPENDED = "Suspended"
    """Stopped after a final checkpoint."""
    FAILED = "Failed"
    """Stopped by an error; ``pipeline.error`` says which."""


class CheckpointStatus(_ParseableEnum):
    """Status of a checkpoint or of a checkpoint sync."""

    Success = "Success"
    Failure = "Failure"
    InProgress = "InProgress"
    Unknown = "Unknown"

    def get_error(self) -> str | None:
        """The error of a failed checkpoint (set on the returned member by the pipeline)."""
        return getattr(self, "_error", None)


class FaultToleranceModel(_ParseableEnum):
    """How much a crash may lose or repeat."""

    NONE = "none"
    AtLeastOnce = "at_least_once"
    ExactlyOnce = "exactly_once"


class BootstrapPolicy(_ParseableEnum):
    """What ``start()`` does when the program changed since the checkpoint."""

    ALLOW = "allow"
    REJECT = "reject"
    AWAIT_APPROVAL = "await_approval"
