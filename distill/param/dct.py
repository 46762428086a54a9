"""The orthonormal 2-D DCT-II over the last two dimensions: pure functions, no state.

``dct2(x) = D_H x D_W^T`` and ``idct2(X) = D_H^T X D_W`` with :func:`dct_matrix` ``D_n``, the
orthonormal DCT-II matrix (``D D^T = I``), so the transform keeps energy and ``idct2`` inverts
``dct2`` to rounding. FreD (:mod:`.fred`) keeps a few of these coefficients per channel.

>>> x = torch.arange(12, dtype=torch.float64).view(1, 3, 4)
>>> bool(torch.allclose(idct2(dct2(x)), x, atol=1e-12))
True
>>> round(float(dct2(torch.ones(4, 4, dtype=torch.float64))[0, 0]), 12)   # all energy in DC: 4 = sqrt(16)
4.0
"""

from __future__ import annotations

import functools
import math

import torch

__all__ = ["dct_matrix", "dct2", "idct2"]


@functools.lru_cache(maxsize=64)
def _matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The cached DCT-II matrix (built in float64 on the CPU, then cast and moved); never
    handed out without a copy by :func:`dct_matrix`."""
    k = torch.arange(n, dtype=torch.float64).view(-1, 1)
    i = torch.arange(n, dtype=torch.float64).view(1, -1)
    matrix = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    matrix[0] = math.sqrt(1.0 / n)
    return matrix.to(dtype=dtype, device=device)


def _checked_size(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"a DCT size must be a positive integer, not {n!r}")
    return n


def dct_matrix(n: int, *, dtype: torch.dtype = torch.float64,
               device: str | torch.device | None = None) -> torch.Tensor:
    """The orthonormal DCT-II matrix ``D`` [n, n]: ``D[k, i] = s_k cos(pi (2i + 1) k / (2n))``
    with ``s_0 = sqrt(1/n)`` and ``s_k = sqrt(2/n)``, so ``D @ D.T = I``.

    Args:
        n: the transform length (a positive integer).
        dtype: a float dtype of the result.
        device: where the result lives (None: the CPU).

    Returns:
        [n, n] ``dtype`` tensor (a fresh copy: editing it does not touch the cache).

    Raises:
        ValueError: ``n`` is not a positive integer.

    >>> d = dct_matrix(3)
    >>> bool(torch.allclose(d @ d.T, torch.eye(3, dtype=torch.float64), atol=1e-15))
    True
    >>> [round(v, 6) for v in dct_matrix(2)[1].tolist()]
    [0.707107, -0.707107]
    """
    return _matrix(_checked_size(n), dtype, torch.device(device or "cpu")).clone()


def _pair(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The DCT matrices of ``x``'s last two sizes, in its dtype and on its device."""
    if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 2:
        raise ValueError(f"the 2-D DCT needs a float tensor [..., H, W], got {getattr(x, 'dtype', type(x))} "
                         f"of shape {list(getattr(x, 'shape', []))}")
    h, w = int(x.shape[-2]), int(x.shape[-1])
    return _matrix(_checked_size(h), x.dtype, x.device), _matrix(_checked_size(w), x.dtype, x.device)


def dct2(x: torch.Tensor) -> torch.Tensor:
    """The orthonormal 2-D DCT-II of ``x`` over its last two dimensions.

    Args:
        x: [..., H, W] float tensor (any float dtype; computed in that dtype, on its device).

    Returns:
        [..., H, W] coefficients, same dtype; ``[..., 0, 0]`` is the DC term (``sqrt(H W)``
        times the mean). Differentiable.

    Raises:
        ValueError: ``x`` is not a float tensor of at least two dimensions.
    """
    rows, cols = _pair(x)
    return rows @ x @ cols.T


def idct2(coefficients: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`dct2` (the orthonormal 2-D DCT-III) over the last two dimensions.

    Args:
        coefficients: [..., H, W] float tensor (any float dtype; computed in that dtype).

    Returns:
        [..., H, W] samples, same dtype. Differentiable.

    Raises:
        ValueError: ``coefficients`` is not a float tensor of at least two dimensions.
    """
    rows, cols = _pair(coefficients)
    return rows.T @ coefficients @ cols
