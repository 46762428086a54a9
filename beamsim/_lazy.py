"""Lazy public names for package ``__init__`` files (heavy modules load on first use)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_attributes"]


def lazy_attributes(namespace: dict, names: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose public ``names`` live in submodules.

    Args:
        namespace: the package's ``globals()``.
        names: public name -> module that defines it.
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> object:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
