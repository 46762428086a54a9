"""The palette codec: AutoPalette sets (index maps into per-sample palettes) in the distilled-file
family (the frame: :mod:`beamsim.distill.files.frame`).

A file of this codec carries ``codec = "palette"``; its ``quantizer`` attribute repeats it,
so readers that predate the codec refuse the file by name. Layout (rows grouped by class)::

    /indices         uint8   [ceil(N v b / 8)]  b = ceil(log2 K)-bit palette indices of the v
                                                indexed pixels of every sample (row-major:
                                                sample, row, column), packed little-endian
    /palettes        float32 [N, K, C]          every sample's K colours
    /counts          int32   [num_classes]      samples per class
    /constant_mask   bool    [C, H, W]          elements constant over the real data (k > 0);
                                                a pixel whose C elements are all constant gets
                                                no index
    /constant_values float32 [k]                their values, once (k > 0)
    header attrs: codec "palette", quantizer "palette", bits (= index_bits), signed, levels
           "palette-K", colors K, index_bits b, varying_pixels v, input_shape [C, H, W],
           num_samples N, num_classes
    accounting attrs: payload_bits (every pixel indexed: N H W b + N K C 32),
           payload_bits_stored (N v b + N K C 32), overhead_bits (class counts, constants,
           header: :func:`beamsim.distill.bits.overhead_bits`)
    config: the ``[param]`` settings (TOML); sha256 covers /indices

Reading decodes with :func:`~beamsim.distill.param.palette.decode_indices`, the function
AutoPalette's eval forward uses, so the values equal ``P.eval()(latent)`` bit for bit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from beamsim import tomlio
from beamsim.distill.bits import FLOAT_BITS, overhead_bits
from beamsim.distill.files.codec import Codec, register_codec
from beamsim.distill.files.elementwise import group_rows, header_of, layout_schema
from beamsim.distill.files.frame import (DistilledSet, Frame, check_counts, count_attr, described_sizes, int_attr,
                                         labels_of, write_frame)
from beamsim.distill.packing import pack_codes, packed_size, unpack_codes
from beamsim.distill.param.palette import AutoPalette, decode_indices, palette_index_bits, palette_payload_bits
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError
from beamsim.h5safe import MAX_READ_BYTES_ENV, Array, Declared, format_bytes, max_read_bytes

__all__ = ["PaletteCodec", "CODEC"]

#: The ``codec`` (and ``quantizer``) attribute of a palette file.
CODEC = "palette"
_OTHERS = "palettes, counts or constants"  # what arrays_sha256 covers, for the message


@dataclasses.dataclass(frozen=True)
class _Layout:
    """A checked file: N samples of shape (C, H, W), K colours at b bits, v indexed pixels."""

    n: int
    num_classes: int
    shape: tuple[int, int, int]
    colors: int
    bits: int
    mask: np.ndarray | None   # [C, H, W] bool, True = constant element (None: none is)

    @property
    def d(self) -> int:
        return int(np.prod(self.shape))

    @property
    def k(self) -> int:
        return 0 if self.mask is None else int(self.mask.sum())

    @property
    def v(self) -> int:
        """Indexed pixels per sample (counted without allocating H x W when no mask is stored)."""
        return self.shape[1] * self.shape[2] if self.mask is None else int((~self.mask.all(axis=0)).sum())

    def pixels(self) -> np.ndarray:
        """[H, W] bool, True = the pixel has an index."""
        return np.ones(self.shape[1:], dtype=bool) if self.mask is None else ~self.mask.all(axis=0)


def _accounting(n: int, shape: tuple[int, ...], colors: int, v: int, k: int, num_classes: int) -> dict[str, int]:
    """The accounting attributes of a file (the pure functions of :mod:`.palette` and :mod:`~beamsim.distill.bits`)."""
    c, h, w = shape
    d = c * h * w
    return {
        "payload_bits": palette_payload_bits(n, h * w, colors, c),
        "payload_bits_stored": palette_payload_bits(n, v, colors, c),
        "overhead_bits": overhead_bits(0, num_classes, labels="counts", constant_elements=k, elements_per_sample=d,
                                       bits=FLOAT_BITS),
    }


@register_codec(CODEC)
class PaletteCodec(Codec):
    """AutoPalette's index maps and per-sample palettes."""

    def claims(self, attrs: Mapping[str, Any]) -> bool:
        return attrs.get("codec") == CODEC

    def schema(self, attrs: Mapping[str, Any], entries: Mapping[str, Declared]) -> dict[str, Array]:
        """``/indices`` (ceil(N v b / 8) bytes), ``/palettes`` [N, K, C] (finite), ``/counts``,
        ``/constant_mask``, ``/constant_values`` (finite); nothing else."""
        header = header_of(attrs, entries, "constant_values")
        colors, bits, v = count_attr(attrs, "colors"), count_attr(attrs, "index_bits"), count_attr(attrs,
                                                                                                  "varying_pixels")
        bits = bits if bits is not None and 1 <= bits <= 8 else None
        stored = None if header.n is None or v is None else header.n * v
        channels = header.shape[0] if header.shape is not None and len(header.shape) == 3 else None
        return {
            **layout_schema(header, "constant_values", Array("f", finite=True, meaning="constant elements")),
            "indices": Array("u", shape=(None if stored is None or bits is None else packed_size(stored, bits),),
                             unit="bytes", implied_by=f"{header.n} samples of {v} indexed pixels at {bits} bits"),
            "palettes": Array("f", shape=(header.n, colors, channels), finite=True, meaning="palette colours",
                              implied_by=f"num_samples = {header.n}, colors = {colors}, "
                                         f"input_shape = {list(header.shape or [])}"),
        }

    def write(self, path: str | Path, latent: torch.Tensor, y: torch.Tensor | Sequence[int], param: AutoPalette,
              quantizer: Any = None, *, num_classes: int | None = None, class_names: Sequence[str] | None = None,
              provenance: Provenance | None = None, settings: Mapping[str, Any] | None = None) -> dict:
        """Write an AutoPalette set atomically.

        Args:
            path: output file (``.h5``).
            latent: [N, C, H, W] float32, the learned samples; the file holds ``param.encode(latent)``.
            y: [N] integer labels in ``[0, num_classes)``; rows are stored grouped by class
                (a stable sort), so pass them grouped to keep their order.
            param: the fitted :class:`~beamsim.distill.param.palette.AutoPalette`.
            quantizer: must be None (the index maps are the quantization).
            num_classes, class_names, provenance, settings: as for
                :meth:`beamsim.distill.files.quantized.QuantizedCodec.write`.

        Returns:
            :meth:`describe` of the written file.

        Raises:
            ValueError: a quantizer, an unfitted or foreign parameterization, inconsistent
                shapes, labels or names, non-finite values.
        """
        if quantizer is not None:
            raise ValueError("--param palette takes no quantizer (its log2 K-bit index maps are the quantization); "
                             "use --quantizer none")
        if not isinstance(param, AutoPalette) or not hasattr(param, "net_"):
            raise ValueError(f"the palette codec needs a fitted AutoPalette, got {type(param).__name__}; "
                             "call fit() first")
        rows = group_rows(latent, y, num_classes, class_names)
        if rows.shape != param.shape_:
            raise ValueError(f"samples {list(rows.shape)} do not match the palette's {list(param.shape_)}")
        indices, palettes = (t.cpu().numpy() for t in param.encode(rows.x.float()))
        pixels = param.pixels_.cpu().numpy()
        n, (c, h, w), colors, bits = rows.n, rows.shape, param.colors, param.index_bits
        arrays: dict[str, np.ndarray] = {
            "indices": pack_codes(indices[:, pixels], bits),
            "palettes": np.ascontiguousarray(palettes, dtype=np.float32),
            "counts": rows.counts,
        }
        constant = param.constant_
        signed = bool((palettes < 0).any())
        if constant is not None and bool(constant[0].any()):
            mask = constant[0].cpu().numpy()
            arrays["constant_mask"] = mask
            arrays["constant_values"] = constant[1].float().cpu().numpy()[mask].astype(np.float32)
            signed = signed or bool((arrays["constant_values"] < 0).any())
        k = int(arrays["constant_mask"].sum()) if "constant_mask" in arrays else 0
        header = {"codec": CODEC, "quantizer": CODEC, "bits": bits, "signed": signed, "levels": f"palette-{colors}",
                  "colors": colors, "index_bits": bits, "varying_pixels": int(pixels.sum()),
                  "input_shape": np.array(rows.shape, dtype=np.int64), "num_samples": n,
                  "num_classes": rows.num_classes}
        write_frame(path, arrays, payload="indices", header=header, provenance=provenance or Provenance(),
                    accounting=_accounting(n, rows.shape, colors, int(pixels.sum()), k, rows.num_classes),
                    config=tomlio.dumps(dataclasses.asdict(param.settings)), settings=settings,
                    class_names=class_names)
        return self.describe(self.frame(path))

    def _check(self, frame: Frame) -> _Layout:
        """Attributes, array sizes, accounting and checksums (indices are not unpacked)."""
        where, attrs, arrays = frame.where, frame.attrs, frame.arrays
        n = int_attr(attrs, "num_samples", where)
        num_classes = int_attr(attrs, "num_classes", where)
        colors, bits = int_attr(attrs, "colors", where), int_attr(attrs, "index_bits", where)
        shape = tuple(int(s) for s in attrs.get("input_shape", []))
        if n < 1 or len(shape) != 3 or min(shape) < 1:
            raise DataFileError(f"{where}: num_samples {n} and input_shape {list(shape)} must be positive "
                                "(input_shape [C, H, W])")
        if not 2 <= colors <= 256 or bits != palette_index_bits(colors) or int_attr(attrs, "bits", where) != bits:
            raise DataFileError(f"{where}: colors = {colors} needs 2..256 colours and bits = index_bits = "
                                f"ceil(log2 colors), found bits {attrs.get('bits')!r} and index_bits {bits}")
        missing = [key for key in ("indices", "palettes", "counts") if key not in arrays]
        if missing:
            raise DataFileError(f"{where}: missing array(s) {', '.join('/' + m for m in missing)}")
        check_counts(arrays["counts"], num_classes, n, where)
        mask = arrays.get("constant_mask")  # read only when stored: never allocate [C, H, W] from attributes
        if mask is not None and (mask.shape != shape or mask.dtype != np.bool_):
            raise DataFileError(f"{where}: /constant_mask must be bool of shape {list(shape)}")
        layout = _Layout(n=n, num_classes=num_classes, shape=shape, colors=colors, bits=bits, mask=mask)
        if layout.k and arrays.get("constant_values", np.zeros(0)).shape != (layout.k,):
            raise DataFileError(f"{where}: /constant_values must hold one value per constant element ({layout.k})")
        if int_attr(attrs, "varying_pixels", where) != layout.v:
            raise DataFileError(f"{where}: varying_pixels = {attrs['varying_pixels']} but /constant_mask leaves "
                                f"{layout.v} pixels to index")
        want = packed_size(n * layout.v, bits)
        if arrays["indices"].dtype != np.uint8 or arrays["indices"].shape != (want,):
            raise DataFileError(f"{where}: /indices has {arrays['indices'].size} bytes, expected {want} for {n} "
                                f"samples of {layout.v} indexed pixels at {bits} bits (truncated or corrupt)")
        if arrays["palettes"].shape != (n, colors, shape[0]) or arrays["palettes"].dtype != np.float32:
            raise DataFileError(f"{where}: /palettes must be float32 [{n}, {colors}, {shape[0]}]")
        accounting = _accounting(n, shape, colors, layout.v, layout.k, num_classes)
        found = {key: attrs.get(key) for key in accounting}
        if found != accounting:
            raise DataFileError(f"{where}: the accounting attributes {found} disagree with the arrays ({accounting}); "
                                "the file was edited")
        frame.check_checksums("indices", _OTHERS)
        return layout

    def read(self, frame: Frame, device: str | torch.device | None = None) -> DistilledSet:
        """Validate and decode (``codes``: the index maps [N, H, W] int64, 0 at constant pixels).

        Raises:
            DataFileError: sizes or accounting that do not add up, checksum mismatch, an index
                outside the palette, a decoded set over the read bound (each message says which).
        """
        layout = self._check(frame)
        where, arrays = frame.where, frame.arrays
        c, h, w = layout.shape
        decoded = layout.n * (layout.d * 4 + h * w * 8)  # x float32 and the index maps int64
        if decoded > max_read_bytes():
            raise DataFileError(f"{where}: the set decodes to {format_bytes(decoded)}, more than the read limit of "
                                f"{format_bytes(max_read_bytes())}; if the file is genuine, raise the limit with "
                                f"{MAX_READ_BYTES_ENV}={decoded}")
        varying = unpack_codes(arrays["indices"], layout.bits, layout.n * layout.v)
        if varying.size and int(varying.max()) >= layout.colors:
            raise DataFileError(f"{where}: an index is {int(varying.max())}, but the palettes have {layout.colors} "
                                "colours (file corrupt)")
        indices = np.zeros((layout.n, h, w), dtype=np.int64)
        indices[:, layout.pixels()] = varying.reshape(layout.n, layout.v)
        constant = None
        if layout.k:
            values = np.zeros(layout.shape, dtype=np.float32)
            values[layout.mask] = arrays["constant_values"]
            constant = (torch.from_numpy(layout.mask), torch.from_numpy(values))
        codes = torch.from_numpy(indices)
        x = decode_indices(codes, torch.from_numpy(arrays["palettes"]), constant)
        counts, y = labels_of(arrays["counts"])
        if device is not None:
            x, y = x.to(device), y.to(device)
        return DistilledSet(x=x, y=y, counts=counts, attrs=frame.attrs, quantizer=None, codes=codes)

    def describe(self, frame: Frame) -> dict:
        """The family's keys (:func:`beamsim.distill.files.describe`), plus ``codec``, ``param``,
        ``colors``, ``index_bits``, ``varying_pixels`` and ``bits_per_element`` (stored bits over
        the N d elements). Arrays are validated, indices are not unpacked."""
        layout = self._check(frame)
        attrs = frame.attrs
        payload_papers, payload_stored = int(attrs["payload_bits"]), int(attrs["payload_bits_stored"])
        overhead = int(attrs["overhead_bits"])
        total = payload_stored + overhead
        return {
            "path": str(frame.path),
            "format": attrs["format"],
            "format_version": attrs["format_version"],
            "codec": CODEC,
            "param": "palette",
            "quantizer": attrs["quantizer"],
            "bits": layout.bits,
            "signed": bool(attrs.get("signed", False)),
            "levels": attrs.get("levels", ""),
            "colors": layout.colors,
            "index_bits": layout.bits,
            "varying_pixels": layout.v,
            "input_shape": list(layout.shape),
            "num_samples": layout.n,
            "num_classes": layout.num_classes,
            "samples_per_class": [int(c) for c in frame.arrays["counts"]],
            "class_names": attrs.get("class_names"),
            "elements_per_sample": layout.d,
            "constant_elements": layout.k,
            "payload_bits": payload_papers,
            "payload_bits_stored": payload_stored,
            "overhead_bits": overhead,
            "total_bits_stored": total,
            "bits_per_element": round(total / max(layout.n * layout.d, 1), 4),
            **described_sizes(frame.path, attrs, layout.d, total, payload_papers),
        }
