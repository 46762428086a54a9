"""The straight-through estimator, written once for the whole package.

:func:`straight_through` returns the values of ``value`` while the gradient flows to ``x``
as if the operation were the identity; :func:`ste_round` is hard rounding built on it.
Both return *exactly* ``value`` (a custom autograd function, not the ``x + (v - x).detach()``
trick, whose float arithmetic can move the result by one ulp), so a quantizer's forward
output and its ``decode(encode(x))`` agree bit for bit.
"""

from __future__ import annotations

import torch

__all__ = ["straight_through", "ste_round"]


class _StraightThrough(torch.autograd.Function):
    """Forward: ``value``; backward: the incoming gradient goes to ``x`` unchanged."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, value: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return value.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: D102
        return grad, None


def straight_through(x: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """``value`` in the forward pass, identity gradient to ``x`` in the backward pass.

    Args:
        x: any shape, floating point; receives the gradient.
        value: same shape and dtype as ``x``, computed from ``x`` without gradient
            (e.g. ``x`` projected onto a level set).

    Returns:
        a tensor equal to ``value`` (bit for bit) whose gradient with respect to ``x`` is 1.
    """
    if value.shape != x.shape:
        raise ValueError(f"straight_through needs value of the shape of x, got {list(value.shape)} and {list(x.shape)}")
    return _StraightThrough.apply(x, value.detach())


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """Round to the nearest integer (ties to even, as ``torch.round``), straight-through gradient.

    >>> x = torch.tensor([0.2, 1.7, -2.5], requires_grad=True)
    >>> y = ste_round(x)
    >>> y.tolist()
    [0.0, 2.0, -2.0]
    >>> y.sum().backward(); x.grad.tolist()
    [1.0, 1.0, 1.0]
    """
    return straight_through(x, torch.round(x.detach()))
