"""Data for test_differential.py: the tables, their value domains, and the views under test.

Each view is written once in Feldera's dialect (``sql``).  The oracle runs the same text in
DuckDB unless the view has an ``oracle``: that is DuckDB SQL computing what Feldera's semantics
say, with a comment on the difference.  ``deps`` names the views a view reads (created first).
"""

from __future__ import annotations

from dataclasses import dataclass

TABLES_SQL = """
CREATE TABLE orders (
    id INTEGER NOT NULL,
    cust INTEGER,
    qty INTEGER NOT NULL,
    amount DECIMAL(10, 2),
    price DOUBLE,
    note VARCHAR,
    paid BOOLEAN,
    odate DATE NOT NULL,
    ots TIMESTAMP
);
CREATE TABLE customers (
    cid INTEGER NOT NULL PRIMARY KEY,
    name VARCHAR NOT NULL,
    region VARCHAR,
    credit DECIMAL(10, 2),
    vip BOOLEAN,
    since DATE
);
CREATE TABLE events (
    cust INTEGER,
    kind VARCHAR NOT NULL,
    score DOUBLE,
    n BIGINT,
    ets TIMESTAMP NOT NULL
);
CREATE TABLE tags (
    tag VARCHAR,
    cust INTEGER
);
"""

# Small domains so that joins, groups, DISTINCT and set operations collide.
DOMAINS = {
    "orders.id": range(40),
    "orders.cust": range(7),
    "orders.qty": range(-2, 9),
    "customers.cid": range(10),
    "customers.name": ("ann", "bob", "cy", "Dee"),
    "customers.region": ("north", "south", "east"),
    "events.cust": range(7),
    "events.kind": ("click", "view", "buy"),
    "events.n": range(-3, 12),
    "tags.tag": ("a", "b", "c"),
    "tags.cust": range(7),
}

# tags is emptied often, so global aggregates over it see the empty table.
CLEAR_FRACTION = {"tags": 0.25}


@dataclass(frozen=True)
class View:
    """A view under test: its name, its Feldera SQL, an optional DuckDB oracle SQL, and the
    views it reads."""

    name: str
    sql: str
    oracle: str | None = None
    deps: tuple[str, ...] = ()


# Feldera's AVG of a DECIMAL(10, 2) is a DECIMAL(10, 2) rounded half away from zero (its decimal
# cast rule); DuckDB's AVG returns a DOUBLE.  Exact in DuckDB: round in integer cents.
_AVG_AMOUNT_EXACT = (
    "CAST(SIGN(SUM(CAST(amount * 100 AS BIGINT)))"
    " * ((2 * ABS(SUM(CAST(amount * 100 AS BIGINT))) + COUNT(amount)) // (2 * COUNT(amount)))"
    " AS DECIMAL(20, 0)) * 0.01"
)

VIEWS: tuple[View, ...] = (
    # ---- projections and expressions -------------------------------------------------------
    View(
        "proj_arith",
        "SELECT id, qty + 1 AS q1, qty * 3 - id AS q2, -qty AS neg, qty % 3 AS m,"
        " amount * 2 AS a2, amount + qty AS a3, amount - 1.25 AS a4, price * 2 AS p2,"
        " price / 4 AS p4 FROM orders",
    ),
    View(
        "int_div",
        "SELECT id, qty, qty / 3 AS d1, id / NULLIF(qty, 0) AS d2, (qty - 5) / 2 AS d3 FROM orders",
        # Feldera: INTEGER / INTEGER is an INTEGER truncated toward zero; DuckDB's `/` gives a
        # DOUBLE, its `//` truncates toward zero (-7 // 2 = -3).
        oracle="SELECT id, qty, qty // 3 AS d1, id // NULLIF(qty, 0) AS d2, (qty - 5) // 2 AS d3"
        " FROM orders",
    ),
    View(
        "bool_logic",
        "SELECT id, qty > 2 AS gt, qty = cust AS eq, qty <> 0 AND paid AS a,"
        " paid OR qty < 0 AS o, NOT paid AS np, paid AND cust > 2 AS a3,"
        " paid OR cust > 2 AS o3, NOT (paid OR cust IS NULL) AS n3 FROM orders",
    ),
    View(
        "case_when",
        "SELECT id, CASE WHEN qty < 0 THEN 'neg' WHEN qty = 0 THEN 'zero' WHEN qty > 5 THEN 'big'"
        " ELSE 'small' END AS size, CASE cust WHEN 1 THEN 'one' WHEN 2 THEN 'two' END AS c,"
        " CASE WHEN paid THEN amount ELSE 0 END AS due,"
        " CASE WHEN price IS NULL THEN -1 WHEN price > 1 THEN price END AS pp FROM orders",
    ),
    View(
        "casts",
        "SELECT id, CAST(qty AS DOUBLE) AS qd, CAST(price AS INTEGER) AS pi,"
        " CAST(amount AS INTEGER) AS ai, CAST(qty AS VARCHAR) AS qs,"
        " CAST(id AS DECIMAL(10, 2)) AS idd, CAST(ots AS DATE) AS od,"
        " CAST(odate AS TIMESTAMP) AS ots2, CAST(odate AS VARCHAR) AS ods,"
        " CAST(amount AS DOUBLE) AS ad FROM orders",
        # Feldera: casts from DOUBLE/DECIMAL to INTEGER truncate toward zero; DuckDB rounds.
        oracle="SELECT id, CAST(qty AS DOUBLE) AS qd, CAST(TRUNC(price) AS INTEGER) AS pi,"
        " CAST(TRUNC(amount) AS INTEGER) AS ai, CAST(qty AS VARCHAR) AS qs,"
        " CAST(id AS DECIMAL(10, 2)) AS idd, CAST(ots AS DATE) AS od,"
        " CAST(odate AS TIMESTAMP) AS ots2, CAST(odate AS VARCHAR) AS ods,"
        " CAST(amount AS DOUBLE) AS ad FROM orders",
    ),
    View(
        "coalesce_null",
        "SELECT id, COALESCE(cust, -1) AS c, COALESCE(note, 'none') AS nt,"
        " cust IS NULL AS cn, note IS NOT NULL AS nn, COALESCE(price, qty) AS pq,"
        " NULLIF(qty, 0) AS nz, COALESCE(amount, CAST(0 AS DECIMAL(10, 2))) AS am FROM orders",
    ),
    View(
        "between_in",
        "SELECT id, qty BETWEEN 1 AND 4 AS b1, qty NOT BETWEEN 0 AND 2 AS b2,"
        " cust IN (1, 3, 5) AS i1, cust NOT IN (1, 2) AS i2, note IN ('a', 'hello') AS i3,"
        " price BETWEEN 0.1 AND 2.0 AS b3 FROM orders",
    ),
    View(
        "strings",
        "SELECT id, UPPER(note) AS u, LOWER(note) AS l, CHAR_LENGTH(note) AS n,"
        " SUBSTRING(note FROM 2 FOR 3) AS sub, note || '-' || CAST(id AS VARCHAR) AS cat,"
        " note LIKE 'a%' AS l1, note LIKE '%l_o%' AS l2, note NOT LIKE '%b%' AS l3 FROM orders",
    ),
    View(
        "numeric_funcs",
        "SELECT id, ABS(qty) AS aq, ABS(amount) AS aa, ABS(price) AS ap, FLOOR(price) AS fp,"
        " CEIL(price) AS cp, FLOOR(amount) AS fa, CEIL(amount) AS ca FROM orders",
    ),
    View(
        "string_funcs",
        "SELECT id, TRIM(note) AS t, POSITION('l' IN note) AS pos, REPLACE(note, 'a', 'A') AS r,"
        " note = UPPER(note) AS is_upper, note < 'b' AS lt FROM orders",
    ),
    View(
        "mixed_type_compare",
        "SELECT id, qty < amount AS qa, qty = price AS qp, amount = price AS ap,"
        " amount + price AS sum_ap, qty * price AS qp2 FROM orders",
    ),
    View(
        "in_list_null",
        "SELECT id, cust IN (1, NULL) AS i1, cust NOT IN (1, NULL) AS i2 FROM orders",
    ),
    View(
        "dates",
        "SELECT id, odate, odate > DATE '2024-01-05' AS late, ots < TIMESTAMP '2024-01-01 12:00:00'"
        " AS morning, EXTRACT(YEAR FROM odate) AS y, EXTRACT(DAY FROM odate) AS d,"
        " ots >= CAST(odate AS TIMESTAMP) AS after_midnight FROM orders",
    ),
    View(
        "timestamp_interval",
        "SELECT id, ots + INTERVAL '1' HOUR AS ots1, ots - INTERVAL '30' MINUTE AS ots2"
        " FROM orders",
    ),
    View(
        "where_filter",
        "SELECT * FROM orders WHERE qty > 2 AND (paid OR note LIKE '%a%')",
    ),
    View(
        "where_nulls",
        "SELECT id, cust, note FROM orders WHERE cust IS NULL OR note IS NULL",
    ),
    View(
        "where_decimal",
        "SELECT id, amount, price FROM orders WHERE amount >= 1.50 AND price < 3.0",
    ),
    # ---- joins -------------------------------------------------------------------------------
    View(
        "join_inner",
        "SELECT o.id, o.qty, c.name, c.credit FROM orders AS o"
        " JOIN customers AS c ON o.cust = c.cid AND o.amount < c.credit",
    ),
    View(
        "join_left",
        "SELECT o.id, o.cust, c.name, c.region FROM orders AS o"
        " LEFT JOIN customers AS c ON o.cust = c.cid AND c.vip",
    ),
    View(
        "join_right",
        "SELECT c.cid, c.name, o.id, o.qty FROM orders AS o"
        " RIGHT JOIN customers AS c ON o.cust = c.cid AND o.qty > 3",
    ),
    View(
        "join_full",
        "SELECT o.id, o.cust AS ocust, e.cust AS ecust, e.kind, e.n FROM orders AS o"
        " FULL OUTER JOIN events AS e ON o.cust = e.cust AND o.qty < e.n",
    ),
    View(
        "join_cross",
        "SELECT t.tag, c.cid, c.vip FROM tags AS t CROSS JOIN customers AS c",
    ),
    View(
        "join_three",
        "SELECT o.id, c.name, e.kind FROM orders AS o JOIN customers AS c ON o.cust = c.cid"
        " JOIN events AS e ON e.cust = c.cid WHERE e.score > 0",
    ),
    View(
        "join_self",
        "SELECT a.id AS a_id, b.id AS b_id, a.cust FROM orders AS a"
        " JOIN orders AS b ON a.cust = b.cust AND a.id < b.id",
    ),
    View(
        "join_expr_key",
        "SELECT o.id, c.cid, c.name FROM orders AS o JOIN customers AS c"
        " ON o.cust + 1 = c.cid AND o.paid",
    ),
    View(
        "anti_join_left_null",
        "SELECT o.id, o.cust FROM orders AS o LEFT JOIN customers AS c ON o.cust = c.cid"
        " WHERE c.cid IS NULL",
    ),
    View(
        "join_distinct",
        "SELECT DISTINCT c.region, e.kind FROM customers AS c JOIN events AS e ON e.cust = c.cid",
    ),
    View(
        "join_two_keys",
        "SELECT e.kind, e.cust, o.id FROM events AS e JOIN orders AS o"
        " ON e.cust = o.cust AND e.n = o.qty",
    ),
    # ---- aggregates --------------------------------------------------------------------------
    View(
        "agg_count",
        "SELECT cust, COUNT(*) AS n, COUNT(note) AS nn, COUNT(DISTINCT note) AS dn"
        " FROM orders GROUP BY cust",
    ),
    View(
        "agg_sum_min_max",
        "SELECT cust, SUM(qty) AS sq, SUM(amount) AS sa, SUM(price) AS sp, MIN(note) AS mn,"
        " MAX(note) AS mx, MIN(odate) AS md, MAX(ots) AS mt, MIN(amount) AS ma, MAX(paid) AS mp"
        " FROM orders GROUP BY cust",
    ),
    View(
        "agg_avg",
        "SELECT cust, AVG(qty) AS aq, AVG(price) AS ap FROM orders GROUP BY cust",
        # Feldera: AVG of an INTEGER column is an INTEGER, the exact mean truncated toward
        # zero; DuckDB's AVG returns a DOUBLE.
        oracle="SELECT cust, SUM(qty) // COUNT(qty) AS aq, AVG(price) AS ap"
        " FROM orders GROUP BY cust",
    ),
    View(
        "agg_avg_decimal",
        "SELECT cust, AVG(amount) AS a FROM orders GROUP BY cust",
        oracle=f"SELECT cust, {_AVG_AMOUNT_EXACT} AS a FROM orders GROUP BY cust",
    ),
    View(
        "agg_having",
        "SELECT cust, COUNT(*) AS n, SUM(qty) AS s FROM orders GROUP BY cust"
        " HAVING COUNT(*) > 2 AND SUM(qty) > 5",
    ),
    View(
        "agg_two_keys",
        "SELECT cust, paid, COUNT(*) AS n, MAX(price) AS mp FROM orders GROUP BY cust, paid",
    ),
    View(
        "agg_expr_key",
        "SELECT qty % 3 AS bucket, SUM(price) AS sp, COUNT(*) AS n FROM orders GROUP BY qty % 3",
    ),
    View(
        "agg_distinct_counts",
        "SELECT kind, COUNT(DISTINCT cust) AS dc, COUNT(DISTINCT n) AS dn, SUM(score) AS ss"
        " FROM events GROUP BY kind",
    ),
    View(
        "agg_global_empty",
        "SELECT COUNT(*) AS n, COUNT(tag) AS nt, COUNT(DISTINCT tag) AS dt, SUM(cust) AS sc,"
        " MIN(tag) AS mn, MAX(cust) AS mx FROM tags",
    ),
    View(
        "agg_global_filtered",
        "SELECT COUNT(*) AS n, SUM(amount) AS s, MAX(odate) AS md, AVG(price) AS ap"
        " FROM orders WHERE qty > 6",
    ),
    View(
        "agg_sum_distinct",
        "SELECT cust, SUM(DISTINCT qty) AS sdq, COUNT(DISTINCT odate) AS dd,"
        " SUM(DISTINCT amount) AS sda FROM orders GROUP BY cust",
    ),
    View(
        "agg_filter",
        "SELECT cust, COUNT(*) FILTER (WHERE paid) AS np,"
        " MAX(price) FILTER (WHERE qty > 2) AS mp FROM orders GROUP BY cust",
    ),
    View(
        "agg_bool",
        "SELECT cust, BOOL_AND(paid) AS ba, BOOL_OR(paid) AS bo, BOOL_AND(qty > 0) AS pos"
        " FROM orders GROUP BY cust",
    ),
    View(
        "agg_left_join",
        "SELECT c.cid, COUNT(o.id) AS n, COUNT(*) AS rows_, SUM(o.qty) AS s FROM customers AS c"
        " LEFT JOIN orders AS o ON o.cust = c.cid GROUP BY c.cid",
    ),
    View(
        "agg_global_join",
        "SELECT COUNT(*) AS n, SUM(o.qty * c.cid) AS s, MIN(c.name) AS mn FROM orders AS o"
        " JOIN customers AS c ON o.cust = c.cid AND c.vip",
    ),
    View(
        "agg_of_join",
        "SELECT c.region, COUNT(*) AS n, SUM(o.amount) AS s, COUNT(DISTINCT o.cust) AS dc"
        " FROM orders AS o JOIN customers AS c ON o.cust = c.cid GROUP BY c.region",
    ),
    # ---- distinct and set operations -----------------------------------------------------
    View("distinct_proj", "SELECT DISTINCT cust, paid FROM orders"),
    View(
        "union_distinct",
        "SELECT cust, note AS s FROM orders UNION SELECT cust, kind FROM events",
    ),
    View(
        "union_all",
        "SELECT cust, qty AS v FROM orders UNION ALL SELECT cust, n FROM events",
    ),
    View(
        "union_three",
        "SELECT cust FROM orders UNION ALL SELECT cust FROM events UNION SELECT cust FROM tags",
    ),
    View("except_set", "SELECT cust, qty FROM orders EXCEPT SELECT cust, n FROM events"),
    View("intersect_set", "SELECT cust FROM orders INTERSECT SELECT cid FROM customers"),
    # ---- subqueries ----------------------------------------------------------------------
    View(
        "subquery_from",
        "SELECT s.cust, s.total * 2 AS t2 FROM"
        " (SELECT cust, SUM(qty) AS total FROM orders GROUP BY cust) AS s WHERE s.total > 3",
    ),
    View(
        "with_cte",
        "WITH big AS (SELECT * FROM orders WHERE qty > 0),"
        " v AS (SELECT cid, name FROM customers WHERE vip)"
        " SELECT big.id, v.name FROM big JOIN v ON big.cust = v.cid",
    ),
    View(
        "in_subquery",
        "SELECT id, cust FROM orders WHERE cust IN (SELECT cust FROM events WHERE kind = 'buy')",
    ),
    View(
        "not_in_subquery",
        "SELECT id, cust FROM orders WHERE cust NOT IN (SELECT cust FROM tags)",
    ),
    View(
        "exists_correlated",
        "SELECT c.cid, c.name FROM customers AS c WHERE EXISTS"
        " (SELECT 1 FROM orders AS o WHERE o.cust = c.cid AND o.qty > c.cid)",
    ),
    View(
        "not_exists_correlated",
        "SELECT o.id, o.cust FROM orders AS o WHERE NOT EXISTS"
        " (SELECT 1 FROM events AS e WHERE e.cust = o.cust AND e.kind = 'buy')",
    ),
    View(
        "scalar_subquery",
        "SELECT id, qty FROM orders WHERE qty > (SELECT MIN(n) FROM events)",
    ),
    View(
        "scalar_subquery_correlated",
        "SELECT c.cid, (SELECT COUNT(*) FROM orders AS o WHERE o.cust = c.cid) AS n,"
        " (SELECT SUM(o.qty) FROM orders AS o WHERE o.cust = c.cid) AS s FROM customers AS c",
    ),
    # ---- top-k and windows (orderings total over the output columns) -------------------------
    View(
        "topk_global",
        "SELECT id, qty, odate FROM orders ORDER BY qty DESC, id, odate LIMIT 5",
    ),
    View(
        "topk_nulls",
        "SELECT cust, note FROM orders ORDER BY note DESC NULLS LAST, cust NULLS FIRST LIMIT 4",
    ),
    View(
        "topk_of_agg",
        "SELECT cust, SUM(qty) AS s FROM orders GROUP BY cust"
        " ORDER BY s DESC, cust NULLS LAST LIMIT 3",
    ),
    View(
        "row_number_topk",
        "SELECT cust, id, qty, rn FROM (SELECT cust, id, qty,"
        " ROW_NUMBER() OVER (PARTITION BY cust ORDER BY qty DESC, id) AS rn FROM orders) AS r"
        " WHERE rn <= 2",
    ),
    View(
        "rank_topk",
        "SELECT cust, qty, rk FROM (SELECT cust, qty,"
        " RANK() OVER (PARTITION BY cust ORDER BY qty DESC) AS rk FROM orders) AS r"
        " WHERE rk <= 2",
    ),
    View(
        "window_partition_aggs",
        "SELECT id, cust, qty, SUM(qty) OVER (PARTITION BY cust) AS s,"
        " COUNT(*) OVER (PARTITION BY cust) AS c, MIN(price) OVER (PARTITION BY cust) AS mn,"
        " MAX(note) OVER (PARTITION BY cust) AS mx FROM orders",
    ),
    View(
        "window_running_sum",
        "SELECT id, cust, qty, SUM(qty) OVER (PARTITION BY cust ORDER BY id) AS rs FROM orders",
    ),
    View(
        "window_lag_lead",
        "SELECT id, cust, qty, LAG(qty) OVER (PARTITION BY cust ORDER BY id, qty) AS prev,"
        " LEAD(qty, 1, -99) OVER (PARTITION BY cust ORDER BY id, qty) AS nxt FROM orders",
    ),
    View(
        "dedup_first_per_group",
        "SELECT region, cid, name FROM (SELECT region, cid, name,"
        " ROW_NUMBER() OVER (PARTITION BY region ORDER BY cid) AS rn FROM customers) AS r"
        " WHERE rn = 1",
    ),
    View(
        "topk_join",
        "SELECT o.id, c.name FROM orders AS o JOIN customers AS c ON o.cust = c.cid"
        " ORDER BY o.id DESC, c.name LIMIT 3",
    ),
    # ---- composition, constants, views over views, duplicate rows ------------------------------
    View("constant_view", "SELECT 1 AS one, 'x' AS s, CAST(NULL AS INTEGER) AS nothing"),
    View(
        "where_false_global",
        "SELECT COUNT(*) AS n, SUM(qty) AS s FROM orders WHERE 1 = 0",
    ),
    View(
        "implicit_join",
        "SELECT orders.id, customers.name FROM orders, customers"
        " WHERE orders.cust = customers.cid AND customers.region <> 'east'",
    ),
    View(
        "join_of_aggs",
        "SELECT a.cust, a.s, b.n FROM (SELECT cust, SUM(qty) AS s FROM orders GROUP BY cust) AS a"
        " JOIN (SELECT cust, COUNT(*) AS n FROM events GROUP BY cust) AS b ON a.cust = b.cust",
    ),
    View(
        "agg_over_topk",
        "SELECT COUNT(*) AS n, SUM(qty) AS s, MIN(id) AS mn FROM"
        " (SELECT id, qty FROM orders ORDER BY qty, id LIMIT 4) AS t",
    ),
    View(
        "agg_over_union_all",
        "SELECT cust, COUNT(*) AS n, SUM(v) AS s FROM"
        " (SELECT cust, qty AS v FROM orders UNION ALL SELECT cust, n FROM events) AS u"
        " GROUP BY cust",
    ),
    View(
        "having_unselected",
        "SELECT cust FROM orders GROUP BY cust HAVING MAX(price) > 2 OR COUNT(*) > 3",
    ),
    View(
        "group_by_case",
        "SELECT CASE WHEN qty > 3 THEN 'hi' ELSE 'lo' END AS band, paid, odate, COUNT(*) AS n"
        " FROM orders GROUP BY CASE WHEN qty > 3 THEN 'hi' ELSE 'lo' END, paid, odate",
    ),
    View(
        "dense_rank_topk",
        "SELECT kind, score, dr FROM (SELECT kind, score,"
        " DENSE_RANK() OVER (PARTITION BY kind ORDER BY score DESC NULLS LAST) AS dr FROM events)"
        " AS r WHERE dr <= 2",
    ),
    View("union_all_self", "SELECT * FROM orders UNION ALL SELECT * FROM orders"),
    View("except_all", "SELECT cust FROM orders EXCEPT ALL SELECT cust FROM events"),
    View("intersect_all", "SELECT cust FROM orders INTERSECT ALL SELECT cust FROM tags"),
    View(
        "self_left_join",
        "SELECT a.id, a.qty, b.id AS bid FROM orders AS a LEFT JOIN orders AS b"
        " ON a.cust = b.cust AND b.qty > a.qty + 4",
    ),

    View("vv_base", "SELECT cust, qty, price FROM orders WHERE paid IS NOT NULL"),
    View(
        "vv_agg",
        "SELECT cust, COUNT(*) AS n, SUM(qty) AS s FROM vv_base GROUP BY cust",
        deps=("vv_base",),
    ),
    View(
        "vv_join",
        "SELECT a.cust, a.n, c.name FROM vv_agg AS a LEFT JOIN customers AS c ON a.cust = c.cid",
        deps=("vv_base", "vv_agg"),
    ),
    View("dup_proj", "SELECT cust, paid FROM orders"),
    View(
        "dup_join",
        "SELECT o.cust, e.kind FROM orders AS o JOIN events AS e ON o.cust = e.cust",
    ),
)

VIEWS_BY_NAME = {v.name: v for v in VIEWS}
