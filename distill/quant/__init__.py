"""Quantizers for QuADD: each an ``nn.Module`` built by name from a validated config.

>>> from beamsim.distill.quant import build_quantizer, quantizer_names
>>> quantizer_names()
['apot', 'fsq', 'ptq', 'uniform']
>>> build_quantizer("apot", bits=6, granularity="feature").bits
6
"""

from beamsim.distill.quant.base import MAX_BITS, Granularity, Quantizer, QuantizerConfig
from beamsim.distill.quant.registry import build_quantizer, quantizer_class, quantizer_names, register_quantizer
from beamsim.distill.quant.ste import ste_round, straight_through
from beamsim.distill.quant.levels import NearestLevel
from beamsim.distill.quant.clipped import ClippedConfig, ClippedQuantizer
from beamsim.distill.quant.apot import APoTConfig, APoTQuantizer, apot_exponents, apot_levels
from beamsim.distill.quant.uniform import UniformConfig, UniformQuantizer
from beamsim.distill.quant.fsq import FSQConfig, FSQQuantizer
from beamsim.distill.quant.ptq import PostTrainingQuantizer, PTQConfig

__all__ = [
    "MAX_BITS", "Granularity", "Quantizer", "QuantizerConfig", "ClippedConfig", "ClippedQuantizer",
    "register_quantizer", "build_quantizer", "quantizer_class", "quantizer_names",
    "ste_round", "straight_through", "NearestLevel",
    "apot_levels", "apot_exponents", "APoTConfig", "APoTQuantizer",
    "UniformConfig", "UniformQuantizer", "FSQConfig", "FSQQuantizer", "PTQConfig", "PostTrainingQuantizer",
]
