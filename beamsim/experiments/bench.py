"""Benchmarks behind ``beamsim bench``: each returns one JSON-ready dict."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from beamsim.config import resolve_device

__all__ = ["bench_generate", "machine"]


def machine(device: torch.device) -> dict:
    """Where a benchmark ran."""
    info = {"device": str(device), "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "torch": torch.__version__}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def bench_generate(scenario: str = "umi", samples: int = 4096, seed: int = 0, device: str | None = None) -> dict:
    """Time ``beamsim generate`` end to end (simulation, beams, masks, split, file write).

    The back-end reports the time spent inside Sionna's channel calls (topology set-up and
    channel generation) on the same batches, so both rates come from one run:
    ``ratio = pipeline samples/s / Sionna samples/s`` (1.0 = beamsim adds no cost).
    """
    from beamsim.simulation.generate import generate

    dev = resolve_device(device)
    from beamsim.scenarios import load_scenario

    load_scenario(scenario)  # fail fast on an unknown name
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = generate(scenario, Path(tmp) / "bench.h5", samples=samples, seed=seed, device=dev)
        wall = time.perf_counter() - start
    pipeline = result["samples"] / wall
    sionna_rate = result["samples"] / result["seconds_sionna"]
    return {
        "benchmark": "generate",
        "scenario": scenario,
        "samples": result["samples"],
        "seconds_pipeline": round(wall, 3),
        "seconds_sionna": result["seconds_sionna"],
        "pipeline_samples_per_s": round(pipeline, 1),
        "sionna_samples_per_s": round(sionna_rate, 1),
        "ratio": round(pipeline / sionna_rate, 4),
        "target_ratio": 0.85,
        **machine(dev),
    }
