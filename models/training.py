"""The one network training loop: evaluation, expert trajectories and validation all use it.

:func:`train_model` trains a network in place on tensors ``(x, y)`` with minibatch
cross-entropy; :func:`predict` returns its logits on a test set. Randomness comes only from
the ``generator`` passed in (shuffling and redrawn masks); weight initialisation is the
caller's (see :func:`beamsim.models.reset_parameters`). The global RNG is never reseeded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["train_model", "predict", "make_optimizer", "Redraw", "Augment", "OptimizerName"]

OptimizerName = Literal["adamw", "sgd"]
#: ``redraw(index, generator) -> x`` gives fresh inputs [len(index), C, H, W] float32 for the
#: rows ``index`` (e.g. :meth:`beamsim.BeamDataset.redrawn_inputs` for random-mask files).
Redraw = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
#: ``augment(x, generator) -> x'`` augments one batch [B, C, H, W] float32 on the training
#: device (e.g. :class:`beamsim.distill.data.augment.DSA` for images; never beam maps).
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _device(device: str | torch.device | None, model: nn.Module) -> torch.device:
    """``device`` as a ``torch.device``; None: where the model's parameters are."""
    if device is not None:
        return torch.device(device)
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def make_optimizer(params, name: OptimizerName, lr: float, weight_decay: float,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """``adamw`` (decoupled weight decay) or ``sgd`` (momentum, L2 weight decay)."""
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}: use 'adamw' or 'sgd'")


def train_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epochs: int, batch_size: int = 256,
                lr: float = 1e-3, weight_decay: float = 1e-4, label_smoothing: float = 0.1,
                optimizer: OptimizerName = "adamw", momentum: float = 0.9, schedule: Literal["cosine", "constant"] = "cosine",
                generator: torch.Generator | None = None, device: str | torch.device | None = None,
                redraw: Redraw | None = None, augment: Augment | None = None, autocast: bool = False,
                targets: torch.Tensor | None = None,
                on_epoch: Callable[[int, float], None] | None = None) -> list[float]:
    """Train ``model`` in place with minibatch cross-entropy.

    Each epoch visits every sample once in an order drawn from ``generator`` (the last batch
    may be smaller). The learning rate follows ``schedule``: ``cosine`` decays it per step
    from ``lr`` to 0 over all ``epochs`` (no warm-up), ``constant`` keeps it.

    Args:
        model: the network; moved to ``device``.
        x: [N, C, H, W] float32 inputs.
        y: [N] int64 labels, or [N, H] for a network with H heads: its C x H outputs are H
            blocks of C logits (head ``h`` predicts ``y[:, h]``), trained on the mean loss.
        epochs: passes over the data (>= 1).
        batch_size: samples per step.
        lr: learning rate (see :func:`make_optimizer`).
        weight_decay: weight decay (see :func:`make_optimizer`).
        momentum: SGD momentum (see :func:`make_optimizer`).
        optimizer: ``adamw`` or ``sgd`` (see :func:`make_optimizer`).
        label_smoothing: of the cross-entropy, in [0, 1).
        generator: CPU generator for the shuffling and for ``redraw``.
        device: where to train (``None``: where the model's parameters are).
        redraw: when given, the inputs of every batch are ``redraw(index, generator)``
            instead of ``x[index]`` (a new random mask every time a sample is read).
        augment: when given, every batch becomes ``augment(batch, generator)`` before the
            forward pass (images: DSA); None: no augmentation.
        autocast: run forward and backward under bfloat16 autocast (weights stay float32).
        targets: [N, C] float soft targets (rows summing to 1) the cross-entropy is taken
            against instead of ``y`` (which must then be [N]); None: the labels ``y``.
        on_epoch: called as ``on_epoch(epoch, mean_loss)`` after every epoch.

    Returns:
        the mean training loss of every epoch.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if x.ndim < 2 or y.ndim not in (1, 2) or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be [N, ...] and y [N] or [N, heads], got {list(x.shape)} and {list(y.shape)}")
    if x.shape[0] == 0:
        raise ValueError("the training set is empty")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
    if targets is not None and (y.ndim != 1 or targets.ndim != 2 or targets.shape[0] != y.shape[0]):
        raise ValueError(f"soft targets must be [N, C] beside labels [N], got {list(targets.shape)} and {list(y.shape)}")
    device = _device(device, model)
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    model.to(device).train()
    x_dev = x.to(device, torch.float32)
    y_dev = y.to(device, torch.long) if targets is None else targets.to(device, torch.float32)
    n = x.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch
    opt = make_optimizer(model.parameters(), optimizer, lr, weight_decay, momentum)
    if schedule == "cosine":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 * (1.0 + math.cos(math.pi * step / total_steps)))
    elif schedule == "constant":
        sched = None
    else:
        raise ValueError(f"unknown schedule {schedule!r}: use 'cosine' or 'constant'")
    history: list[float] = []
    for epoch in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = torch.zeros((), device=device)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            if redraw is not None:
                xb = redraw(index, generator).to(device, torch.float32)
            else:
                xb = x_dev[index.to(device)]
            yb = y_dev[index.to(device)]
            if augment is not None:
                with torch.no_grad():
                    xb = augment(xb, generator)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
                logits = model(xb)
            if yb.ndim == 2 and targets is None:  # H heads: [B, H * C] logits -> [B * H, C] against [B * H] labels
                logits = logits.reshape(yb.numel(), -1)
                yb = yb.reshape(-1)
            loss = F.cross_entropy(logits.float(), yb, label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += loss.detach() * index.numel()
        mean_loss = float(total) / n
        if not math.isfinite(mean_loss):
            raise ValueError(f"training diverged in epoch {epoch + 1} (loss {mean_loss}); lower the learning rate")
        history.append(mean_loss)
        if on_epoch is not None:
            on_epoch(epoch, mean_loss)
    return history


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 2048,
            device: str | torch.device | None = None) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in eval mode and float32.

    Args:
        x: [N, C, H, W] float32.

    Returns:
        [N, num_classes] float32 logits on the CPU.
    """
    device = _device(device, model)
    model.to(device).eval()
    out = [model(x[i : i + batch_size].to(device, torch.float32)).float().cpu() for i in range(0, x.shape[0], batch_size)]
    return torch.cat(out)
