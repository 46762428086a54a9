"""Spend a byte budget: the most samples per class, then the most groups, that fit.

The paper's constraint ``size(group indices) + size(parameters) + size(EC(codes)) <=
size(IPC)``: at a few bits per element a budget that held ``spc`` float32 samples holds many
more quantized ones. Where do the extra samples come from? A distilled set has only ``spc``
rows per class, so the search draws from a **pool**: per class, the distilled rows first
(in file order), then real training samples of that class. This module takes the pool as a
tensor, so the search is a pure function of it (and of a seeded generator for k-means).

Extra real rows come from the caller as arrays (this package reads no data set): for beam
data, :func:`beamsim.experiments.extra_rows.extra_rows` loads the training split a distilled
file records; an image set passes its training arrays. :func:`build_pool` puts them after
the distilled rows of their class in a seeded random order and drops real rows that equal a
distilled row (a coreset stores real rows as they are).

The search (:func:`search_budget`):

1. ``k``, samples per class: the largest ``k`` whose set (the first ``k`` pool rows of every
   class; classes with fewer rows give all they have) fits at ``G = 1`` (or at the fixed
   ``G`` asked for), by bisection over ``1 .. largest class``. Sizes grow with ``k`` (more
   codes, more patches), which bisection relies on; the pick is checked to fit.
   With ``prepare`` (the compressor's refinement), the chosen rows are prepared and, if they
   no longer fit, ``k`` drops by one until they do.
2. ``G``, groups: at that ``k``, one group per patch (PAQ) if it fits, else the largest
   ``G <= max_groups`` that fits, by bisection.

Sizes of range-coded codes are the coder's guaranteed upper bound
(:func:`~.coder.coded_size_bound`, within a few bytes of the real stream), so the search runs
no coder and the written set never exceeds the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from beamsim.config import make_generator
from beamsim.distill.compress.coder import coded_size_bound
from beamsim.distill.compress.config import CompressConfig
from beamsim.distill.compress.gaq import gaq
from beamsim.distill.compress.patches import PatchLayout
from beamsim.distill.compress.quantized import ByteSizes, QuantizedSet

__all__ = ["BudgetChoice", "build_pool", "select_per_class", "class_sizes", "quantize_set", "search_samples", "search_groups",
           "search_budget", "fork"]


@dataclass(frozen=True)
class BudgetChoice:
    """What the search picked.

    Attributes:
        samples_per_class: ``k``.
        groups: ``G`` asked of GAQ (``N P`` for PAQ).
        num_groups: parameter pairs actually used (``<= groups``; k-means may merge).
        codec: ``"paq"`` or ``"gaq"``.
        sizes: the byte breakdown at the pick.
        budget_bytes: the budget.
        evaluations: sets quantized (or prepared) during the search.
        index: [N'] int64 pool rows chosen (``k`` per class, fewer where a class runs out).
        quantized: the chosen rows (after ``prepare``) quantized with ``groups``.
    """

    samples_per_class: int
    groups: int
    num_groups: int
    codec: str
    sizes: ByteSizes
    budget_bytes: int
    evaluations: int
    index: torch.Tensor = field(compare=False)
    quantized: QuantizedSet = field(compare=False)


def fork(generator: torch.Generator) -> torch.Generator:
    """A new CPU generator in the same state (each search probe starts from the same state)."""
    out = torch.Generator()
    out.set_state(generator.get_state())
    return out


def build_pool(x: torch.Tensor, y: torch.Tensor, extra_x: torch.Tensor | None = None,
               extra_y: torch.Tensor | None = None, *,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distilled rows first, then extra real rows, grouped by class.

    Args:
        x: [N, C, H, W] float distilled set; y: [N] int labels.
        extra_x: [M, C, H, W] real rows (None: none); extra_y: [M] their labels.
        generator: CPU ``torch.Generator`` for the order of the extra rows (config seed when None).

    Returns:
        (pool_x [N + M', C, H, W] float32, pool_y [N + M'] int64, distilled [N + M'] bool), rows
        grouped by class (a stable sort), distilled rows first within each class; ``M'``
        extra rows remain after dropping those equal to a distilled row.

    Raises:
        ValueError: mismatched shapes.
    """
    x = x.detach().float().cpu()
    y = torch.as_tensor(y).long().cpu()
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have one label per row of x ({x.shape[0]}), got shape {list(y.shape)}")
    if extra_x is None or extra_y is None or len(extra_x) == 0:
        extra_x, extra_y = x[:0], y[:0]
    else:
        extra_x = extra_x.detach().float().cpu()
        extra_y = torch.as_tensor(extra_y).long().cpu()
        if tuple(extra_x.shape[1:]) != tuple(x.shape[1:]) or extra_y.shape != (extra_x.shape[0],):
            raise ValueError(f"extra rows must be [M, {', '.join(map(str, x.shape[1:]))}] with M labels, got "
                             f"{list(extra_x.shape)} and {list(extra_y.shape)}")
        generator = make_generator() if generator is None else generator
        order = torch.randperm(extra_x.shape[0], generator=generator)
        extra_x, extra_y = extra_x[order], extra_y[order]
        seen = {row.tobytes() for row in x.reshape(x.shape[0], -1).numpy()}
        fresh = torch.tensor([row.tobytes() not in seen for row in extra_x.reshape(extra_x.shape[0], -1).numpy()],
                             dtype=torch.bool)
        extra_x, extra_y = extra_x[fresh], extra_y[fresh]
    pool_x = torch.cat([x, extra_x])
    pool_y = torch.cat([y, extra_y])
    distilled = torch.cat([torch.ones(len(y), dtype=torch.bool), torch.zeros(len(extra_y), dtype=torch.bool)])
    order = torch.as_tensor(np.argsort(pool_y.numpy(), kind="stable"))
    return pool_x[order], pool_y[order], distilled[order]


def select_per_class(pool_y: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the first ``k`` rows of every class of the pool (all of a smaller class).

    >>> select_per_class(torch.tensor([0, 0, 0, 1, 2, 2]), 2).tolist()
    [0, 1, 3, 4, 5]
    """
    y = torch.as_tensor(pool_y).long()
    if not len(y):
        return torch.zeros(0, dtype=torch.int64)
    order = torch.as_tensor(np.argsort(y.numpy(), kind="stable"))
    sorted_y = y[order]
    starts = torch.searchsorted(sorted_y, sorted_y, right=False)
    rank = torch.arange(len(y)) - starts
    return order[rank < k]


def class_sizes(pool_y: torch.Tensor) -> torch.Tensor:
    """[C] rows per class of the pool."""
    return torch.bincount(torch.as_tensor(pool_y).long())


def quantize_set(x: torch.Tensor, config: CompressConfig, groups: int, generator: torch.Generator,
                 num_classes: int = 0) -> tuple[QuantizedSet, ByteSizes]:
    """GAQ (PAQ for ``groups >= N P``) of ``x`` and its byte sizes (coded codes: the bound).

    Args:
        x: [N, C, H, W] float set.
        config: bits, patch, entropy, constants and k-means settings.
        groups: ``G``.
        generator: CPU ``torch.Generator``; it is not advanced (k-means runs on a fork).
        num_classes: classes whose counts are stored.
    """
    config = config.resolve(*x.shape[-2:])
    layout = PatchLayout.build(x, config.patch, config.constants_once)
    q = gaq(x, config.bits, groups, layout=layout, iterations=config.kmeans_iterations,
            max_points=config.kmeans_points, generator=fork(generator))
    coded = coded_size_bound(q.codes.numpy(), config.bits) if config.entropy else None
    return q, q.sizes(coded, num_classes)


def _largest(lo: int, hi: int, fits: Callable[[int], bool]) -> int:
    """Largest ``v`` in ``[lo, hi]`` with ``fits(v)``, given ``fits(lo)`` (bisection)."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def search_samples(pool_x: torch.Tensor, pool_y: torch.Tensor, budget_bytes: int, config: CompressConfig, *,
                   groups: int = 1, num_classes: int | None = None,
                   generator: torch.Generator | None = None) -> tuple[int, int]:
    """The largest samples per class ``k`` that fits the budget at ``groups`` groups.

    Args:
        pool_x: [M, C, H, W] float pool, rows grouped by class in priority order.
        pool_y: [M] int labels.
        budget_bytes: payload budget [bytes].
        config: compression settings.
        groups: ``G`` used for sizing.
        num_classes: classes (default ``max(pool_y) + 1``).
        generator: CPU ``torch.Generator`` for k-means (not advanced).

    Returns:
        (k, sets quantized).

    Raises:
        ValueError: even one sample per class does not fit (the message gives the size needed).
    """
    config = config.resolve(*pool_x.shape[-2:])
    generator = make_generator() if generator is None else generator
    num_classes = int(pool_y.max()) + 1 if num_classes is None else int(num_classes)
    evaluations = 0

    def payload(k: int) -> int:
        nonlocal evaluations
        evaluations += 1
        return quantize_set(pool_x[select_per_class(pool_y, k)], config, groups, generator, num_classes)[1].payload

    smallest = payload(1)
    if smallest > budget_bytes:
        raise ValueError(f"a budget of {budget_bytes} bytes is too small: one sample per class at {config.bits} bits "
                         f"takes {smallest} bytes; raise --budget-bytes to at least that")
    k = _largest(1, int(class_sizes(pool_y).max()), lambda k: payload(k) <= budget_bytes)
    return k, evaluations


def search_groups(x: torch.Tensor, budget_bytes: int, config: CompressConfig, *, num_classes: int = 0,
                  generator: torch.Generator | None = None) -> tuple[int, int]:
    """The largest ``G`` whose GAQ of ``x`` fits the budget (``N P`` = PAQ when that fits).

    Args:
        x: [N, C, H, W] float set.
        budget_bytes: payload budget [bytes].
        config: compression settings (``max_groups`` bounds the bisection below PAQ).
        num_classes: classes whose counts are stored.
        generator: CPU ``torch.Generator`` for k-means (not advanced).

    Returns:
        (G, sets quantized).

    Raises:
        ValueError: not even ``G = 1`` fits.
    """
    config = config.resolve(*x.shape[-2:])
    generator = make_generator() if generator is None else generator
    layout = PatchLayout.build(x, config.patch, config.constants_once)
    patches = x.shape[0] * layout.num_patches
    evaluations = 0

    def fits(groups: int) -> bool:
        nonlocal evaluations
        evaluations += 1
        return quantize_set(x, config, groups, generator, num_classes)[1].payload <= budget_bytes

    if patches <= 1 or fits(patches):
        return max(patches, 1), evaluations
    if not fits(1):
        raise ValueError(f"a budget of {budget_bytes} bytes is too small for {x.shape[0]} samples even with one "
                         "group; raise --budget-bytes")
    return _largest(1, min(config.max_groups, patches - 1), fits), evaluations


def search_budget(pool_x: torch.Tensor, pool_y: torch.Tensor, budget_bytes: int, config: CompressConfig, *,
                  num_classes: int | None = None, generator: torch.Generator | None = None,
                  prepare: Callable[[torch.Tensor], torch.Tensor] | None = None) -> BudgetChoice:
    """Samples per class, then groups (``config.groups``, or searched when ``"auto"``).

    Pure given its inputs: the same pool, budget, settings and generator state give the same
    choice.

    Args:
        pool_x: [M, C, H, W] float rows grouped by class (see :func:`build_pool`;
            preferred rows first).
        pool_y: [M] int labels.
        budget_bytes: payload budget [bytes] (group indices + parameters + codes + constants).
        config: compression settings.
        num_classes: classes (default ``max(pool_y) + 1``).
        generator: CPU ``torch.Generator`` for k-means.
        prepare: applied to the chosen rows before grouping (the compressor's refinement);
            when the prepared rows no longer fit at the step-1 groups, one sample per class
            less is tried (down to 1).

    Returns:
        a :class:`BudgetChoice`; its ``sizes.payload <= budget_bytes`` unless ``prepare``
        made even one sample per class too costly.

    Raises:
        ValueError: nothing fits (the message says how many bytes one sample per class needs).
    """
    config = config.resolve(*pool_x.shape[-2:])
    generator = make_generator() if generator is None else generator
    if isinstance(budget_bytes, bool) or int(budget_bytes) != budget_bytes or budget_bytes < 1:
        raise ValueError(f"budget_bytes must be a positive integer, not {budget_bytes!r}")
    num_classes = int(pool_y.max()) + 1 if num_classes is None else int(num_classes)
    fixed = None if config.groups == "auto" else int(config.groups)
    k, evaluations = search_samples(pool_x, pool_y, budget_bytes, config, groups=fixed or 1,
                                    num_classes=num_classes, generator=generator)
    while True:
        index = select_per_class(pool_y, k)
        x = pool_x[index]
        if prepare is None:
            break
        prepared = prepare(x)
        evaluations += 1
        if quantize_set(prepared, config, fixed or 1, generator, num_classes)[1].payload <= budget_bytes or k == 1:
            x = prepared
            break
        k -= 1  # the prepared rows cost more: one sample per class less
    if fixed is None:
        groups, more = search_groups(x, budget_bytes, config, num_classes=num_classes, generator=generator)
        evaluations += more
    else:
        groups = fixed
    q, sizes = quantize_set(x, config, groups, generator, num_classes)
    return BudgetChoice(samples_per_class=k, groups=groups, num_groups=q.num_groups, codec=q.codec, sizes=sizes,
                        budget_bytes=int(budget_bytes), evaluations=evaluations + 1, index=index, quantized=q)
