"""The plan view: the incremental circuit of one view, as a text tree and as an SVG picture.

:func:`explain` walks the pipeline's circuit back from the view's output operator.  Every
operator of the view is shown with its kind, its label, whether it keeps state and how many
rows that state holds.  What the view reads is shown as leaves: a table (its contents are
state too) or another view, drawn as one collapsed node (``expand_views=True`` draws its
operators instead).  The SVG is laid out here (layers by longest path, ordered by the
barycentre of their inputs), so no graphviz is needed, and it is deterministic: the same
program and state give the same bytes.

>>> from feldera_nb import Pipeline
>>> p = Pipeline('''
...     CREATE TABLE t (k INT NOT NULL, v INT);
...     CREATE VIEW s AS SELECT k, SUM(v) AS total FROM t GROUP BY k;
... ''', name="doc")
>>> p.start(); p.input_json("t", [{"k": 1, "v": 2}, {"k": 1, "v": 3}])
>>> print(explain(p, "s"))
view s: 4 operators, 1 keeps state (1 row); reads table t
s#4:Map  view s
└─ s#3:Map  project
   └─ s#2:LinearAggregate  [state: 1 row]
      └─ s#1:Map  group by
         └─ table t  [state: 2 rows]
>>> p.stop(force=True)
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from feldera_nb.errors import UnknownTableError

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 190, 46, 24, 34, 12


@dataclass(frozen=True)
class PlanNode:
    """One box of the plan: an operator, a table, or a collapsed upstream view."""

    id: str
    kind: str
    label: str
    inputs: tuple[str, ...]
    stateful: bool
    state_rows: int | None
    owner: str
    """``view:<name>`` or ``table:<name>``: whose operator this is."""
    collapsed: bool = False

    @property
    def title(self) -> str:
        if self.kind == "table":
            return f"table {self.owner.split(':', 1)[1]}"
        if self.collapsed:
            return f"view {self.owner.split(':', 1)[1]}"
        return self.id

    @property
    def detail(self) -> str:
        if self.stateful and self.state_rows is not None:
            return f"state: {self.state_rows:,} row{'' if self.state_rows == 1 else 's'}"
        return self.label


class Plan:
    """The plan of one view.  ``str()`` draws the text tree; in a notebook it shows as SVG
    (with the tree as ``text/plain``)."""

    def __init__(self, view: str, root: str, nodes: dict[str, PlanNode]) -> None:
        self.view = view
        self.root = root
        self.nodes = nodes

    @property
    def operators(self) -> list[PlanNode]:
        """The view's own operators, inputs first."""
        return [n for n in self.nodes.values() if n.owner == f"view:{self.view}"]

    @property
    def stateful(self) -> list[PlanNode]:
        """The view's operators that keep state."""
        return [n for n in self.operators if n.stateful]

    @property
    def sources(self) -> list[PlanNode]:
        """What the view reads: tables and (collapsed) views."""
        return [n for n in self.nodes.values() if n.kind == "table" or n.collapsed]

    def summary(self) -> str:
        ops, keep = self.operators, self.stateful
        rows = sum(n.state_rows or 0 for n in keep)
        reads = ", ".join(n.title for n in self.sources) or "nothing"
        return (f"view {self.view}: {len(ops)} operator{'' if len(ops) == 1 else 's'}, "
                f"{len(keep)} keep{'s' if len(keep) == 1 else ''} state "
                f"({rows:,} row{'' if rows == 1 else 's'}); reads {reads}")

    # -- text ---------------------------------------------------------------------------------
    def to_text(self) -> str:
        """The summary line and the tree from the view's output back to its sources."""
        lines = [self.summary()]
        seen: set[str] = set()

        def walk(node_id: str, prefix: str, last: bool, top: bool) -> None:
            n = self.nodes[node_id]
            text = n.title if n.kind == "table" or n.collapsed else f"{n.id}"
            if n.stateful and n.state_rows is not None:
                text += f"  [{n.detail}]"
            elif n.label and not n.collapsed and n.kind != "table":
                text += f"  {n.label}"
            if node_id in seen and n.inputs:
                text += "  (shown above)"
            branch = "" if top else ("└─ " if last else "├─ ")
            lines.append(prefix + branch + text)
            if node_id in seen:
                return
            seen.add(node_id)
            child_prefix = prefix if top else prefix + ("   " if last else "│  ")
            for i, child in enumerate(n.inputs):
                walk(child, child_prefix, i == len(n.inputs) - 1, False)

        walk(self.root, "", True, True)
        return "\n".join(lines)

    # -- svg ----------------------------------------------------------------------------------
    def layout(self) -> dict[str, tuple[int, int]]:
        """Node id -> (layer, position in layer); sources in layer 0, the output last."""
        layer: dict[str, int] = {}
        for node_id in self.nodes:  # inputs come first (topological order)
            ins = self.nodes[node_id].inputs
            layer[node_id] = 1 + max((layer[i] for i in ins), default=-1)
        consumers: dict[str, list[str]] = {}
        for node_id, n in self.nodes.items():
            for i in n.inputs:
                consumers.setdefault(i, []).append(node_id)
        for node_id, n in self.nodes.items():  # a source sits just above its first reader
            if not n.inputs and node_id in consumers:
                layer[node_id] = min(layer[c] for c in consumers[node_id]) - 1
        layers: dict[int, list[str]] = {}
        for node_id, lv in layer.items():
            layers.setdefault(lv, []).append(node_id)
        pos: dict[str, tuple[int, int]] = {}
        for lv in sorted(layers):
            ids = layers[lv]
            if lv > 0:  # order by the mean position of the inputs (fewer crossings)
                def bary(i: str) -> float:
                    xs = [pos[j][1] for j in self.nodes[i].inputs if j in pos]
                    return sum(xs) / len(xs) if xs else 0.0
                ids = sorted(ids, key=lambda i: (bary(i), i))
            for k, node_id in enumerate(ids):
                pos[node_id] = (lv, k)
        return pos

    def to_svg(self) -> str:
        """The plan as a standalone SVG document (deterministic)."""
        pos = self.layout()
        width_of: dict[int, int] = {}
        for lv, k in pos.values():
            width_of[lv] = max(width_of.get(lv, 0), k + 1)
        cols = max(width_of.values(), default=1)
        rows = 1 + max((lv for lv, _ in pos.values()), default=0)
        total_w = max(PAD * 2 + cols * NODE_W + (cols - 1) * GAP_X,
                      PAD * 2 + 7 * len(self.summary()))
        total_h = PAD * 2 + 22 + rows * NODE_H + (rows - 1) * GAP_Y

        def xy(node_id: str) -> tuple[float, float]:
            lv, k = pos[node_id]
            n = width_of[lv]
            row_w = n * NODE_W + (n - 1) * GAP_X
            x = (total_w - row_w) / 2 + k * (NODE_W + GAP_X)
            y = PAD + 22 + lv * (NODE_H + GAP_Y)
            return x, y

        esc = html.escape
        marker = f"fnb-arrow-{_slug(self.view)}"
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" '
               f'viewBox="0 0 {total_w} {total_h}" font-family="Helvetica, Arial, sans-serif" '
               'font-size="12">',
               f'<title>{esc(self.summary())}</title>',
               f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" '
               'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
               '<path d="M 0 0 L 10 5 L 0 10 z" fill="#57606a"/></marker></defs>',
               f'<text x="{PAD}" y="{PAD + 10}" font-weight="bold">{esc(self.summary())}'
               '</text>']
        for node_id, n in self.nodes.items():
            x2, y2 = xy(node_id)
            for i in n.inputs:
                x1, y1 = xy(i)
                sx, sy = x1 + NODE_W / 2, y1 + NODE_H
                tx, ty = x2 + NODE_W / 2, y2
                mid = (sy + ty) / 2
                out.append(f'<path d="M {sx:.0f} {sy:.0f} C {sx:.0f} {mid:.0f}, {tx:.0f} '
                           f'{mid:.0f}, {tx:.0f} {ty - 1:.0f}" fill="none" stroke="#57606a" '
                           f'stroke-width="1.2" marker-end="url(#{marker})"/>')
        for node_id, n in self.nodes.items():
            x, y = xy(node_id)
            if n.kind == "table":
                fill, stroke, dash = "#ddf4ff", "#0969da", ""
            elif n.collapsed:
                fill, stroke, dash = "#f6f8fa", "#57606a", ' stroke-dasharray="4 3"'
            elif n.stateful:
                fill, stroke, dash = "#fff1e5", "#bc4c00", ""
            else:
                fill, stroke, dash = "#ffffff", "#8c959f", ""
            width = 2 if n.stateful else 1
            out.append(f'<g class="fnb-op" data-op="{esc(node_id)}">'
                       f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="6" '
                       f'fill="{fill}" stroke="{stroke}" stroke-width="{width}"{dash}/>')
            head = n.title if n.kind == "table" or n.collapsed else n.kind
            out.append(f'<text x="{x + 8:.0f}" y="{y + 18:.0f}" font-weight="bold">'
                       f'{esc(_clip(head, 26))}</text>')
            sub = n.detail if n.stateful else (n.label or (n.id if not n.collapsed else ""))
            if not n.collapsed and n.kind != "table" and not n.stateful:
                sub = f"{n.id.split(':')[0]}  {n.label}".strip()
            elif not n.collapsed and n.kind != "table":
                sub = f"{n.id.split(':')[0]}  {n.detail}"
            out.append(f'<text x="{x + 8:.0f}" y="{y + 35:.0f}" fill="#57606a">'
                       f'{esc(_clip(sub, 30))}</text></g>')
        out.append("</svg>")
        return "\n".join(out)

    # -- display ------------------------------------------------------------------------------
    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"Plan(view={self.view!r}, operators={len(self.operators)}, " \
               f"stateful={len(self.stateful)})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"image/svg+xml": self.to_svg(), "text/plain": self.to_text()}

    def _repr_svg_(self) -> str:
        return self.to_svg()


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _owner(op_id: str) -> str:
    if op_id.startswith(("table:", "input:")):
        return "table:" + op_id.split(":", 1)[1]
    return "view:" + op_id.split("#", 1)[0]


def explain(pipeline: Any, view: str, *, expand_views: bool = False) -> Plan:
    """The plan of ``view`` in ``pipeline`` (a Pipeline, or anything with ``.program.circuit``
    or ``.circuit``).  State sizes are the current ones."""
    program = getattr(pipeline, "program", pipeline)
    circuit = getattr(program, "circuit", program)
    name = view.lower()
    if name not in circuit.outputs:
        known = ", ".join(sorted(circuit.outputs)) or "none"
        raise UnknownTableError(f"no view '{view}' to explain (views: {known})")
    lock = getattr(pipeline, "_lock", None)
    if lock is not None:
        with lock:
            return _build(circuit, name, expand_views)
    return _build(circuit, name, expand_views)


def _build(circuit: Any, view: str, expand_views: bool) -> Plan:
    ops = circuit.ops
    outputs_by_op = {op_id: v for v, op_id in circuit.outputs.items()}
    root = circuit.outputs[view]
    keep: dict[str, PlanNode] = {}
    order = {op_id: i for i, op_id in enumerate(ops)}

    def visit(op_id: str) -> str:
        """Add ``op_id`` (or what stands for it); returns the node id used."""
        op = ops[op_id]
        owner = _owner(op_id)
        if owner.startswith("table:"):
            table_id = "table:" + owner.split(":", 1)[1]
            if table_id not in keep and table_id in ops:
                t = ops[table_id]
                keep[table_id] = PlanNode(table_id, "table", t.label, (), True,
                                          _rows(t), owner)
            return table_id
        other = owner.split(":", 1)[1]
        if other != view and not expand_views and op_id in outputs_by_op:
            node_id = f"view:{other}"
            if node_id not in keep:
                rows = sum(_rows(o) or 0 for i, o in ops.items()
                           if _owner(i) == owner and o.stateful)
                keep[node_id] = PlanNode(node_id, "view", f"view {other}", (), rows > 0,
                                         rows, owner, collapsed=True)
            return node_id
        if op_id not in keep:
            inputs = tuple(visit(i) for i in op.inputs)
            keep[op_id] = PlanNode(op_id, op.kind, op.label, inputs, bool(op.stateful),
                                   _rows(op) if op.stateful else None, owner)
        return op_id

    visit(root)

    def rank(node_id: str) -> tuple[int, str]:
        return (order.get(node_id, order.get(node_id.replace("view:", ""), -1)), node_id)

    # topological (circuit) order, leaves first; collapsed views sort before their readers
    ordered = sorted(keep, key=lambda i: (0 if not keep[i].inputs else 1, rank(i)))
    nodes = _topological({i: keep[i] for i in ordered})
    return Plan(view, root, nodes)


def _topological(nodes: dict[str, PlanNode]) -> dict[str, PlanNode]:
    out: dict[str, PlanNode] = {}

    def add(node_id: str) -> None:
        if node_id in out:
            return
        for i in nodes[node_id].inputs:
            add(i)
        out[node_id] = nodes[node_id]

    for node_id in nodes:
        add(node_id)
    return out


def _rows(op: Any) -> int | None:
    fn = getattr(op, "state_rows", None)
    try:
        return int(fn()) if callable(fn) else None
    except Exception:  # noqa: BLE001 - a plan shows what it can
        return None
