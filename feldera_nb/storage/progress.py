"""Progress reporting in fsspec's ``Callback`` shape.

Long storage work (writing a checkpoint) reports bytes through an object with ``set_size(n)``
and ``relative_update(n)``: an ``fsspec.callbacks.Callback`` (or a tqdm or widget adapter) fits
as it is.  The default, :data:`NO_OP`, does nothing, so callers never check for None.

>>> class Count:
...     def __init__(self): self.size, self.value = None, 0
...     def set_size(self, n): self.size = n
...     def relative_update(self, n): self.value += n
>>> c = Count(); c.set_size(10); c.relative_update(4); (c.size, c.value)
(10, 4)
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

__all__ = ["NO_OP", "NoOpProgress", "Progress"]


@runtime_checkable
class Progress(Protocol):
    """What a progress callback must offer (a subset of ``fsspec.callbacks.Callback``)."""

    def set_size(self, size: int) -> None:
        """Announce the total amount of work, in bytes."""

    def relative_update(self, inc: int = 1) -> None:
        """Report ``inc`` more bytes done."""


class NoOpProgress:
    """A progress callback that ignores everything."""

    def set_size(self, size: int) -> None:
        """Ignore the total."""

    def relative_update(self, inc: int = 1) -> None:
        """Ignore the update."""

    def __repr__(self) -> str:
        return "NO_OP"


NO_OP: Final = NoOpProgress()
