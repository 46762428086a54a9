"""The ``noise`` initialisation: Gaussian samples with each class's real statistics."""

from __future__ import annotations

import torch

from beamsim.distill.coresets import class_rows

__all__ = ["gaussian_per_class"]


def gaussian_per_class(x: torch.Tensor, y: torch.Tensor, num_classes: int, spc: int, *,
                       generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``spc`` Gaussian samples per class, every class (empty ones too).

    Element by element, class c's samples are ``mean_c + std_c * z``, ``z ~ N(0, 1)`` drawn
    from ``generator`` (class 0 first), with ``mean_c`` and ``std_c`` the mean and the
    population standard deviation of class c's real samples at that position. A class with
    a single sample uses it as the mean and the global std (one sample has no spread); an
    empty class uses the global mean and std of all of ``x``. Positions that are constant
    in the data have std 0 and stay at their constant. Values are not clipped to the data's
    range.

    Args:
        x: [N, C, H, W] (any per-sample shape) float, the real training set, N >= 1.
        y: [N] integer labels in ``[0, num_classes)``.
        num_classes: C.
        spc: samples per class (>= 1).
        generator: the only source of randomness.

    Returns:
        ``(x_syn, y_syn)``: [num_classes * spc, ...] with ``x``'s dtype on ``x.device``, and
        [num_classes * spc] int64 on ``x.device``, grouped by class.
    """
    data = x.detach().to(torch.float64)
    global_mean = data.mean(dim=0)
    global_std = data.std(dim=0, unbiased=False)
    shape = (spc, *x.shape[1:])
    out = []
    for rows in class_rows(y, num_classes):
        if rows.numel() == 0:
            mean, std = global_mean, global_std
        else:
            xc = data[rows.to(x.device)]
            mean = xc.mean(dim=0)
            std = xc.std(dim=0, unbiased=False) if rows.numel() > 1 else global_std
        z = torch.randn(shape, generator=generator, device=generator.device, dtype=torch.float32).to(x.device)
        out.append((mean + std * z.to(torch.float64)).to(x.dtype))
    y_syn = torch.arange(num_classes, device=x.device).repeat_interleave(spc)
    return torch.cat(out), y_syn
