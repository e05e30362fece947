"""Print the sqllogictest pass rates at the end of a pytest run."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from .report import table
    from .test_slt import RESULTS

    if RESULTS:
        terminalreporter.section("sqllogictest pass rates")
        terminalreporter.write_line(table(RESULTS))
