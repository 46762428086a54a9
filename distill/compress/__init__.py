"""Post-training quantization for dataset condensation: a plug-in compressor for finished sets.

The second paper's pipeline, one module per step:

- :mod:`.patches`: non-overlapping patches of a sample and the elements stored once;
- :mod:`.paq`: patch-wise asymmetric quantization (one scale and zero point per patch);
- :mod:`.kmeans` and :mod:`.gaq`: patches grouped by their parameters, parameters recomputed
  per group;
- :mod:`.refine`: quantization-aware refinement of the set (feature matching, straight-through);
- :mod:`.coder`: an adaptive range coder for the codes;
- :mod:`.quantized`: the quantized set and its byte breakdown;
- :mod:`.budget`: the most samples and groups that fit a byte budget;
- :mod:`.compressor`: all of it as an estimator, :class:`PatchCompressor`;
- :mod:`.file`: the patch codec, the set in the distilled-file family (``codec`` attribute).

>>> from beamsim.distill.compress import CompressConfig
>>> CompressConfig(bits=2, patch=2).patch
(2, 2)
"""

from beamsim.distill.compress.patches import PatchLayout, default_bits, default_patch, patch_size
from beamsim.distill.compress.quantized import ByteSizes, QuantizedSet, index_bits, pack_indices, unpack_indices
from beamsim.distill.compress.paq import asymmetric_params, dequantize, fake_quantize, paq, quantize
from beamsim.distill.compress.kmeans import kmeans
from beamsim.distill.compress.gaq import gaq, group_patches
from beamsim.distill.compress.coder import coded_size_bound, decode, encode, model_code_bits
from beamsim.distill.compress.config import CompressConfig
from beamsim.distill.compress.refine import feature_model, refine
from beamsim.distill.compress.budget import (BudgetChoice, build_pool, search_budget, search_groups, search_samples,
                                             select_per_class)
from beamsim.distill.compress.file import PatchCodec, read_quantized
from beamsim.distill.compress.compressor import PatchCompressor, compress_file

__all__ = [
    "PatchLayout", "default_bits", "default_patch", "patch_size",
    "ByteSizes", "QuantizedSet", "index_bits", "pack_indices", "unpack_indices",
    "asymmetric_params", "quantize", "dequantize", "paq", "fake_quantize",
    "kmeans", "gaq", "group_patches",
    "encode", "decode", "model_code_bits", "coded_size_bound",
    "CompressConfig", "refine", "feature_model",
    "BudgetChoice", "build_pool", "select_per_class", "search_samples", "search_groups", "search_budget",
    "PatchCodec", "read_quantized", "PatchCompressor", "compress_file",
]
