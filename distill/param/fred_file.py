"""The fred codec: a FreD set (:mod:`.fred`), its coefficients in float32 or as packed b-bit
codes of QuADD's quantizer, in the distilled-file family (the frame:
:mod:`beamsim.distill.files.frame`). Layout::

    /counts          int32   [classes]             samples per class; rows are grouped by class
    /latent          float32 [N, C, k]             the coefficients (quantizer "none"), or
    /codes           uint8   [ceil(N C k b / 8)]   their b-bit codes, packed little-endian in the
                                                   row-major order of [N, C, k] (a quantizer)
    /freq_mask       bool    [C, H, W]             the kept DCT positions, k True per channel; a
                                                   channel's coefficients follow its flat order
    /constant_mask   bool    [C, H, W]             features constant over the real data (when any)
    /constant_values float32 [kc]                  their values, in the mask's row-major order
    /alpha           float32 [...]                 the quantizer's thresholds ([0] without)
    /quantizer/<k>   float32 [...]                 its further decode parameters
    header attrs: codec "fred", param "fred", quantizer (its registry name, or "none"), bits
           (1..8, or 32), signed, levels, input_shape [C, H, W], coefficients k, num_samples,
           num_classes
    accounting attrs: payload_bits = payload_bits_stored = N C k b
           (:func:`~.fred.fred_payload_bits`), overhead_bits (:func:`~.fred.fred_overhead_bits`)
    config: the quantizer's resolved settings (TOML; "" without one); sha256 of the payload

Reading rebuilds the quantizer (by name, config and decode state) and the FreD decoder (from
the masks and constants alone), so the decoded set equals ``param.eval()(quantizer.eval()(L))``
(``param.eval()(L)`` without a quantizer) of the writer bit for bit on the same device.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import beamsim.distill.compress.file  # noqa: F401  (the built-in codecs register first, in their order)
from beamsim import tomlio
from beamsim.distill.bits import FLOAT_BITS
from beamsim.distill.files.codec import Codec, register_codec
from beamsim.distill.files.elementwise import FLOAT_QUANTIZER, group_rows, header_of, layout_schema
from beamsim.distill.files.frame import (FIX, DistilledSet, Frame, check_counts, count_attr, described_sizes,
                                         int_attr, labels_of, write_frame)
from beamsim.distill.files.quantized import decode_codes, rebuild_quantizer
from beamsim.distill.packing import pack_codes, packed_size, unpack_codes
from beamsim.distill.param.fred import FreD, fred_overhead_bits, fred_payload_bits
from beamsim.distill.provenance import Provenance
from beamsim.distill.quant import MAX_BITS, Quantizer, quantizer_names
from beamsim.errors import DataFileError
from beamsim.h5safe import MAX_READ_BYTES_ENV, Array, Declared, format_bytes, max_read_bytes

__all__ = ["CODEC", "FredCodec", "FredParts", "decode_bytes"]

#: The ``codec`` (and ``param``) attribute of a FreD file.
CODEC = "fred"
_OTHERS = "the frequency mask, thresholds, counts or constants"  # what arrays_sha256 covers, for messages


def decode_bytes(num_samples: int, sample_shape: tuple[int, int, int]) -> int:
    """Memory [bytes] decoding a FreD set takes at most: float64 grid, product and result, the
    float32 output, and the two DCT matrices.

    >>> decode_bytes(3200, (1, 8, 8))
    5735424
    """
    c, h, w = (int(s) for s in sample_shape)
    elements = int(num_samples) * c * h * w
    return 28 * elements + 8 * (h * h + w * w)


@dataclass(frozen=True)
class FredParts:
    """A FreD file's content before decoding to samples.

    Attributes:
        param: the fitted decoder (:class:`~.fred.FreD`) the file rebuilds.
        latent: [N, C, k] float32, the coefficients the decoder takes (dequantized codes when
            the file has a quantizer).
        quantizer: the stored quantizer, or None.
        codes: [N, C, k] int64 codes, or None without a quantizer.
    """

    param: FreD
    latent: torch.Tensor
    quantizer: Quantizer | None
    codes: torch.Tensor | None


@dataclass(frozen=True)
class _Checked:
    """What a checked file's attributes and arrays say (``shape`` = (C, H, W), ``k`` per channel)."""

    n: int
    num_classes: int
    shape: tuple[int, int, int]
    k: int
    bits: int
    quantized: bool
    constant_elements: int
    num_thresholds: int


def _shape_attr(attrs: Mapping[str, Any]) -> tuple[int, int, int] | None:
    """``input_shape`` as (C, H, W), None unless three positive integers."""
    raw = attrs.get("input_shape")
    ok = isinstance(raw, list) and len(raw) == 3 and all(type(s) is int and s > 0 for s in raw)
    return tuple(raw) if ok else None  # type: ignore[return-value]


@register_codec(CODEC)
class FredCodec(Codec):
    """FreD coefficients (float32, or a quantizer's packed codes), one frequency mask, constants once."""

    def claims(self, attrs: Mapping[str, Any]) -> bool:
        return attrs.get("codec") == CODEC

    def schema(self, attrs: Mapping[str, Any], entries: Mapping[str, Declared]) -> dict[str, Array]:
        """``/counts``, ``/freq_mask`` [C, H, W], ``/constant_mask``, ``/constant_values``
        (finite) and either ``/latent`` [N, C, k] (finite; quantizer "none", ``/alpha`` [0]) or
        ``/codes`` (ceil(N C k bits / 8) bytes), ``/alpha`` (finite, positive) and
        ``/quantizer/<k>`` (finite)."""
        header = header_of(attrs, entries, "constant_values")
        shape = _shape_attr(attrs)
        k = count_attr(attrs, "coefficients")
        k = k if shape is not None and k is not None and 1 <= k <= shape[1] * shape[2] else None
        n, channels = header.n, None if shape is None else shape[0]
        implied = f"num_samples = {n}, input_shape = {list(shape or [])}, coefficients = {k}"
        schema: dict[str, Array] = {
            **layout_schema(header, "constant_values", Array("f", finite=True, meaning="constant features")),
            "freq_mask": Array("b", shape=shape, implied_by=f"input_shape = {list(shape or [])}"),
        }
        if attrs.get("quantizer") == FLOAT_QUANTIZER:
            schema["latent"] = Array("f", shape=(n, channels, k), finite=True, meaning="DCT coefficients",
                                     implied_by=implied)
            schema["alpha"] = Array("f", shape=(0,), implied_by="a float32 FreD set has no thresholds")
            return schema
        bits = count_attr(attrs, "bits")
        bits = bits if bits is not None and 1 <= bits <= MAX_BITS else None
        count = None if None in (n, channels, k) else n * channels * k
        schema.update({
            "codes": Array("u", shape=(None if count is None or bits is None else packed_size(count, bits),),
                           unit="bytes", implied_by=f"{implied} at {bits} bits"),
            "alpha": Array("f", finite=True, above=0.0, meaning="the quantizer's thresholds"),
            "quantizer/*": Array("f", finite=True, meaning="a decode parameter of the quantizer"),
            "quantizer/scale": Array("f", finite=True, above=0.0, meaning="the quantizer's scales"),
            "quantizer/norm_std": Array("f", finite=True, above=0.0, meaning="the quantizer's normalization"),
        })
        return schema

    def write(self, path: str | Path, latent: torch.Tensor, y: torch.Tensor | Sequence[int], param: FreD,
              quantizer: Quantizer | None = None, *, num_classes: int | None = None,
              class_names: Sequence[str] | None = None, provenance: Provenance | None = None,
              settings: Mapping[str, Any] | None = None) -> dict:
        """Write a FreD set atomically.

        Args:
            path: output file (``.h5``).
            latent: [N, C, k] float, the raw (pre-quantization) coefficients: the file holds
                ``quantizer.encode(latent)``, or the float32 values without a quantizer.
            y: [N] integer labels in ``[0, num_classes)``; rows are stored grouped by class
                (a stable sort), so pass them grouped to keep their order.
            param: the fitted :class:`~.fred.FreD` that decodes ``latent``.
            quantizer: the in-loop quantizer of the latent (initialized from ``latent`` if it
                was not), or None.
            num_classes, class_names, provenance, settings: as for
                :meth:`beamsim.distill.files.quantized.QuantizedCodec.write`.

        Returns:
            :meth:`describe` of the written file.

        Raises:
            ValueError: an unfitted or foreign parameterization, a latent of another shape,
                inconsistent labels or names, non-finite values.
        """
        if not isinstance(param, FreD) or not param.fitted:
            raise ValueError(f"the fred codec writes sets of a fitted FreD parameterization, got "
                             f"{type(param).__name__}; call param.fit(x_real, constant) first")
        c, k = param.latent_shape
        if not torch.is_tensor(latent) or latent.ndim != 3 or tuple(latent.shape[1:]) != (c, k):
            raise ValueError(f"the latent must be [N, {c}, {k}] (the FreD's channels and coefficients), got "
                             f"{list(getattr(latent, 'shape', []))}")
        if quantizer is not None and not isinstance(quantizer, Quantizer):
            raise ValueError(f"quantizer must be a Quantizer or None, got {type(quantizer).__name__}")
        rows = group_rows(latent, y, num_classes, class_names)
        values = rows.x.float()
        arrays: dict[str, np.ndarray] = {"counts": rows.counts}
        if quantizer is None:
            payload, bits, config, state = "latent", FLOAT_BITS, "", {}
            arrays["latent"] = np.ascontiguousarray(values.cpu().numpy(), dtype=np.float32)
            described = {"quantizer": FLOAT_QUANTIZER, "bits": bits, "signed": bool((values < 0).any()),
                         "levels": "float32"}
        else:
            if not quantizer.initialized:
                quantizer.initialize(values)
            payload, bits = "codes", quantizer.bits
            arrays["codes"] = pack_codes(quantizer.encode(values).cpu().numpy().astype(np.uint8), bits)
            state = {key: v.detach().float().cpu().numpy() for key, v in quantizer.decode_state().items()}
            config = tomlio.dumps(quantizer.resolved_config().as_dict())
            described = {"quantizer": quantizer.name, "bits": bits, "signed": bool(quantizer.signed),
                         "levels": quantizer.levels_name}
        arrays["freq_mask"] = param.freq_mask.cpu().numpy()
        constant = param.constant_mask.cpu().numpy()
        if constant.any():
            arrays["constant_mask"] = constant
            arrays["constant_values"] = param.constant_values.cpu().numpy()[constant].astype(np.float32)
        arrays["alpha"] = state.pop("alpha", np.zeros(0, dtype=np.float32))
        for key, value in state.items():
            arrays[f"quantizer/{key}"] = value
        thresholds = sum(v.size for key, v in arrays.items() if key == "alpha" or key.startswith("quantizer/"))
        shape = param.sample_shape
        header = {"codec": CODEC, "param": CODEC, **described, "input_shape": np.array(shape, dtype=np.int64),
                  "coefficients": k, "num_samples": rows.n, "num_classes": rows.num_classes}
        stored = fred_payload_bits(rows.n, c, k, bits)
        accounting = {
            "payload_bits": stored,
            "payload_bits_stored": stored,
            "overhead_bits": fred_overhead_bits(shape, num_thresholds=thresholds, num_classes=rows.num_classes,
                                                constant_elements=int(constant.sum())),
        }
        write_frame(path, arrays, payload=payload, header=header, provenance=provenance or Provenance(),
                    accounting=accounting, config=config, settings=settings, class_names=class_names)
        return self.describe(self.frame(path))

    # -- reading ------------------------------------------------------------------------------------
    def _check(self, frame: Frame) -> _Checked:
        """Attributes, array shapes, the masks, checksums and the accounting (nothing decoded)."""
        where, attrs, arrays = frame.where, frame.attrs, frame.arrays
        if attrs.get("param") != CODEC:
            raise DataFileError(f"{where}: a fred file must have param = 'fred', found {attrs.get('param')!r}")
        name = attrs.get("quantizer", "")
        quantized = name != FLOAT_QUANTIZER
        if quantized and name not in quantizer_names():
            raise DataFileError(f"{where}: unknown quantizer {name!r} (known: none, {', '.join(quantizer_names())})")
        bits = int_attr(attrs, "bits", where)
        if (quantized and not 1 <= bits <= MAX_BITS) or (not quantized and bits != FLOAT_BITS):
            raise DataFileError(f"{where}: bits = {bits} does not suit quantizer {name!r} (1..{MAX_BITS} for a "
                                f"quantizer, 32 for 'none')")
        n, num_classes = int_attr(attrs, "num_samples", where), int_attr(attrs, "num_classes", where)
        k = int_attr(attrs, "coefficients", where)
        shape = _shape_attr(attrs)
        if shape is None or n < 1 or not 1 <= k <= shape[1] * shape[2]:
            raise DataFileError(f"{where}: input_shape {attrs.get('input_shape')!r} must be [C, H, W] (positive), "
                                f"num_samples {n} positive and coefficients {k} in 1..H W")
        payload = "codes" if quantized else "latent"
        missing = [key for key in (payload, "counts", "freq_mask", "alpha") if key not in arrays]
        if missing:
            raise DataFileError(f"{where}: missing array(s) {', '.join('/' + m for m in missing)}")
        check_counts(arrays["counts"], num_classes, n, where)
        for name in ("freq_mask", "constant_mask"):
            if name in arrays and (arrays[name].dtype != np.bool_ or arrays[name].shape != shape):
                raise DataFileError(f"{where}: /{name} must be bool of shape {list(shape)}")
        c = shape[0]
        kept = arrays["freq_mask"].reshape(c, -1).sum(axis=1)
        if (kept != k).any():
            raise DataFileError(f"{where}: /freq_mask must keep coefficients = {k} positions in every channel, keeps "
                                f"{kept.tolist()}; {FIX}")
        if quantized:
            want = packed_size(n * c * k, bits)
            if arrays["codes"].dtype != np.uint8 or arrays["codes"].shape != (want,):
                raise DataFileError(f"{where}: /codes has {arrays['codes'].size} bytes, expected {want} for {n} "
                                    f"samples of {c} x {k} coefficients at {bits} bits (truncated or corrupt)")
        elif arrays["latent"].dtype != np.float32 or arrays["latent"].shape != (n, c, k):
            raise DataFileError(f"{where}: /latent must be float32 [{n}, {c}, {k}], found {arrays['latent'].dtype} "
                                f"{list(arrays['latent'].shape)}")
        if ("constant_mask" in arrays) != ("constant_values" in arrays):
            raise DataFileError(f"{where}: /constant_mask and /constant_values come together; one is missing")
        kc = int(arrays["constant_mask"].sum()) if "constant_mask" in arrays else 0
        if "constant_mask" in arrays and (kc == 0 or arrays["constant_values"].shape != (kc,)
                                          or arrays["constant_values"].dtype != np.float32):
            raise DataFileError(f"{where}: /constant_values must hold one float32 value per constant feature ({kc})")
        frame.check_checksums(payload, _OTHERS)
        thresholds = sum(v.size for key, v in arrays.items() if key == "alpha" or key.startswith("quantizer/"))
        checked = _Checked(n=n, num_classes=num_classes, shape=shape, k=k, bits=bits, quantized=quantized,
                           constant_elements=kc, num_thresholds=int(thresholds))
        stored = {key: attrs.get(key) for key in ("payload_bits", "payload_bits_stored", "overhead_bits")}
        counted = self._accounting(checked)
        if stored != counted:
            raise DataFileError(f"{where}: the accounting attributes {stored} disagree with the arrays {counted}; "
                                f"{FIX}")
        return checked

    @staticmethod
    def _accounting(checked: _Checked) -> dict[str, int]:
        payload = fred_payload_bits(checked.n, checked.shape[0], checked.k, checked.bits)
        return {"payload_bits": payload, "payload_bits_stored": payload,
                "overhead_bits": fred_overhead_bits(checked.shape, num_thresholds=checked.num_thresholds,
                                                    num_classes=checked.num_classes,
                                                    constant_elements=checked.constant_elements)}

    def _quantizer(self, frame: Frame) -> Quantizer:
        return rebuild_quantizer(frame).eval()

    def parts(self, frame: Frame) -> FredParts:
        """The decoder, the coefficients it takes and the quantizer of a checked file.

        Raises:
            DataFileError: see :meth:`read`.
        """
        checked = self._check(frame)
        where, arrays = frame.where, frame.arrays
        c, k = checked.shape[0], checked.k
        try:
            constant = None
            if checked.constant_elements:
                mask = torch.from_numpy(arrays["constant_mask"])
                values = torch.zeros(checked.shape, dtype=torch.float32)
                values[mask] = torch.from_numpy(arrays["constant_values"])
                constant = (mask, values)
            param = FreD.from_masks(torch.from_numpy(arrays["freq_mask"]), constant).eval()
        except ValueError as exc:
            raise DataFileError(f"{where}: the masks do not make a FreD decoder ({exc}); {FIX}") from None
        if not checked.quantized:
            return FredParts(param=param, latent=torch.from_numpy(arrays["latent"]), quantizer=None, codes=None)
        quantizer = self._quantizer(frame)
        codes = torch.from_numpy(unpack_codes(arrays["codes"], checked.bits, checked.n * c * k).astype(np.int64))
        codes = codes.reshape(checked.n, c, k)
        latent = decode_codes(frame, quantizer, codes)
        return FredParts(param=param, latent=latent, quantizer=quantizer, codes=codes)

    def read(self, frame: Frame, device: str | torch.device | None = None) -> DistilledSet:
        """Validate and decode on the CPU (``codes`` of the result is None: FreD's codes are
        not element-wise; :meth:`parts` gives them).

        Raises:
            DataFileError: attributes, sizes, masks or accounting that do not add up; a checksum
                mismatch; codes out of range; a set too large to decode under the read bound
                (each message says which).
        """
        attrs = frame.attrs
        shape, n = _shape_attr(attrs), count_attr(attrs, "num_samples")
        if shape is not None and n is not None and decode_bytes(n, shape) > max_read_bytes():
            raise DataFileError(f"{frame.where}: decoding {n} samples of {list(shape)} needs "
                                f"{format_bytes(decode_bytes(n, shape))}, more than the read limit of "
                                f"{format_bytes(max_read_bytes())}; if the file is genuine, raise the limit with "
                                f"{MAX_READ_BYTES_ENV}")
        parts = self.parts(frame)
        with torch.no_grad():
            x = parts.param(parts.latent)
        counts, y = labels_of(frame.arrays["counts"])
        if device is not None:
            x, y = x.to(device), y.to(device)
        return DistilledSet(x=x, y=y, counts=counts, attrs=attrs, quantizer=parts.quantizer, codes=None)

    def describe(self, frame: Frame) -> dict:
        """The family's keys (:func:`beamsim.distill.files.describe`), plus ``codec``, ``param``,
        ``coefficients`` (k), ``sample_shape`` [C, H, W], ``latent_shape`` [C, k] and
        ``frequency_mask_bits`` (C H W). Arrays are validated, not decoded."""
        checked = self._check(frame)
        attrs = frame.attrs
        counted = self._accounting(checked)
        payload, overhead = counted["payload_bits"], counted["overhead_bits"]
        d = int(np.prod(checked.shape))
        return {
            "path": str(frame.path),
            "format": attrs["format"],
            "format_version": attrs["format_version"],
            "codec": CODEC,
            "param": CODEC,
            "quantizer": attrs["quantizer"],
            "bits": checked.bits,
            "signed": bool(attrs.get("signed", False)),
            "levels": attrs.get("levels", ""),
            "input_shape": list(checked.shape),
            "sample_shape": list(checked.shape),
            "coefficients": checked.k,
            "latent_shape": [checked.shape[0], checked.k],
            "num_samples": checked.n,
            "num_classes": checked.num_classes,
            "samples_per_class": [int(c) for c in frame.arrays["counts"]],
            "class_names": attrs.get("class_names"),
            "elements_per_sample": d,
            "constant_elements": checked.constant_elements,
            "frequency_mask_bits": d,
            "payload_bits": payload,
            "payload_bits_stored": payload,
            "overhead_bits": overhead,
            "total_bits_stored": payload + overhead,
            **described_sizes(frame.path, attrs, d, payload + overhead, payload),
        }
