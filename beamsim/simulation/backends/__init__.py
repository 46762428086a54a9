"""Channel back-ends: 3GPP TR 38.901 (``tr38901``) and Sionna RT (``rt``)."""

from __future__ import annotations

import torch

from beamsim.scenarios import Scenario
from beamsim.simulation.backends.base import ChannelBackend, ChannelBatch, facing_orientations

__all__ = ["ChannelBackend", "ChannelBatch", "facing_orientations", "make_backend"]


def make_backend(scenario: Scenario, device: torch.device) -> ChannelBackend:
    """The back-end named by ``scenario.backend``, ready to sample."""
    if scenario.backend == "tr38901":
        from beamsim.simulation.backends.tr38901 import TR38901Backend

        return TR38901Backend(scenario, device)
    if scenario.backend == "rt":
        from beamsim.simulation.backends.rt import RTBackend

        return RTBackend(scenario, device)
    raise ValueError(f"unknown backend {scenario.backend!r}")
