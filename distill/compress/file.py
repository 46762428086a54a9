"""The patch codec: patch-quantized sets (PAQ/GAQ, optionally range-coded) in the distilled-file
family (the frame: :mod:`beamsim.distill.files.frame`).

A file of this codec carries a ``codec`` attribute (``paq`` or ``gaq``); its ``quantizer``
attribute repeats it, so readers that predate the codec refuse the file by name. Layout::

    /codes           uint8   [bytes]   range-coded codes (entropy "range": the coder's stream,
                                       with its length and CRC32) or b-bit packed codes ("none")
    /scale           float32 [G]       scale per parameter row
    /zero_point      int32   [G]       zero point per parameter row
    /counts          int32   [C]       samples per class; rows are grouped by class
    /groups          uint8   [bytes]   gaq only: one ceil(log2 G)-bit group index per patch,
                                       packed little-endian, sample-major
    /constant_mask   bool    [C,H,W]   (only when some elements are constant across the set)
    /constant_values float32 [k]
    header attrs: codec ("paq" | "gaq"), entropy ("range" | "none"), quantizer (= codec),
           bits, signed, levels, patch [ph, pw], num_groups, index_bits, input_shape,
           num_samples, num_classes
    accounting attrs: budget_bytes, bytes_group_indices, bytes_parameters, bytes_codes,
           bytes_codes_packed, bytes_constants, bytes_labels, payload_bits (N d b),
           payload_bits_stored, overhead_bits
    config: the compressor's settings (TOML); spc: the samples per class kept

PAQ (``codec = "paq"``) stores one parameter row per patch (row ``n P + p``) and no indices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from beamsim import tomlio
from beamsim.distill.bits import FLOAT_BITS, HEADER_BITS, payload_bits
from beamsim.distill.compress import coder
from beamsim.distill.compress.config import CompressConfig
from beamsim.distill.compress.patches import PatchLayout
from beamsim.distill.compress.quantized import QuantizedSet, index_bits, pack_indices, unpack_indices
from beamsim.distill.files.codec import Codec, register_codec
from beamsim.distill.files.elementwise import header_of, layout_schema
from beamsim.distill.files.frame import (FIX, DistilledSet, Frame, check_counts, count_attr, described_sizes,
                                         int_attr, labels_of, optional_attr, read_attrs, write_frame)
from beamsim.distill.packing import pack_codes, packed_size, unpack_codes
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError
from beamsim.h5safe import Array, Declared

__all__ = ["CODECS", "ENTROPY", "PatchCodec", "read_quantized"]

#: Values of the ``codec`` attribute this codec reads.
CODECS = ("paq", "gaq")
#: Values of the ``entropy`` attribute.
ENTROPY = ("range", "none")


@register_codec("patch")
class PatchCodec(Codec):
    """Patch-wise asymmetric codes with per-patch (PAQ) or per-group (GAQ) parameters."""

    def claims(self, attrs: Mapping[str, Any]) -> bool:
        return attrs.get("codec") in CODECS

    def schema(self, attrs: Mapping[str, Any], entries: Mapping[str, Declared]) -> dict[str, Array]:
        """``/codes`` (packed: ceil(N v bits / 8) bytes; range-coded: any length), ``/scale``
        [G] (finite, positive), ``/zero_point`` [G], ``/counts``, ``/constant_mask``,
        ``/constant_values`` (finite) and, in a gaq file only, ``/groups``; no ``/x``, no
        ``/alpha``, no quantizer state."""
        header = header_of(attrs, entries, "constant_values")
        bits, groups = count_attr(attrs, "bits"), count_attr(attrs, "num_groups")
        bits = bits if bits is not None and 1 <= bits <= 8 else None
        stored = header.stored()
        packed = attrs.get("entropy") == "none" and stored is not None and bits is not None
        by_groups = f"num_groups = {groups}"
        schema = {
            **layout_schema(header, "constant_values", Array("f", finite=True, meaning="constant elements")),
            "codes": Array("u", shape=(packed_size(stored, bits) if packed else None,), unit="bytes",
                           implied_by=f"{stored} codes of {bits} bits"),
            "scale": Array("f", shape=(groups,), finite=True, above=0.0, meaning="the code scales",
                           implied_by=by_groups),
            "zero_point": Array("i", shape=(groups,), implied_by=by_groups),
        }
        if attrs.get("codec") == "gaq":
            schema["groups"] = Array("u", shape=(None,))
        return schema

    def write(self, path: str | Path, quantized: QuantizedSet, counts: torch.Tensor | Sequence[int], *,
              stream: bytes | None = None, config: CompressConfig | None = None, budget_bytes: int | None = None,
              class_names: Sequence[str] | None = None, provenance: Provenance | None = None,
              settings: Mapping[str, Any] | None = None) -> dict:
        """Write a patch-quantized set atomically.

        Args:
            path: output file (``.h5``).
            quantized: the set, rows grouped by class.
            counts: [C] samples per class (summing to the rows of ``quantized``).
            stream: the range-coded codes (:func:`~.coder.encode`); None stores packed codes.
            config: the settings it was made with (stored as TOML).
            budget_bytes: the budget the search worked with.
            class_names: ``C`` names (optional).
            provenance: where the set came from (its ``spc``: the samples per class kept).
            settings: further settings (stored as TOML text).

        Returns:
            :meth:`describe` of the written file.

        Raises:
            ValueError: counts that do not add up, a stream of other codes, names of the wrong count.
        """
        counts = np.asarray(torch.as_tensor(counts).cpu().numpy(), dtype=np.int64)
        n, layout = quantized.num_samples, quantized.layout
        if counts.ndim != 1 or counts.min(initial=0) < 0 or int(counts.sum()) != n:
            raise ValueError(f"counts must be non-negative and sum to the {n} samples, got {counts.tolist()}")
        if class_names is not None and len(class_names) != len(counts):
            raise ValueError(f"class_names has {len(class_names)} names for {len(counts)} classes")
        codes = quantized.codes.numpy()
        if stream is not None:
            bits, count, _ = coder.stream_info(stream)
            if bits != quantized.bits or count != codes.size:
                raise ValueError(f"the stream holds {count} codes of {bits} bits, the set {codes.size} of "
                                 f"{quantized.bits}")
            payload = np.frombuffer(stream, dtype=np.uint8).copy()
        else:
            payload = pack_codes(codes, quantized.bits)
        sizes = quantized.sizes(None if stream is None else len(stream), len(counts))
        arrays: dict[str, np.ndarray] = {
            "codes": payload,
            "scale": quantized.scale.numpy().astype(np.float32),
            "zero_point": quantized.zero_point.numpy().astype(np.int32),
            "counts": counts.astype(np.int32),
        }
        if quantized.group is not None:
            arrays["groups"] = pack_indices(quantized.group, quantized.index_bits)
        k = int(layout.constant.sum())
        if k:
            arrays["constant_mask"] = layout.constant.numpy()
            arrays["constant_values"] = layout.constant_values.numpy().astype(np.float32)
        decoded_min = float(quantized.decode().min()) if n else 0.0
        header = {
            "codec": quantized.codec,
            "entropy": "none" if stream is None else "range",
            "quantizer": quantized.codec,
            "bits": quantized.bits,
            "signed": decoded_min < 0,
            "levels": f"{quantized.codec}-{quantized.bits}",
            "patch": np.array(layout.patch, dtype=np.int64),
            "num_groups": quantized.num_groups,
            "index_bits": quantized.index_bits,
            "input_shape": np.array(layout.shape, dtype=np.int64),
            "num_samples": n,
            "num_classes": len(counts),
        }
        accounting = {
            "budget_bytes": -1 if budget_bytes is None else int(budget_bytes),
            "bytes_group_indices": sizes.group_indices,
            "bytes_parameters": sizes.parameters,
            "bytes_codes": sizes.codes,
            "bytes_codes_packed": packed_size(codes.size, quantized.bits),
            "bytes_constants": sizes.constants,
            "bytes_labels": sizes.labels,
            "payload_bits": payload_bits(n, layout.elements, quantized.bits),
            "payload_bits_stored": 8 * sizes.codes,
            "overhead_bits": 8 * (sizes.total - sizes.codes) + HEADER_BITS,
        }
        write_frame(path, arrays, payload="codes", header=header, provenance=provenance or Provenance(),
                    accounting=accounting, config=tomlio.dumps(config.as_dict()) if config is not None else "",
                    settings=settings, class_names=class_names)
        return self.describe(self.frame(path))

    def _check(self, frame: Frame) -> None:
        """Attributes, array sizes and checksums (codes are not decoded)."""
        where, attrs, arrays = frame.where, frame.attrs, frame.arrays
        if attrs.get("entropy") not in ENTROPY:
            raise DataFileError(f"{where}: unknown entropy coding {attrs.get('entropy')!r} "
                                f"(known: {', '.join(ENTROPY)})")
        bits = int_attr(attrs, "bits", where)
        if not 1 <= bits <= 8:
            raise DataFileError(f"{where}: bits = {bits} is outside 1..8")
        n = int_attr(attrs, "num_samples", where)
        num_classes = int_attr(attrs, "num_classes", where)
        groups = int_attr(attrs, "num_groups", where)
        shape = tuple(int(s) for s in attrs.get("input_shape", []))
        patch = tuple(int(s) for s in attrs.get("patch", []))
        if n < 1 or len(shape) != 3 or min(shape) < 1 or len(patch) != 2 or min(patch) < 1:
            raise DataFileError(f"{where}: num_samples {n}, input_shape {list(shape)} and patch {list(patch)} must "
                                "be positive (input_shape [C, H, W], patch [ph, pw])")
        needed = ["codes", "scale", "zero_point", "counts"] + (["groups"] if attrs["codec"] == "gaq" else [])
        missing = [key for key in needed if key not in arrays]
        if missing:
            raise DataFileError(f"{where}: missing array(s) {', '.join('/' + m for m in missing)}")
        check_counts(arrays["counts"], num_classes, n, where)
        if arrays["scale"].shape != (groups,) or arrays["scale"].dtype != np.float32 \
                or arrays["zero_point"].shape != (groups,) or arrays["zero_point"].dtype != np.int32:
            raise DataFileError(f"{where}: /scale and /zero_point must be float32 and int32 [{groups}] (num_groups)")
        frame.check_checksums("codes", "parameters, group indices, counts or constants")

    def quantized(self, frame: Frame) -> QuantizedSet:
        """The stored set before dequantization.

        Raises:
            DataFileError: see :meth:`read`.
        """
        self._check(frame)
        where, attrs, arrays = frame.where, frame.attrs, frame.arrays
        n, bits, groups = attrs["num_samples"], attrs["bits"], attrs["num_groups"]
        shape = tuple(int(s) for s in attrs["input_shape"])
        mask = arrays.get("constant_mask", np.zeros(shape, dtype=bool))
        try:
            layout = PatchLayout.from_mask(shape, tuple(int(s) for s in attrs["patch"]), torch.from_numpy(mask),
                                           torch.from_numpy(arrays.get("constant_values", np.zeros(0, np.float32))))
        except ValueError as exc:
            raise DataFileError(f"{where}: /constant_mask and /constant_values do not agree ({exc})") from None
        count = n * layout.varying
        if attrs["entropy"] == "range":
            try:
                stream_bits, stream_count, _ = coder.stream_info(arrays["codes"].tobytes())
                if stream_bits != bits or stream_count != count:  # before decoding: the count sizes the output
                    raise DataFileError(f"/codes holds {stream_count} codes of {stream_bits} bits, expected {count} "
                                        f"of {bits} (truncated or corrupt)")
                codes = coder.decode(arrays["codes"])
            except DataFileError as exc:
                raise DataFileError(f"{where}: {exc}; {FIX}") from None
        else:
            if arrays["codes"].shape != (packed_size(count, bits),):
                raise DataFileError(f"{where}: /codes has {arrays['codes'].size} bytes, expected "
                                    f"{packed_size(count, bits)} for {count} codes of {bits} bits "
                                    "(truncated or corrupt)")
            codes = unpack_codes(arrays["codes"], bits, count)
        patches = n * layout.num_patches
        if attrs["codec"] == "paq":
            group = None
            if groups != patches:
                raise DataFileError(f"{where}: a paq file needs one parameter row per patch ({patches}), "
                                    f"found {groups}")
        else:
            ibits = index_bits(max(groups, 1))
            if attrs.get("index_bits") != ibits or arrays["groups"].shape != ((patches * ibits + 7) // 8,):
                raise DataFileError(f"{where}: /groups must hold {patches} indices of {ibits} bits "
                                    "(truncated or corrupt)")
            group = torch.from_numpy(unpack_indices(arrays["groups"], ibits, patches)).reshape(n, layout.num_patches)
            if patches and int(group.max()) >= groups:
                raise DataFileError(f"{where}: a group index is {int(group.max())}, but there are {groups} groups")
        if not (np.isfinite(arrays["scale"]).all() and (arrays["scale"] > 0).all()):
            raise DataFileError(f"{where}: /scale must hold positive finite values (file corrupt)")
        return QuantizedSet(codes=torch.from_numpy(codes.reshape(n, layout.varying)),
                            scale=torch.from_numpy(arrays["scale"]), zero_point=torch.from_numpy(arrays["zero_point"]),
                            group=group, layout=layout, bits=bits)

    def read(self, frame: Frame, device: str | torch.device | None = None) -> DistilledSet:
        """Validate and decode (``quantizer`` and ``codes`` of the result are None).

        Raises:
            DataFileError: unknown entropy coding; sizes that do not add up; checksum or CRC
                mismatch (each message says which).
        """
        x = self.quantized(frame).decode()
        counts, y = labels_of(frame.arrays["counts"])
        if device is not None:
            x, y = x.to(device), y.to(device)
        return DistilledSet(x=x, y=y, counts=counts, attrs=frame.attrs, quantizer=None, codes=None)

    def describe(self, frame: Frame) -> dict:
        """The family's keys (:func:`beamsim.distill.files.describe`), plus ``codec``,
        ``entropy``, ``patch``, ``groups``, ``index_bits``, ``budget_bytes``,
        ``float32_bytes``, ``bits_per_element`` and ``bytes`` (the byte breakdown:
        group_indices, parameters, codes, codes_packed, constants, labels, payload, total).
        Arrays are validated, codes are not decoded.
        """
        self._check(frame)
        attrs, arrays = frame.attrs, frame.arrays
        shape = [int(s) for s in attrs["input_shape"]]
        d = int(np.prod(shape))
        k = int(arrays["constant_mask"].sum()) if "constant_mask" in arrays else 0
        breakdown = {key: int(attrs.get(f"bytes_{key}", 0)) for key in
                     ("group_indices", "parameters", "codes", "codes_packed", "constants", "labels")}
        breakdown["payload"] = sum(breakdown[key] for key in ("group_indices", "parameters", "codes", "constants"))
        breakdown["total"] = breakdown["payload"] + breakdown["labels"]
        n = int(attrs["num_samples"])
        stored_bits = 8 * breakdown["total"] + HEADER_BITS
        return {
            "path": str(frame.path),
            "format": attrs["format"],
            "format_version": attrs["format_version"],
            "codec": attrs["codec"],
            "entropy": attrs["entropy"],
            "quantizer": attrs["quantizer"],
            "bits": int(attrs["bits"]),
            "signed": bool(attrs.get("signed", False)),
            "levels": attrs.get("levels", ""),
            "patch": [int(s) for s in attrs["patch"]],
            "groups": int(attrs["num_groups"]),
            "index_bits": int(attrs.get("index_bits", 0)),
            "input_shape": shape,
            "num_samples": n,
            "num_classes": int(attrs["num_classes"]),
            "samples_per_class": [int(c) for c in arrays["counts"]],
            "class_names": attrs.get("class_names"),
            "elements_per_sample": d,
            "constant_elements": k,
            "bytes": breakdown,
            "budget_bytes": optional_attr(attrs, "budget_bytes"),
            "float32_bytes": n * d * FLOAT_BITS // 8,
            "payload_bits": int(attrs["payload_bits"]),
            "payload_bits_stored": int(attrs["payload_bits_stored"]),
            "overhead_bits": int(attrs["overhead_bits"]),
            "total_bits_stored": stored_bits,
            "bits_per_element": round(8 * breakdown["payload"] / max(n * d, 1), 4),
            **described_sizes(frame.path, attrs, d, stored_bits, int(attrs["payload_bits"])),
        }


def read_quantized(path: str | Path) -> tuple[QuantizedSet, dict, dict[str, np.ndarray]]:
    """A patch-quantized file's set before dequantization, with its attributes and raw arrays.

    Raises:
        DataFileError: not a patch-quantized file, or see :meth:`PatchCodec.read`.
    """
    codec = PatchCodec()
    attrs = read_attrs(path)
    if not codec.claims(attrs):
        raise DataFileError(f"{path}: not a patch-quantized set (codec {attrs.get('codec')!r}; expected one "
                            f"of {', '.join(CODECS)}); write one with beamsim compress")
    frame = codec.frame(path)
    return codec.quantized(frame), frame.attrs, frame.arrays
