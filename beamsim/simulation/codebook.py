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

The BS beams (Set A of ``side = "bs"``/``"pair"``) come from Sionna's 2x oversampled grid
of the ``N_v x N_h`` BS array (:func:`bs_codebook`), ``N_v x N_h`` beams: in azimuth the
``N_h`` orthogonal beams symmetric about boresight (odd DFT indices m_h = 2c - (N_h - 1)), in
elevation ``N_v`` beams half a beam width apart from one step above boresight downward
(m_v = r - max(N_v // 2 - 1, 0)), since the UEs of a sector lie at and below the
downtilted boresight. Beam (r, c) points to

    sin(elevation)              = -m_v / (2 d N_v)
    cos(elevation) sin(azimuth) =  m_h / (2 d N_h)

For the 4 x 8 BS array (d = 0.5): elevations +14.5, 0, -14.5, -30.0 deg (r = 0..3) and
azimuth sines -0.875, -0.625, ..., +0.875 (about -61, -39, -22, -7, +7, +22, +39, +61 deg at
zero elevation). A transmit beam t is sent with precoder conj(c_t), so it points where the
combiner c_t would. The UE's receive beams of a Tx-Rx pair are the orthogonal grid of its
array (:func:`orthogonal_codebook`: odd indices in both directions, symmetric about
boresight). :func:`wide_codebook` gives Set B's wide beams (:mod:`beamsim.scenarios.beams`).
"""

from __future__ import annotations

import math

import torch

__all__ = ["dft_codebook", "beam_directions", "bs_codebook", "orthogonal_codebook", "grid_directions",
           "wide_codebook"]


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


def _bs_indices(num_rows: int, num_cols: int) -> tuple[list[int], list[int]]:
    """DFT indices (m_v, m_h) of the BS beams on the 2x oversampled grid (module docstring)."""
    return ([r - max(num_rows // 2 - 1, 0) for r in range(num_rows)],
            [2 * c - (num_cols - 1) for c in range(num_cols)])


def _orthogonal_indices(num_rows: int, num_cols: int) -> tuple[list[int], list[int]]:
    return [2 * r - (num_rows - 1) for r in range(num_rows)], [2 * c - (num_cols - 1) for c in range(num_cols)]


def _grid(num_rows: int, num_cols: int, m_v: list[int], m_h: list[int], device) -> torch.Tensor:
    from sionna.phy.mimo import grid_of_beams_dft

    grid = grid_of_beams_dft(num_rows, num_cols, 2, 2, precision="single", device="cpu")
    kept = grid[[m % (2 * num_rows) for m in m_v]][:, [m % (2 * num_cols) for m in m_h]]
    return kept.reshape(len(m_v) * len(m_h), num_rows * num_cols).to(device=device, dtype=torch.complex64)


def bs_codebook(num_rows: int, num_cols: int, device: torch.device | str | None = "cpu") -> torch.Tensor:
    """The BS beams of an ``num_rows x num_cols`` array (see the module docstring).

    Returns:
        [num_rows * num_cols, num_rows * num_cols] complex64, unit-norm rows; row
        r * num_cols + c is beam (r, c), row 0 the highest.
    """
    return _grid(num_rows, num_cols, *_bs_indices(num_rows, num_cols), device)


def orthogonal_codebook(num_rows: int, num_cols: int, device: torch.device | str | None = "cpu") -> torch.Tensor:
    """The orthogonal DFT grid of an ``num_rows x num_cols`` array: the UE's receive beams of a pair.

    Returns:
        [num_rows * num_cols, num_rows * num_cols] complex64, unit-norm, mutually orthogonal
        rows; row r * num_cols + c is beam (r, c), row 0 the highest.
    """
    return _grid(num_rows, num_cols, *_orthogonal_indices(num_rows, num_cols), device)


def grid_directions(num_rows: int, num_cols: int, spacing: float = 0.5, kind: str = "bs") -> torch.Tensor:
    """Pointing direction of each beam of :func:`bs_codebook` (``kind="bs"``) or
    :func:`orthogonal_codebook` (``kind="orthogonal"``).

    Returns:
        [num_rows * num_cols, 2] float64: (azimuth, elevation) [deg]; NaN azimuth where the
        beam's sines point outside the visible region.
    """
    m_v, m_h = (_bs_indices if kind == "bs" else _orthogonal_indices)(num_rows, num_cols)
    out = torch.empty(num_rows * num_cols, 2, dtype=torch.float64)
    for r, mv in enumerate(m_v):
        el = math.asin(max(-1.0, min(1.0, -mv / (2 * spacing * num_rows))))
        for c, mh in enumerate(m_h):
            sin_az = mh / (2 * spacing * num_cols) / math.cos(el)
            az = math.degrees(math.asin(sin_az)) if abs(sin_az) <= 1 else float("nan")
            out[r * num_cols + c] = torch.tensor([az, math.degrees(el)])
    return out


def wide_codebook(num_rows: int, num_cols: int, k: int, device: torch.device | str | None = "cpu") -> torch.Tensor:
    """Set B's ``k`` wide beams over the BS beams of an ``num_rows x num_cols`` array.

    The beams tile Set A in ``kr x kc`` blocks of ``br x bc`` narrow beams
    (:func:`beamsim.scenarios.beams.wide_tiling`). Wide beam (i, j) is the DFT beam of the
    ``kr x kc`` sub-array (the first rows and columns), steered to the mean DFT index of its
    block's narrow beams: about ``br`` times wider than a narrow beam in elevation and ``bc``
    times in azimuth, so the K beams cover the directions the narrow ones do.

    Returns:
        [k, num_rows * num_cols] complex64, unit norm, zero outside the sub-array; same element
        order and sign convention as :func:`bs_codebook` (blocks of one beam give exactly the
        narrow beams).
    """
    from beamsim.scenarios.beams import wide_tiling

    kr, kc = wide_tiling(num_rows, num_cols, k)
    m_v, m_h = (torch.tensor(m, dtype=torch.float64) for m in _bs_indices(num_rows, num_cols))
    nu_v = m_v.view(kr, num_rows // kr).mean(dim=1) / (2 * num_rows)  # cycles per element, per block row
    nu_h = m_h.view(kc, num_cols // kc).mean(dim=1) / (2 * num_cols)
    rows = torch.arange(kr, dtype=torch.float64).view(-1, 1)
    cols = torch.arange(kc, dtype=torch.float64).view(1, -1)
    out = torch.zeros(kr, kc, num_cols, num_rows, dtype=torch.complex128)  # element index = row + col * num_rows
    for i in range(kr):
        for j in range(kc):
            phase = 2 * math.pi * (rows * nu_v[i] + cols * nu_h[j])  # [kr, kc]
            out[i, j, :kc, :kr] = torch.polar(torch.ones_like(phase), phase).T / math.sqrt(kr * kc)
    return out.reshape(k, num_rows * num_cols).to(device=device, dtype=torch.complex64)
