"""Generate a beam-management data set: channels -> codebook scan -> mask -> label -> file.

A run of N samples is cut into batches of the back-end's batch size; batch ``k`` draws all its
randomness from ``derive_seed(seed, "batch", k)``. A shard ``i/n`` runs a contiguous range of
batches, so shards are independent and deterministic, and :func:`merge` joins them into a file
whose arrays are identical to a single run with the same seed.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from beamsim.config import derive_seed, resolve_device
from beamsim.dataset import BeamArrays, read_attrs, read_dataset, write_dataset
from beamsim.errors import DataFileError
from beamsim.fileio import check_writable
from beamsim.scenarios import Scenario, load_scenario, scenario_from_toml, scenario_to_toml
from beamsim.simulation.backends import make_backend
from beamsim.simulation.layout import set_b_attrs
from beamsim.simulation.measure import apply_measurement, best_beam
from beamsim.simulation.scan import set_a_measurement, set_b_mask
from beamsim.simulation.split import assign_split

__all__ = ["generate", "merge", "simulate", "parse_shard", "default_output", "GenerationStats"]


@dataclass
class GenerationStats:
    """Timing of a simulation run."""

    samples: int = 0
    batches: int = 0
    seconds_total: float = 0.0
    seconds_sionna: float = 0.0
    dropped_receivers: int = 0
    batch_range: tuple[int, int] = (0, 0)
    extra: dict = field(default_factory=dict)

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds_total if self.seconds_total else float("nan")

    @property
    def sionna_samples_per_s(self) -> float:
        return self.samples / self.seconds_sionna if self.seconds_sionna else float("nan")


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """``"i/n"`` (0-based shard i of n) -> (i, n); None stays None.

    >>> parse_shard("0/4")
    (0, 4)
    """
    if spec is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(spec))
    if not match:
        raise ValueError(f"malformed shard {spec!r}: expected i/n with 0 <= i < n, e.g. 0/4")
    i, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"malformed shard {spec!r}: expected i/n with 0 <= i < n, e.g. 0/4")
    return i, n


def batch_range(num_batches: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    if shard is None:
        return 0, num_batches
    i, n = shard
    return (i * num_batches) // n, ((i + 1) * num_batches) // n


def run_batches(scenario: Scenario, seed: int, device: torch.device | str | None, shard: tuple[int, int] | None,
                progress: Callable[[int], None] | None, part: Callable) -> tuple[list, GenerationStats]:
    """Sample the back-end's batches of the run (or of one shard) and turn each into a part.

    Batch ``k`` samples the channels with ``derive_seed(seed, "batch", k)`` and measures with a
    generator seeded ``derive_seed(seed, "measure", k)``: ``part(channels, rows, generator)``
    makes the arrays of its first ``rows`` samples (the last batch may be cut short).

    Returns:
        (the parts in global sample order, stats).
    """
    device = resolve_device(device)
    total = scenario.dataset.samples
    backend = make_backend(scenario, device)
    bsz = backend.batch_size
    num_batches = math.ceil(total / bsz)
    first, last = batch_range(num_batches, shard)
    parts: list = []
    stats = GenerationStats(batch_range=(first, last))
    start = time.perf_counter()
    for k in range(first, last):
        rows = min(bsz, total - k * bsz)
        channels = backend.sample(derive_seed(seed, "batch", k))
        stats.seconds_sionna += channels.sionna_seconds
        parts.append(part(channels, rows, torch.Generator().manual_seed(derive_seed(seed, "measure", k))))
        stats.samples += rows
        stats.batches += 1
        if progress is not None:
            progress(rows)
    stats.dropped_receivers = int(getattr(backend, "dropped_total", 0))
    if not parts:
        raise ValueError(f"shard {shard[0]}/{shard[1]} has no batches: {total} samples make only "
                         f"{num_batches} batch(es) of {bsz}; use fewer shards")
    stats.seconds_total = time.perf_counter() - start
    return parts, stats


def simulate(scenario: Scenario, seed: int, device: torch.device | str | None = None,
             shard: tuple[int, int] | None = None,
             progress: Callable[[int], None] | None = None) -> tuple[BeamArrays, GenerationStats]:
    """Simulate the samples of ``scenario`` (or of one shard of it) in memory.

    Returns:
        (arrays with ``split`` all zero, stats). Rows are in global sample order.
    """
    measure = set_a_measurement(scenario, resolve_device(device))
    meas = scenario.measurement
    noisy = meas.noise_std_db > 0 or meas.report_step_db > 0

    def part(channels, rows: int, gen: torch.Generator) -> BeamArrays:
        true, wide = measure(channels.a)
        true, wide = true[:rows].cpu(), None if wide is None else wide[:rows].cpu()
        label = best_beam(true.flatten(1))
        if wide is not None:  # Set B = the wide beams: they are what the UE reports
            setb = apply_measurement(wide, meas.noise_std_db, meas.report_step_db, gen) if noisy else wide
            measured, mask = None, torch.zeros(true.shape, dtype=torch.bool)
        else:
            setb = None
            measured = apply_measurement(true, meas.noise_std_db, meas.report_step_db, gen) if noisy else None
            mask = set_b_mask(scenario, rows, gen)
        return BeamArrays(
            rsrp=true.numpy(),
            mask=mask.numpy(),
            label=label.numpy().astype(np.int16),
            ue_pos=channels.ue_pos[:rows].cpu().numpy().astype(np.float32),
            los=channels.los[:rows].cpu().numpy().astype(bool),
            split=np.zeros(rows, dtype=np.uint8),
            rsrp_measured=None if measured is None else measured.numpy(),
            rsrp_setb=None if setb is None else setb.numpy(),
        )

    parts, stats = run_batches(scenario, seed, device, shard, progress, part)
    return BeamArrays.concatenate(parts), stats


def _attrs(scenario: Scenario, seed: int, extra: dict | None = None) -> dict:
    import sionna

    attrs = {
        "scenario": scenario_to_toml(scenario),
        "scenario_name": scenario.name,
        "seed": int(seed),
        "mask_kind": scenario.mask.kind,
        "total_samples": int(scenario.dataset.samples),
        "sionna_version": getattr(sionna, "__version__", "unknown"),
        "num_el": scenario.set_a_shape[0],
        "num_az": scenario.set_a_shape[1],
    }
    if scenario.side != "ue":
        attrs.update(set_b_attrs(scenario))
    attrs.update(extra or {})
    return attrs


def generate(scenario: str | Scenario = "umi", out: str | Path | None = None, *, samples: int | None = None,
             seed: int = 0, mask: str | None = None, split: str | None = None,
             device: torch.device | str | None = None, shard: str | tuple[int, int] | None = None,
             progress: Callable[[int], None] | None = None) -> dict:
    """Simulate a data set and write it to ``out`` (default ``data/<scenario>.h5``).

    Args:
        scenario: bundled scenario name or TOML path, or a :class:`Scenario`.
        out: output file; written atomically (a temporary file renamed at the end).
        samples: override of the scenario's data-set size (None: the scenario's).
        mask: override of the scenario's mask kind (``fixed``/``random``).
        split: override of the scenario's split (``random``/``blocks``).
        seed: run seed; same seed, same arrays.
        device: ``auto | cpu | cuda``.
        shard: ``"i/n"``: simulate only shard i of n (join with :func:`merge`).
        progress: called with the number of samples finished after each batch.

    Returns:
        A summary: path, samples, split sizes, classes present, timing.
    """
    scenario = prepare_scenario(scenario, samples, mask, split)
    shard_t = parse_shard(shard) if isinstance(shard, (str, type(None))) else tuple(shard)
    out = default_output(scenario, shard_t) if out is None else Path(out)
    check_writable(out)  # fail before minutes of simulation, not after
    arrays, stats = simulate_run(scenario, seed, device, shard_t, progress)
    return write_run(scenario, out, seed, arrays, stats, shard_t)


def prepare_scenario(scenario: str | Scenario, samples: int | None = None, mask: str | None = None,
                     split: str | None = None) -> Scenario:
    """The scenario of a run: loaded by name or path, with the overrides of :func:`generate`."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if samples is not None and (not isinstance(samples, (int, np.integer)) or samples < 1):
        raise ValueError(f"--samples must be a positive integer, not {samples}")
    return scenario.with_overrides(samples=samples, mask=mask, split=split)


def simulate_run(scenario: Scenario, seed: int, device: torch.device | str | None = None,
                 shard: tuple[int, int] | None = None, progress: Callable[[int], None] | None = None) -> tuple:
    """The arrays of a run or shard (tracks with a ``[trajectory]``), and its stats."""
    if scenario.trajectory is not None:
        from beamsim.simulation.tracks import simulate_tracks

        return simulate_tracks(scenario, seed, device=device, shard=shard, progress=progress)
    return simulate(scenario, seed, device=device, shard=shard, progress=progress)


def write_run(scenario: Scenario, out: Path, seed: int, arrays, stats: GenerationStats,
              shard: tuple[int, int] | None = None) -> dict:
    """Assign the split and write the run's (or shard's) file; its summary."""
    if scenario.trajectory is not None:
        from beamsim.sequences import write_sequences
        from beamsim.simulation.tracks import track_attrs, track_summary

        arrays.split = assign_split(arrays.ue_pos[:, 0], scenario.dataset, seed)
        write_sequences(out, arrays, {**_attrs(scenario, seed, _shard_attrs(shard, stats)), **track_attrs(scenario)})
        return track_summary(out, arrays, stats)
    arrays.split = assign_split(arrays.ue_pos, scenario.dataset, seed)
    write_dataset(out, arrays, _attrs(scenario, seed, _shard_attrs(shard, stats)))
    return summary(out, arrays, stats)


def _shard_attrs(shard: tuple[int, int] | None, stats: GenerationStats) -> dict:
    if shard is None:
        return {}
    return {"shard": f"{shard[0]}/{shard[1]}", "batch_first": stats.batch_range[0], "batch_last": stats.batch_range[1]}


def default_output(scenario: Scenario, shard: tuple[int, int] | None = None) -> Path:
    """``data/<scenario>.h5``, or ``data/<scenario>.shard<i>of<n>.h5`` for a shard."""
    suffix = f".shard{shard[0]}of{shard[1]}" if shard else ""
    return Path("data") / f"{scenario.name}{suffix}.h5"


def summary(path: str | Path, arrays: BeamArrays, stats: GenerationStats | None = None,
            counts: np.ndarray | None = None) -> dict:
    """A JSON-ready description of a generated file (``counts``: samples per class, default from
    ``arrays.label``; a sequence file passes those of its first horizon)."""
    if counts is None:
        counts = np.bincount(arrays.label.astype(np.int64), minlength=int(np.prod(arrays.rsrp.shape[1:])))
    doc = {
        "path": str(path),
        "samples": len(arrays),
        "train": int((arrays.split == 0).sum()),
        "test": int((arrays.split == 1).sum()),
        "classes_present": int((counts > 0).sum()),
        "class_min": int(counts.min()),
        "class_median": float(np.median(counts)),
        "class_max": int(counts.max()),
        "los_share": float(arrays.los.mean()),
    }
    if stats is not None:
        doc.update({
            "seconds": round(stats.seconds_total, 3),
            "seconds_sionna": round(stats.seconds_sionna, 3),
            "samples_per_s": round(stats.samples_per_s, 1),
            "dropped_receivers": stats.dropped_receivers,
        })
    return doc


def merge(shards: Sequence[str | Path], out: str | Path) -> dict:
    """Join shard files of one run into one file identical (arrays) to a single run.

    Raises:
        DataFileError: shards of different runs, missing or repeated shards.
    """
    if not shards:
        raise ValueError("merge needs at least one shard file")
    from beamsim.sequences import SEQUENCE_FORMAT_VERSION, SequenceArrays, read_sequences, write_sequences

    tracks = int(read_attrs(shards[0]).get("format_version", -1)) == SEQUENCE_FORMAT_VERSION
    loaded = []
    for path in shards:
        arrays, attrs = (read_sequences if tracks else read_dataset)(path)
        if "shard" not in attrs:
            raise DataFileError(f"{path}: not a shard file (no 'shard' attribute)")
        loaded.append((parse_shard(attrs["shard"]), arrays, attrs, path))
    first_attrs = loaded[0][2]
    n = loaded[0][0][1]
    for (i, m), _, attrs, path in loaded:
        for key in ("scenario", "seed", "total_samples"):
            if str(attrs[key]) != str(first_attrs[key]):
                raise DataFileError(f"{path}: {key} differs from {shards[0]}; shards must come from one run")
        if m != n:
            raise DataFileError(f"{path}: shard {i}/{m} does not belong to a run of {n} shards")
    indices = sorted(s[0][0] for s in loaded)
    if indices != list(range(n)):
        missing = sorted(set(range(n)) - set(indices))
        repeated = sorted({i for i in indices if indices.count(i) > 1})
        what = []
        if missing:
            what.append(f"missing shard(s) {', '.join(f'{i}/{n}' for i in missing)}")
        if repeated:
            what.append(f"repeated shard(s) {', '.join(f'{i}/{n}' for i in repeated)}")
        raise DataFileError(f"cannot merge: {'; '.join(what)}")
    loaded.sort(key=lambda s: s[0][0])
    arrays = (SequenceArrays if tracks else BeamArrays).concatenate([s[1] for s in loaded])
    scenario = scenario_from_toml(first_attrs["scenario"], where="shard scenario")
    if len(arrays) != scenario.dataset.samples:
        raise DataFileError(f"shards hold {len(arrays)} samples, the run has {scenario.dataset.samples}")
    seed = int(first_attrs["seed"])
    attrs = _attrs(scenario, seed, {"sionna_version": first_attrs.get("sionna_version", "unknown")})
    if tracks:
        from beamsim.simulation.tracks import track_attrs, track_summary

        arrays.split = assign_split(arrays.ue_pos[:, 0], scenario.dataset, seed)
        write_sequences(out, arrays, {**attrs, **track_attrs(scenario)})
        return track_summary(out, arrays)
    arrays.split = assign_split(arrays.ue_pos, scenario.dataset, seed)
    write_dataset(out, arrays, attrs)
    return summary(out, arrays)
