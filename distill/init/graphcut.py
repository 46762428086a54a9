"""Quantization-guided selection by graph cut on last-layer gradients (QuADD section 4.3).

The real set is quantized uniformly at b bits; per class, samples are picked greedily by
their gain under the generalized graph-cut function

    f(S) = sum_{i in V, j in S} s_ij  -  lambda * sum_{i in S, j in S} s_ij,

V the class, s_ij the cosine similarity of the per-sample gradients of the cross-entropy
loss with respect to the last layer (final linear weight and bias) of a network trained on
real data. The first term rewards samples whose gradients represent the class, the second
penalises picking samples whose gradients the chosen set already has.

**lambda.** The default, :data:`DEFAULT_GRAPHCUT_LAMBDA` = 1, is the plain graph cut: with
lambda = 1, ``f(S) = sum_{i not in S, j in S} s_ij`` is the weight of the cut between S and
the rest of the class. It is also the setting of the reference the paper follows ([29],
AutoPalette, whose selection code is DeepCore's ``GraphCut``: gain
``lam * sum_i s_ix - 2 sum_{j in S} s_xj`` with ``lam = 1``, the same greedy order as
lambda = 1 here up to the self term). Smaller lambda (<= 0.5 makes f monotone for
non-negative similarities) leans toward representative, mutually similar samples; larger
lambda toward diverse ones.

Cosine similarities lie in [-1, 1]; DeepCore shifts them to ``(1 + cos) / 2``. For the greedy
choice it makes no difference: the shift adds the same constant to every candidate's gain
and halves the rest, so the same samples are picked in the same order.

>>> s = torch.tensor([[1.0, 0.9, 0.1], [0.9, 1.0, 0.2], [0.1, 0.2, 1.0]])
>>> graph_cut_select(s, 2, lam=1.0)   # the most central sample, then the diverse one
[1, 2]
>>> graph_cut_select(s, 2, lam=0.0)   # no diversity term: the two near-duplicates
[1, 0]
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from beamsim.distill.quant import Quantizer, build_quantizer

__all__ = ["DEFAULT_GRAPHCUT_LAMBDA", "graph_cut_select", "graph_cut_gain", "last_layer_gradients",
           "last_layer_gradient_similarity", "uniform_quantizer"]

#: lambda of the graph-cut function: 1 is the plain cut (see the module docstring).
DEFAULT_GRAPHCUT_LAMBDA = 1.0


def _check_lambda(lam: float) -> float:
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
        raise ValueError(f"graph-cut lambda must be a finite number >= 0, not {lam!r} "
                         f"(default {DEFAULT_GRAPHCUT_LAMBDA})")
    return float(lam)


def _check_similarity(similarity: torch.Tensor) -> torch.Tensor:
    if not torch.is_tensor(similarity) or similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity must be a square tensor [n, n], got shape {getattr(similarity, 'shape', None)}")
    return similarity.detach().to(torch.float64)


def graph_cut_gain(similarity: torch.Tensor, selected: list[int], lam: float) -> torch.Tensor:
    """``f(S + {x}) - f(S)`` for every candidate x (selected ones included, for inspection).

    ``gain(x) = sum_i s_ix - lambda * (sum_{j in S} (s_xj + s_jx) + s_xx)``.

    Args:
        similarity: [n, n] float, ``s_ij`` (need not be symmetric).
        selected: the positions already in S.
        lam: the graph-cut lambda (>= 0).

    Returns:
        [n] float64.
    """
    s = _check_similarity(similarity)
    lam = _check_lambda(lam)
    redundancy = s.diagonal().clone()
    if selected:
        idx = torch.as_tensor(selected, dtype=torch.long, device=s.device)
        redundancy += s[:, idx].sum(dim=1) + s[idx, :].sum(dim=0)
    return s.sum(dim=0) - lam * redundancy


def graph_cut_select(similarity: torch.Tensor, k: int, lam: float = DEFAULT_GRAPHCUT_LAMBDA) -> list[int]:
    """Greedy maximisation of the graph-cut function: ``k`` positions, in the order picked.

    Each step adds the candidate with the largest :func:`graph_cut_gain` (ties to the lowest
    position); no position is picked twice. Negative gains are taken like any other: the
    budget is ``k`` samples, not a threshold on f.

    Args:
        similarity: [n, n] float, ``s_ij`` (e.g. :func:`last_layer_gradient_similarity`).
        k: how many to pick, ``0 <= k <= n``.
        lam: the graph-cut lambda (>= 0), default :data:`DEFAULT_GRAPHCUT_LAMBDA`.

    Returns:
        ``k`` distinct positions in ``range(n)``.

    Raises:
        ValueError: a non-square matrix, ``k`` out of range or a negative/non-finite lambda.
    """
    s = _check_similarity(similarity)
    lam = _check_lambda(lam)
    n = s.shape[0]
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n:
        raise ValueError(f"k must be an integer in 0..{n} (the number of candidates), not {k!r}")
    coverage = s.sum(dim=0)
    redundancy = s.diagonal().clone()
    taken = torch.zeros(n, dtype=torch.bool, device=s.device)
    chosen: list[int] = []
    for _ in range(k):
        gain = coverage - lam * redundancy
        gain[taken] = -float("inf")
        pick = int(torch.argmax(gain))
        chosen.append(pick)
        taken[pick] = True
        redundancy += s[:, pick] + s[pick, :]
    return chosen


def _error_signal(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """dL/dlogits of the cross-entropy, per sample: softmax(z) - onehot(y), [n, C] float64."""
    z = logits.detach().to(torch.float64)
    onehot = F.one_hot(labels.to(z.device).long(), z.shape[1]).to(z.dtype)
    return torch.softmax(z, dim=1) - onehot


def last_layer_gradients(features: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample gradients of the cross-entropy with respect to the last linear layer.

    For ``logits = W h + b``, ``dL/dW = (softmax(z) - onehot(y)) h^T`` and
    ``dL/db = softmax(z) - onehot(y)``. Materialises [n, C*F + C]: fine for tests and small
    layers; :func:`last_layer_gradient_similarity` never builds it.

    Args:
        features: [n, F] float, the last layer's input ``h``.
        logits: [n, C] float, its output ``z``.
        labels: [n] int64 class labels.

    Returns:
        [n, C*F + C] float64: ``vec(dL/dW)`` (row-major, like ``weight.grad.flatten()``)
        followed by ``dL/db``.
    """
    g = _error_signal(logits, labels)
    h = features.detach().to(device=g.device, dtype=torch.float64)
    return torch.cat([(g[:, :, None] * h[:, None, :]).flatten(1), g], dim=1)


def last_layer_gradient_similarity(features: torch.Tensor, logits: torch.Tensor,
                                   labels: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of the per-sample last-layer gradients, without building them.

    With ``g_i = softmax(z_i) - onehot(y_i)`` the gradient of sample i is
    ``[g_i h_i^T, g_i]``, so ``<grad_i, grad_j> = (g_i . g_j) (h_i . h_j + 1)``: an [n, n]
    computation instead of [n, C*F] gradients. A sample whose gradient is exactly zero
    (a saturated, correct prediction) has similarity 0 to everything, itself included.

    Args:
        features: [n, F] float, the last layer's input ``h``.
        logits: [n, C] float, its output ``z``.
        labels: [n] int64 class labels.

    Returns:
        [n, n] float64 in [-1, 1], symmetric.
    """
    if features.ndim != 2 or logits.ndim != 2 or labels.ndim != 1 or not (
            features.shape[0] == logits.shape[0] == labels.shape[0]):
        raise ValueError(f"need features [n, F], logits [n, C] and labels [n], got {list(features.shape)}, "
                         f"{list(logits.shape)} and {list(labels.shape)}")
    g = _error_signal(logits, labels)
    # h h^T is the expensive product ([n, n] x F): float32 is plenty for a cosine.
    h = features.detach().to(device=g.device, dtype=torch.float32)
    gram = (g @ g.T) * ((h @ h.T).to(torch.float64) + 1.0)
    norm = gram.diagonal().clamp_min(0.0).sqrt()
    denom = norm[:, None] * norm[None, :]
    sim = torch.where(denom > 0, gram / torch.where(denom > 0, denom, torch.ones_like(denom)), torch.zeros_like(gram))
    return sim.clamp(-1.0, 1.0)


def uniform_quantizer(x: torch.Tensor, bits: int) -> Quantizer:
    """The uniform quantizer of the quantization-guided initialisation, fitted to ``x``.

    ``build_quantizer("uniform", bits=bits, granularity="feature", percentile=100)``: one
    clip threshold per element position at the largest ``|x|`` there, so the per-feature
    range comes from the data and nothing is clipped; fixed (not learned).

    Args:
        x: [N, C, ...] float, the real training set.
        bits: bits per element, 1..8.

    Returns:
        an initialized quantizer on ``x.device``: ``q(x_c)`` quantizes any rows of ``x``.
    """
    quantizer = build_quantizer("uniform", bits=bits, granularity="feature", percentile=100.0, learn_alpha=False)
    return quantizer.to(x.device).initialize(x)
