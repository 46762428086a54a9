"""Every example in the beamsim.distill.ptq docstrings runs."""

import doctest
import importlib

import pytest

MODULES = ["beamsim.distill.ptq", "beamsim.distill.ptq.patches", "beamsim.distill.ptq.paq",
           "beamsim.distill.ptq.quantized", "beamsim.distill.ptq.kmeans", "beamsim.distill.ptq.coder",
           "beamsim.distill.ptq.budget", "beamsim.distill.ptq.compressor", "beamsim.distill.ptq.config"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
