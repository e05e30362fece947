"""What input and output connectors offer the pipeline's step loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from feldera_nb.errors import ConfigError


@dataclass(frozen=True)
class Chunk:
    """Input read from ``start`` up to ``end`` (positions are connector-defined JSON values).

    ``delta`` is the table's Z-set (None when the range held no rows, or the rows were
    rejected: ``error`` then says why).
    """

    delta: pl.DataFrame | None
    start: Any
    end: Any
    error: str | None = None


class InputConnector(Protocol):
    """Reads a table's input in chunks; its ``position`` moves only when the pipeline commits."""

    id: str
    table: str
    position: Any
    follow: bool

    def read(self) -> Chunk | None:
        """The next chunk after ``position`` (None: nothing more right now)."""

    def seek(self, position: Any) -> None:
        """Move to ``position`` (after a committed step, or a rewind on recovery)."""

    def close(self) -> None:
        """Release files."""


class OutputConnector(Protocol):
    """Receives a view's changes, each tagged with its step."""

    id: str
    view: str

    def open(self, *, resume_step: int | None, dedup: bool) -> None:
        """Start writing: fresh (``resume_step`` None) or after recovery from a checkpoint of
        step ``resume_step`` (``dedup``: skip the steps already written completely)."""

    def write(self, step: int, delta: pl.DataFrame) -> None:
        """Write the changes of ``step`` (rows in the view's column names plus ``weight``)."""

    def sync(self) -> None:
        """Make everything written so far durable."""

    def state(self) -> dict[str, Any]:
        """JSON facts for a checkpoint (last step written, bytes)."""

    def close(self) -> None:
        """Release files."""


def transport_of(spec: Any, where: str) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """``(transport name, transport config, format name, format config)`` of one connector."""
    if not isinstance(spec, dict):
        raise ConfigError(where, "a connector must be a JSON object")
    transport = spec.get("transport")
    if not isinstance(transport, dict) or not isinstance(transport.get("name"), str):
        raise ConfigError(f"{where}.transport", 'needs {"name": ..., "config": {...}}')
    tconf = transport.get("config") or {}
    fmt = spec.get("format") or {}
    if not isinstance(tconf, dict) or not isinstance(fmt, dict):
        raise ConfigError(where, "transport.config and format must be JSON objects")
    fconf = fmt.get("config") or {}
    if not isinstance(fconf, dict):
        raise ConfigError(f"{where}.format.config", "must be a JSON object")
    return transport["name"], tconf, str(fmt.get("name", "json")), fconf
