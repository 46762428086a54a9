"""Small synthetic beam data-set files with a learnable label (no Sionna needed).

Imported by this folder's conftest and tests as ``synthetic`` (a name of its own: every test
folder has a ``conftest``, so ``from conftest import ...`` would depend on collection order).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from beamsim.dataset import BeamArrays, write_dataset


def synthetic_arrays(n: int = 400, grid: tuple[int, int] = (8, 8), seed: int = 0, mask_kind: str = "fixed",
                     num_best: int | None = None, test_fraction: float = 0.25) -> BeamArrays:
    """RSRP falls off by 3 dB per beam step around a random best beam; label = argmax."""
    rng = np.random.default_rng(seed)
    e, a = grid
    classes = np.arange(e * a) if num_best is None else rng.choice(e * a, size=num_best, replace=False)
    best = rng.choice(classes, size=n)
    el, az = np.meshgrid(np.arange(e), np.arange(a), indexing="ij")
    dist = np.hypot(el[None] - (best // a)[:, None, None], az[None] - (best % a)[:, None, None])
    rsrp = (-70.0 - 3.0 * dist + rng.normal(0.0, 0.3, size=(n, e, a)) + rng.normal(0, 5, size=(n, 1, 1))).astype(np.float32)
    label = rsrp.reshape(n, -1).argmax(axis=1).astype(np.int16)
    if mask_kind == "fixed":
        mask = np.broadcast_to((el + az) % 2 == 0, (n, e, a)).copy()
    else:
        scores = rng.random((n, e * a))
        mask = np.zeros((n, e * a), dtype=bool)
        np.put_along_axis(mask, np.argsort(scores, axis=1)[:, : e * a // 2], True, axis=1)
        mask = mask.reshape(n, e, a)
    split = (rng.permutation(n) < int(round(test_fraction * n))).astype(np.uint8)
    return BeamArrays(rsrp=rsrp, mask=mask, label=label, ue_pos=rng.normal(size=(n, 3)).astype(np.float32),
                      los=rng.random(n) < 0.5, split=split)


def write_synthetic(path: Path, mask_kind: str = "fixed", **kwargs) -> Path:
    arrays = synthetic_arrays(mask_kind=mask_kind, **kwargs)
    write_dataset(path, arrays, {"scenario": "name = 'x'", "seed": 0, "mask_kind": mask_kind})
    return path
