"""``make demo``: a pipeline built from SQL, changes pushed in, views printed before and after.

Run with ``python -m feldera_nb.demo``.
"""

from __future__ import annotations

import polars as pl

from feldera_nb import Pipeline

PROGRAM = """
CREATE TABLE customers (
    id INT NOT NULL PRIMARY KEY,
    name VARCHAR NOT NULL,
    country VARCHAR
);
CREATE TABLE orders (
    id INT NOT NULL PRIMARY KEY,
    customer_id INT NOT NULL,
    amount DECIMAL(10, 2) NOT NULL,
    status VARCHAR
);
-- Revenue per country from shipped orders: a join, a filter and an aggregate.
CREATE MATERIALIZED VIEW revenue_by_country AS
    SELECT c.country, COUNT(*) AS orders, SUM(o.amount) AS revenue
    FROM orders o JOIN customers c ON o.customer_id = c.id
    WHERE o.status = 'shipped'
    GROUP BY c.country;
-- The two biggest orders overall (top-k).
CREATE MATERIALIZED VIEW top_orders AS
    SELECT id, customer_id, amount FROM orders ORDER BY amount DESC LIMIT 2;
-- Customers without any order (NOT EXISTS, decorrelated into a join).
CREATE MATERIALIZED VIEW idle_customers AS
    SELECT name FROM customers c
    WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id);
"""


def show(p: Pipeline, title: str) -> None:
    print(f"\n=== {title} ===")
    for view, order in (("revenue_by_country", "country"), ("top_orders", "amount DESC"),
                        ("idle_customers", "name")):
        print(f"-- {view}")
        print(p.query(f"SELECT * FROM {view} ORDER BY {order}"))


def main() -> None:
    with pl.Config(tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        p = Pipeline(PROGRAM, name="demo")
        p.start()
        changes = p.listen("revenue_by_country")
        p.input_json("customers", [
            {"id": 1, "name": "Ada", "country": "UK"},
            {"id": 2, "name": "Grace", "country": "US"},
            {"id": 3, "name": "Edsger", "country": "NL"},
        ])
        p.input_polars("orders", pl.DataFrame({
            "id": [10, 11, 12, 13],
            "customer_id": [1, 1, 2, 2],
            "amount": ["120.00", "30.50", "99.99", "15.00"],
            "status": ["shipped", "shipped", "shipped", "pending"],
        }))
        show(p, "after the first load")

        # An incremental change: one order ships, one is cancelled (deleted), one is new.
        p.input_json("orders", [
            {"insert": {"id": 13, "customer_id": 2, "amount": "15.00", "status": "shipped"}},
            {"delete": {"id": 10}},
            {"insert": {"id": 14, "customer_id": 3, "amount": "250.00", "status": "shipped"}},
        ], update_format="insert_delete")
        show(p, "after shipping #13, cancelling #10 and adding #14")

        print("\n=== changes to revenue_by_country since listen() (weight +1 insert, -1 delete) ===")
        print(changes.to_polars())
        stats = p.stats()
        print(f"\nsteps: {stats['steps']}, records in: {stats['records_in']}, "
              f"records out: {stats['records_out']}")
        p.stop(force=True)


if __name__ == "__main__":
    main()
