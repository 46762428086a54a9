"""Set A and Set B of a scenario (3GPP TR 38.843 BM-Case1): which beams exist, which are measured.

Set A is a grid of ``rows x cols`` beams (beam index ``r * cols + c``, row-major): the UE's
8 x 8 DFT beams (``side = "ue"``), the BS's transmit beams (``side = "bs"``: one beam per BS
array element, ``bs_array.num_rows x bs_array.num_cols``), or Tx-Rx beam pairs
(``side = "pair"``: rows = the BS beams in their own order, cols = the UE's receive beams). The
label is the strongest beam of Set A. Set B is what the UE measures instead:

- ``subset``: a fixed lattice of Set A. For ``size = rows * cols / s`` the strides ``(sr, sc)``
  with ``sr * sc = s``, ``sr`` dividing ``rows`` and ``sc`` dividing ``cols``, are the most
  balanced pair (smallest ``max(sr, sc)``, then smallest ``sr``); Set B = the beams ``(r, c)``
  with ``r % sr == 0`` and ``c % sc == 0``. For the 4 x 8 BS grid: 16 beams -> strides (1, 2),
  columns 0, 2, 4, 6; 8 beams -> (2, 2), rows 0 and 2 x columns 0, 2, 4, 6; 4 beams -> (2, 4).
- ``wide``: K wide beams tile Set A in ``kr x kc`` blocks of ``rows/kr x cols/kc`` narrow beams,
  the tiling chosen as the most square blocks (smallest ``max(br, bc) / min(br, bc)``, then the
  smallest ``kr``). Wide beam ``i * kc + j`` covers block ``(i, j)``; its centre beam (the
  trivial reference's pick) is the block's beam ``((br - 1) // 2, (bc - 1) // 2)``. For the
  4 x 8 grid and K = 8: 2 x 4 blocks of 2 x 2 beams. How the wide beams are formed is in
  :func:`beamsim.simulation.codebook.wide_codebook`.

Pure functions of integers (numpy only), so that a scenario is checked when it loads.
"""

from __future__ import annotations

import numpy as np

__all__ = ["subset_strides", "subset_mask", "wide_tiling", "wide_blocks", "wide_centres"]


def _factor_pairs(n: int) -> list[tuple[int, int]]:
    return [(a, n // a) for a in range(1, n + 1) if n % a == 0]


def subset_strides(rows: int, cols: int, size: int) -> tuple[int, int]:
    """The lattice strides of a Set B of ``size`` beams in a ``rows x cols`` Set A.

    >>> subset_strides(4, 8, 8)
    (2, 2)
    >>> subset_strides(4, 8, 16)
    (1, 2)
    >>> subset_strides(32, 4, 32)
    (2, 2)

    Raises:
        ValueError: ``size`` does not divide Set A, or no lattice of that size fits the grid.
    """
    total = rows * cols
    if size < 1 or total % size:
        raise ValueError(f"a Set B subset of {size} beams does not divide Set A ({rows} x {cols} = {total} "
                         f"beams); use a divisor such as {total // 2}, {total // 4} or {total // 8}")
    fits = [(sr, sc) for sr, sc in _factor_pairs(total // size) if rows % sr == 0 and cols % sc == 0]
    if not fits:
        raise ValueError(f"no lattice of {size} beams fits the {rows} x {cols} Set A grid; choose another size")
    return min(fits, key=lambda p: (max(p), p[0]))


def subset_mask(rows: int, cols: int, size: int) -> np.ndarray:
    """The Set B of ``size`` beams: [rows, cols] bool, True = measured.

    >>> subset_mask(2, 4, 4).astype(int)
    array([[1, 0, 1, 0],
           [1, 0, 1, 0]])
    """
    sr, sc = subset_strides(rows, cols, size)
    r = np.arange(rows).reshape(-1, 1)
    c = np.arange(cols).reshape(1, -1)
    return (r % sr == 0) & (c % sc == 0)


def wide_tiling(rows: int, cols: int, k: int) -> tuple[int, int]:
    """``(kr, kc)``: how K wide beams tile a ``rows x cols`` Set A.

    >>> wide_tiling(4, 8, 8)
    (2, 4)
    >>> wide_tiling(4, 8, 4)
    (2, 2)

    Raises:
        ValueError: K is not positive, exceeds Set A, or no ``kr x kc`` tiling fits the grid.
    """
    if k < 1 or k > rows * cols:
        raise ValueError(f"{k} wide beams for a Set A of {rows} x {cols} beams: use 1 to {rows * cols}")
    fits = [(kr, kc) for kr, kc in _factor_pairs(k) if rows % kr == 0 and cols % kc == 0]
    if not fits:
        raise ValueError(f"{k} wide beams cannot tile the {rows} x {cols} Set A grid in equal blocks; "
                         f"use a product of a divisor of {rows} and a divisor of {cols}")

    def squareness(p: tuple[int, int]) -> tuple[float, int]:
        br, bc = rows // p[0], cols // p[1]
        return max(br, bc) / min(br, bc), p[0]

    return min(fits, key=squareness)


def wide_blocks(rows: int, cols: int, k: int) -> np.ndarray:
    """The wide beam that covers each Set A beam: [rows * cols] int64 in [0, K).

    >>> wide_blocks(2, 4, 2).tolist()
    [0, 0, 1, 1, 0, 0, 1, 1]
    """
    kr, kc = wide_tiling(rows, cols, k)
    br, bc = rows // kr, cols // kc
    r = np.arange(rows).reshape(-1, 1) // br
    c = np.arange(cols).reshape(1, -1) // bc
    return (r * kc + c).reshape(-1).astype(np.int64)


def wide_centres(rows: int, cols: int, k: int) -> np.ndarray:
    """The Set A beam at the centre of each wide beam: [K] int64 (row-major Set A indices).

    >>> wide_centres(4, 8, 8).tolist()
    [0, 2, 4, 6, 16, 18, 20, 22]
    """
    kr, kc = wide_tiling(rows, cols, k)
    br, bc = rows // kr, cols // kc
    i, j = np.divmod(np.arange(k), kc)
    return ((i * br + (br - 1) // 2) * cols + j * bc + (bc - 1) // 2).astype(np.int64)
