"""Fixtures for the distillation tests: seeded generators and small beam-like sets."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def checkerboard() -> torch.Tensor:
    """[1, 8, 8] bool: the fixed 3GPP-Set-B-like mask (True = measured)."""
    idx = torch.arange(8)
    return ((idx.view(-1, 1) + idx.view(1, -1)) % 2 == 0).view(1, 8, 8)


@pytest.fixture
def beam_set(generator: torch.Generator, checkerboard: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A synthetic beam set in the ``attenuation`` encoding: 64 classes x 50, [3200, 1, 8, 8].

    Unobserved beams sit at the floor (1.0), the same for every sample.
    """
    x = torch.rand(3200, 1, 8, 8, generator=generator)
    x = torch.where(checkerboard, x, torch.ones(()))
    y = torch.arange(64).repeat_interleave(50)
    return x, y
