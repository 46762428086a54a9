"""The beam scan of a batch of channels: Set A's RSRP, the wide Set B's, and Set B as a mask.

Shared by the static data sets (:mod:`beamsim.simulation.generate`) and the tracks of moving
UEs (:mod:`beamsim.simulation.tracks`): the same codebooks, precoders and Set B layouts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from beamsim.scenarios import Scenario
from beamsim.scenarios.beams import subset_mask, wide_tiling
from beamsim.simulation.codebook import bs_codebook, dft_codebook, orthogonal_codebook, wide_codebook
from beamsim.simulation.measure import beam_rsrp, draw_masks, pair_rsrp

__all__ = ["set_a_measurement", "set_b_mask"]


def set_a_measurement(scenario: Scenario, device: torch.device) -> Callable:
    """``measure(a) -> (Set A RSRP [n, rows, cols], wide Set B RSRP [n, kr, kc] or None)`` [dBm]."""
    p = scenario.measurement.tx_power_dbm
    rows, cols = scenario.set_a_shape
    if scenario.side == "ue":
        cb, arr = scenario.codebook, scenario.ue_array
        codebook = dft_codebook(arr.num_rows, arr.num_cols, cb.oversampling, cb.num_el, cb.num_az, device=device)
        return lambda a: (beam_rsrp(a, codebook, p).reshape(-1, rows, cols), None)
    bs, ue = scenario.bs_array, scenario.ue_array
    tx = bs_codebook(bs.num_rows, bs.num_cols, device=device)
    rx = (orthogonal_codebook(ue.num_rows, ue.num_cols, device=device) if scenario.side == "pair"
          else torch.ones(1, 1, dtype=torch.complex64, device=device))  # side = "bs": one UE antenna
    wide = None
    if scenario.beams.set_b == "wide":
        k = scenario.beams.set_b_size
        wide, tiling = wide_codebook(bs.num_rows, bs.num_cols, k, device=device), wide_tiling(rows, cols, k)

    def measure(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        set_a = pair_rsrp(a, tx, rx, p).reshape(-1, rows, cols)
        return set_a, None if wide is None else pair_rsrp(a, wide, rx, p).reshape(-1, *tiling)

    return measure


def set_b_mask(scenario: Scenario, n: int, generator: torch.Generator) -> torch.Tensor:
    """Set B as a mask over Set A: [n, rows, cols] bool (``[mask]`` for the UE side, else the lattice)."""
    rows, cols = scenario.set_a_shape
    if scenario.side == "ue":
        return draw_masks(n, rows, cols, scenario.mask.kind, scenario.mask.measured_fraction, generator)
    mask = torch.from_numpy(subset_mask(rows, cols, scenario.beams.set_b_size))
    return mask.expand(n, rows, cols).clone()
