"""The plan view: operators, state, sizes; text tree and a deterministic SVG."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from feldera_nb import Pipeline
from feldera_nb.errors import UnknownTableError

SQL = """
    CREATE TABLE t (k INT NOT NULL, v INT);
    CREATE TABLE u (k INT NOT NULL PRIMARY KEY, name VARCHAR);
    CREATE MATERIALIZED VIEW s AS SELECT k, SUM(v) AS total FROM t GROUP BY k;
    CREATE VIEW j AS SELECT u.name, s.total FROM s JOIN u ON s.k = u.k WHERE s.total > 3;
"""


@pytest.fixture
def p():
    p = Pipeline(SQL, name="x")
    p.start()
    p.input_json("t", [{"k": 1, "v": 5}, {"k": 2, "v": 1}])
    p.input_json("u", [{"k": 1, "name": "a"}])
    yield p
    p.stop(force=True)


def test_text_tree_names_operators_state_and_sources(p):
    assert str(p.explain("j")) == "\n".join([
        "view j: 4 operators, 1 keeps state (2 rows); reads view s, table u",
        "j#4:Map  view j",
        "└─ j#3:Map  project",
        "   └─ j#2:Join  [state: 2 rows]",
        "      ├─ j#1:Filter",
        "      │  └─ view s  [state: 2 rows]",
        "      └─ table u  [state: 1 row]",
    ])


def test_expanded_views_show_their_operators(p):
    plan = p.explain("J", expand_views=True)
    text = str(plan)
    assert "s#2:LinearAggregate  [state: 2 rows]" in text
    assert "table t  [state: 2 rows]" in text
    assert [n.id for n in plan.stateful] == ["j#2:Join"]


def test_svg_is_well_formed_and_deterministic(p):
    plan = p.explain("j")
    svg = plan.to_svg()
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    ops = [g.get("data-op") for g in root.iter("{http://www.w3.org/2000/svg}g")]
    assert set(ops) == {"view:s", "table:u", "j#1:Filter", "j#2:Join", "j#3:Map", "j#4:Map"}
    assert svg == p.explain("j").to_svg()
    bundle = plan._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    assert repr(plan) == "Plan(view='j', operators=4, stateful=1)"


def test_state_sizes_follow_the_data(p):
    before = p.explain("s").stateful[0].state_rows
    p.input_json("t", [{"k": 3, "v": 1}])
    assert p.explain("s").stateful[0].state_rows == before + 1


def test_unknown_view():
    q = Pipeline("CREATE TABLE t (x INT); CREATE VIEW v AS SELECT x FROM t;")
    with pytest.raises(UnknownTableError, match="no view 'w' to explain .views: v."):
        q.explain("w")
