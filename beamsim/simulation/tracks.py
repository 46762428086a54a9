"""Moving UEs (3GPP BM-Case2): simulate tracks and write a sequence file.

A scenario with a ``[trajectory]`` table gives, per sample, one UE's straight track of ``T``
instants (:class:`beamsim.scenarios.TrajectorySettings`); the back-end returns the channels of
every instant (tracks x instants rows), and the same beam scan as a static data set
(:mod:`beamsim.simulation.scan`) gives Set A's RSRP at every instant, Set B's mask (fixed along
the track) or wide beams, and the label per horizon: the best Set A beam at instant
``history - 1 + h``. Batch ``k`` draws everything from ``derive_seed(seed, "batch", k)``, so
shards are independent and deterministic, as for static data sets.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from beamsim.config import resolve_device
from beamsim.scenarios import Scenario
from beamsim.sequences import SequenceArrays, beam_change_rate
from beamsim.simulation.generate import GenerationStats, run_batches, summary
from beamsim.simulation.measure import apply_measurement
from beamsim.simulation.scan import set_a_measurement, set_b_mask

__all__ = ["simulate_tracks", "track_attrs", "track_summary"]


def simulate_tracks(scenario: Scenario, seed: int, device: torch.device | str | None = None,
                    shard: tuple[int, int] | None = None,
                    progress: Callable[[int], None] | None = None) -> tuple[SequenceArrays, GenerationStats]:
    """Simulate the tracks of ``scenario`` (or of one shard of it) in memory.

    Returns:
        (arrays with ``split`` all zero, stats). Rows are tracks in global order.
    """
    traj, meas = scenario.trajectory, scenario.measurement
    measure = set_a_measurement(scenario, resolve_device(device))
    rows, cols = scenario.set_a_shape
    picks = [traj.history - 1 + h for h in traj.horizons]
    noisy = meas.noise_std_db > 0 or meas.report_step_db > 0

    def part(channels, n: int, gen: torch.Generator) -> SequenceArrays:
        t = channels.instants
        true, wide = measure(channels.a)
        true = true.cpu().reshape(-1, t, rows, cols)[:n]
        if wide is not None:
            wide = wide.cpu().reshape(-1, t, *wide.shape[1:])[:n]
            wide = apply_measurement(wide, meas.noise_std_db, meas.report_step_db, gen) if noisy else wide
            mask = torch.zeros(n, rows, cols, dtype=torch.bool)
        else:
            mask = set_b_mask(scenario, n, gen)
        return SequenceArrays(
            rsrp=true.numpy(),
            mask=mask.numpy(),
            label=true.flatten(2).argmax(dim=2)[:, picks].numpy().astype(np.int16),
            ue_pos=channels.ue_pos.cpu().reshape(-1, t, 3)[:n].numpy().astype(np.float32),
            los=channels.los.cpu().reshape(-1, t)[:n].numpy().astype(bool),
            speed=channels.speed[:n].cpu().numpy().astype(np.float32),
            heading=channels.heading[:n].cpu().numpy().astype(np.float32),
            split=np.zeros(n, dtype=np.uint8),
            rsrp_setb=None if wide is None else wide.numpy(),
        )

    parts, stats = run_batches(scenario, seed, device, shard, progress, part)
    return SequenceArrays.concatenate(parts), stats


def track_attrs(scenario: Scenario) -> dict:
    """The sequence attributes: ``period_ms``, ``history``, ``horizons``, ``speeds_kmh``."""
    traj = scenario.trajectory
    return {"period_ms": float(traj.period_ms), "history": int(traj.history),
            "horizons": np.array(traj.horizons, dtype=np.int64), "speeds_kmh": np.array(traj.speeds_kmh)}


def track_summary(path, arrays: SequenceArrays, stats: GenerationStats | None = None) -> dict:
    """A JSON-ready description of a sequence file: sizes, classes of the first horizon, LoS
    share and the beam-change rate (share of consecutive instants whose best beam changes) per speed."""
    beams = int(np.prod(arrays.rsrp.shape[2:]))
    doc = summary(path, arrays, stats, counts=np.bincount(arrays.label[:, 0].astype(np.int64), minlength=beams))
    change = beam_change_rate(arrays.rsrp)
    kmh = np.round(arrays.speed * 3.6, 1)
    doc["instants"] = int(arrays.rsrp.shape[1])
    doc["beam_change_rate_by_kmh"] = {f"{v:g}": round(float(change[kmh == v].mean()), 4) for v in np.unique(kmh)}
    return doc
