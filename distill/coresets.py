"""Coreset selection: random, herding and k-center greedy, per class.

The coreset baselines and the ``real``/``herding``/``kcenter`` initialisations of
:func:`beamsim.distill.init.initialize` are the same code: a selector picks ``k`` rows of
one class, and :func:`select_per_class` runs it class by class and applies the
with/without-replacement rule to classes smaller than ``spc``.

Selectors on features are deterministic (ties go to the lowest row); randomness comes only
from the ``generator`` passed in. Nothing here touches the global RNG.

>>> f = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
>>> herding_select(f, 2).tolist()   # mean (1, 0.25): row 2 is closest; row 3 brings the sum back to 2 mu
[2, 3]
>>> g = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.4, 0.1], [-3.0, 0.0]])
>>> kcenter_select(g, 3).tolist()   # closest to the mean, then the farthest, then the next farthest
[0, 3, 1]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["Selector", "class_rows", "random_select", "herding_select", "kcenter_select", "pad_with_repeats",
           "select_per_class", "per_class_quotas", "random_per_class"]

#: ``select(rows, k) -> positions``: ``rows`` [n] int64 are the data rows of one class, the
#: result [k] int64 holds ``k <= n`` distinct positions into ``rows`` (not rows of the data).
Selector = Callable[[torch.Tensor, int], torch.Tensor]


def _check_k(k: int, n: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n:
        raise ValueError(f"k must be an integer in 0..{n} (the number of candidates), not {k!r}")


def _features(features: torch.Tensor) -> torch.Tensor:
    if not torch.is_tensor(features) or features.ndim != 2:
        raise ValueError(f"features must be a tensor [n, F], got shape {getattr(features, 'shape', None)}")
    # float64: the greedy choices compare sums of many features; keep ties and near-ties exact.
    return features.detach().to(torch.float64)


def class_rows(y: torch.Tensor, num_classes: int) -> list[torch.Tensor]:
    """The rows of each class.

    Args:
        y: [N] integer labels in ``[0, num_classes)``.
        num_classes: number of classes C.

    Returns:
        C tensors [n_c] int64 (CPU), the rows with label c in ascending order (empty for a
        class without samples).
    """
    y = y.detach().cpu().long()
    return [torch.nonzero(y == c, as_tuple=True)[0] for c in range(num_classes)]


def random_select(n: int, k: int, *, generator: torch.Generator) -> torch.Tensor:
    """``k`` distinct positions out of ``range(n)``, drawn uniformly: [k] int64 (CPU).

    >>> random_select(5, 5, generator=torch.Generator().manual_seed(0)).sort().values.tolist()
    [0, 1, 2, 3, 4]
    """
    _check_k(k, n)
    return torch.randperm(n, generator=generator, device=generator.device)[:k].cpu()


def herding_select(features: torch.Tensor, k: int) -> torch.Tensor:
    """Herding: greedily move the running mean of the chosen features toward the class mean.

    Step t (t = 0, 1, ...) picks, among the rows not yet chosen,
    ``argmin_x || (t + 1) mu - (sum of chosen features + f_x) ||`` with ``mu`` the mean of
    all ``features``; no row is picked twice.

    Args:
        features: [n, F] float, one row per candidate (e.g. ``embed(model, x)``).
        k: how many to pick, ``0 <= k <= n``.

    Returns:
        [k] int64 (on ``features.device``): positions in ``features``, in the order chosen.
    """
    f = _features(features)
    n = f.shape[0]
    _check_k(k, n)
    if k == 0:
        return torch.zeros(0, dtype=torch.long, device=features.device)
    mu = f.mean(dim=0)
    sq = (f * f).sum(dim=1)
    total = torch.zeros_like(mu)
    taken = torch.zeros(n, dtype=torch.bool, device=f.device)
    chosen = []
    for t in range(k):
        a = (t + 1) * mu - total
        # ||a - f_x||^2 = ||a||^2 - 2 a.f_x + ||f_x||^2; ||a||^2 is the same for every x.
        score = sq - 2.0 * (f @ a)
        score[taken] = float("inf")
        pick = int(torch.argmin(score))
        chosen.append(pick)
        taken[pick] = True
        total = total + f[pick]
    return torch.tensor(chosen, dtype=torch.long, device=features.device)


def kcenter_select(features: torch.Tensor, k: int) -> torch.Tensor:
    """k-center greedy: start at the row closest to the mean, then always the farthest row.

    After the first pick, each step picks the row whose distance to its nearest chosen row
    is largest (Euclidean distance in feature space); no row is picked twice.

    Args:
        features: [n, F] float, one row per candidate.
        k: how many to pick, ``0 <= k <= n``.

    Returns:
        [k] int64 (on ``features.device``): positions in ``features``, in the order chosen.
    """
    f = _features(features)
    n = f.shape[0]
    _check_k(k, n)
    if k == 0:
        return torch.zeros(0, dtype=torch.long, device=features.device)
    sq = (f * f).sum(dim=1)

    def sq_dist_to(v: torch.Tensor) -> torch.Tensor:
        return (sq - 2.0 * (f @ v) + (v * v).sum()).clamp_min(0.0)

    pick = int(torch.argmin(sq_dist_to(f.mean(dim=0))))
    chosen = [pick]
    nearest = sq_dist_to(f[pick])
    nearest[pick] = -float("inf")
    for _ in range(k - 1):
        pick = int(torch.argmax(nearest))
        chosen.append(pick)
        nearest = torch.minimum(nearest, sq_dist_to(f[pick]))
        nearest[chosen] = -float("inf")
    return torch.tensor(chosen, dtype=torch.long, device=features.device)


def pad_with_repeats(chosen: torch.Tensor, k: int, *, generator: torch.Generator) -> torch.Tensor:
    """Extend ``chosen`` [n] to ``k >= n`` entries by drawing repeats of its entries at random.

    The repeats are drawn in rounds without repetition (each round a fresh random order of
    ``chosen``), so every entry occurs ``floor(k / n)`` or ``ceil(k / n)`` times: a small
    class is duplicated as evenly as possible rather than some rows many times.

    Args:
        chosen: [n] int64, ``n >= 1``.
        k: the length wanted.

    Returns:
        [k] int64: ``chosen`` followed by the ``k - n`` repeats.

    >>> out = pad_with_repeats(torch.tensor([7, 8]), 5, generator=torch.Generator().manual_seed(0))
    >>> out[:2].tolist(), sorted(out.bincount().tolist()[7:])
    ([7, 8], [2, 3])
    """
    n = chosen.numel()
    if n == 0:
        raise ValueError("cannot pad an empty selection with repeats: the class has no samples")
    if k <= n:
        return chosen[:k]
    parts = [chosen]
    missing = k - n
    while missing > 0:
        order = torch.randperm(n, generator=generator, device=generator.device).to(chosen.device)
        parts.append(chosen[order[:missing]])
        missing -= min(n, missing)
    return torch.cat(parts)


def select_per_class(y: torch.Tensor, num_classes: int, spc: int | Sequence[int], select: Selector, *,
                     replacement: bool = False, generator: torch.Generator) -> torch.Tensor:
    """Run ``select`` on every class and return the chosen rows, grouped by class.

    A class with at least ``spc`` rows gets ``select(rows, spc)``. A class with ``n < spc``
    rows gets all of them (in the order ``select(rows, n)`` gives) and then, **with
    replacement**, repeats drawn by :func:`pad_with_repeats` up to ``spc`` rows; **without
    replacement** it keeps its ``n`` rows (0 for an empty class).

    Args:
        y: [N] integer labels in ``[0, num_classes)``.
        num_classes: C.
        spc: samples per class wanted (>= 1), or one quota per class (>= 0 each, e.g. from
            :func:`beamsim.distill.allocation.class_quotas`).
        select: the per-class selector (see :data:`Selector`).
        replacement: fill small classes up to ``spc`` with repeats.
        generator: for the repeats (and whatever ``select`` draws, if it uses the same one).

    Returns:
        [M] int64 (CPU): rows of ``y``; class 0's rows first, then class 1's, ...; within a
        class in the order chosen.
    """
    quotas = per_class_quotas(spc, num_classes)
    out = []
    for rows, quota in zip(class_rows(y, num_classes), quotas):
        n = rows.numel()
        if n == 0 or quota == 0:
            continue
        k = min(quota, n)
        positions = select(rows, k).cpu().long()
        if positions.numel() != k or positions.unique().numel() != k:
            raise RuntimeError(f"selector returned {positions.numel()} positions for k={k}; "
                               "it must return k distinct ones")
        picked = rows[positions]
        if replacement and n < quota:
            picked = pad_with_repeats(picked, quota, generator=generator)
        out.append(picked)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def per_class_quotas(spc: int | Sequence[int], num_classes: int) -> list[int]:
    """``spc`` as one quota per class: an integer >= 1 for every class, or a sequence of C
    non-negative integers with a positive sum.

    >>> per_class_quotas(2, 3), per_class_quotas([0, 4, 1], 3)
    ([2, 2, 2], [0, 4, 1])
    """
    if isinstance(spc, int) and not isinstance(spc, bool):
        if spc < 1:
            raise ValueError(f"spc (samples per class) must be an integer >= 1, not {spc!r}")
        return [spc] * num_classes
    quotas = list(spc) if isinstance(spc, (list, tuple)) else None
    if quotas is None or len(quotas) != num_classes or not all(
            isinstance(q, int) and not isinstance(q, bool) and q >= 0 for q in quotas) or sum(quotas) < 1:
        raise ValueError(f"spc must be an integer >= 1 or {num_classes} non-negative per-class quotas with a "
                         f"positive sum, not {spc!r}")
    return quotas


def random_per_class(y: torch.Tensor, num_classes: int, spc: int, *, replacement: bool = False,
                     generator: torch.Generator) -> torch.Tensor:
    """The random coreset: ``spc`` rows per class drawn without repetition.

    Classes smaller than ``spc`` follow :func:`select_per_class` (all rows, then random
    repeats with replacement; just their rows without).

    Args:
        y: [N] integer labels in ``[0, num_classes)``.
        num_classes: C.
        spc: samples per class (>= 1).
        replacement: fill small classes up to ``spc`` with repeats.
        generator: the only source of randomness (classes are drawn in class order).

    Returns:
        [M] int64 (CPU): rows of ``y``, grouped by class in class order.

    >>> y = torch.tensor([0, 0, 0, 1, 2, 2])
    >>> idx = random_per_class(y, 4, 2, replacement=True, generator=torch.Generator().manual_seed(0))
    >>> y[idx].tolist()
    [0, 0, 1, 1, 2, 2]
    """
    return select_per_class(y, num_classes, spc, lambda rows, k: random_select(rows.numel(), k, generator=generator),
                            replacement=replacement, generator=generator)
