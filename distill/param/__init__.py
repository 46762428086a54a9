"""Parameterizations of the synthetic set: the samples are decoded from a learned latent.

>>> from beamsim.distill.param import param_names
>>> param_names()
['fred', 'palette']

- :mod:`.base`: what a parameterization is and how a run uses it;
- :mod:`.registry`: ``@register_param`` and :func:`build_param`;
- :mod:`.dct`, :mod:`.fred`, :mod:`.fred_file`: FreD (DCT coefficients chosen by explained
  variance), alone or quantized by QuADD's quantizers in the loop, and its file codec;
- :mod:`.palette`, :mod:`.palette_file`: AutoPalette (per-sample palettes and index maps) and
  its file codec.
"""

from beamsim.distill.param.registry import build_param, check_param, param_class, param_names, register_param
from beamsim.distill.param.base import Parameterization
from beamsim.distill.param.fred import FreD
from beamsim.distill.param.palette import AutoPalette

__all__ = ["Parameterization", "register_param", "build_param", "check_param", "param_class", "param_names", "FreD",
           "AutoPalette"]
