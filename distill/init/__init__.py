"""Initialisation of the synthetic set (``real``, ``noise``, ``herding``, ``kcenter``,
``quant-graphcut``), grouped by class.

>>> import torch
>>> from beamsim.distill.init import initialize
>>> x, y = torch.rand(13, 1, 8, 8), torch.tensor([0] * 10 + [1] * 3)
>>> g = torch.Generator().manual_seed(0)
>>> _, y_syn, counts, source = initialize(x, y, 3, 5, "real", replacement=False, generator=g, device="cpu")
>>> counts.tolist()
[5, 3, 0]
"""

from beamsim.distill.init.features import FEATURE_BATCH, embed_batched, last_layer_io
from beamsim.distill.init.graphcut import (DEFAULT_GRAPHCUT_LAMBDA, graph_cut_gain, graph_cut_select,
                                           last_layer_gradient_similarity, last_layer_gradients, uniform_quantizer)
from beamsim.distill.init.noise import gaussian_per_class
from beamsim.distill.init.methods import (InitMethod, InitRequest, init_methods, init_needs, initialize,
                                          register_init)

__all__ = ["initialize", "init_methods", "init_needs", "register_init", "InitMethod", "InitRequest",
           "DEFAULT_GRAPHCUT_LAMBDA", "graph_cut_select", "graph_cut_gain", "last_layer_gradients",
           "last_layer_gradient_similarity", "uniform_quantizer", "gaussian_per_class",
           "embed_batched", "last_layer_io", "FEATURE_BATCH"]
