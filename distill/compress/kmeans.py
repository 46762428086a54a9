"""Seeded k-means (k-means++ initialisation, Lloyd iterations) in torch, for GAQ's grouping.

Deterministic: every random choice (the first centre, the D^2 draws, an optional subsample to
fit on) comes from the given ``torch.Generator``; nearest centres are found exactly (float64)
with a k-d tree (``scipy.spatial.cKDTree``), so an assignment costs ``O(n log k)``, not
``O(n k)``: GAQ's searches try thousands of groups.

>>> g = torch.Generator().manual_seed(0)
>>> pts = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
>>> centers, labels = kmeans(pts, 2, generator=g)
>>> labels[0] == labels[1], labels[2] == labels[3], labels[0] != labels[2]
(tensor(True), tensor(True), tensor(True))
"""

from __future__ import annotations

import numpy as np
import torch

from beamsim.config import make_generator

__all__ = ["kmeans", "assign"]


def assign(points: torch.Tensor | np.ndarray, centers: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Index of the nearest centre of every point.

    Args:
        points: [n, f] float.
        centers: [k, f] float.

    Returns:
        [n] int64.
    """
    from scipy.spatial import cKDTree

    points = points.numpy() if torch.is_tensor(points) else points
    centers = centers.numpy() if torch.is_tensor(centers) else centers
    _, index = cKDTree(np.asarray(centers, dtype=np.float64)).query(np.asarray(points, dtype=np.float64), k=1)
    return torch.from_numpy(np.asarray(index, dtype=np.int64).reshape(-1))


def _plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: up to ``k`` centres (fewer when the points run out of distinct values)."""
    n = points.shape[0]
    chosen = [int(rng.integers(n))]
    d2 = ((points - points[chosen[0]]) ** 2).sum(axis=1)
    while len(chosen) < k:
        cumulative = np.cumsum(d2)
        if cumulative[-1] <= 0.0:
            break  # every point coincides with a centre
        nxt = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
        nxt = min(nxt, n - 1)
        chosen.append(nxt)
        np.minimum(d2, ((points - points[nxt]) ** 2).sum(axis=1), out=d2)
    return points[chosen].copy()


def kmeans(points: torch.Tensor, k: int, *, iterations: int = 25, max_points: int | None = 16384,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster points into at most ``k`` groups.

    Args:
        points: [n, f] float points (n >= 1).
        k: wanted number of clusters, >= 1.
        iterations: Lloyd iterations at most (stops early when no point changes cluster).
        max_points: fit the centres on a random subsample of this many points (then assign
            all points); None fits on all.
        generator: a CPU ``torch.Generator`` (the config seed when None); one 63-bit seed is
            drawn from it for the numpy generator that does the work.

    Returns:
        (centres [k', f] float64, labels [n] int64 in ``0 .. k'-1``), where ``k' <= k`` counts
        the clusters that received points (fewer than ``k`` when there are fewer distinct
        points).

    Raises:
        ValueError: no points, ``k < 1`` or ``iterations < 0``.
    """
    if points.ndim != 2 or points.shape[0] < 1:
        raise ValueError(f"points must be [n, f] with n >= 1, got {list(points.shape)}")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, not {k!r}")
    if iterations < 0:
        raise ValueError(f"iterations must be >= 0, not {iterations}")
    generator = make_generator() if generator is None else generator
    rng = np.random.default_rng(int(torch.randint(2**63 - 1, (1,), generator=generator)))
    pts = points.detach().cpu().double().numpy()
    n = pts.shape[0]
    fit = pts[rng.permutation(n)[:max_points]] if max_points is not None and n > max_points else pts
    centers = _plus_plus(fit, min(int(k), fit.shape[0]), rng)
    labels = assign(fit, centers).numpy()
    for _ in range(iterations):
        counts = np.bincount(labels, minlength=centers.shape[0]).astype(np.float64)
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, fit)
        filled = counts > 0
        centers = np.where(filled[:, None], sums / np.maximum(counts, 1)[:, None], centers)
        new = assign(fit, centers).numpy()
        if np.array_equal(new, labels):
            break
        labels = new
    if fit is not pts:
        labels = assign(pts, centers).numpy()
    used, labels = np.unique(labels, return_inverse=True)
    return torch.from_numpy(centers[used]), torch.from_numpy(labels.reshape(-1).astype(np.int64))
