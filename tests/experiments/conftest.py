"""Small synthetic beam data-set files with a learnable label (no Sionna needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthetic import write_synthetic


@pytest.fixture(scope="session")
def beam_file(tmp_path_factory) -> Path:
    """400 samples (300 train, 100 test), 8 x 8 beams, fixed checkerboard mask."""
    return write_synthetic(tmp_path_factory.mktemp("data") / "synthetic.h5")


@pytest.fixture(scope="session")
def random_mask_file(tmp_path_factory) -> Path:
    """Like ``beam_file`` with a random mask (inputs get the mask channel)."""
    return write_synthetic(tmp_path_factory.mktemp("data") / "synthetic_random.h5", mask_kind="random", seed=1)
