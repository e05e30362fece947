"""One error tree for feldera_nb.

Every exception the package raises on purpose derives from :class:`FelderaNbError`, so a
caller can catch the package's failures without catching bugs.  SQL errors carry the
statement, line, column and offending text.
"""

from __future__ import annotations

import warnings
from typing import Any


class FelderaNbError(Exception):
    """Root of every error raised by feldera_nb."""


class ConfigError(FelderaNbError, ValueError):
    """A runtime-config field has a bad value; ``field`` names it (dotted path)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class SqlError(FelderaNbError):
    """An error in a SQL program, with its position.

    ``line`` and ``col`` are 1-based; ``statement`` is the 1-based index of the statement in the
    program (or None for ad-hoc queries); ``highlight`` is the offending text.
    """

    def __init__(
        self,
        message: str,
        *,
        sql: str | None = None,
        line: int | None = None,
        col: int | None = None,
        highlight: str | None = None,
        statement: int | None = None,
    ) -> None:
        self.description = message
        self.sql = sql
        self.line = line
        self.col = col
        self.highlight = highlight
        self.statement = statement
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.statement is not None:
            where.append(f"statement {self.statement}")
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.col is not None:
            where.append(f"column {self.col}")
        text = self.description
        if self.highlight:
            text += f" (at '{self.highlight}')"
        if where:
            text = f"{', '.join(where)}: {text}"
        return text

    def with_statement(self, statement: int, sql: str | None = None) -> SqlError:
        """Return a copy of this error that names the statement it came from."""
        err = type(self).__new__(type(self))
        SqlError.__init__(
            err,
            self.description,
            sql=sql if sql is not None else self.sql,
            line=self.line,
            col=self.col,
            highlight=self.highlight,
            statement=statement,
        )
        return err


class UnsupportedSqlError(SqlError):
    """Valid SQL that feldera_nb does not support; the message starts with 'not supported:'."""

    def __init__(self, construct: str, **kwargs: Any) -> None:
        super().__init__(f"not supported: {construct}", **kwargs)


class SqlTypeError(SqlError):
    """An expression whose operand types do not fit (for example ``-'abc'``)."""


class InputError(FelderaNbError, ValueError):
    """Input rejected before it reached the pipeline: unknown table, wrong type, NULL in a
    NOT NULL column.  Nothing of the rejected batch was applied."""


class UnknownTableError(InputError, KeyError):
    """A table or view name that the program does not define."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PipelineStateError(FelderaNbError, RuntimeError):
    """An operation that the pipeline's current status does not allow."""

    def __init__(self, message: str, *, current: Any = None, expected: Any = None) -> None:
        self.current = current
        self.expected = expected
        super().__init__(message)


class PipelineTimeoutError(FelderaNbError, TimeoutError):
    """A ``wait``/``timeout_s`` ran out before the awaited state was reached."""


class StorageError(FelderaNbError, OSError):
    """A problem with the pipeline's storage directory."""


class StorageLockedError(StorageError):
    """Another pipeline holds the lock on this storage path."""


class CheckpointCorruptError(StorageError):
    """A checkpoint file's checksum or size does not match its manifest."""

    def __init__(
        self, message: str, *, path: str | None = None, expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(message)


class CheckpointError(FelderaNbError, RuntimeError):
    """A checkpoint failed to be taken."""


class JournalError(StorageError):
    """The input journal is unreadable beyond a torn tail."""


class RecoveryError(FelderaNbError, RuntimeError):
    """The pipeline could not recover from its storage."""


class BootstrapRejectedError(RecoveryError):
    """The program changed since the checkpoint and the bootstrap policy is REJECT."""


class SyncError(FelderaNbError, RuntimeError):
    """Checkpoint sync to or from object storage failed."""


class FelderaNbWarning(UserWarning):
    """Root of the warnings feldera_nb emits."""


class RecoveryWarning(FelderaNbWarning):
    """Recovery skipped something (a corrupt checkpoint, a torn journal tail)."""


def warn(message: str, category: type[Warning] = FelderaNbWarning) -> None:
    """Emit a warning pointing at the first frame outside feldera_nb."""
    warnings.warn(message, category, stacklevel=find_stacklevel())


def find_stacklevel() -> int:
    """Return the stacklevel of the first frame outside the feldera_nb package."""
    import inspect
    import os

    pkg_dir = os.path.dirname(__file__)
    frame = inspect.currentframe()
    level = 0
    while frame is not None:
        if not frame.f_code.co_filename.startswith(pkg_dir):
            break
        frame = frame.f_back
        level += 1
    return max(level, 1)
