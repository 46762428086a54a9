"""Gradient matching (DC, Zhao et al. 2021): align per-class gradients of real and synthetic data.

For every class c and every parameter tensor W of the network, the gradients of the
cross-entropy on the real batch of class c and on the synthetic samples of class c are
compared by cosine distance (:func:`gradient_distance`):

- ``granularity="channel"`` (DC's ``distance_wb``): a weight of 2 or more dims is cut into
  rows, one per output unit (conv weights [out, in, kh, kw] -> [out, in*kh*kw]), and the
  loss adds (1 - cos) of every row. A 1-D tensor (bias, norm scale) is one row: the design
  asks for every layer to count, where DC's code skipped them.
- ``granularity="layer"``: every parameter tensor is one row, one (1 - cos) per tensor.

Each (1 - cos) lies in [0, 2], so the loss lies in [0, 2 * rows * classes]. As in DC the
cosine is dot / (|g_real| |g_syn| + eps) with eps = 1e-6, which caps the cosine's 1 / |g|
gradient for tiny rows but also biases rows with |g|^2 near eps toward a distance of 1;
``eps=0`` gives the exact cosine (equal gradients then score exactly 0). A row where both
gradients vanish (a dead ReLU unit) counts as matched (0), where DC's code scored it 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["gradient_matching_loss", "gradient_distance", "Granularity"]

Granularity = Literal["channel", "layer"]
#: ``augment(x_real, y_real, x_syn, y_syn) -> (x_real', x_syn')``, as in
#: :data:`beamsim.distill.objectives.distribution.PairAugment`.
PairAugment = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def gradient_distance(g_real: torch.Tensor, g_syn: torch.Tensor, granularity: Granularity = "channel",
                      eps: float = 1e-6) -> torch.Tensor:
    """Sum of (1 - cos) between the rows of two same-shaped gradients (see the module doc).

    >>> g = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> [round(float(gradient_distance(g, s)), 4) for s in (g, -g, 0 * g)]
    [0.0, 4.0, 2.0]
    """
    if granularity == "channel" and g_real.ndim >= 2:
        g_real, g_syn = g_real.reshape(g_real.shape[0], -1), g_syn.reshape(g_syn.shape[0], -1)
    elif granularity in ("channel", "layer"):
        g_real, g_syn = g_real.reshape(1, -1), g_syn.reshape(1, -1)
    else:
        raise ValueError(f"granularity must be 'channel' or 'layer', not {granularity!r}")
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    norms = g_real.norm(dim=-1) * g_syn.norm(dim=-1) + eps
    cos = (g_real * g_syn).sum(-1) / norms.clamp_min(torch.finfo(norms.dtype).tiny)
    both_zero = (g_real == 0).all(-1) & (g_syn == 0).all(-1)
    return torch.where(both_zero, torch.zeros_like(cos), 1.0 - cos).sum()


def gradient_matching_loss(model: nn.Module, x_real: torch.Tensor, y_real: torch.Tensor, x_syn: torch.Tensor,
                           y_syn: torch.Tensor, num_classes: int, *, granularity: Granularity = "channel",
                           label_smoothing: float = 0.0, eps: float = 1e-6,
                           augment: PairAugment | None = None) -> torch.Tensor:
    """Sum over classes and parameter tensors of the gradient cosine distance.

    Args:
        model: the network whose gradients are compared (its trainable parameters, at their
            current values; the caller trains or redraws it between calls). This function
            leaves their ``.grad`` alone, but the loss depends on them: call
            ``loss.backward(inputs=[x_syn])`` to fill only the synthetic data's gradient.
        x_real: [n, C, H, W] float32 real batch; y_real: [n] int64.
        x_syn: [m, C, H, W] float32 synthetic set (requires grad); y_syn: [m] int64.
        num_classes: classes 0 .. num_classes - 1 are matched; one with no real or no synthetic
            sample is skipped.
        granularity: ``channel`` (DC) or ``layer``, see the module doc.
        label_smoothing: of the cross-entropy, in [0, 1).
        eps: added to |g_real| |g_syn| in every cosine (DC's 1e-6; 0 for the exact cosine).
        augment: siamese augmentation of the real and synthetic batches (one op and one
            draw for all classes, paired by position within a class); None: none.

    Returns:
        0-d float32, in [0, 2 * rows * classes]; differentiable in ``x_syn`` (the synthetic
        gradients are taken with ``create_graph=True``; the real ones are detached).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters to match gradients on")
    loss = x_syn.sum() * 0.0  # stays differentiable when every class is skipped
    if augment is not None:
        x_real, x_syn = augment(x_real, y_real, x_syn, y_syn)
    for c in range(num_classes):
        real_c, syn_c = y_real == c, y_syn == c
        if not bool(real_c.any()) or not bool(syn_c.any()):
            continue
        ce_real = F.cross_entropy(model(x_real[real_c]), y_real[real_c], label_smoothing=label_smoothing)
        g_real = torch.autograd.grad(ce_real, params)
        ce_syn = F.cross_entropy(model(x_syn[syn_c]), y_syn[syn_c], label_smoothing=label_smoothing)
        g_syn = torch.autograd.grad(ce_syn, params, create_graph=True)
        for gr, gs in zip(g_real, g_syn):
            loss = loss + gradient_distance(gr.detach(), gs, granularity, eps)
    return loss
