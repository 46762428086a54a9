"""README "Architecture": each place to add something is proved by adding one here.

A quantizer, a model and a scenario are added the way the README says and go through the one
data path (generate -> distill -> file -> evaluate). The objective and the study method have
theirs beside their packages: ``tests/distill/objectives/test_objective_registry.py`` and
``tests/experiments/test_studies.py::test_a_new_method_is_a_few_lines``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import beamsim.distill.quant.registry as quant_registry
import beamsim.models.registry as model_registry
from beamsim.cli.main import app
from beamsim.distill import QuADD, default_config, load
from beamsim.distill.provenance import Provenance
from beamsim.distill.quant import Quantizer, QuantizerConfig, register_quantizer
from beamsim.distill.quant.ste import ste_round
from beamsim.models import register_model
from beamsim.scenarios import load_scenario, scenario_to_toml

#: A run of a few seconds: DM, 2 iterations, 2 samples per class, no validation hold-out.
TINY = dict(objective="dm", spc=2, iterations=2, real_per_class=4, val_fraction=0.0, checkpoint_every=0)


@dataclass(frozen=True)
class GridConfig(QuantizerConfig):
    """Settings of the test's quantizer: the bits only."""


class GridQuantizer(Quantizer):
    """``2^b`` fixed levels on [0, 1] (no thresholds): the smallest quantizer there is."""

    config_class = GridConfig

    @property
    def signed(self) -> bool:
        return False

    def _top(self) -> int:
        return 2 ** self.bits - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ste_round(x.clamp(0, 1) * self._top()) / self._top()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.round(x.detach().clamp(0, 1) * self._top()).long()

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self._check_codes(codes).float() / self._top()


class TinyMLP(nn.Module):
    """[B, C, H, W] -> logits; ``embed`` gives distribution matching its features."""

    def __init__(self, in_channels: int, num_classes: int, image_size: tuple[int, int]) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(in_channels * image_size[0] * image_size[1], 32), nn.ReLU())
        self.head = nn.Linear(32, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


@pytest.fixture
def grid_quantizer(monkeypatch):
    monkeypatch.setattr(quant_registry, "_REGISTRY", dict(quant_registry._REGISTRY))
    return register_quantizer("grid")(GridQuantizer)


@pytest.fixture
def tiny_mlp(monkeypatch):
    monkeypatch.setattr(model_registry, "_MODELS", dict(model_registry._MODELS))
    return register_model("tinymlp")(TinyMLP)


@pytest.fixture(scope="module")
def beam_train(tiny_dataset):
    from beamsim.dataset import BeamDataset

    return BeamDataset(tiny_dataset, "train", encoding="attenuation")


def test_a_new_quantizer_is_a_class_and_a_decorator(grid_quantizer, beam_train, tiny_dataset, tmp_path):
    cfg = default_config("beam", **TINY, quantizer="grid", bits=3)
    assert cfg.quantized_in_loop, "a registered quantizer sits in the loop unless its class says otherwise"
    quadd = QuADD(cfg, seed=0, device="cpu").fit(beam_train)
    out = tmp_path / "grid.h5"
    described = quadd.save(out, provenance=Provenance(source_sha256=beam_train.checksum, source_path=str(tiny_dataset),
                                                      encoding="attenuation"))
    assert described["quantizer"] == "grid" and described["bits"] == 3
    x, _ = load(out)
    assert torch.equal(x, quadd.synthetic_), "the file decodes with the registered quantizer, bit for bit"
    assert set((x * 7).round().unique().tolist()) <= set(range(8))


def test_a_new_model_is_a_builder_and_a_decorator(tiny_mlp, beam_train, tiny_dataset, tmp_path):
    from beamsim.experiments.evaluate import evaluate

    quadd = QuADD(default_config("beam", **TINY, model="tinymlp"), seed=0, device="cpu").fit(beam_train)
    out = tmp_path / "mlp.h5"
    quadd.save(out, provenance=Provenance(source_sha256=beam_train.checksum, source_path=str(tiny_dataset),
                                          encoding="attenuation"))
    result = evaluate(out, model="tinymlp", runs=1, epochs=2, device="cpu")
    assert result.model == "tinymlp" and 0.0 <= result.summary["top1"]["mean"] <= 1.0


def test_a_new_scenario_is_a_toml_file(tmp_path):
    base = load_scenario("umi")
    mine = dataclasses.replace(base, name="umi-small-array", description="umi with a 4x4 UE array",
                               ue_array=dataclasses.replace(base.ue_array, num_rows=4, num_cols=4),
                               link=dataclasses.replace(base.link, drops_per_batch=1, ues_per_drop=32))
    path = tmp_path / "umi-small-array.toml"
    path.write_text(scenario_to_toml(mine))
    out = tmp_path / "small.h5"
    result = CliRunner().invoke(app, ["generate", "--scenario", str(path), "--samples", "32", "--out", str(out),
                                      "--seed", "1", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    from beamsim.dataset import read_dataset

    arrays, attrs = read_dataset(out)
    assert arrays.rsrp.shape[0] == 32 and "umi-small-array" in str(attrs["scenario"])
