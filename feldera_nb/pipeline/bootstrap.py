"""What changed in the program since a checkpoint, and what the bootstrap policy does about it.

A checkpoint stores the fingerprints of its program's tables and views
(``Program.fingerprints()``).  :func:`program_diff` compares them with the program being
started.  A view counts as modified when its own query changed *or* it reads (directly or
through other views) a table or view that was added, modified or removed: its checkpointed
state would be stale either way.

>>> old = {"tables": {"t": "a"}, "views": {"v": "1", "w": "2"}}
>>> new = {"tables": {"t": "a"}, "views": {"v": "9", "w": "2", "x": "3"}}
>>> d = program_diff(old, new, {"v": {"t"}, "w": {"v"}, "x": {"t"}})
>>> d.added_views, d.modified_views, d.is_empty
(('x',), ('v', 'w'), False)
>>> print(d)
added views: x; modified views: v, w
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlglot import exp

from feldera_nb.sql.program import Program


@dataclass(frozen=True)
class ProgramDiff:
    """Tables and views added, modified or removed since the checkpoint (sorted names)."""

    added_tables: tuple[str, ...] = ()
    modified_tables: tuple[str, ...] = ()
    removed_tables: tuple[str, ...] = ()
    added_views: tuple[str, ...] = ()
    modified_views: tuple[str, ...] = ()
    removed_views: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the program is the one the checkpoint was taken with."""
        return not any(self.to_dict().values())

    @property
    def views_to_compute(self) -> tuple[str, ...]:
        """The views whose contents bootstrap must compute (added or modified)."""
        return tuple(sorted({*self.added_views, *self.modified_views}))

    def to_dict(self) -> dict[str, list[str]]:
        """Feldera's ``program_diff`` shape: ``{added,modified,removed}_{tables,views}``."""
        return {name: list(getattr(self, name)) for name in (
            "added_tables", "modified_tables", "removed_tables",
            "added_views", "modified_views", "removed_views")}

    def __str__(self) -> str:
        parts = [f"{name.replace('_', ' ')}: {', '.join(items)}"
                 for name, items in self.to_dict().items() if items]
        return "; ".join(parts) or "no changes"


def dependencies(program: Program) -> dict[str, set[str]]:
    """The tables and views each view's query reads (lowercase names)."""
    known = {t.name for t in program.tables} | {v.name for v in program.views}
    return {v.name: {t.name.lower() for t in v.query.find_all(exp.Table)} & known
            for v in program.views}


def program_diff(old: Mapping[str, Mapping[str, str]], new: Mapping[str, Mapping[str, str]],
                 deps: Mapping[str, set[str]]) -> ProgramDiff:
    """Compare fingerprints ``old`` (from the checkpoint) with ``new``; ``deps`` are the new
    program's view dependencies."""
    ot, nt = dict(old.get("tables", {})), dict(new.get("tables", {}))
    ov, nv = dict(old.get("views", {})), dict(new.get("views", {}))
    added_t = sorted(set(nt) - set(ot))
    removed_t = sorted(set(ot) - set(nt))
    modified_t = sorted(t for t in set(nt) & set(ot) if nt[t] != ot[t])
    added_v = sorted(set(nv) - set(ov))
    removed_v = sorted(set(ov) - set(nv))
    dirty = set(added_t) | set(modified_t) | set(removed_t) | set(added_v) | set(removed_v)
    dirty |= {v for v in set(nv) & set(ov) if nv[v] != ov[v]}
    changed = True
    while changed:  # a view reading a dirty relation is dirty too
        changed = False
        for v, reads in deps.items():
            if v not in dirty and reads & dirty:
                dirty.add(v)
                changed = True
    modified_v = sorted(v for v in set(nv) & set(ov) if v in dirty)
    return ProgramDiff(tuple(added_t), tuple(modified_t), tuple(removed_t), tuple(added_v),
                       tuple(modified_v), tuple(removed_v))
