"""What a network sees of the data: features before the classifier, and the last layer's input.

Both run the network in eval mode without gradients, in batches, and put the model back in
the mode it was in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from beamsim.distill.params import embed

__all__ = ["FEATURE_BATCH", "embed_batched", "last_layer_io"]

#: Samples per forward pass when computing features.
FEATURE_BATCH = 1024


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        for m, training in modes:
            m.training = training


def _batches(x: torch.Tensor, device: torch.device, batch_size: int) -> Iterator[torch.Tensor]:
    for start in range(0, x.shape[0], batch_size):
        yield x[start:start + batch_size].to(device)


def embed_batched(model: nn.Module, x: torch.Tensor, *, device: torch.device,
                  batch_size: int = FEATURE_BATCH) -> torch.Tensor:
    """``embed(model, x)`` (features before the classifier) in eval mode, batch by batch.

    Args:
        model: a network with ``embed()`` or ``features()`` (see
            :func:`beamsim.distill.params.embed`); it must already sit on ``device``.
        x: [n, C, H, W] float inputs (any device).
        device: where to run the network.
        batch_size: samples per forward pass.

    Returns:
        [n, F] float32 on ``device``.
    """
    with _eval_mode(model):
        out = [embed(model, xb).flatten(1).float() for xb in _batches(x, device, batch_size)]
    if not out:
        raise ValueError("cannot embed an empty set of samples")
    return torch.cat(out)


def _final_linear_io(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(input, output) of the ``nn.Linear`` whose output is the model's output."""
    seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        seen[id(output)] = (inputs[0], output)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        logits = model(x)
    finally:
        for handle in handles:
            handle.remove()
    found = seen.get(id(logits))
    if found is None or found[1] is not logits or found[0].ndim != 2:
        raise TypeError(f"{type(model).__name__}: its output must come straight out of an nn.Linear applied to "
                        "[batch, features] (the last layer whose gradients quant-graphcut compares)")
    return found


def last_layer_io(model: nn.Module, x: torch.Tensor, *, device: torch.device,
                  batch_size: int = FEATURE_BATCH) -> tuple[torch.Tensor, torch.Tensor]:
    """The input and the output (logits) of the model's last layer, in eval mode.

    The last layer is the ``nn.Linear`` that produces the model's output (found with forward
    hooks, so any network that ends in a linear classifier works).

    Args:
        model: the network (already on ``device``).
        x: [n, C, H, W] float inputs (any device).
        device: where to run the network.
        batch_size: samples per forward pass.

    Returns:
        ``(h, logits)``: [n, F] and [n, num_classes], float32 on ``device``.

    Raises:
        TypeError: the model's output is not the output of an ``nn.Linear``.
    """
    hs, zs = [], []
    with _eval_mode(model):
        for xb in _batches(x, device, batch_size):
            h, z = _final_linear_io(model, xb)
            hs.append(h.float())
            zs.append(z.float())
    if not hs:
        raise ValueError("cannot run the model on an empty set of samples")
    return torch.cat(hs), torch.cat(zs)
