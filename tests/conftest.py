"""Shared fixtures: device, seed, tiny scenarios and data sets, and the `gpu` marker."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from beamsim.scenarios import load_scenario, scenario_to_toml
from tests.tiny import TINY


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def device() -> torch.device:
    return torch.device("cpu")


@pytest.fixture
def seed() -> int:
    return 1234


def tiny_scenario(samples: int = 96, ues_per_drop: int = 32, drops: int = 1, mask: str = "fixed", **array):
    """The umi scenario with small batches (fast tests)."""
    base = load_scenario("umi")
    link = dataclasses.replace(base.link, drops_per_batch=drops, ues_per_drop=ues_per_drop)
    ue_array = dataclasses.replace(base.ue_array, **array)
    return dataclasses.replace(base, name="tiny", link=link, ue_array=ue_array,
                               dataset=dataclasses.replace(base.dataset, samples=samples),
                               mask=dataclasses.replace(base.mask, kind=mask))


@pytest.fixture
def tiny_scenario_file(tmp_path: Path) -> Path:
    """A scenario TOML file with 96 samples in batches of 32."""
    path = tmp_path / "tiny.toml"
    path.write_text(scenario_to_toml(tiny_scenario()))
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A small generated data set (192 samples, fixed mask), made once per session."""
    from beamsim.simulation.generate import generate

    path = tmp_path_factory.mktemp("data") / "tiny.h5"
    generate(tiny_scenario(samples=192, ues_per_drop=64), path, seed=7, device="cpu")
    return path


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """A ``--config`` file of :data:`tests.tiny.TINY` (2 iterations, one small expert)."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path
