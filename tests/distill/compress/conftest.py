"""Tiny sets for the patch-quantization tests (the distill fixtures `generator`, `checkerboard`
come from tests/distill/conftest.py)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def small_beams(generator: torch.Generator, checkerboard: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """8 classes x 3 beam maps [24, 1, 8, 8] in [0, 1], unobserved beams at the floor 1.0."""
    x = torch.rand(24, 1, 8, 8, generator=generator)
    x = torch.where(checkerboard, x, torch.ones(()))
    return x, torch.arange(8).repeat_interleave(3)


@pytest.fixture
def small_images(generator: torch.Generator) -> torch.Tensor:
    """[6, 3, 11, 13] images in [0, 1] (edges not multiples of the patch)."""
    return torch.rand(6, 3, 11, 13, generator=generator)
