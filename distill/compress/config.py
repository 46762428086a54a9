"""Settings of the patch-wise post-training compressor (:class:`~.compressor.PatchCompressor`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from beamsim import tomlio
from beamsim.distill.compress.patches import default_bits, patch_size

__all__ = ["CompressConfig"]


def _positive_int(name: str, value: object, hint: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, not {value!r}; {hint}")


@dataclass(frozen=True)
class CompressConfig:
    """How to compress a finished synthetic set.

    Attributes:
        bits: bits per code, 1..8; None picks 4 for maps up to 16 x 16 (beam maps: 2-bit codes
            lose the sub-dB differences the task turns on) and the paper's 2 otherwise
            (:func:`~.patches.default_bits`, applied by :meth:`resolve`).
        patch: patch size ``ph`` or ``(ph, pw)``; None picks 2 x 2 for maps up to 16 x 16
            (beam maps) and 5 x 5 otherwise (the paper's, for 32 x 32 images).
        groups: number of (scale, zero point) groups, or ``"auto"`` for the largest that fits
            the budget (one per patch, i.e. PAQ, when that fits).
        entropy: range-code the codes (else they are packed at ``bits`` bits).
        budget_bytes: payload budget [bytes]; None means the float32 input set, ``N d 4``.
        refine: optimise the set before grouping so that features of its PAQ version match
            the original's.
        refine_steps: Adam steps of the refinement (each a full pass over the set).
        refine_lr: Adam learning rate of the refinement [input units].
        refine_model: feature network (a :mod:`beamsim.models` name), or ``"auto"``
            (``beamcnn`` for maps up to 16 x 16, ``convnet3`` otherwise).
        refine_batch: samples per forward pass in the refinement (memory only).
        constants_once: store elements that are constant across the set once, as float32.
        max_groups: largest ``G`` the automatic search tries below PAQ.
        kmeans_iterations: Lloyd iterations of the grouping.
        kmeans_points: k-means fits its centres on at most this many patches (then assigns
            all of them).
    """

    bits: int | None = None
    patch: int | tuple[int, int] | None = None
    groups: int | Literal["auto"] = "auto"
    entropy: bool = True
    budget_bytes: int | None = None
    refine: bool = True
    refine_steps: int = 20
    refine_lr: float = 1e-3
    refine_model: str = "auto"
    refine_batch: int = 256
    constants_once: bool = True
    max_groups: int = 4096
    kmeans_iterations: int = 25
    kmeans_points: int = 16384

    def __post_init__(self) -> None:
        if self.bits is not None and (isinstance(self.bits, bool) or not isinstance(self.bits, int)
                                      or not 1 <= self.bits <= 8):
            raise ValueError(f"bits={self.bits!r} is outside 1..8; choose a bit width from 1 to 8 (e.g. --bits 2)")
        if self.patch is not None:
            object.__setattr__(self, "patch", patch_size(self.patch))
        if self.groups != "auto":
            _positive_int("groups", self.groups, "use --groups auto or a count such as --groups 64")
        if self.budget_bytes is not None:
            _positive_int("budget_bytes", self.budget_bytes, "give a byte count such as --budget-bytes 100000")
        for name in ("refine_steps", "refine_batch", "max_groups", "kmeans_points"):
            _positive_int(name, getattr(self, name), f"set {name} to 1 or more")
        if isinstance(self.kmeans_iterations, bool) or not isinstance(self.kmeans_iterations, int) \
                or self.kmeans_iterations < 0:
            raise ValueError(f"kmeans_iterations must be >= 0, not {self.kmeans_iterations!r}")
        if not self.refine_lr > 0:
            raise ValueError(f"refine_lr must be positive, not {self.refine_lr!r}; try 1e-3")
        for name in ("entropy", "refine", "constants_once"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")

    def resolve(self, height: int, width: int) -> "CompressConfig":
        """The settings for ``height x width`` samples, with ``bits`` chosen when it is None.

        >>> CompressConfig().resolve(8, 8).bits, CompressConfig().resolve(32, 32).bits, CompressConfig(bits=3).resolve(8, 8).bits
        (4, 2, 3)
        """
        return self if self.bits is not None else replace(self, bits=default_bits(height, width))

    def as_dict(self) -> dict:
        """Plain values for TOML (tuples as lists, None dropped)."""
        return tomlio.plain_fields(self)
