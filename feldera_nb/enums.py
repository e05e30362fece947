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
        """The error of a failed checkpoint.

        A bare member carries no error (members are shared singletons, so an error stored on
        one would leak between concurrent checkpoints).  ``checkpoint_status(seq)`` returns a
        :class:`CheckpointStatusResult`, which compares equal to the member and answers
        ``get_error()`` for its own sequence number.
        """
        return None


class CheckpointStatusResult:
    """The status of one checkpoint: equal to a :class:`CheckpointStatus` member, plus its error.

    >>> r = CheckpointStatusResult(CheckpointStatus.Failure, "disk full", seq=3)
    >>> r == CheckpointStatus.Failure, r.get_error(), r
    (True, 'disk full', <CheckpointStatus.Failure: 'Failure'> (seq 3: disk full))
    >>> CheckpointStatusResult(CheckpointStatus.Success, seq=4) in (CheckpointStatus.Success,)
    True
    """

    __slots__ = ("status", "error", "seq")

    def __init__(self, status: CheckpointStatus, error: str | None = None, *,
                 seq: int | None = None) -> None:
        self.status = status
        self.error = error if status is CheckpointStatus.Failure else None
        self.seq = seq

    def get_error(self) -> str | None:
        """The error message of a Failure, else None."""
        return self.error

    @property
    def name(self) -> str:
        """The member's name (``Success``...)."""
        return self.status.name

    @property
    def value(self) -> str:
        """The member's value."""
        return self.status.value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CheckpointStatusResult):
            return self.status is other.status and self.seq == other.seq
        if isinstance(other, CheckpointStatus):
            return self.status is other
        if isinstance(other, str):
            return other in (self.status.name, self.status.value)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.status)

    def __repr__(self) -> str:
        where = "" if self.seq is None else f"seq {self.seq}"
        if self.error:
            where = f"{where}: {self.error}" if where else self.error
        return repr(self.status) + (f" ({where})" if where else "")


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
