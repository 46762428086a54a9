"""The float32 codec: a full-precision set.

The element-wise layout (:mod:`.elementwise`) with::

    /x               float32 [N, v]   the v varying elements of every sample
    /constant_values float32 [k]      the constant elements (k > 0)
    /alpha           float32 [0]      (no thresholds)
    /label_classes   uint8   [...]    optional soft labels, packed
    /label_codes     uint8   [...]    (:mod:`.elementwise`)
    attrs: quantizer "none", bits 32, signed (any value < 0), levels "float32", config "",
           sha256 of /x
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from beamsim.distill.bits import FLOAT_BITS
from beamsim.distill.files.codec import Codec, register_codec
from beamsim.distill.files.elementwise import (FLOAT_QUANTIZER, Layout, check_layout, describe_elementwise, fill,
                                               group_rows, header_of, label_schema, layout_schema, soft_labels_of,
                                               write_elementwise)
from beamsim.distill.files.frame import DistilledSet, Frame, int_attr, labels_of
from beamsim.distill.labels import SoftLabels
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError
from beamsim.h5safe import Array, Declared

__all__ = ["Float32Codec"]


@register_codec("float32")
class Float32Codec(Codec):
    """Full-precision values, 32 bits per stored element."""

    def claims(self, attrs: Mapping[str, Any]) -> bool:
        return "codec" not in attrs and attrs.get("quantizer") == FLOAT_QUANTIZER

    def schema(self, attrs: Mapping[str, Any], entries: Mapping[str, Declared]) -> dict[str, Array]:
        """``/counts``, ``/constant_mask``, ``/constant_values`` (finite), ``/x`` [N, v] (finite),
        ``/alpha`` [0], the soft labels when the attributes call for them
        (:func:`~.elementwise.label_schema`); nothing else (no codes, no quantizer state)."""
        header = header_of(attrs, entries, "constant_values")
        return {
            **layout_schema(header, "constant_values", Array("f", finite=True, meaning="constant elements")),
            "x": Array("f", shape=(header.n, header.varying), finite=True, meaning="the set's values",
                       implied_by=f"num_samples = {header.n}, input_shape = {list(header.shape or [])}, "
                                  f"{header.k} constant elements"),
            "alpha": Array("f", shape=(0,), implied_by="a float32 set has no thresholds"),
            **label_schema(attrs, entries),
        }

    def write(self, path: str | Path, x: torch.Tensor, y: torch.Tensor | Sequence[int], *,
              num_classes: int | None = None, class_names: Sequence[str] | None = None,
              provenance: Provenance | None = None, settings: Mapping[str, Any] | None = None,
              constants_once: bool = True, soft: SoftLabels | None = None) -> dict:
        """Write a float32 set atomically.

        Args:
            path: output file (``.h5``).
            x: [N, *shape] float set (stored as float32).
            y: [N] integer labels in ``[0, num_classes)``; rows are stored grouped by class
                (a stable sort), so pass them grouped to keep their order.
            num_classes, class_names, provenance, settings, constants_once, soft: as for
                :meth:`beamsim.distill.files.quantized.QuantizedCodec.write`.

        Returns:
            :meth:`describe` of the written file.

        Raises:
            ValueError: inconsistent shapes, labels, names or soft labels, non-finite values.
        """
        rows = group_rows(x, y, num_classes, class_names, soft)
        values = rows.x.float().cpu().numpy().reshape(rows.n, rows.d)
        write_elementwise(path, rows, values, payload="x",
                          store=lambda varying: np.ascontiguousarray(varying, dtype=np.float32),
                          constants="constant_values", constant_dtype=np.float32,
                          header={"quantizer": FLOAT_QUANTIZER, "bits": FLOAT_BITS,
                                  "signed": bool((values < 0).any()), "levels": "float32"},
                          bits=FLOAT_BITS, provenance=provenance or Provenance(), settings=settings,
                          class_names=class_names, constants_once=constants_once)
        return self.describe(self.frame(path))

    def _check(self, frame: Frame) -> Layout:
        bits = int_attr(frame.attrs, "bits", frame.where)
        if bits != FLOAT_BITS:
            raise DataFileError(f"{frame.where}: a float32 set must have bits = 32, found {bits}")
        layout = check_layout(frame, "x", "constant_values")
        x = frame.arrays["x"]
        if x.shape != (layout.n, layout.d - layout.k) or x.dtype != np.float32:
            raise DataFileError(f"{frame.where}: /x must be float32 [{layout.n}, {layout.d - layout.k}], found "
                                f"{x.dtype} {list(x.shape)}")
        soft = "label_codes" in frame.arrays
        frame.check_checksums("x", "thresholds, counts, constants or soft labels" if soft else
                              "thresholds, counts or constants")
        return layout

    def read(self, frame: Frame, device: str | torch.device | None = None) -> DistilledSet:
        layout = self._check(frame)
        x = torch.from_numpy(fill(layout, frame.arrays["x"], frame.arrays.get("constant_values"), np.float32))
        counts, y = labels_of(frame.arrays["counts"])
        soft = soft_labels_of(frame, layout)
        if device is not None:
            x, y = x.to(device), y.to(device)
        if device is not None and soft is not None:
            soft = replace(soft, classes=soft.classes.to(device), codes=soft.codes.to(device))
        return DistilledSet(x=x, y=y, counts=counts, attrs=frame.attrs, quantizer=None, codes=None, soft=soft)

    def describe(self, frame: Frame) -> dict:
        return describe_elementwise(frame, self._check(frame))
