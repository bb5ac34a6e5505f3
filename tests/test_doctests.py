"""Run the examples in every docstring of the package (numpydoc ``Examples`` sections)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import alsnet

#: Packages only installed in the federation-engine environment (``make test-engines``).
OPTIONAL_ENGINES = {"flwr", "vantage6"}

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(alsnet.__path__, prefix="alsnet.")
    if ".migrations" not in m.name
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:  # engine adapters live in their own environment
        if (exc.name or "").split(".")[0] in OPTIONAL_ENGINES:
            pytest.skip(f"{name} needs {exc.name} (make test-engines)")
        raise
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
