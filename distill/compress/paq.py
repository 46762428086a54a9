"""Patch-wise asymmetric quantization (PAQ): one (scale, zero point) per patch of every sample.

For a patch with minimum ``lo`` and maximum ``hi`` at ``b`` bits::

    scale      = (hi - lo) / (2^b - 1)
    zero_point = round(-lo / scale)                      (an integer, often negative for [0, 1] data)
    code       = clamp(round(x / scale + zero_point), 0, 2^b - 1)
    value      = (code - zero_point) * scale

so every element of the patch comes back within ``scale / 2``. A constant patch (``hi = lo``)
has no step: it gets ``scale = |lo|`` and ``zero_point = -sign(lo)`` (``scale = 1``,
``zero_point = 0`` for ``lo = 0``), which decodes code 0 to ``lo`` exactly. Codes are computed
in float64 from the float32 ``scale`` and the int32 ``zero_point``, the values that are stored.
A patch whose range is so narrow (relative to ``|lo|``) that the zero point would not fit in
an int32 is treated as constant at its midpoint; its error is then below ``(hi - lo) / 2``,
a range below ``2^-30 |lo|``.
"""

from __future__ import annotations

import torch

from beamsim.distill.compress.patches import PatchLayout
from beamsim.distill.compress.quantized import QuantizedSet
from beamsim.distill.quant.ste import ste_round

__all__ = ["asymmetric_params", "quantize", "dequantize", "paq", "fake_quantize", "check_bits"]

_ZP_LIMIT = 2.0**30


def check_bits(bits: int) -> int:
    """``bits`` as an int in 1..8.

    Raises:
        ValueError: anything else.
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise ValueError(f"bits must be an integer in 1..8 (e.g. --bits 2), not {bits!r}")
    return bits


def asymmetric_params(lo: torch.Tensor, hi: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale and zero point from ranges.

    Args:
        lo, hi: [...] float minimum and maximum (same shape, ``lo <= hi``).
        bits: 1..8.

    Returns:
        (scale [...] float32 > 0, zero_point [...] int32).

    >>> s, z = asymmetric_params(torch.tensor([0.25, 0.5]), torch.tensor([1.0, 0.5]), 2)
    >>> s.tolist(), z.tolist()
    ([0.25, 0.5], [-1, -1])
    """
    levels = (1 << check_bits(bits)) - 1
    lo64, hi64 = lo.double(), hi.double()
    scale = ((hi64 - lo64) / levels).float().double()  # the float32 value that is stored
    zp = torch.round(-lo64 / scale.clamp_min(torch.finfo(torch.float64).tiny))
    flat = (scale <= 0) | (zp.abs() > _ZP_LIMIT)
    if bool(flat.any()):
        mid = torch.where(scale <= 0, lo64, (lo64 + hi64) / 2).float().double()
        flat_scale = torch.where(mid != 0, mid.abs(), torch.ones_like(mid))
        scale = torch.where(flat, flat_scale, scale)
        zp = torch.where(flat, -torch.sign(mid), zp)
    return scale.float(), zp.to(torch.int32)


def quantize(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, bits: int) -> torch.Tensor:
    """Codes ``clamp(round(x / scale + zero_point), 0, 2^b - 1)``.

    Args:
        x, scale, zero_point: broadcastable tensors (values, float32 scale, int zero point).
        bits: 1..8.

    Returns:
        uint8 codes of the broadcast shape.
    """
    levels = (1 << check_bits(bits)) - 1
    q = torch.round(x.double() / scale.double() + zero_point.double())
    return q.clamp(0, levels).to(torch.uint8)


def dequantize(codes: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    """Values ``(code - zero_point) * scale`` as float32 (computed in float64)."""
    return ((codes.double() - zero_point.double()) * scale.double()).float()


def paq(x: torch.Tensor, bits: int, layout: PatchLayout | None = None,
        patch: int | tuple[int, int] | None = None) -> QuantizedSet:
    """Quantize every patch of every sample with its own parameters.

    Args:
        x: [N, C, H, W] float set.
        bits: 1..8.
        layout: patches and constant elements (built from ``x`` and ``patch`` when None).
        patch: patch size when ``layout`` is None (default: :func:`~.patches.default_patch`).

    Returns:
        a :class:`~.quantized.QuantizedSet` with ``N * P`` parameter pairs (row ``n * P + p``
        for patch ``p`` of sample ``n``) and no group indices.
    """
    bits = check_bits(bits)
    layout = PatchLayout.build(x, patch) if layout is None else layout
    values = layout.split(x.detach()).cpu()
    n, p = values.shape[0], layout.num_patches
    lo, hi = layout.patch_ranges(values)
    scale, zp = asymmetric_params(lo, hi, bits)
    param = (torch.arange(n)[:, None] * p + layout.patch_of[None, :])  # [N, V] -> row of the parameter tables
    codes = quantize(values, scale.reshape(-1)[param], zp.reshape(-1)[param], bits)
    return QuantizedSet(codes=codes, scale=scale.reshape(-1), zero_point=zp.reshape(-1), group=None,
                        layout=layout, bits=bits)


def fake_quantize(x: torch.Tensor, bits: int, layout: PatchLayout) -> torch.Tensor:
    """PAQ in the forward pass, straight-through gradient to ``x`` (for refinement).

    Scale and zero point come from the current ``x`` (no gradient through them); rounding
    uses the package's :func:`~beamsim.distill.quant.ste.ste_round`; clamping passes the
    gradient only inside the range. Constant elements pass through unchanged.

    Args:
        x: [N, C, H, W] float32, may require grad.
        bits: 1..8.
        layout: from :meth:`PatchLayout.build` on the set ``x`` belongs to.

    Returns:
        [N, C, H, W] float32 dequantized values, equal to ``paq(x).decode()``.
    """
    levels = (1 << check_bits(bits)) - 1
    n = x.shape[0]
    mask = layout.constant.reshape(-1).to(x.device)
    flat = x.reshape(n, -1)
    values = flat[:, ~mask]
    lo, hi = layout.patch_ranges(values.detach())
    scale, zp = asymmetric_params(lo, hi, bits)
    index = layout.patch_of.to(x.device)
    s = scale[:, index].double()
    z = zp[:, index].double()
    q = torch.clamp(ste_round(values.double() / s + z), 0, levels)
    out_values = ((q - z) * s).float()
    out = flat.clone()
    out[:, ~mask] = out_values
    return out.reshape(x.shape)
