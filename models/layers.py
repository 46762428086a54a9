"""Building blocks shared by the networks: normalisation by name and size-aware pooling."""

from __future__ import annotations

from typing import Literal

from torch import nn

__all__ = ["Norm", "make_norm", "pool_or_identity"]

Norm = Literal["instance", "batch", "none"]


def make_norm(kind: Norm, channels: int) -> nn.Module:
    """A normalisation layer over ``channels`` feature maps.

    ``instance`` is instance norm with a learnable affine, written as
    ``GroupNorm(channels, channels)`` as in the dataset-distillation code (it has no running
    statistics, so a model behaves the same in train and eval mode); ``batch`` is
    ``BatchNorm2d``; ``none`` is the identity.
    """
    if kind == "instance":
        return nn.GroupNorm(channels, channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}: use 'instance', 'batch' or 'none'")


def pool_or_identity(pool: nn.Module, size: tuple[int, int]) -> tuple[nn.Module, tuple[int, int]]:
    """The 2x2 pooling ``pool`` if the feature map is still at least 2 x 2, else the identity.

    This lets one architecture serve 32 x 32 images and 8 x 8 beam maps: once a map is down
    to 1 pixel in either direction, the remaining pooling stages are skipped. Returns the
    layer and the feature-map size after it.
    """
    h, w = size
    if h >= 2 and w >= 2:
        return pool, (h // 2, w // 2)
    return nn.Identity(), size
