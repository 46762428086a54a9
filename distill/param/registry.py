"""The parameterization registry: ``@register_param("name")`` and ``build_param(name, settings)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

import torch

if TYPE_CHECKING:
    from beamsim.distill.param.base import Parameterization
    from beamsim.distill.settings import ParamSettings

__all__ = ["register_param", "build_param", "param_class", "param_names", "check_param"]

_REGISTRY: dict[str, type["Parameterization"]] = {}
P = TypeVar("P", bound=type)


def register_param(name: str) -> Callable[[P], P]:
    """Class decorator: make a :class:`~beamsim.distill.param.base.Parameterization` buildable by ``name``."""

    def decorate(cls: P) -> P:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"parameterization {name!r} is already registered by {_REGISTRY[name].__name__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def param_names() -> list[str]:
    """The registered names, sorted (``none`` is no parameterization and is not registered)."""
    return sorted(_REGISTRY)


def param_class(name: str) -> type["Parameterization"]:
    """The class registered as ``name``.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown parameterization {name!r}: known are {', '.join(param_names())}") from None


def build_param(settings: "ParamSettings", *, generator: torch.Generator | None = None) -> "Parameterization | None":
    """The parameterization ``settings.name`` names (None for ``none``), not fitted yet.

    ``generator`` draws whatever it initialises at random (the palette network's weights).
    """
    if settings.name == "none":
        return None
    return param_class(settings.name)(settings, generator=generator)


def check_param(settings: "ParamSettings", shape: tuple[int, ...]) -> None:
    """Refuse a parameterization that cannot represent samples of ``shape`` (nothing for ``none``).

    Raises:
        ValueError: one line with the fix (e.g. more FreD coefficients than a channel has).
    """
    if settings.name != "none":
        param_class(settings.name).check_shape(settings, tuple(int(s) for s in shape))
