"""The registered objectives: each draws what its pure loss needs and keeps its own state."""

import pytest
import torch

from beamsim.distill.networks import Networks
from beamsim.distill.objectives import (DistributionMatching, GradientMatching, ObjectiveContext, TrajectoryMatching,
                                        build_objective, distribution_matching_loss, sample_per_class)
from beamsim.distill.objectives.tm import MIN_SYN_LR
from beamsim.distill.params import embed, flatten_params
from tests.distill.test_quadd import tiny_config

NETS = Networks("beamcnn", (1, 8, 8), 3, torch.device("cpu"))


def context(experts=None, calls=None) -> ObjectiveContext:
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(18, 1, 8, 8, generator=g), torch.arange(3).repeat(6)

    def provide():
        if calls is not None:
            calls.append(1)
        return experts if experts is not None else []

    return ObjectiveContext(x, y, 3, NETS, experts=provide, dsa=None, device=torch.device("cpu"))


def synthetic():
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    return x, torch.arange(3).repeat_interleave(2)


def fake_experts(epochs=4, num=2):
    """Trajectories that move a fresh network's parameters a little every epoch."""
    base = flatten_params(NETS.fresh(torch.Generator().manual_seed(3)))
    return [torch.stack([base + 0.01 * (k + 1) * e for e in range(epochs + 1)]) for k in range(num)]


def test_dm_composes_its_pure_loss_from_the_runs_draws():
    cfg = tiny_config(objective="dm", real_per_class=4)
    ctx = context()
    objective = build_objective("dm", cfg, ctx)
    assert isinstance(objective, DistributionMatching) and objective.real_per_class == 4
    x_syn, y_syn = synthetic()
    loss, info = objective.loss(0, x_syn, y_syn, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)  # the same draws, by hand: a fresh network, then the real samples
    net = NETS.fresh(g)
    real = sample_per_class(ctx.x, ctx.y, 3, 4, g)
    want = distribution_matching_loss(lambda t: embed(net, t), real, [x_syn[y_syn == c] for c in range(3)])
    assert info == {} and torch.equal(loss.detach(), want.detach())
    loss.backward()
    assert x_syn.grad is not None and float(x_syn.grad.abs().sum()) > 0


def test_dc_inner_steps_train_its_network_between_matches():
    """(In 0.1 more than one inner step stepped the network in place and the backward pass failed.)"""
    x_syn, y_syn = synthetic()
    one = build_objective("dc", tiny_config(objective="dc", dc_inner_steps=1), context())
    two = build_objective("dc", tiny_config(objective="dc", dc_inner_steps=2), context())
    assert isinstance(two, GradientMatching) and two.inner_steps == 2
    l1, _ = one.loss(0, x_syn, y_syn, torch.Generator().manual_seed(5))
    l2, _ = two.loss(0, x_syn, y_syn, torch.Generator().manual_seed(5))
    assert torch.isfinite(l1) and float(l2.detach()) > float(l1.detach())  # a second match adds to the first
    l2.backward()
    assert x_syn.grad is not None


def test_tm_owns_experts_student_and_step_size():
    experts, calls = fake_experts(), []
    ctx = context(experts, calls)
    cfg = tiny_config(objective="tm", iterations=11, min_start_epoch=0, initial_max_start_epoch=1,
                      max_start_epoch=3, expert_epochs=1, expert_epochs_train=4, syn_lr_init=0.05, lr_lr=0.1)
    tm = build_objective("tm", cfg, ctx)
    assert isinstance(tm, TrajectoryMatching) and tm.experts is experts and calls == [1]
    assert float(tm.syn_lr.detach()) == pytest.approx(0.05) and tm.opt_lr is not None
    # DATM's window widens linearly from [0, 1] to [0, 3]
    assert [tm.start_window(i) for i in (0, 5, 10)] == [(0, 1), (0, 2), (0, 3)]
    x_syn, y_syn = synthetic()
    loss, info = tm.loss(0, x_syn, y_syn, torch.Generator().manual_seed(5))
    assert set(info) == {"expert", "start_epoch", "param_dist", "start_dist", "student_loss", "syn_lr"}
    assert info["start_epoch"] in (0, 1) and info["syn_lr"] == pytest.approx(0.05)
    tm.zero_grad()
    loss.backward()
    assert tm.syn_lr.grad is not None and x_syn.grad is not None
    tm.step()
    assert float(tm.syn_lr.detach()) != pytest.approx(0.05)


def test_tm_state_round_trips_and_its_step_size_stays_positive():
    cfg = tiny_config(objective="tm", syn_lr_init=0.05, lr_lr=1e3)
    a = build_objective("tm", cfg, context(fake_experts()))
    a.syn_lr.grad = torch.tensor(1.0)  # a huge step would make it negative
    a.step()
    assert float(a.syn_lr.detach()) == pytest.approx(MIN_SYN_LR)
    state = a.state_dict()
    assert set(state) == {"syn_lr", "opt_lr"}
    b = build_objective("tm", cfg, context(fake_experts())).load_state_dict(state)
    assert torch.equal(a.syn_lr.detach(), b.syn_lr.detach())
    assert b.opt_lr.state_dict()["state"][0]["momentum_buffer"] is not None
    frozen = build_objective("tm", cfg.replace(lr_lr=0.0), context(fake_experts()))
    assert frozen.opt_lr is None and set(frozen.state_dict()) == {"syn_lr"}
    frozen.step()  # nothing to update
    assert float(frozen.syn_lr.detach()) == pytest.approx(0.05)


def test_other_objectives_ignore_the_trajectory_entries_of_0_1_checkpoints():
    dm = build_objective("dm", tiny_config(objective="dm"), context())
    assert dm.state_dict() == {} and dm.load_state_dict({"syn_lr": torch.tensor(0.1), "opt_lr": {}}) is dm
