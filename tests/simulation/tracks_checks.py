"""Checks every back-end's BM-Case2 tracks must pass (used by test_bm_case2 and test_bm_case2_rt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from beamsim.scenarios import Scenario
from beamsim.sequences import read_sequences
from beamsim.simulation.generate import generate, merge


def assert_deterministic_and_shardable(scenario: Scenario, whole: Path, seed: int, folder: Path) -> None:
    """Generating ``scenario`` again gives ``whole``'s checksum; two shards merge into its arrays."""
    again = folder / "again.h5"
    generate(scenario, again, seed=seed, device="cpu")
    assert read_sequences(again)[1]["sha256"] == read_sequences(whole)[1]["sha256"]
    parts = [folder / f"s{i}.h5" for i in range(2)]
    for i, part in enumerate(parts):
        generate(scenario, part, seed=seed, device="cpu", shard=f"{i}/2")
    merge(parts, folder / "merged.h5")
    expected, merged = read_sequences(whole)[0], read_sequences(folder / "merged.h5")[0]
    for name, value in expected.as_dict().items():
        assert np.array_equal(value, getattr(merged, name)), name


def instant_correlations(rsrp: np.ndarray) -> tuple[float, float]:
    """Mean correlation of the centred beam maps [N, T, ...] of consecutive instants of one
    track, and of the same instants of another track."""
    x = rsrp.reshape(*rsrp.shape[:2], -1)
    x = x - x.mean(axis=2, keepdims=True)

    def corr(a, b):
        return float(((a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))).mean())

    return corr(x[:, 1:], x[:, :-1]), corr(x[:, 1:], x[np.roll(np.arange(len(x)), 1), 1:])
