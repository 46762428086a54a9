"""The distilled-data file (HDF5, ``format = "beamsim.distilled"``): one frame, several codecs.

This module is the public face of the family (``beamsim.distill.save``, ``load``, ``read``,
``describe``, ``format_of``): it imports every built-in codec, so reading dispatches to
whichever wrote the file. Where each part lives:

- the frame every file shares (format and version, hashing, attributes, provenance, the
  settings attribute, the atomic write): :mod:`beamsim.distill.files.frame`;
- the codec registry and the dispatching readers: :mod:`beamsim.distill.files.codec`;
- the codecs, each documenting its layout:

  ========= ==================================== ===================================================
  codec     module                               stores
  ========= ==================================== ===================================================
  quantized :mod:`beamsim.distill.files.quantized` packed b-bit codes of a quantizer, its thresholds
                                                 and decode state (``quantizer`` = its name)
  float32   :mod:`beamsim.distill.files.float32`   full-precision values (``quantizer = "none"``)
  patch     :mod:`beamsim.distill.compress.file`   patch-quantized codes (PAQ/GAQ), optionally range
                                                 coded (``codec`` = ``paq``/``gaq``)
  fred      :mod:`beamsim.distill.param.fred_file` FreD's DCT coefficients (float32 or a quantizer's
                                                 packed codes) and frequency mask (``codec = "fred"``)
  palette   :mod:`beamsim.distill.param.palette_file` AutoPalette's packed log2 K-bit index maps and
                                                 per-sample float32 palettes (``codec = "palette"``)
  ========= ==================================== ===================================================

The quantized and float32 codecs share one element-wise layout
(:mod:`beamsim.distill.files.elementwise`)::

    /counts          int32   [C]        samples per class; rows are grouped by class
    /codes | /x                         the v varying elements of every sample: packed b-bit
                                        codes uint8 [ceil(N v b / 8)] | float32 [N, v]
    /constant_codes | /constant_values  elements constant across the whole set, once (k > 0)
    /constant_mask   bool    [*shape]   (k > 0)
    /alpha           float32 [...]      thresholds ([0] for quantizers without, and float32)
    /quantizer/<k>   float32 [...]      further decode parameters (normalization, PTQ ranges)
    /label_classes   uint8   [...]      optional soft labels: the k most probable classes of every
    /label_codes     uint8   [...]      sample and their b-bit codes, packed (label_topk, label_bits)
    attrs: format "beamsim.distilled", format_version, quantizer, bits, signed, levels,
           input_shape, num_samples, num_classes, [label_topk, label_bits,] source_sha256,
           source_path, encoding, source_samples, objective, spc, seed, payload_bits (N d b),
           payload_bits_stored (N v b), overhead_bits, [label_bits_stored (N k (ceil(log2 C) + b)),]
           config (TOML), settings (TOML), sha256 (of the payload), arrays_sha256 (of every
           other array), class_names, beamsim_version ([...]: only with soft labels)

:func:`load` of a quantized file decodes with the stored quantizer's own ``decode``, so the
values equal the quantizer's (eval-mode) forward output bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from beamsim.distill.compress.file import PatchCodec
from beamsim.distill.param.fred_file import FredCodec
from beamsim.distill.param.palette_file import PaletteCodec
from beamsim.distill.files import (FORMAT, FORMAT_VERSION, Codec, DistilledSet, Float32Codec, QuantizedCodec,
                                   codec_names, describe, format_of, get_codec, load, read, register_codec,
                                   settings_of)
from beamsim.distill.labels import SoftLabels
from beamsim.distill.provenance import Provenance
from beamsim.distill.quant import Quantizer

__all__ = ["FORMAT", "FORMAT_VERSION", "DistilledSet", "Provenance", "save", "load", "read", "describe", "format_of",
           "settings_of", "Codec", "register_codec", "codec_names", "get_codec", "QuantizedCodec", "Float32Codec",
           "PatchCodec", "FredCodec", "PaletteCodec"]


def save(path: str | Path, x: torch.Tensor, y: torch.Tensor | Sequence[int], quantizer: Quantizer | None = None, *,
         num_classes: int | None = None, class_names: Sequence[str] | None = None,
         provenance: Provenance | None = None, settings: Mapping[str, Any] | None = None,
         constants_once: bool = True, soft: SoftLabels | None = None) -> dict:
    """Write a distilled set atomically: packed codes with a quantizer (the quantized codec),
    float32 values without one (the float32 codec).

    Args:
        path: output file (``.h5``).
        x: [N, *shape] float synthetic set, e.g. [N, 1, 8, 8]; with a quantizer, the raw
            (pre-quantization) values: the file holds ``quantizer.encode(x)`` (for FSQ, the
            latent: ``quantizer.to_latent(data)``).
        y: [N] integer labels in ``[0, num_classes)``. Rows are stored grouped by class
            (a stable sort by label), so pass them grouped to keep their order.
        quantizer: an APoT/uniform/FSQ/PTQ quantizer; it is initialized from ``x`` if it was
            not. None stores float32 values.
        num_classes: ``C`` (default ``max(y) + 1``); classes may have zero samples.
        class_names: ``C`` names (optional).
        provenance: the real data set it was distilled from and how (source checksum, path,
            size and encoding; objective, spc, seed); unknown when None.
        settings: further settings (stored as TOML text).
        constants_once: store elements that are constant across the whole set once.
        soft: soft labels of the rows of ``x``, in the order of ``x``
            (:class:`~beamsim.distill.labels.SoftLabels`); stored grouped by class with the
            rows, read back as ``read(path).soft``.

    Returns:
        :func:`describe` of the written file.

    Raises:
        ValueError: inconsistent shapes, labels, names or soft labels, non-finite values.
    """
    common = dict(num_classes=num_classes, class_names=class_names, provenance=provenance, settings=settings,
                  constants_once=constants_once, soft=soft)
    if quantizer is None:
        return Float32Codec().write(path, x, y, **common)
    return QuantizedCodec().write(path, x, y, quantizer, **common)
