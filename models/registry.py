"""The model registry: ``@register_model("name")`` and ``get_model(name, ...)``.

Every network is built from the same four facts about the data: input channels, number of
classes and image size (height, width). A registered builder has the signature
``builder(in_channels: int, num_classes: int, image_size: tuple[int, int]) -> nn.Module``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["register_model", "get_model", "list_models", "reset_parameters", "ModelBuilder"]

ModelBuilder = Callable[[int, int, tuple[int, int]], nn.Module]

_MODELS: dict[str, ModelBuilder] = {}


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Class or function decorator that registers a model builder under ``name``.

    Raises:
        ValueError: ``name`` is already taken.
    """

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered")
        _MODELS[name] = builder
        return builder

    return decorate


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(_MODELS)


def _image_size(image_size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(image_size, int):
        size = (image_size, image_size)
    else:
        size = tuple(int(s) for s in image_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"image_size must be a positive int or (height, width), not {image_size!r}")
    return size


def get_model(name: str, in_channels: int, num_classes: int, image_size: int | tuple[int, int],
              generator: torch.Generator | None = None) -> nn.Module:
    """A fresh, untrained network.

    Args:
        name: a registered name (see :func:`list_models`).
        in_channels: C of the inputs [batch, C, H, W].
        num_classes: number of output logits.
        image_size: H and W (an int for square inputs): beam maps are 8 x 8.
        generator: when given, all parameters are initialised from it with
            :func:`reset_parameters` (same generator state, same weights); otherwise PyTorch's
            default initialisation from the global RNG is kept.

    Returns:
        an ``nn.Module`` mapping [batch, C, H, W] float32 to logits [batch, num_classes].

    Raises:
        ValueError: unknown name (the message lists the known ones) or invalid sizes.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    if int(in_channels) < 1 or int(num_classes) < 1:
        raise ValueError(f"in_channels and num_classes must be >= 1, got {in_channels} and {num_classes}")
    model = _MODELS[name](int(in_channels), int(num_classes), _image_size(image_size))
    if generator is not None:
        reset_parameters(model, generator)
    return model


def _uniform_(tensor: torch.Tensor, bound: float, generator: torch.Generator) -> None:
    with torch.no_grad():
        tensor.uniform_(-bound, bound, generator=generator)


@torch.no_grad()
def reset_parameters(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise every parameter of ``model`` from ``generator``, in module order.

    Uses the distributions of PyTorch's own ``reset_parameters``: for ``Conv*d`` and
    ``Linear``, weight ~ kaiming-uniform with a = sqrt(5) (i.e. U(-1/sqrt(fan_in),
    1/sqrt(fan_in))) and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); recurrent layers (GRU,
    LSTM, RNN) every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size));
    normalisation layers get weight 1 and bias 0. The global RNG is neither used nor reseeded.

    Raises:
        TypeError: a module holds parameters of a kind this function does not know (better
            than silently leaving them drawn from the global RNG).
    """
    for module in model.modules():
        own = list(module.parameters(recurse=False))
        if not own:
            continue
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            fan_in = module.weight[0].numel()
            bound = 1.0 / fan_in**0.5 if fan_in > 0 else 0.0
            # kaiming_uniform_(a=sqrt(5)): gain = sqrt(2 / (1 + 5)), bound = gain * sqrt(3 / fan_in)
            _uniform_(module.weight, bound, generator)
            if module.bias is not None:
                _uniform_(module.bias, bound, generator)
        elif isinstance(module, nn.RNNBase):
            bound = 1.0 / module.hidden_size**0.5
            for param in own:
                _uniform_(param, bound, generator)
        elif isinstance(module, (nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.InstanceNorm2d)):
            if module.weight is not None:
                module.weight.fill_(1.0)
            if module.bias is not None:
                module.bias.fill_(0.0)
        else:
            raise TypeError(f"reset_parameters does not know how to initialise {type(module).__name__}")
    return model
