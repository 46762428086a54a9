"""The quantized codec: b-bit codes of a registered quantizer, packed, with its decode state.

The element-wise layout (:mod:`.elementwise`) with::

    /codes           uint8   [ceil(N * v * b / 8)]  b-bit codes of the v varying elements of
                                                   every sample, packed little-endian, row-major
    /constant_codes  uint8   [k]                   codes of the constant elements (k > 0)
    /alpha           float32 [...]                 thresholds (shape [0] for quantizers without)
    /quantizer/<k>   float32 [...]                 other decode parameters (normalization, PTQ
                                                   ranges, FSQ's data range)
    /label_classes   uint8   [...]                 optional soft labels, packed
    /label_codes     uint8   [...]                 (:mod:`.elementwise`)
    attrs: quantizer (its registry name), bits (1..8), signed, levels (the level set's name),
           config (the quantizer's resolved settings as TOML), sha256 of /codes

Reading rebuilds the quantizer from ``quantizer``, ``config`` and the decode state and
decodes with its own ``decode``, so the values equal its (eval-mode) forward output bit for
bit.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from beamsim import tomlio
from beamsim.distill.files.codec import Codec, register_codec
from beamsim.distill.files.elementwise import (FLOAT_QUANTIZER, Layout, check_layout, describe_elementwise, fill,
                                               group_rows, header_of, label_schema, layout_schema, soft_labels_of,
                                               write_elementwise)
from beamsim.distill.files.frame import DistilledSet, Frame, count_attr, int_attr, labels_of
from beamsim.distill.labels import SoftLabels
from beamsim.distill.packing import pack_codes, packed_size, unpack_codes
from beamsim.distill.provenance import Provenance
from beamsim.distill.quant import MAX_BITS, Quantizer, build_quantizer, quantizer_names
from beamsim.errors import DataFileError
from beamsim.h5safe import Array, Declared

__all__ = ["QuantizedCodec", "rebuild_quantizer", "decode_codes"]

_OTHERS = "thresholds, counts or constants"  # what arrays_sha256 covers, for the message
_SOFT_OTHERS = "thresholds, counts, constants or soft labels"  # ... in a file with soft labels


@register_codec("quantized")
class QuantizedCodec(Codec):
    """b-bit codes of an APoT/uniform/FSQ/PTQ (any registered) quantizer."""

    def claims(self, attrs: Mapping[str, Any]) -> bool:
        return "codec" not in attrs and attrs.get("quantizer") != FLOAT_QUANTIZER

    def schema(self, attrs: Mapping[str, Any], entries: Mapping[str, Declared]) -> dict[str, Array]:
        """``/counts``, ``/constant_mask``, ``/constant_codes`` (codes in [0, 2^bits)), ``/codes``
        (ceil(N v bits / 8) bytes), ``/alpha`` (finite, positive thresholds) and
        ``/quantizer/<k>`` (finite; ``scale`` and ``norm_std`` positive), the soft labels
        ``/label_classes`` and ``/label_codes`` when the attributes call for them
        (:func:`~.elementwise.label_schema`); no ``/x``."""
        header = header_of(attrs, entries, "constant_codes")
        bits = count_attr(attrs, "bits")
        bits = bits if bits is not None and 1 <= bits <= MAX_BITS else None
        stored = header.stored()
        size = None if stored is None or bits is None else packed_size(stored, bits)
        return {
            **layout_schema(header, "constant_codes", Array("ui", low=0, high=None if bits is None else 2**bits - 1,
                                                            meaning=f"{bits}-bit codes of the constant elements")),
            "codes": Array("u", shape=(size,), unit="bytes", implied_by=f"{header.n} samples of {header.varying} "
                                                                        f"stored elements at {bits} bits"),
            "alpha": Array("f", finite=True, above=0.0, meaning="the quantizer's thresholds"),
            "quantizer/*": Array("f", finite=True, meaning="a decode parameter of the quantizer"),
            "quantizer/scale": Array("f", finite=True, above=0.0, meaning="the quantizer's scales"),
            "quantizer/norm_std": Array("f", finite=True, above=0.0, meaning="the quantizer's normalization"),
            **label_schema(attrs, entries),
        }

    def write(self, path: str | Path, x: torch.Tensor, y: torch.Tensor | Sequence[int], quantizer: Quantizer, *,
              num_classes: int | None = None, class_names: Sequence[str] | None = None,
              provenance: Provenance | None = None, settings: Mapping[str, Any] | None = None,
              constants_once: bool = True, soft: SoftLabels | None = None) -> dict:
        """Write a quantized set atomically.

        Args:
            path: output file (``.h5``).
            x: [N, *shape] float set, the raw (pre-quantization) values: the file holds
                ``quantizer.encode(x)`` (for FSQ, the latent: ``quantizer.to_latent(data)``).
            y: [N] integer labels in ``[0, num_classes)``; rows are stored grouped by class
                (a stable sort), so pass them grouped to keep their order.
            quantizer: the quantizer; it is initialized from ``x`` if it was not.
            num_classes: ``C`` (default ``max(y) + 1``); classes may have zero samples.
            class_names: ``C`` names (optional).
            provenance: where the set came from (unknown when None).
            settings: further settings (stored as TOML text).
            constants_once: store elements that are constant across the whole set once.
            soft: soft labels of the rows of ``x`` (stored with them, grouped by class), or None.

        Returns:
            :meth:`describe` of the written file.

        Raises:
            ValueError: inconsistent shapes, labels, names or soft labels, non-finite values.
        """
        if not isinstance(quantizer, Quantizer):
            raise ValueError(f"the quantized codec needs a Quantizer, got {type(quantizer).__name__}; "
                             "write a full-precision set with the float32 codec")
        rows = group_rows(x, y, num_classes, class_names, soft)
        if not quantizer.initialized:
            quantizer.initialize(rows.x)
        bits = quantizer.bits
        codes = quantizer.encode(rows.x).cpu().numpy().reshape(rows.n, rows.d).astype(np.uint8)
        state = {k: v.detach().float().cpu().numpy() for k, v in quantizer.decode_state().items()}
        write_elementwise(path, rows, codes, payload="codes", store=lambda varying: pack_codes(varying, bits),
                          constants="constant_codes", constant_dtype=np.uint8,
                          header={"quantizer": quantizer.name, "bits": bits, "signed": bool(quantizer.signed),
                                  "levels": quantizer.levels_name},
                          bits=bits, decode_arrays=state, config=tomlio.dumps(quantizer.resolved_config().as_dict()),
                          provenance=provenance or Provenance(), settings=settings, class_names=class_names,
                          constants_once=constants_once)
        return self.describe(self.frame(path))

    def _check(self, frame: Frame) -> Layout:
        where, attrs = frame.where, frame.attrs
        bits = int_attr(attrs, "bits", where)
        if not 1 <= bits <= MAX_BITS:
            raise DataFileError(f"{where}: bits = {bits} is outside 1..{MAX_BITS}")
        name = attrs.get("quantizer", "")
        if name not in quantizer_names():
            raise DataFileError(f"{where}: unknown quantizer {name!r} (known: {', '.join(quantizer_names())})")
        layout = check_layout(frame, "codes", "constant_codes")
        codes = frame.arrays["codes"]
        want = packed_size(layout.n * (layout.d - layout.k), bits)
        if codes.dtype != np.uint8 or codes.shape != (want,):
            raise DataFileError(f"{where}: /codes has {codes.size} bytes, expected {want} for {layout.n} samples of "
                                f"{layout.d - layout.k} stored elements at {bits} bits (truncated or corrupt)")
        frame.check_checksums("codes", _SOFT_OTHERS if "label_codes" in frame.arrays else _OTHERS)
        return layout

    def _quantizer(self, frame: Frame) -> Quantizer:
        return rebuild_quantizer(frame)

    def read(self, frame: Frame, device: str | torch.device | None = None) -> DistilledSet:
        layout = self._check(frame)
        bits, arrays = frame.attrs["bits"], frame.arrays
        varying = unpack_codes(arrays["codes"], bits, layout.n * (layout.d - layout.k))
        flat = fill(layout, varying, arrays.get("constant_codes"), np.uint8)
        quantizer = self._quantizer(frame)
        codes = torch.from_numpy(flat.astype(np.int64))
        x = decode_codes(frame, quantizer, codes)
        counts, y = labels_of(arrays["counts"])
        soft = soft_labels_of(frame, layout)
        if device is not None:
            x, y = x.to(device), y.to(device)
        if device is not None and soft is not None:
            soft = replace(soft, classes=soft.classes.to(device), codes=soft.codes.to(device))
        return DistilledSet(x=x, y=y, counts=counts, attrs=frame.attrs, quantizer=quantizer, codes=codes, soft=soft)

    def describe(self, frame: Frame) -> dict:
        return describe_elementwise(frame, self._check(frame))


def rebuild_quantizer(frame: Frame) -> Quantizer:
    """The quantizer a file stores: built by name from its ``config`` attribute, with its
    thresholds (``/alpha``) and decode state (``/quantizer/<k>``); the FreD codec shares it.

    Raises:
        DataFileError: the stored quantizer cannot be rebuilt, or its bits disagree with the file's.
    """
    attrs, arrays = frame.attrs, frame.arrays
    try:
        quantizer = build_quantizer(attrs["quantizer"], **tomllib.loads(attrs.get("config", "") or ""))
        state = {key.split("/", 1)[1]: torch.from_numpy(value) for key, value in arrays.items()
                 if key.startswith("quantizer/")}
        if arrays["alpha"].size:
            state["alpha"] = torch.from_numpy(arrays["alpha"])
        quantizer.load_decode_state(state)
    except (tomllib.TOMLDecodeError, ValueError, TypeError) as exc:
        raise DataFileError(f"{frame.where}: the stored quantizer cannot be rebuilt ({exc})") from None
    if quantizer.bits != attrs["bits"]:
        raise DataFileError(f"{frame.where}: bits = {attrs['bits']} disagrees with the quantizer config "
                            f"({quantizer.bits})")
    return quantizer


def decode_codes(frame: Frame, quantizer: Quantizer, codes: torch.Tensor) -> torch.Tensor:
    """``quantizer.decode(codes)`` for a file's codes (int64, any shape), refusing codes outside
    the quantizer's levels; the FreD codec shares it.

    Raises:
        DataFileError: a code beyond the levels, or codes that do not fit the stored thresholds.
    """
    if codes.numel() and int(codes.max()) >= quantizer.num_levels:
        raise DataFileError(f"{frame.where}: a code is {int(codes.max())}, but {quantizer.levels_name} has only "
                            f"{quantizer.num_levels} levels (file corrupt)")
    try:
        return quantizer.decode(codes)
    except ValueError as exc:
        raise DataFileError(f"{frame.where}: the codes do not fit the stored thresholds ({exc})") from None
