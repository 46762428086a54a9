"""A network's parameters as one flat vector, for unrolled students and expert trajectories.

Trajectory matching trains a student functionally: its parameters are one flat tensor that
:func:`unflatten` turns into the dict ``torch.func.functional_call`` takes, so gradients reach
whatever produced the flat tensor (the synthetic data, the learnable step size).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["flatten_params", "unflatten_params", "load_flat_params", "param_shapes", "functional_forward", "embed"]


def param_shapes(model: nn.Module) -> list[tuple[str, torch.Size]]:
    """(name, shape) of every parameter, in ``named_parameters`` order."""
    return [(name, p.shape) for name, p in model.named_parameters()]


def flatten_params(model: nn.Module) -> torch.Tensor:
    """All parameters concatenated: [P] (detached copy)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def unflatten_params(model: nn.Module, flat: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split a flat vector [P] into ``{name: tensor}`` views shaped like ``model``'s parameters."""
    out, start = {}, 0
    for name, shape in param_shapes(model):
        n = shape.numel()
        out[name] = flat[start:start + n].view(shape)
        start += n
    if start != flat.numel():
        raise ValueError(f"flat parameter vector has {flat.numel()} entries, the model needs {start}")
    return out


def load_flat_params(model: nn.Module, flat: torch.Tensor) -> nn.Module:
    """Copy a flat vector [P] (e.g. an expert trajectory's row) into ``model``'s parameters; returns ``model``."""
    with torch.no_grad():
        for name, value in unflatten_params(model, flat.to(next(model.parameters()).device)).items():
            model.get_parameter(name).copy_(value)
    return model


def functional_forward(model: nn.Module, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``model(x)`` with the parameters taken from ``flat`` [P] (differentiable in both)."""
    return torch.func.functional_call(model, unflatten_params(model, flat), (x,))


def embed(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Features before the classifier: [N, F].

    Uses ``model.embed(x)`` when the network defines it, else ``model.features(x)`` flattened.
    """
    if hasattr(model, "embed"):
        return model.embed(x)
    if hasattr(model, "features"):
        return model.features(x).flatten(1)
    raise TypeError(f"{type(model).__name__} has neither embed() nor features(); cannot embed")
