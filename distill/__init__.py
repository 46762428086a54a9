"""QuADD for any modality: the estimator, quantizers, objectives, bit accounting and the file.

``beamsim.distill`` never imports Sionna. Public names are imported lazily:

- :func:`distill_file`: training data in, a distilled file out (checkpoint, resume, history),
  the one call the CLI and the studies make; :class:`Provenance`: where the data came from;
- :class:`QuADD` and :class:`DistillConfig`: the distillation estimator and its settings
  (nested per concern, :mod:`beamsim.distill.settings`);
- the objectives and their registry (:mod:`beamsim.distill.objectives`);
- :func:`save`, :func:`load`, :func:`describe`: the distilled-data file, one frame with
  registered codecs (:mod:`beamsim.distill.container`, :mod:`beamsim.distill.files`);
- the quantizers and their registry (:mod:`beamsim.distill.quant`);
- bit accounting (:mod:`beamsim.distill.bits`) and code packing (:mod:`beamsim.distill.packing`);
- :class:`PatchCompressor` and :class:`CompressConfig`: patch-wise post-training quantization
  of a finished set (:mod:`beamsim.distill.compress`);
- the parameterizations of the synthetic set, :class:`FreD` (DCT coefficients, alone or
  quantized by QuADD) and :class:`AutoPalette` (palettes and index maps), and their registry
  (:mod:`beamsim.distill.param`).
"""

from __future__ import annotations

from beamsim._lazy import lazy_attributes

_LAZY = {
    "QuADD": "beamsim.distill.quadd",
    "distill_file": "beamsim.distill.pipeline",
    "DistillResult": "beamsim.distill.pipeline",
    "Provenance": "beamsim.distill.provenance",
    "RunState": "beamsim.distill.runstate",
    "register_objective": "beamsim.distill.objectives",
    "build_objective": "beamsim.distill.objectives",
    "objective_names": "beamsim.distill.objectives",
    "Objective": "beamsim.distill.objectives",
    "register_codec": "beamsim.distill.container",
    "codec_names": "beamsim.distill.container",
    "DistillConfig": "beamsim.distill.config",
    "default_config": "beamsim.distill.config",
    "load_config": "beamsim.distill.config",
    "initialize": "beamsim.distill.init",
    "trajectory_matching_loss": "beamsim.distill.objectives",
    "distribution_matching_loss": "beamsim.distill.objectives",
    "gradient_matching_loss": "beamsim.distill.objectives",
    "train_experts": "beamsim.distill.experts",
    "ExpertSettings": "beamsim.distill.experts",
    "save": "beamsim.distill.container",
    "load": "beamsim.distill.container",
    "read": "beamsim.distill.container",
    "describe": "beamsim.distill.container",
    "format_of": "beamsim.distill.container",
    "DistilledSet": "beamsim.distill.container",
    "SoftLabels": "beamsim.distill.labels",
    "Quantizer": "beamsim.distill.quant",
    "QuantizerConfig": "beamsim.distill.quant",
    "APoTQuantizer": "beamsim.distill.quant",
    "APoTConfig": "beamsim.distill.quant",
    "UniformQuantizer": "beamsim.distill.quant",
    "UniformConfig": "beamsim.distill.quant",
    "FSQQuantizer": "beamsim.distill.quant",
    "FSQConfig": "beamsim.distill.quant",
    "PostTrainingQuantizer": "beamsim.distill.quant",
    "PTQConfig": "beamsim.distill.quant",
    "apot_levels": "beamsim.distill.quant",
    "build_quantizer": "beamsim.distill.quant",
    "register_quantizer": "beamsim.distill.quant",
    "quantizer_names": "beamsim.distill.quant",
    "payload_bits": "beamsim.distill.bits",
    "overhead_bits": "beamsim.distill.bits",
    "compression_ratio": "beamsim.distill.bits",
    "PatchCompressor": "beamsim.distill.compress",
    "CompressConfig": "beamsim.distill.compress",
    "pack_codes": "beamsim.distill.packing",
    "unpack_codes": "beamsim.distill.packing",
    "Parameterization": "beamsim.distill.param",
    "FreD": "beamsim.distill.param",
    "AutoPalette": "beamsim.distill.param",
    "register_param": "beamsim.distill.param",
    "param_names": "beamsim.distill.param",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY)
