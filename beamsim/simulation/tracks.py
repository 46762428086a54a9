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

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from beamsim.config import derive_seed, resolve_device
from beamsim.scenarios import Scenario
from beamsim.sequences import SequenceArrays, beam_change_rate
from beamsim.simulation.backends import make_backend
from beamsim.simulation.generate import GenerationStats, batch_range
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
    device = resolve_device(device)
    traj, meas = scenario.trajectory, scenario.measurement
    total = scenario.dataset.samples
    backend = make_backend(scenario, device)
    bsz = backend.batch_size
    num_batches = math.ceil(total / bsz)
    first, last = batch_range(num_batches, shard)
    measure = set_a_measurement(scenario, device)
    rows, cols = scenario.set_a_shape
    picks = [traj.history - 1 + h for h in traj.horizons]
    parts: list[SequenceArrays] = []
    stats = GenerationStats(batch_range=(first, last))
    start = time.perf_counter()
    for k in range(first, last):
        n = min(bsz, total - k * bsz)
        channels = backend.sample(derive_seed(seed, "batch", k))
        stats.seconds_sionna += channels.sionna_seconds
        t = channels.instants
        true, wide = measure(channels.a)
        true = true.cpu().reshape(-1, t, rows, cols)[:n]
        gen = torch.Generator().manual_seed(derive_seed(seed, "measure", k))
        noisy = meas.noise_std_db > 0 or meas.report_step_db > 0
        if wide is not None:
            wide = wide.cpu().reshape(-1, t, *wide.shape[1:])[:n]
            wide = apply_measurement(wide, meas.noise_std_db, meas.report_step_db, gen) if noisy else wide
            mask = torch.zeros(n, rows, cols, dtype=torch.bool)
        else:
            mask = set_b_mask(scenario, n, gen)
        label = true.flatten(2).argmax(dim=2)[:, picks]
        parts.append(SequenceArrays(
            rsrp=true.numpy(),
            mask=mask.numpy(),
            label=label.numpy().astype(np.int16),
            ue_pos=channels.ue_pos.cpu().reshape(-1, t, 3)[:n].numpy().astype(np.float32),
            los=channels.los.cpu().reshape(-1, t)[:n].numpy().astype(bool),
            speed=channels.speed[:n].cpu().numpy().astype(np.float32),
            heading=channels.heading[:n].cpu().numpy().astype(np.float32),
            split=np.zeros(n, dtype=np.uint8),
            rsrp_setb=None if wide is None else wide.numpy(),
        ))
        stats.samples += n
        stats.batches += 1
        if progress is not None:
            progress(n)
    if not parts:
        raise ValueError(f"shard {shard[0]}/{shard[1]} has no batches: {total} tracks make only "
                         f"{num_batches} batch(es) of {bsz}; use fewer shards")
    arrays = SequenceArrays.concatenate(parts)
    stats.seconds_total = time.perf_counter() - start
    return arrays, stats


def track_attrs(scenario: Scenario) -> dict:
    """The sequence attributes: ``period_ms``, ``history``, ``horizons``, ``speeds_kmh``."""
    traj = scenario.trajectory
    return {"period_ms": float(traj.period_ms), "history": int(traj.history),
            "horizons": np.array(traj.horizons, dtype=np.int64), "speeds_kmh": np.array(traj.speeds_kmh)}


def track_summary(path, arrays: SequenceArrays, stats: GenerationStats | None = None) -> dict:
    """A JSON-ready description of a sequence file: sizes, classes of the first horizon, LoS
    share and the beam-change rate (share of consecutive instants whose best beam changes) per speed."""
    beams = int(np.prod(arrays.rsrp.shape[2:]))
    counts = np.bincount(arrays.label[:, 0].astype(np.int64), minlength=beams)
    change = beam_change_rate(arrays.rsrp)
    kmh = np.round(arrays.speed * 3.6, 1)
    doc = {
        "path": str(path),
        "samples": len(arrays),
        "instants": int(arrays.rsrp.shape[1]),
        "train": int((arrays.split == 0).sum()),
        "test": int((arrays.split == 1).sum()),
        "classes_present": int((counts > 0).sum()),
        "class_min": int(counts.min()),
        "class_median": float(np.median(counts)),
        "class_max": int(counts.max()),
        "los_share": float(arrays.los.mean()),
        "beam_change_rate_by_kmh": {f"{v:g}": round(float(change[kmh == v].mean()), 4) for v in np.unique(kmh)},
    }
    if stats is not None:
        doc.update({"seconds": round(stats.seconds_total, 3), "seconds_sionna": round(stats.seconds_sionna, 3),
                    "samples_per_s": round(stats.samples_per_s, 1)})
    return doc
