"""Non-overlapping patches of a sample, and which of its elements are worth storing.

A sample ``[C, H, W]`` is cut into ``ceil(H / ph) x ceil(W / pw)`` patches of ``ph x pw``
pixels over all ``C`` channels (the paper's ``x_i`` in ``R^{h x w x C}``); where ``H`` or ``W``
is not a multiple of the patch, the last row/column of patches is smaller (edge patches).

Elements that hold the same value in every sample of the set (the 32 unobserved beams of a
fixed-mask beam map) are, as in the distilled container, stored once as float32 and left out
of the patches: they take no codes and widen no patch's range. A patch whose elements are all
constant disappears; the remaining ``P`` patches are numbered ``0 .. P-1`` in raster order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["PatchLayout", "default_bits", "default_patch", "patch_size"]


def patch_size(patch: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``(ph, pw)`` from an int or a pair.

    >>> patch_size(5), patch_size((2, 4))
    ((5, 5), (2, 4))

    Raises:
        ValueError: a size below 1 or not an integer.
    """
    pair = (patch, patch) if isinstance(patch, int) and not isinstance(patch, bool) else tuple(patch)
    if len(pair) != 2 or any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in pair):
        raise ValueError(f"patch must be a positive integer or a pair of them (e.g. --patch 2), not {patch!r}")
    return int(pair[0]), int(pair[1])


def default_patch(height: int, width: int) -> tuple[int, int]:
    """The paper's 5 x 5 for images; 2 x 2 for small maps (an 8 x 8 beam map has 16 patches).

    >>> default_patch(32, 32), default_patch(8, 8)
    ((5, 5), (2, 2))
    """
    return (2, 2) if max(height, width) <= 16 else (5, 5)


def default_bits(height: int, width: int) -> int:
    """Bits per code when none are given: the paper's 2 for images, 4 for small maps.

    On 8 x 8 beam maps 2-bit codes lose the sub-dB differences the best-beam task turns on:
    at the same bytes the budget search scored 65.3 % with 2-bit codes and 78.6 % with 4-bit
    codes (README, "Patch-wise compression").

    >>> default_bits(32, 32), default_bits(8, 8)
    (2, 4)
    """
    return 4 if max(height, width) <= 16 else 2


@dataclass(frozen=True)
class PatchLayout:
    """Where each stored element of a sample goes.

    Attributes:
        shape: sample shape ``(C, H, W)``.
        patch: ``(ph, pw)`` pixels per patch.
        constant: [C, H, W] bool, True for elements stored once for the whole set.
        constant_values: [k] float32 values of the constant elements (row-major order).
        patch_of: [V] int64, the patch (``0 .. num_patches - 1``) of each of the ``V`` varying
            elements, in row-major order.
        num_patches: ``P``, patches with at least one varying element.
    """

    shape: tuple[int, int, int]
    patch: tuple[int, int]
    constant: torch.Tensor
    constant_values: torch.Tensor
    patch_of: torch.Tensor
    num_patches: int

    @classmethod
    def build(cls, x: torch.Tensor, patch: int | tuple[int, int] | None = None,
              constants_once: bool = True) -> "PatchLayout":
        """The layout for the set ``x``.

        Args:
            x: [N, C, H, W] float set.
            patch: patch size; None picks :func:`default_patch`.
            constants_once: find elements constant across the set (else none are).

        Raises:
            ValueError: ``x`` is not a non-empty 4-D float tensor, or a bad patch size.
        """
        if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim != 4 or x.shape[0] < 1:
            shape = list(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ValueError(f"x must be a float tensor [N, C, H, W] with N >= 1 (beam maps [N, 1, 8, 8]), got {shape}")
        c, h, w = (int(s) for s in x.shape[1:])
        ph, pw = default_patch(h, w) if patch is None else patch_size(patch)
        x = x.detach().cpu()
        if constants_once:
            constant = (x == x[:1]).all(dim=0)
        else:
            constant = torch.zeros((c, h, w), dtype=torch.bool)
        constant_values = x[0][constant].float().clone()
        return cls.from_mask((c, h, w), (ph, pw), constant, constant_values)

    @classmethod
    def from_mask(cls, shape: tuple[int, int, int], patch: tuple[int, int], constant: torch.Tensor,
                  constant_values: torch.Tensor) -> "PatchLayout":
        """Rebuild a layout from its stored parts (the file's attributes and arrays).

        Raises:
            ValueError: a mask of the wrong shape or a value count that does not match it.
        """
        c, h, w = shape
        ph, pw = patch_size(tuple(patch))
        constant = torch.as_tensor(constant, dtype=torch.bool).cpu()
        if tuple(constant.shape) != (c, h, w):
            raise ValueError(f"constant mask must have shape {[c, h, w]}, got {list(constant.shape)}")
        constant_values = torch.as_tensor(constant_values, dtype=torch.float32).cpu().reshape(-1)
        if constant_values.numel() != int(constant.sum()):
            raise ValueError(f"{int(constant.sum())} constant elements need as many values, got {constant_values.numel()}")
        rows = torch.arange(h) // ph
        cols = torch.arange(w) // pw
        grid = (rows[:, None] * (-(-w // pw)) + cols[None, :]).expand(c, h, w).reshape(-1)
        varying_grid = grid[~constant.reshape(-1)]
        used, patch_of = torch.unique(varying_grid, return_inverse=True)
        return cls(shape=(c, h, w), patch=(ph, pw), constant=constant, constant_values=constant_values,
                   patch_of=patch_of.reshape(-1).long(), num_patches=int(used.numel()))

    @property
    def elements(self) -> int:
        """``d = C H W``, elements per sample."""
        c, h, w = self.shape
        return c * h * w

    @property
    def varying(self) -> int:
        """``V``, elements per sample that are coded."""
        return int(self.patch_of.numel())

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] -> [N, V], the varying elements in row-major order."""
        return x.reshape(x.shape[0], -1)[:, ~self.constant.reshape(-1).to(x.device)]

    def merge(self, values: torch.Tensor) -> torch.Tensor:
        """[N, V] float32 -> [N, C, H, W] float32, constant elements filled in."""
        n = values.shape[0]
        flat = torch.empty((n, self.elements), dtype=values.dtype, device=values.device)
        mask = self.constant.reshape(-1).to(values.device)
        flat[:, ~mask] = values
        if bool(mask.any()):
            flat[:, mask] = self.constant_values.to(values.device, values.dtype)
        return flat.reshape(n, *self.shape)

    def patch_ranges(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-patch minimum and maximum of [N, V] values: two [N, P] tensors."""
        n = values.shape[0]
        index = self.patch_of.to(values.device).expand(n, -1)
        lo = torch.full((n, self.num_patches), float("inf"), dtype=values.dtype, device=values.device)
        hi = torch.full_like(lo, float("-inf"))
        lo = lo.scatter_reduce(1, index, values, reduce="amin", include_self=True)
        hi = hi.scatter_reduce(1, index, values, reduce="amax", include_self=True)
        return lo, hi
