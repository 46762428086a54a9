"""Distribution matching (DM, Zhao & Bilen 2023): match per-class mean embeddings.

    loss = sum over classes c of || mean embed(real_c) - mean embed(syn_c) ||^2

The embedding network is the caller's: DM draws a fresh, randomly initialised network every
iteration (e.g. ``reset_parameters(model, generator)`` then ``lambda x: embed(model, x)``
from :mod:`beamsim.distill.params`), so this function only sees an ``embed_fn``. All real
samples go through ``embed_fn`` in one call and all synthetic samples in another; the
per-class means are segment sums (``index_add``), not one forward pass per class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["distribution_matching_loss", "sample_per_class", "class_means", "PairAugment"]

EmbedFn = Callable[[torch.Tensor], torch.Tensor]
#: ``augment(x_real, y_real, x_syn, y_syn) -> (x_real', x_syn')``: one siamese augmentation
#: of a real and a synthetic batch (same op, same parameters; e.g. ``DSA.siamese`` with its
#: generator bound). Images only; beam maps are never augmented.
PairAugment = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def class_means(features: torch.Tensor, labels: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class means of ``features`` [n, F] under ``labels`` [n] int64 in [0, num_classes).

    Returns:
        (means [num_classes, F] (zeros for empty classes), counts [num_classes] int64).

    >>> means, counts = class_means(torch.tensor([[1.0], [3.0], [5.0]]), torch.tensor([0, 0, 2]), 3)
    >>> means.flatten().tolist(), counts.tolist()
    ([2.0, 0.0, 5.0], [2, 0, 1])
    """
    features = features.reshape(features.shape[0], -1)
    sums = features.new_zeros(num_classes, features.shape[1]).index_add(0, labels, features)
    counts = torch.bincount(labels, minlength=num_classes)
    return sums / counts.clamp_min(1).unsqueeze(1).to(sums.dtype), counts


def _stack(groups: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.cat(list(groups))
    labels = torch.repeat_interleave(torch.arange(len(groups), device=x.device),
                                     torch.tensor([g.shape[0] for g in groups], device=x.device))
    return x, labels


def distribution_matching_loss(embed_fn: EmbedFn, real_by_class: Sequence[torch.Tensor],
                               syn_by_class: Sequence[torch.Tensor], augment: PairAugment | None = None) -> torch.Tensor:
    """Sum over classes of the squared distance between mean real and mean synthetic embeddings.

    Args:
        embed_fn: maps inputs [n, C, H, W] to features [n, F] (more dims are flattened).
        real_by_class: one [n_c, C, H, W] float32 tensor per class (n_c may be 0), e.g.
            from :func:`sample_per_class`. Embedded without gradient: the loss is for the
            synthetic data.
        syn_by_class: one [m_c, C, H, W] float32 tensor per class, same length and order.
        augment: siamese augmentation of the stacked real and synthetic batches before they
            are embedded (None: none).

    Returns:
        0-d float32 loss, differentiable in the synthetic inputs (and ``embed_fn``'s
        parameters through them). A class with no real or no synthetic samples adds nothing.

    Raises:
        ValueError: the two lists differ in length or are empty.
    """
    if len(real_by_class) != len(syn_by_class) or not real_by_class:
        raise ValueError(f"need one real and one synthetic tensor per class, got {len(real_by_class)} "
                         f"and {len(syn_by_class)}")
    num_classes = len(syn_by_class)
    x_real, y_real = _stack(real_by_class)
    x_syn, y_syn = _stack(syn_by_class)
    if augment is not None:
        x_real, x_syn = augment(x_real, y_real, x_syn, y_syn)
    with torch.no_grad():
        real_means, real_counts = class_means(embed_fn(x_real), y_real, num_classes)
    syn_means, syn_counts = class_means(embed_fn(x_syn), y_syn, num_classes)
    present = (real_counts > 0) & (syn_counts > 0)
    per_class = (real_means - syn_means).pow(2).sum(1)
    return per_class[present.to(per_class.device)].sum()


def sample_per_class(x: torch.Tensor, y: torch.Tensor, num_classes: int, per_class: int,
                     generator: torch.Generator | None) -> list[torch.Tensor]:
    """Draw up to ``per_class`` rows of every class, without replacement, in random order.

    A class with fewer rows gives all it has (possibly none). One ``randperm`` of all rows per
    call, so it is cheap to redraw every iteration.

    Args:
        x: [N, ...] inputs.
        y: [N] int64 labels in [0, num_classes).
        num_classes: length of the returned list.
        per_class: rows per class (>= 1).
        generator: CPU generator for the draw.

    Returns:
        ``num_classes`` tensors [n_c, ...] on ``x``'s device, n_c = min(per_class, rows of class c).
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    if y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be [N, ...] and y [N], got {list(x.shape)} and {list(y.shape)}")
    y_cpu = y.detach().cpu()
    perm = torch.randperm(y_cpu.shape[0], generator=generator)
    order = perm[torch.argsort(y_cpu[perm], stable=True)]
    counts = torch.bincount(y_cpu, minlength=num_classes)[:num_classes].tolist()
    out, offset = [], 0
    for count in counts:
        out.append(order[offset:offset + min(count, per_class)])
        offset += count
    index = torch.cat(out).to(x.device)
    return list(x[index].split([len(i) for i in out]))
