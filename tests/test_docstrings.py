"""Every docstring example in the package runs and prints what it says.

Run on the installed package (not the source tree), the same package the
other tests import.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import simulator

#: Packages of optional extras: a module that needs one is skipped, with the reason, when it is missing.
OPTIONAL = {"shiny", "htmltools", "plotly", "uvicorn"}

MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(simulator.__path__, "simulator.")
                 if not name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name not in OPTIONAL:
            raise
        pytest.skip(f"{name} needs {exc.name} (pip install \".[app]\")")
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                                      report=True, verbose=False)
    assert failures == 0, f"{failures} of {tried} docstring examples in {name} failed (see above)"
