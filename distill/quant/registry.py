"""The quantizer registry: ``@register_quantizer("name")`` and ``build_quantizer(name, **config)``."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Callable, TypeVar

import torch

if TYPE_CHECKING:
    from beamsim.distill.quant.base import Quantizer

__all__ = ["register_quantizer", "build_quantizer", "quantizer_class", "quantizer_names"]

_REGISTRY: dict[str, type["Quantizer"]] = {}
Q = TypeVar("Q", bound=type)


def register_quantizer(name: str) -> Callable[[Q], Q]:
    """Class decorator: make a :class:`Quantizer` subclass buildable by ``name``."""

    def decorate(cls: Q) -> Q:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"quantizer name {name!r} is already registered by {_REGISTRY[name].__name__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def quantizer_names() -> list[str]:
    """The registered names, sorted."""
    return sorted(_REGISTRY)


def quantizer_class(name: str) -> type["Quantizer"]:
    """The class registered as ``name``.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown quantizer {name!r}: known quantizers are {', '.join(quantizer_names())}") from None


def build_quantizer(name: str, *, generator: torch.Generator | None = None, **config) -> "Quantizer":
    """A quantizer from its registry name and config fields.

    >>> build_quantizer("apot", bits=3).bits
    3

    Raises:
        ValueError: unknown name, unknown config field or an invalid value (each message
            says what to change).
    """
    cls = quantizer_class(name)
    known = [f.name for f in fields(cls.config_class)]
    unknown = sorted(set(config) - set(known))
    if unknown:
        raise ValueError(f"quantizer {name!r} has no setting(s) {', '.join(unknown)}; "
                         f"its settings are {', '.join(known)}")
    return cls(cls.config_class(**config), generator=generator)
