"""Quantization-aware refinement: move the set so that its quantized version looks like it.

The paper's refinement module, applied before grouping (its best setting): find ``x_ft``
minimising

    L(x_ft) = mean over samples of || f(x) - f(PAQ(x_ft)) ||^2 / F

where ``f`` is a network's feature map (``embed``: the features before the classifier, see
:func:`beamsim.distill.params.embed`) with ``F`` outputs, ``x`` the original set and ``PAQ``
patch-wise asymmetric quantization with the straight-through rounding of
:func:`beamsim.distill.quant.ste.ste_round` (scales and zero points follow ``x_ft`` but carry
no gradient). Adam, a few full-batch steps (the set is processed in chunks, the gradient
summed), starting from ``x_ft = x``. Elements constant across the set stay put, values are
kept inside the original set's range, and the iterate with the lowest loss is returned (the
input itself when no step improves on it: on beam maps cut into 2 x 2 patches PAQ is nearly
lossless already and a code flip costs more than it fixes).

The network is randomly initialised from ``generator`` (a fixed random network, as in
distribution matching) unless one is passed in.
"""

from __future__ import annotations

import torch
from torch import nn

from beamsim.config import make_generator, resolve_device
from beamsim.distill.params import embed
from beamsim.distill.compress.paq import check_bits, fake_quantize
from beamsim.distill.compress.patches import PatchLayout

__all__ = ["refine", "feature_model"]


def feature_model(x: torch.Tensor, name: str = "auto", num_classes: int = 10,
                  generator: torch.Generator | None = None) -> nn.Module:
    """A randomly initialised network from :func:`beamsim.models.get_model` for inputs like ``x``.

    Args:
        x: [N, C, H, W] float set (for the channel count and image size).
        name: a registered model, or ``"auto"``: ``beamcnn`` for maps up to 16 x 16, else
            ``convnet3``.
        num_classes: logits of the (unused) classifier.
        generator: CPU ``torch.Generator`` for the weights (the config seed when None).

    Returns:
        the network on the CPU, in eval mode, with frozen parameters.
    """
    from beamsim.models import get_model

    c, h, w = (int(s) for s in x.shape[1:])
    if name == "auto":
        name = "beamcnn" if max(h, w) <= 16 else "convnet3"
    generator = make_generator() if generator is None else generator
    model = get_model(name, c, max(int(num_classes), 1), (h, w), generator=generator)
    return model.eval().requires_grad_(False)


def refine(x: torch.Tensor, bits: int, *, layout: PatchLayout | None = None,
           patch: int | tuple[int, int] | None = None, steps: int = 20, lr: float = 1e-3, batch_size: int = 256,
           model: nn.Module | None = None, model_name: str = "auto", num_classes: int = 10,
           device: str | torch.device | None = None,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, list[float]]:
    """Refine a set for patch-wise quantization.

    Args:
        x: [N, C, H, W] float set (e.g. beam maps in [0, 1]).
        bits: bits of the PAQ used in the loss, 1..8.
        layout, patch: the patches (built from ``x`` and ``patch`` when ``layout`` is None).
        steps: Adam steps (full passes over the set); 0 returns ``x`` unchanged.
        lr: Adam learning rate [units of x].
        batch_size: samples per forward pass (memory only; the gradient is summed).
        model: feature network; None builds ``model_name`` with :func:`feature_model`.
        model_name, num_classes: for the built network.
        device: where the network runs (``"auto"``, ``"cpu"``, ``"cuda"``; the config's when None).
        generator: CPU ``torch.Generator`` for the network's weights (the config seed when None).

    Returns:
        (refined set [N, C, H, W] float32 on the CPU: the iterate with the lowest loss,
        feature loss before each step and after the last: ``steps + 1`` floats).

    Raises:
        ValueError: bad shapes or settings.
    """
    bits = check_bits(bits)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, not {steps!r}")
    if not lr > 0 or batch_size < 1:
        raise ValueError(f"lr must be positive and batch_size >= 1, got {lr!r} and {batch_size!r}")
    layout = PatchLayout.build(x, patch) if layout is None else layout
    dev = resolve_device(device)
    original = x.detach().float().cpu()
    if model is None:
        model = feature_model(original, model_name, num_classes, generator)
    model = model.to(dev)
    lo, hi = float(original.min()), float(original.max())
    keep = layout.constant.to(dev)
    chunks = [slice(s, s + batch_size) for s in range(0, original.shape[0], batch_size)]
    with torch.no_grad():
        target = [embed(model, original[c].to(dev)).flatten(1) for c in chunks]
    param = original.to(dev).clone().requires_grad_(True)
    optimizer = torch.optim.Adam([param], lr=lr)
    denominator = float(original.shape[0] * target[0].shape[1])
    history: list[float] = []
    best, best_loss = original, float("inf")
    for step in range(steps + 1):
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        with torch.set_grad_enabled(step < steps):
            for c, t in zip(chunks, target):
                feats = embed(model, fake_quantize(param[c], bits, layout)).flatten(1)
                loss = ((feats - t) ** 2).sum() / denominator
                if step < steps:
                    loss.backward()
                total += float(loss.detach())
        history.append(total)
        if total < best_loss:
            best, best_loss = param.detach().cpu().clone(), total
        if step == steps:
            break
        param.grad[:, keep] = 0.0
        optimizer.step()
        with torch.no_grad():
            param.clamp_(lo, hi)
            param[:, keep] = original.to(dev)[:, keep]
    return best, history
