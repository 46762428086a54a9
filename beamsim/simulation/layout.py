"""The attributes that describe Set A and Set B in a data-set file of format version 2.

A BS-side or Tx-Rx pair data set (``beams.side = "bs"``/``"pair"``) is written as format
version 2: the arrays of version 1 (``/rsrp`` is the true RSRP of Set A, ``/mask`` marks the
Set A beams a subset Set B measures) plus, for wide beams, ``/rsrp_setb`` (the reported RSRP
of the wide beams), and these attributes:

| attribute | type | meaning |
|---|---|---|
| `side` | str | `bs` or `pair` |
| `set_b` | str | `subset` or `wide` |
| `set_b_size` | int | beams in Set B |
| `set_a_shape` | int [2] | (rows, cols) of Set A; beam index `r * cols + c` |
| `tx_directions` | float32 [T, 2] | (azimuth, elevation) [deg] of each BS beam, BS frame |
| `rx_directions` | float32 [R, 2] | the same for the UE's receive beams (`pair` only) |
| `set_b_indices` | int16 [size] | the Set A beams Set B measures (`subset` only) |
| `set_b_shape` | int [2] | (kr, kc) layout of the wide beams (`wide` only) |
| `set_b_directions` | float32 [K, 2] | direction of each wide beam (`wide` only) |
| `set_b_blocks` | int16 [rows * cols] | the wide beam covering each Set A beam (`wide` only) |
| `set_b_centres` | int16 [K] | the Set A beam at each wide beam's centre (`wide` only) |

Files of the UE side keep format version 1 and none of these attributes, byte for byte.
"""

from __future__ import annotations

import numpy as np

from beamsim.scenarios import Scenario
from beamsim.scenarios.beams import subset_mask, wide_blocks, wide_centres, wide_tiling
from beamsim.simulation.codebook import grid_directions

__all__ = ["SET_B_FORMAT_VERSION", "set_b_attrs", "wide_directions"]

#: The data-set format version of BS-side and Tx-Rx pair files.
SET_B_FORMAT_VERSION = 2


def wide_directions(num_rows: int, num_cols: int, k: int, spacing: float = 0.5) -> np.ndarray:
    """(azimuth, elevation) [deg] of each wide beam: the mean direction sines of its block.

    Returns:
        [k, 2] float32.
    """
    kr, kc = wide_tiling(num_rows, num_cols, k)
    narrow = grid_directions(num_rows, num_cols, spacing).numpy().reshape(num_rows, num_cols, 2)
    az, el = np.radians(narrow[..., 0]), np.radians(narrow[..., 1])
    sin_el = np.sin(el[:, 0]).reshape(kr, -1).mean(axis=1)
    u = (np.cos(el) * np.sin(az))[0].reshape(kc, -1).mean(axis=1)
    out = np.empty((kr, kc, 2))
    for i in range(kr):
        s = u / np.sqrt(1 - sin_el[i] ** 2)
        out[i, :, 0] = np.where(np.abs(s) <= 1, np.degrees(np.arcsin(np.clip(s, -1, 1))), np.nan)
        out[i, :, 1] = np.degrees(np.arcsin(sin_el[i]))
    return out.reshape(k, 2).astype(np.float32)


def set_b_attrs(scenario: Scenario) -> dict:
    """The version-2 attributes of a ``side = "bs"``/``"pair"`` scenario (see the module docstring)."""
    rows, cols = scenario.set_a_shape
    beams, bs, ue = scenario.beams, scenario.bs_array, scenario.ue_array
    attrs = {
        "format_version": SET_B_FORMAT_VERSION,
        "side": beams.side,
        "set_b": beams.set_b,
        "set_b_size": int(beams.set_b_size),
        "set_a_shape": np.array([rows, cols], dtype=np.int64),
        "tx_directions": grid_directions(bs.num_rows, bs.num_cols, bs.spacing).numpy().astype(np.float32),
    }
    if beams.side == "pair":
        attrs["rx_directions"] = grid_directions(ue.num_rows, ue.num_cols, ue.spacing, "orthogonal").numpy().astype(np.float32)
    k = int(beams.set_b_size)
    if beams.set_b == "subset":
        attrs["set_b_indices"] = np.flatnonzero(subset_mask(rows, cols, k)).astype(np.int16)
    else:
        attrs["set_b_shape"] = np.array(wide_tiling(rows, cols, k), dtype=np.int64)
        attrs["set_b_directions"] = wide_directions(bs.num_rows, bs.num_cols, k, bs.spacing)
        attrs["set_b_blocks"] = wide_blocks(rows, cols, k).astype(np.int16)
        attrs["set_b_centres"] = wide_centres(rows, cols, k).astype(np.int16)
    return attrs
