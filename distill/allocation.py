"""Where the samples go: how many synthetic samples each class gets for one total budget.

``fixed`` (the papers' rule) gives every class ``spc`` samples, or all it has when it has fewer
(without replacement). ``proportional`` keeps that total and shares it among the classes in
proportion to their size in the training data, so the synthetic set is as imbalanced as the
data (and its test split): every non-empty class keeps at least one sample and none gets more
than it has. Pure functions, no state.

>>> fixed_quotas([100, 30, 2, 0], 10)
[10, 10, 2, 0]
>>> proportional_quotas([100, 30, 2, 0], 22)
[16, 5, 1, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

__all__ = ["Allocation", "ALLOCATIONS", "fixed_quotas", "proportional_quotas", "class_quotas"]

Allocation = Literal["fixed", "proportional"]
#: The allocation rules a run may name (``allocation``, ``--allocation``).
ALLOCATIONS: tuple[str, ...] = ("fixed", "proportional")


def _sizes(class_sizes: Sequence[int]) -> list[int]:
    sizes = [int(n) for n in class_sizes]
    if any(n < 0 for n in sizes) or not any(sizes):
        raise ValueError(f"class sizes must be non-negative with at least one sample, got {sizes}")
    return sizes


def fixed_quotas(class_sizes: Sequence[int], spc: int, *, replacement: bool = False) -> list[int]:
    """``spc`` per non-empty class (all a smaller class has, unless ``replacement`` repeats samples).

    >>> fixed_quotas([3, 1, 0], 2, replacement=True)
    [2, 2, 0]
    """
    if isinstance(spc, bool) or not isinstance(spc, int) or spc < 1:
        raise ValueError(f"spc (samples per class) must be an integer >= 1, not {spc!r}")
    return [0 if n == 0 else spc if replacement else min(spc, n) for n in _sizes(class_sizes)]


def proportional_quotas(class_sizes: Sequence[int], total: int) -> list[int]:
    """``total`` samples shared in proportion to the class sizes (largest remainder), each
    non-empty class at least one and at most its size; ties go to the lower class index.

    Args:
        class_sizes: [C] real samples per class.
        total: samples in all (at least the number of non-empty classes, at most their sum).

    Returns:
        [C] quotas that sum to ``total``.

    >>> proportional_quotas([5, 5, 5], 4)
    [2, 1, 1]
    >>> sum(proportional_quotas([1417, 18, 475, 900], 200))
    200
    """
    sizes = _sizes(class_sizes)
    present = sum(1 for n in sizes if n)
    if isinstance(total, bool) or not isinstance(total, int) or not present <= total <= sum(sizes):
        raise ValueError(f"total {total!r} must lie between the {present} non-empty classes and their "
                         f"{sum(sizes)} samples")
    quotas = [1 if n else 0 for n in sizes]
    while sum(quotas) < total:  # largest remainder among the classes with room left
        room = [c for c, n in enumerate(sizes) if quotas[c] < n]
        weight = sum(sizes[c] for c in room)
        left = total - sum(quotas)
        shares = {c: left * sizes[c] / weight for c in room}
        whole = {c: min(int(shares[c]), sizes[c] - quotas[c]) for c in room}
        if sum(whole.values()) == 0:  # hand out the remainder one by one, largest fraction first
            for c in sorted(room, key=lambda c: (-(shares[c] - int(shares[c])), c))[:left]:
                quotas[c] += 1
        else:
            for c, extra in whole.items():
                quotas[c] += extra
    return quotas


def class_quotas(class_sizes: Sequence[int], spc: int, allocation: Allocation = "fixed", *,
                 replacement: bool = False) -> list[int]:
    """The samples each class gets: :func:`fixed_quotas`, or its total shared by
    :func:`proportional_quotas` (never more than a class has, whatever ``replacement`` says).

    >>> class_quotas([100, 30, 2, 0], 10, "proportional")
    [16, 5, 1, 0]

    Raises:
        ValueError: an unknown rule, ``spc < 1``, no samples.
    """
    if allocation not in ALLOCATIONS:
        raise ValueError(f"unknown allocation {allocation!r}: use one of {', '.join(ALLOCATIONS)}")
    fixed = fixed_quotas(class_sizes, spc, replacement=replacement)
    if allocation == "fixed":
        return fixed
    sizes = _sizes(class_sizes)
    return proportional_quotas(sizes, min(sum(fixed), sum(sizes)))
