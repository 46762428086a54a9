"""Nearest level of a sorted level table, fast: a bin lookup that equals ``torch.bucketize``.

``torch.bucketize`` runs a binary search per element; for the few hundred levels of a
quantizer a bin table is several times faster on the CPU. The range [lo, hi] is cut into
``bins`` equal bins; for every bin the table holds the number of decision boundaries
(midpoints between neighbouring levels) safely below it, and at most ``window`` boundaries
can lie between that point and any value in the bin, so comparing against those few gives
the exact count. The result is identical to ``torch.bucketize(x, midpoints)`` (ties go to
the lower level) for every ``x`` in [lo, hi].
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["NearestLevel"]


class NearestLevel(nn.Module):
    """Index of the nearest level for values in ``[lo, hi]``.

    Args:
        levels: [L] sorted ascending, distinct, float32.
        lo, hi: the range the inputs are clamped to.
        bins: bins of the lookup table.

    Call with ``x`` (any shape, float32, values in [lo, hi]) -> int64 indices in [0, L).

    >>> f = NearestLevel(torch.tensor([0.0, 0.25, 0.5, 1.0]), 0.0, 1.0)
    >>> f(torch.tensor([0.1, 0.125, 0.13, 0.8, 1.0])).tolist()
    [0, 0, 1, 3, 3]
    """

    def __init__(self, levels: torch.Tensor, lo: float, hi: float, bins: int = 4096) -> None:
        super().__init__()
        levels = levels.detach().to(torch.float32).cpu()
        if levels.ndim != 1 or levels.numel() < 1 or not bool((levels.diff() > 0).all()):
            raise ValueError("levels must be a non-empty, strictly increasing 1-D tensor")
        if not hi > lo:
            raise ValueError(f"need hi > lo, got lo={lo}, hi={hi}")
        midpoints = (levels[1:] + levels[:-1]) / 2
        self.lo = float(lo)
        self.bins = int(bins)
        self.per_unit = self.bins / (float(hi) - float(lo))
        # margin far above the float32 error of (x - lo) * per_unit, in units of x
        delta = 1e-5 * (float(hi) - float(lo))
        edges = self.lo + torch.arange(self.bins + 1, dtype=torch.float64) / self.per_unit
        mids = midpoints.double()
        start = torch.searchsorted(mids, edges[:-1] - delta, right=False)
        end = torch.searchsorted(mids, edges[1:] + delta, right=False)
        self.window = int((end - start).max()) if midpoints.numel() else 0
        pad = torch.full((self.window,), float("inf"), dtype=torch.float32)
        self.register_buffer("start", start.to(torch.int64), persistent=False)
        self.register_buffer("boundaries", torch.cat([midpoints, pad]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        j = ((x - self.lo) * self.per_unit).to(torch.int64).clamp_(0, self.bins - 1)
        base = self.start[j]
        index = base.clone()
        for t in range(self.window):
            index += self.boundaries[base + t] < x
        return index
