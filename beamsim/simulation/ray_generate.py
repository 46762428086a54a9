"""``beamsim generate --executor ray``: the shards of a run as Ray tasks, joined in the driver.

A run of ``n`` batches is cut into K shards exactly as ``--shard i/K`` cuts it
(:func:`~beamsim.simulation.generate.batch_range`). Each shard is simulated by one Ray task,
which returns its arrays; the driver joins them in shard order, assigns the split and writes
the one file, as a single process would: same seed, same arrays and attributes (only the
``created`` time differs). No shard file is written, so a cluster's workers need no shared disk.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from beamsim.distributed import TaskResources, ray_session, run_tasks
from beamsim.fileio import check_writable
from beamsim.scenarios import Scenario
from beamsim.simulation.generate import (GenerationStats, default_output, prepare_scenario, simulate_run,
                                         write_run)

__all__ = ["generate_on_ray", "num_batches"]


def num_batches(scenario: Scenario) -> int:
    """How many back-end batches the scenario's run takes (what shards divide)."""
    if scenario.backend == "tr38901":
        size = scenario.link.drops_per_batch * scenario.link.ues_per_drop
    else:
        size = scenario.rt.batch_size
    return math.ceil(scenario.dataset.samples / size)


def _shard(scenario: Scenario, seed: int, device: str, shard: tuple[int, int]) -> tuple:
    """One Ray task: the arrays and stats of shard ``shard`` (runs in a worker)."""
    return simulate_run(scenario, seed, device, shard)


def _joined(parts: list[tuple], seconds: float) -> tuple:
    arrays = type(parts[0][0]).concatenate([p[0] for p in parts])
    stats = GenerationStats(samples=sum(p[1].samples for p in parts), batches=sum(p[1].batches for p in parts),
                            seconds_total=seconds, seconds_sionna=sum(p[1].seconds_sionna for p in parts),
                            dropped_receivers=sum(p[1].dropped_receivers for p in parts),
                            batch_range=(parts[0][1].batch_range[0], parts[-1][1].batch_range[1]))
    return arrays, stats


def generate_on_ray(scenario: str | Scenario = "umi", out: str | Path | None = None, *, shards: int | None = None,
                    address: str | None = None, samples: int | None = None, seed: int = 0, mask: str | None = None,
                    split: str | None = None, device: torch.device | str = "auto", cpus_per_task: int = 1,
                    progress: Callable[[int], None] | None = None) -> dict:
    """Simulate a data set as ``shards`` Ray tasks and write one file, equal to a single run.

    Args:
        scenario, out, samples, seed, mask, split: as :func:`~beamsim.simulation.generate.generate`.
        shards: K, the tasks (default: as many as the cluster has CPUs for, at most one per batch).
        address: a Ray cluster (``ray start --head`` prints it); None starts a local instance
            for the call.
        device: each task's device (``cuda`` makes each task ask Ray for one GPU).
        cpus_per_task: CPU cores each task declares (and its torch threads).
        progress: called with the samples of each finished shard.

    Returns:
        the summary of :func:`~beamsim.simulation.generate.generate`, plus ``executor``,
        ``shards`` and ``seconds_ray_start`` (starting or joining Ray).

    Raises:
        ValueError: more shards than batches, or fewer than one.
        BackendUnavailableError: Ray is not installed or the cluster cannot be reached.
    """
    scenario = prepare_scenario(scenario, samples, mask, split)
    out = default_output(scenario) if out is None else Path(out)
    check_writable(out)
    batches = num_batches(scenario)
    resources = TaskResources.for_device(str(device), cpus_per_task)
    if shards is not None and not 1 <= shards <= batches:
        raise ValueError(f"--shards must be between 1 and the run's {batches} batch(es), not {shards}")
    start = time.perf_counter()
    with ray_session(address) as ray:
        started = time.perf_counter()
        if shards is None:
            shards = max(1, min(batches, int(ray.cluster_resources().get("CPU", 1)) // resources.cpus))

        def done(index: int, part: tuple) -> None:
            if progress is not None:
                progress(part[1].samples)

        parts = run_tasks(ray, _shard, [(scenario, seed, str(device), (i, shards)) for i in range(shards)],
                          resources, done)
    arrays, stats = _joined(parts, time.perf_counter() - started)
    result = write_run(scenario, out, seed, arrays, stats)
    result.update(executor="ray", shards=shards, seconds_ray_start=round(started - start, 3))
    return result
