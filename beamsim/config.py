"""Device, seed and precision in one place.

Library functions take ``device=None`` and ``generator=None`` and fall back to the values
here; nothing in beamsim reseeds a global random number generator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = ["Config", "config", "resolve_device", "make_generator", "derive_seed"]

DeviceName = Literal["auto", "cpu", "cuda"]
PrecisionName = Literal["single", "double"]


@dataclass
class Config:
    """Process-wide defaults.

    Attributes:
        device: ``"auto"`` picks CUDA when available, else the CPU.
        seed: default seed for runs that are given none.
        precision: ``"single"`` (float32/complex64) or ``"double"``.
    """

    device: DeviceName = "auto"
    seed: int = 0
    precision: PrecisionName = "single"

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32 if self.precision == "single" else torch.float64


config = Config()


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | None`` into a ``torch.device``.

    Raises:
        ValueError: for an unknown name, or ``"cuda"`` without a CUDA device.
    """
    if isinstance(device, torch.device):
        return device
    name = config.device if device is None else device
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for but no CUDA device is available; use --device cpu or auto")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {name!r}: use auto, cpu or cuda")


def derive_seed(seed: int, *keys: object) -> int:
    """A 63-bit seed derived from ``seed`` and any keys, stable across runs and platforms.

    >>> derive_seed(1, "batch", 3) == derive_seed(1, "batch", 3)
    True
    >>> derive_seed(1, "batch", 3) == derive_seed(1, "batch", 4)
    False
    """
    text = "/".join([str(int(seed)), *map(str, keys)]).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def make_generator(seed: int | None = None, device: str | torch.device | None = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` seeded with ``seed`` (the config seed when None)."""
    gen = torch.Generator(device=resolve_device(device))
    gen.manual_seed(config.seed if seed is None else int(seed))
    return gen
