"""Train/test split of a data set: a seeded permutation, or whole spatial blocks."""

from __future__ import annotations

import numpy as np
import torch

from beamsim.config import derive_seed
from beamsim.scenarios import DatasetSettings

__all__ = ["assign_split"]


def assign_split(positions: np.ndarray, settings: DatasetSettings, seed: int) -> np.ndarray:
    """0 = train, 1 = test for every row.

    Args:
        positions: [N, 2 or 3] float, each sample's UE position [m] (a track's first one).

    ``random``: the first ``round(test_fraction * N)`` rows of a seeded permutation are test.
    ``blocks``: UEs are grouped into ``block_size_m`` squares of the ground plane; whole blocks,
    in a seeded order, go to the test side until it holds ``test_fraction`` of the samples, so
    no block has UEs on both sides (no leakage between nearby UEs).

    Returns:
        [N] uint8.
    """
    n = len(positions)
    gen = torch.Generator().manual_seed(derive_seed(seed, "split"))
    split = np.zeros(n, dtype=np.uint8)
    n_test = int(round(settings.test_fraction * n))
    if settings.split == "random":
        perm = torch.randperm(n, generator=gen).numpy()
        split[perm[:n_test]] = 1
        return split
    cells = np.floor(positions[:, :2] / settings.block_size_m).astype(np.int64)
    keys, block_of = np.unique(cells, axis=0, return_inverse=True)
    block_of = block_of.reshape(-1)
    order = torch.randperm(len(keys), generator=gen).numpy()
    sizes = np.bincount(block_of, minlength=len(keys))
    taken = 0
    test_blocks = []
    for b in order:
        if taken >= n_test:
            break
        test_blocks.append(b)
        taken += sizes[b]
    split[np.isin(block_of, test_blocks)] = 1
    return split
