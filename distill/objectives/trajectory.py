"""Trajectory matching (MTT, Cazenavette et al. 2022): an unrolled student chases an expert.

From an expert's parameters at some epoch (``start``), a student takes ``syn_steps`` plain
SGD steps on minibatches of the synthetic set with a learnable step size; the loss is how far
it ends from the expert's parameters a few epochs later (``target``), relative to how far the
expert itself travelled:

    loss = ||theta_student - target||^2 / ||start - target||^2

The student is functional (one flat parameter vector, :func:`beamsim.distill.params.functional_forward`),
and every step keeps its graph (``create_graph=True``), so the loss is differentiable in the
synthetic inputs and in the step size. Memory grows with ``syn_steps x batch_size``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from beamsim.distill.params import functional_forward

__all__ = ["trajectory_matching_loss", "minibatch_indices", "unroll_student", "BatchAugment"]

#: ``augment(x) -> x'``: a differentiable augmentation of one student batch [B, C, H, W]
#: (e.g. DSA with its generator bound); images only, never beam maps.
BatchAugment = Callable[[torch.Tensor], torch.Tensor]


def minibatch_indices(n: int, steps: int, batch_size: int, generator: torch.Generator | None = None,
                      device: str | torch.device | None = None) -> torch.Tensor:
    """Row indices of ``steps`` minibatches drawn without replacement, cycling through ``n`` rows.

    The rows are visited in a random order (a fresh ``randperm`` of ``n`` from ``generator``
    each pass); the stream of passes is cut into equal batches of ``min(batch_size, n)``, so
    every row is used once per pass and a batch that straddles two passes may hold a row twice.

    Returns:
        [steps, min(batch_size, n)] int64 on ``device`` (the CPU if None).

    >>> minibatch_indices(5, 3, 4, torch.Generator().manual_seed(0)).shape
    torch.Size([3, 4])
    """
    if n < 1 or steps < 1 or batch_size < 1:
        raise ValueError(f"n, steps and batch_size must be >= 1, got {n}, {steps} and {batch_size}")
    batch = min(batch_size, n)
    passes = -(-steps * batch // n)
    order = torch.cat([torch.randperm(n, generator=generator) for _ in range(passes)])
    return order[: steps * batch].view(steps, batch).to(device)


def unroll_student(model: nn.Module, x: torch.Tensor, y: torch.Tensor, start: torch.Tensor,
                   lr: torch.Tensor | float, batches: torch.Tensor, *, label_smoothing: float = 0.0,
                   create_graph: bool = True, augment: BatchAugment | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain SGD on ``model``'s architecture from ``start``, one step per row of ``batches``.

    theta <- theta - lr * grad CE(model(theta, x[b]), y[b]) for each batch b in turn.

    Args:
        model: the architecture; only its structure (and buffers) is used, never its parameters.
        x: [N, C, H, W] float32 inputs (gradients flow back to them when ``create_graph``).
        y: [N] int64 labels, or [N, C] float32 soft targets.
        start: [P] float32 flat parameters to start from (not differentiated).
        lr: step size, a float or a 0-d tensor (gradients flow back to it when ``create_graph``).
        batches: [steps, batch] int64 row indices, e.g. from :func:`minibatch_indices`.
        label_smoothing: of the cross-entropy, in [0, 1).
        create_graph: keep the graph of every step (needed to differentiate the result);
            without it both results come back detached.
        augment: applied to every step's batch before the forward pass (a fresh draw per
            step, as MTT applies DSA); None: no augmentation.

    Returns:
        (theta [P] float32 after the last step, the cross-entropy of the last step's batch
        (0-d, before that step)).
    """
    theta = start.detach().requires_grad_(True)
    loss = start.new_zeros(())
    with torch.enable_grad():  # the student's own steps need gradients even under no_grad
        for index in batches:
            xb = x[index] if augment is None else augment(x[index])
            loss = F.cross_entropy(functional_forward(model, theta, xb), y[index],
                                   label_smoothing=label_smoothing)
            (grad,) = torch.autograd.grad(loss, theta, create_graph=create_graph)
            theta = theta - lr * grad
            if not create_graph:
                theta = theta.detach().requires_grad_(True)
    if not create_graph:
        theta, loss = theta.detach(), loss.detach()
    return theta, loss


def trajectory_matching_loss(model: nn.Module, x_syn: torch.Tensor, y_syn: torch.Tensor, start: torch.Tensor,
                             target: torch.Tensor, syn_lr: torch.Tensor, *, syn_steps: int, batch_size: int,
                             generator: torch.Generator | None, label_smoothing: float = 0.0,
                             augment: BatchAugment | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The MTT loss of a synthetic set against one expert segment ``start -> target``.

    Args:
        model: the student architecture (e.g. ``get_model("beamcnn", ...)``); only its
            structure is used. Its buffers, if any, must be on ``x_syn``'s device.
        x_syn: [N, C, H, W] float32 synthetic inputs (typically Q(S), requiring grad).
        y_syn: [N] int64 labels, or [N, C] float32 soft targets (rows summing to 1; gradients
            flow back to them).
        start: [P] float32 expert parameters at the start epoch (flat, ``flatten_params`` order).
        target: [P] float32 expert parameters ``expert_epochs`` later.
        syn_lr: 0-d float32 learnable student step size (requires grad).
        syn_steps: number of unrolled SGD steps (>= 1).
        batch_size: synthetic samples per step (capped at N).
        generator: CPU generator for the minibatch order (see :func:`minibatch_indices`).
        label_smoothing: of the student's cross-entropy, in [0, 1).
        augment: differentiable augmentation of every student batch (images: DSA drawing
            from its own generator); None: none (beam maps).

    Returns:
        ``(loss, diagnostics)``: loss is 0-d, differentiable in ``x_syn`` and ``syn_lr``;
        diagnostics holds detached 0-d tensors (no device sync; call ``float`` to log):
        ``param_dist`` = ||theta_student - target||^2, ``start_dist`` = ||start - target||^2,
        ``student_loss`` = cross-entropy of the last step's batch, ``syn_lr``.

    ``start`` must differ from ``target`` (the denominator is clamped at 1e-12, not checked,
    to avoid a device sync in the hot loop).
    """
    if syn_steps < 1 or batch_size < 1:
        raise ValueError(f"syn_steps and batch_size must be >= 1, got {syn_steps} and {batch_size}")
    soft = y_syn.ndim == 2 and y_syn.is_floating_point()
    if x_syn.ndim < 2 or y_syn.shape[:1] != x_syn.shape[:1] or (y_syn.ndim != 1 and not soft):
        raise ValueError(f"x_syn must be [N, ...] and y_syn [N] (or soft targets [N, C]), got {list(x_syn.shape)} "
                         f"and {list(y_syn.shape)}")
    if start.ndim != 1 or start.shape != target.shape:
        raise ValueError(f"start and target must both be flat [P], got {list(start.shape)} and {list(target.shape)}")
    if not torch.is_tensor(syn_lr) or syn_lr.numel() != 1:
        raise TypeError("syn_lr must be a one-element tensor (learnable step size)")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
    batches = minibatch_indices(x_syn.shape[0], syn_steps, batch_size, generator, device=x_syn.device)
    start = start.detach()
    target = target.detach()
    theta, student_loss = unroll_student(model, x_syn, y_syn, start, syn_lr.reshape(()), batches,
                                         label_smoothing=label_smoothing, create_graph=True, augment=augment)
    param_dist = (theta - target).pow(2).sum()
    start_dist = (start - target).pow(2).sum()
    loss = param_dist / start_dist.clamp_min(1e-12)
    diagnostics = {"param_dist": param_dist.detach(), "start_dist": start_dist,
                   "student_loss": student_loss.detach(), "syn_lr": syn_lr.detach().reshape(())}
    return loss, diagnostics
