"""The docstring examples of every storage module run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["lock", "journal", "checkpoint", "catalog", "checkpointer", "progress"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"feldera_nb.storage.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
