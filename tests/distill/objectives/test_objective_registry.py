"""The objective registry, and where to add an objective: a new one registered here runs through QuADD.fit."""

import doctest

import pytest
import torch

import beamsim.distill.config as config_module
from beamsim.distill.objectives import (DistributionMatching, GradientMatching, Objective, TrajectoryMatching,
                                        build_objective, class_means, objective_class, objective_names,
                                        register_objective, registry)
from beamsim.distill.quadd import QuADD
from tests.distill.test_quadd import Toy, tiny_config


def test_known_names_and_their_classes():
    assert objective_names() == ["dc", "dm", "none", "tm"]
    assert objective_class("tm") is TrajectoryMatching and TrajectoryMatching.name == "tm"
    assert objective_class("dm") is DistributionMatching and objective_class("dc") is GradientMatching
    assert objective_class("none") is None and build_objective("none", tiny_config(), None) is None


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown objective 'magic': known objectives are dc, dm, none, tm"):
        objective_class("magic")


def test_names_are_unique_and_none_is_reserved():
    with pytest.raises(ValueError, match="already registered by DistributionMatching"):
        register_objective("dm")(type("Other", (Objective,), {}))
    with pytest.raises(ValueError, match="means no objective"):
        register_objective("none")(type("Other", (Objective,), {}))
    with pytest.raises(TypeError, match="must subclass Objective"):
        register_objective("plain")(type("Plain", (), {}))
    assert objective_class("dm") is DistributionMatching and "plain" not in objective_names()


def test_doctests():
    result = doctest.testmod(registry)
    assert result.attempted > 0 and result.failed == 0


# --- a new objective, end to end -------------------------------------------------------------------


class MeanMatching(Objective):
    """Per-class means of the raw inputs, randomly weighted per class, against a learnable
    scale of the synthetic means: an objective with its own draws, parameter, optimiser and state."""

    def __init__(self, config, context):
        super().__init__(config, context)
        self.scale = torch.ones((), requires_grad=True)
        self.opt = torch.optim.SGD([self.scale], lr=0.05, momentum=0.5)

    def loss(self, iteration, x_q, y_syn, generator):
        ctx = self.context
        real, _ = class_means(ctx.x, ctx.y, ctx.num_classes)
        syn, _ = class_means(x_q, y_syn, ctx.num_classes)
        weight = torch.rand(ctx.num_classes, 1, generator=generator)
        return (weight * (self.scale * syn - real).pow(2)).sum(), {"scale": float(self.scale.detach())}

    def zero_grad(self):
        self.opt.zero_grad(set_to_none=True)

    def step(self):
        self.opt.step()

    def state_dict(self):
        return {"mean_scale": self.scale.detach(), "opt_mean_scale": self.opt.state_dict()}

    def load_state_dict(self, state):
        with torch.no_grad():
            self.scale.copy_(state["mean_scale"])
        self.opt.load_state_dict(state["opt_mean_scale"])
        return self


@pytest.fixture
def mean_objective(monkeypatch):
    """``mean`` registered for this test only (the config checks names against the registry)."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    return register_objective("mean")(MeanMatching)


def test_a_registered_objective_runs_through_fit_and_resumes(mean_objective, tmp_path):
    assert "mean" in objective_names()
    cfg = tiny_config(objective="mean", quantizer="uniform", iterations=4, checkpoint_every=2)
    whole = QuADD(cfg, seed=2, device="cpu").fit(Toy())
    scales = [h["scale"] for h in whole.history_]
    assert len(scales) == 4 and scales[0] == 1.0 and scales[-1] != 1.0, "its own parameter did not learn"
    start = QuADD(cfg.replace(objective="none", iterations=0), seed=2, device="cpu").fit(Toy())
    assert not torch.equal(whole.raw_, start.raw_), "the synthetic set did not move"

    ckpt = tmp_path / "run.ckpt.pt"

    def interrupt(done, total, info):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        QuADD(cfg, seed=2, device="cpu", checkpoint_path=ckpt, progress=interrupt).fit(Toy())
    state = torch.load(ckpt, weights_only=True)
    assert int(state["iteration"]) == 2 and {"mean_scale", "opt_mean_scale"} <= set(state)
    assert not {"syn_lr", "opt_lr"} & set(state)  # trajectory matching's entries are its own
    resumed = QuADD(cfg, seed=2, device="cpu", checkpoint_path=ckpt).fit(Toy(), resume=True)
    assert torch.equal(whole.synthetic_, resumed.synthetic_)
    assert [h["scale"] for h in resumed.history_] == scales


def test_objective_none_has_no_loop():
    with pytest.raises(ValueError, match="objective 'none' has no loss"):
        QuADD(tiny_config(objective="none", iterations=2), device="cpu").fit(Toy())
    q = QuADD(tiny_config(objective="none", iterations=0), device="cpu").fit(Toy())
    assert q.history_ == [] and torch.equal(q.raw_, Toy().inputs[q.source_index_])
