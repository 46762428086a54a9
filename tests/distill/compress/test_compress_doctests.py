"""Every example in the beamsim.distill.compress docstrings runs."""

import doctest
import importlib

import pytest

MODULES = ["beamsim.distill.compress", "beamsim.distill.compress.patches", "beamsim.distill.compress.paq",
           "beamsim.distill.compress.quantized", "beamsim.distill.compress.kmeans", "beamsim.distill.compress.coder",
           "beamsim.distill.compress.budget", "beamsim.distill.compress.compressor", "beamsim.distill.compress.config"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
