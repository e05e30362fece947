"""Change schedules: the input steps that take the pipeline from one data state to the next.

``batch``: one step per transition, the exact difference.  ``incremental``: three steps per
transition.  Junk rows (random combinations of values the columns already hold) are inserted in
the first two steps and deleted again in the last two; the real inserts and deletes are split
across the steps; and a few real rows are deleted in step two and inserted again in step
three.  After the last step the integrated input equals the script's data state, which is the
only point where views are read.

A step maps a table name to ``(row, weight)`` pairs, weight +n inserts n copies, -n deletes.

>>> steps = transition({"t": []}, {"t": [(1,), (2,)]}, {"t": _cols("INTEGER")}, "batch", None)
>>> steps
[{'t': [((1,), 1), ((2,), 1)]}]
>>> integrate([], [s["t"] for s in steps]) == Counter({(1,): 1, (2,): 1})
True
"""

from __future__ import annotations

import random
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from .program import Column

Row = tuple
Step = dict[str, list[tuple[Row, int]]]
MODES = ("batch", "incremental")


def transition(
    prev: Mapping[str, Sequence[Row]],
    nxt: Mapping[str, Sequence[Row]],
    columns: Mapping[str, Sequence[Column]],
    mode: str,
    rng: random.Random | None,
) -> list[Step]:
    """The steps from state ``prev`` to state ``nxt`` (tables absent from a state are empty)."""
    tables = sorted(set(prev) | set(nxt))
    if mode == "batch":
        step = {}
        for t in tables:
            delta = _delta(Counter(prev.get(t, ())), Counter(nxt.get(t, ())))
            if delta:
                step[t] = delta
        return [step] if step else []
    assert rng is not None
    steps: list[Step] = [{}, {}, {}]
    for t in tables:
        for i, changes in enumerate(
            _incremental(Counter(prev.get(t, ())), Counter(nxt.get(t, ())), columns[t], rng)
        ):
            if changes:
                steps[i][t] = changes
    return [s for s in steps if s]


def integrate(rows: Iterable[Row], deltas: Iterable[Iterable[tuple[Row, int]]]) -> Counter:
    """Apply weighted deltas to a bag; raise if a multiplicity would go negative."""
    bag = Counter(rows)
    for delta in deltas:
        for row, w in delta:
            bag[row] += w
            if bag[row] < 0:
                raise AssertionError(f"negative multiplicity for {row!r}")
            if bag[row] == 0:
                del bag[row]
    return bag


def _delta(prev: Counter, nxt: Counter) -> list[tuple[Row, int]]:
    out = [(row, n) for row, n in (nxt - prev).items()]
    out += [(row, -n) for row, n in (prev - nxt).items()]
    return out


def _incremental(
    prev: Counter, nxt: Counter, cols: Sequence[Column], rng: random.Random
) -> list[list[tuple[Row, int]]]:
    ins, dels = _split(nxt - prev, rng), _split(prev - nxt, rng)
    size = max(sum(prev.values()), sum(nxt.values()))
    if size == 0 and not ins[0] and not ins[1]:
        return [[], [], []]
    domain = [sorted({r[i] for r in list(prev) + list(nxt) if r[i] is not None}, key=repr)
              for i in range(len(cols))]
    # Few junk rows: they share the real rows' values, so every one multiplies many-way joins.
    n_junk = max(1, min(2, size // 3 + 1))
    junk1 = Counter(_junk_row(cols, domain, rng) for _ in range(n_junk))
    junk2 = Counter(_junk_row(cols, domain, rng) for _ in range(max(1, n_junk // 2)))
    early_junk, late_junk = _split(junk1, rng)
    present = (prev & nxt) + ins[0]
    candidates = sorted(present.elements(), key=repr)
    bounce = Counter(rng.sample(candidates, min(2, len(candidates))))
    additions = [ins[0] + junk1, ins[1] + junk2, bounce]
    removals = [dels[0], bounce + early_junk, dels[1] + late_junk + junk2]
    return [_weighted(add, rem) for add, rem in zip(additions, removals, strict=True)]


def _weighted(add: Counter, rem: Counter) -> list[tuple[Row, int]]:
    net: Counter = Counter()
    for row, n in add.items():
        net[row] += n
    for row, n in rem.items():
        net[row] -= n
    return [(row, n) for row, n in net.items() if n]


def _split(bag: Counter, rng: random.Random) -> tuple[Counter, Counter]:
    items = sorted(bag.elements(), key=repr)
    rng.shuffle(items)
    half = len(items) // 2
    return Counter(items[:half]), Counter(items[half:])


def _junk_row(cols: Sequence[Column], domain: Sequence[list], rng: random.Random) -> Row:
    return tuple(_junk_value(c, d, rng) for c, d in zip(cols, domain, strict=True))


def _junk_value(col: Column, domain: list, rng: random.Random) -> object:
    """A value the column already holds (or NULL), so junk rows cannot make a view fail
    where the real data does not (say, an INTEGER overflow); small values for empty tables."""
    if rng.random() < 0.1 and not col.not_null:
        return None
    if domain:
        return rng.choice(domain)
    if col.kind == "INTEGER":
        return rng.randint(1, 9)
    if col.kind == "DOUBLE":
        return round(rng.uniform(1.0, 9.0), 2)
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(5))


def _cols(*kinds: str) -> list[Column]:
    return [Column(f"c{i}", k, False) for i, k in enumerate(kinds)]
