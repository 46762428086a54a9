"""Constant features are not payload.

An element position whose value is the same in every real sample (under the fixed beam
mask: the 32 unobserved beams, all at one floor value) carries no information. The
distilled file stores such positions once (a mask and their values) instead of per sample,
and the distiller keeps them at their constant during optimisation: the real data never
varies there, so synthetic variation there is noise the model never meets.

>>> x = torch.tensor([[0.2, 1.0, 0.5], [0.7, 1.0, 0.5], [0.1, 1.0, 0.4]])
>>> mask, values = constant_feature_mask(x)
>>> mask.tolist(), values.tolist()
([False, True, False], [0.0, 1.0, 0.0])
>>> apply_constant(torch.tensor([[0.3, 0.9, 0.6]]), mask, values).tolist()
[[0.30000001192092896, 1.0, 0.6000000238418579]]
"""

from __future__ import annotations

import torch

__all__ = ["constant_feature_mask", "apply_constant"]


def constant_feature_mask(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The element positions that hold exactly the same value in every sample.

    Equality is exact (``==``): a position that varies by one ulp is not constant, and NaN
    is never constant (NaN != NaN).

    Args:
        x: [N, ...] samples (any dtype), N >= 1, e.g. [N, 1, 8, 8] beam maps.

    Returns:
        ``(mask, values)``: ``mask`` [...] bool, True where all N samples are equal;
        ``values`` [...] with ``x``'s dtype and device: the constant where ``mask`` is True,
        0 elsewhere.

    Raises:
        ValueError: ``x`` has no sample dimension or no samples.
    """
    if not torch.is_tensor(x) or x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x must be a tensor [N, ...] with N >= 1 samples, got shape {getattr(x, 'shape', None)}")
    x = x.detach()
    first = x[0]
    mask = (x == first).all(dim=0)
    values = torch.where(mask, first, torch.zeros_like(first))
    return mask, values


def apply_constant(x_syn: torch.Tensor, mask: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``x_syn`` with the constant positions set to their values (a new tensor).

    Differentiable in ``x_syn``: the gradient is passed where ``mask`` is False and zero
    where it is True, so an optimiser never moves the constant positions away.

    Args:
        x_syn: [M, ...] float, the synthetic set (same per-sample shape as the mask).
        mask: [...] bool from :func:`constant_feature_mask`.
        values: [...] the constants (cast to ``x_syn``'s dtype and moved to its device).

    Returns:
        [M, ...] like ``x_syn``.

    Raises:
        ValueError: the shapes do not match, or ``mask`` is not boolean.
    """
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
    if tuple(x_syn.shape[1:]) != tuple(mask.shape) or tuple(values.shape) != tuple(mask.shape):
        raise ValueError(f"x_syn {list(x_syn.shape)} needs a mask and values of shape {list(x_syn.shape[1:])}, "
                         f"got {list(mask.shape)} and {list(values.shape)}")
    mask = mask.to(x_syn.device)
    values = values.to(device=x_syn.device, dtype=x_syn.dtype)
    return torch.where(mask, values, x_syn)
