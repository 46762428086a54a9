"""Every example in the distill docstrings runs."""

import doctest
import importlib

import pytest

MODULES = ["beamsim.tomlio", "beamsim.distill.bits", "beamsim.distill.packing", "beamsim.distill.quant",
           "beamsim.distill.quant.apot", "beamsim.distill.quant.clipped", "beamsim.distill.quant.levels",
           "beamsim.distill.quant.ptq", "beamsim.distill.quant.registry", "beamsim.distill.quant.ste",
           "beamsim.distill.quant.uniform", "beamsim.distill.config", "beamsim.distill.provenance",
           "beamsim.distill.naming", "beamsim.distill.tensors", "beamsim.distill.allocation", "beamsim.distill.coresets", "beamsim.distill.param", "beamsim.distill.param.budget", "beamsim.distill.param.dct",
           "beamsim.distill.param.fred", "beamsim.distill.param.fred_file", "beamsim.distill.param.palette",
           "beamsim.distill.validation", "beamsim.distill.labels"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
