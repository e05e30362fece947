"""The sqlglot dialect feldera_nb parses: sqlglot's default, with Calcite's NULL ordering
(NULLs sort as larger than every value: last ascending, first descending)."""

from __future__ import annotations

from sqlglot.dialects.dialect import Dialect


class Feldera(Dialect):
    """Feldera's SQL as far as sqlglot's default dialect reads it."""

    NULL_ORDERING = "nulls_are_large"


DIALECT = Feldera
