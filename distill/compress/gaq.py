"""Grouping-based asymmetric quantization (GAQ): patches share (scale, zero point) by group.

1. PAQ parameters ``(scale_i, zero_point_i)`` of every patch ``i`` (:mod:`.paq`);
2. k-means with ``G`` clusters over these pairs (:mod:`.kmeans`; each coordinate is
   standardised first, since scales are ~1e-2 and zero points ~1e1 for [0, 1] data);
3. intra-group recalibration: a group's parameters are not its cluster centre but the
   asymmetric parameters of all its patches together, from the minimum and maximum over the
   group's patches, so every element still comes back within half a step of its group;
4. codes with the group's parameters; one group index per patch.

``G >= N P`` (one group per patch) is PAQ itself and is returned as such (no indices).
"""

from __future__ import annotations

import torch

from beamsim.config import make_generator
from beamsim.distill.compress.kmeans import kmeans
from beamsim.distill.compress.paq import asymmetric_params, check_bits, paq, quantize
from beamsim.distill.compress.patches import PatchLayout
from beamsim.distill.compress.quantized import QuantizedSet

__all__ = ["gaq", "group_patches"]


def group_patches(scale: torch.Tensor, zero_point: torch.Tensor, groups: int, *, iterations: int = 25,
                  max_points: int | None = 16384, generator: torch.Generator | None = None) -> torch.Tensor:
    """k-means over standardised (scale, zero point) pairs.

    Args:
        scale: [M] float32 per-patch scales.
        zero_point: [M] int per-patch zero points.
        groups: ``G`` wanted (fewer come back when there are fewer distinct pairs).
        iterations, max_points: see :func:`~.kmeans.kmeans`.
        generator: CPU ``torch.Generator`` (the config seed when None).

    Returns:
        [M] int64 group of each patch, in ``0 .. G'-1`` with every group used.
    """
    feats = torch.stack([scale.double(), zero_point.double()], dim=1)
    std = feats.std(dim=0, unbiased=False) if feats.shape[0] > 1 else torch.ones(2, dtype=torch.float64)
    feats = (feats - feats.mean(dim=0)) / torch.where(std > 0, std, torch.ones_like(std))
    _, labels = kmeans(feats, groups, iterations=iterations, max_points=max_points, generator=generator)
    return labels


def gaq(x: torch.Tensor, bits: int, groups: int, *, layout: PatchLayout | None = None,
        patch: int | tuple[int, int] | None = None, iterations: int = 25, max_points: int | None = 16384,
        generator: torch.Generator | None = None) -> QuantizedSet:
    """Quantize the set with ``G`` shared parameter pairs.

    Args:
        x: [N, C, H, W] float set.
        bits: 1..8.
        groups: ``G >= 1``; ``G >= N P`` gives PAQ.
        layout, patch: as for :func:`~.paq.paq`.
        iterations, max_points: k-means settings.
        generator: CPU ``torch.Generator`` for k-means (the config seed when None).

    Returns:
        a :class:`~.quantized.QuantizedSet` with ``group`` [N, P] (``G'`` groups, ``G' <= G``).

    Raises:
        ValueError: bad bits, groups or shapes.
    """
    bits = check_bits(bits)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive integer (e.g. --groups 64), not {groups!r}")
    layout = PatchLayout.build(x, patch) if layout is None else layout
    base = paq(x, bits, layout)
    n, p = base.num_samples, layout.num_patches
    if groups >= n * p:
        return base
    generator = make_generator() if generator is None else generator
    labels = group_patches(base.scale, base.zero_point, groups, iterations=iterations, max_points=max_points,
                           generator=generator)
    count = int(labels.max()) + 1 if labels.numel() else 0
    values = layout.split(x.detach()).cpu()
    lo, hi = layout.patch_ranges(values)
    group_lo = torch.full((count,), float("inf"), dtype=lo.dtype).scatter_reduce(0, labels, lo.reshape(-1), "amin")
    group_hi = torch.full((count,), float("-inf"), dtype=hi.dtype).scatter_reduce(0, labels, hi.reshape(-1), "amax")
    scale, zp = asymmetric_params(group_lo, group_hi, bits)
    group = labels.reshape(n, p)
    rows = group[:, layout.patch_of]
    codes = quantize(values, scale[rows], zp[rows], bits)
    return QuantizedSet(codes=codes, scale=scale, zero_point=zp, group=group, layout=layout, bits=bits)
