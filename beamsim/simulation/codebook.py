"""The UE beam codebook: 2-D DFT beams over a uniform planar array.

Sionna's :func:`sionna.phy.mimo.grid_of_beams_dft` gives the oversampled DFT grid
(``N_v O_v x N_h O_h`` beams, column-wise flattened over the array, which is Sionna's
``PanelArray`` element order: index = row + col * num_rows, row 0 on top). beamsim keeps the
central ``num_el x num_az`` beams around boresight.

Beam directions (array frame: boresight +x, rows along -z, columns along +y, half-wavelength
spacing d = 0.5). Beam (e, a), e = 0..num_el-1, a = 0..num_az-1, uses DFT indices
m_v = (e - num_el // 2) mod N_v O_v and m_h = (a - num_az // 2) mod N_h O_h and points to

    sin(elevation)              = (num_el // 2 - e) / (d N_v O_v)      (row 0 = highest beam)
    cos(elevation) sin(azimuth) = (a - num_az // 2) / (d N_h O_h)      (azimuth toward +y)

For the default 8x8 array, 2x oversampling and 8x8 beams: sin(el) = (4 - e)/8, i.e. elevations
+30.0, +22.0, +14.5, +7.2, 0, -7.2, -14.5, -22.0 deg from e = 0 to 7, and the same values
(reversed) for the azimuth sines from a = 7 down to 0. Beam index = e * num_az + a. A receive
combiner w_b is applied as w_b^H y.
"""

from __future__ import annotations

import math

import torch

__all__ = ["dft_codebook", "beam_directions"]


def dft_codebook(num_rows: int = 8, num_cols: int = 8, oversampling: int = 2, num_el: int = 8, num_az: int = 8,
                 device: torch.device | str | None = "cpu") -> torch.Tensor:
    """The combining vectors of the kept beams.

    Returns:
        [num_el * num_az, num_rows * num_cols] complex64, unit-norm rows; row e * num_az + a is
        beam (e, a) (see the module docstring for its direction).
    """
    from sionna.phy.mimo import grid_of_beams_dft

    if num_el > num_rows * oversampling or num_az > num_cols * oversampling:
        raise ValueError(f"cannot keep {num_el}x{num_az} beams from a {num_rows * oversampling}x"
                         f"{num_cols * oversampling} DFT grid; lower codebook.num_el/num_az")
    grid = grid_of_beams_dft(num_rows, num_cols, oversampling, oversampling, precision="single", device="cpu")
    m_v = [(e - num_el // 2) % (num_rows * oversampling) for e in range(num_el)]
    m_h = [(a - num_az // 2) % (num_cols * oversampling) for a in range(num_az)]
    kept = grid[m_v][:, m_h]  # [num_el, num_az, num_ant]
    return kept.reshape(num_el * num_az, num_rows * num_cols).to(device=device, dtype=torch.complex64)


def beam_directions(num_rows: int = 8, num_cols: int = 8, oversampling: int = 2, num_el: int = 8,
                    num_az: int = 8, spacing: float = 0.5) -> torch.Tensor:
    """Pointing direction of each kept beam in the array frame.

    Returns:
        [num_el * num_az, 2] float64: (azimuth, elevation) [deg].
    """
    out = torch.empty(num_el * num_az, 2, dtype=torch.float64)
    for e in range(num_el):
        sin_el = (num_el // 2 - e) / (spacing * num_rows * oversampling)
        el = math.asin(sin_el)
        for a in range(num_az):
            sin_az = (a - num_az // 2) / (spacing * num_cols * oversampling) / math.cos(el)
            out[e * num_az + a] = torch.tensor([math.degrees(math.asin(max(-1.0, min(1.0, sin_az)))), math.degrees(el)])
    return out
