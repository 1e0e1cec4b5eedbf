"""The module docstrings' examples run: each module of exchange.identifiers, through doctest.

(Equivalent to ``pytest --doctest-modules exchange/identifiers``, without changing the
project's pytest options.)
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import exchange.identifiers

MODULES = sorted(
    f"exchange.identifiers.{info.name}"
    for info in pkgutil.iter_modules(exchange.identifiers.__path__)
)
WITH_EXAMPLES = {"bulk", "normalise", "regions", "resident", "uscc"}


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    if name.rsplit(".", 1)[1] in WITH_EXAMPLES:
        assert result.attempted > 0
