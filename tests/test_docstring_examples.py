"""Every docstring example in the package runs (the examples are tests).

Oracle: the printed outputs written in the docstrings themselves.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import feldera_nb

# Modules that need optional packages or a notebook kernel to import.
OPTIONAL = ("feldera_nb.magics", "feldera_nb.widgets", "feldera_nb.sync",
            "feldera_nb.pipeline.checkpoint_sync")


def _modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(feldera_nb.__path__, prefix="feldera_nb."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as e:  # pragma: no cover - depends on installed extras
        if name.startswith(OPTIONAL):
            pytest.skip(f"{name} needs an optional package: {e}")
        raise
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
                             verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
