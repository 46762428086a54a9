"""Every example in the evaluation docstrings runs."""

import doctest
import importlib

import pytest

MODULES = ["beamsim.experiments.metrics", "beamsim.experiments.protocol"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
