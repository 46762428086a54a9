import doctest

import pytest
import torch
import torch.nn.functional as F

import beamsim.distill.objectives.trajectory as trajectory_module
from beamsim.distill.objectives import minibatch_indices, trajectory_matching_loss, unroll_student
from beamsim.distill.params import flatten_params, unflatten_params
from beamsim.models import BeamCNN, reset_parameters


def tiny_model(seed: int = 0, dtype: torch.dtype = torch.float32) -> BeamCNN:
    model = BeamCNN(1, 4, (8, 8), widths=(4, 8, 8))
    return reset_parameters(model, torch.Generator().manual_seed(seed)).to(dtype)


def tiny_data(n: int = 64, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 1, 8, 8, generator=g, dtype=dtype), torch.arange(4).repeat(n // 4)


def clone(generator: torch.Generator) -> torch.Generator:
    return torch.Generator().set_state(generator.get_state())


def test_doctests():
    assert doctest.testmod(trajectory_module).failed == 0


def test_minibatch_indices_cycle_through_permutations():
    g = torch.Generator().manual_seed(0)
    batches = minibatch_indices(10, 7, 4, g)
    assert batches.shape == (7, 4) and batches.dtype == torch.int64
    flat = batches.flatten()
    for p in range(2):  # 28 draws: two full passes of 10, each a permutation
        assert sorted(flat[10 * p: 10 * (p + 1)].tolist()) == list(range(10))
    assert minibatch_indices(3, 2, 100, g).shape == (2, 3)  # batch capped at n
    with pytest.raises(ValueError):
        minibatch_indices(0, 2, 4, g)


def test_loss_is_zero_when_target_is_the_students_own_endpoint():
    """The expert is an ordinary nn.Module trained with plain SGD (p -= lr * p.grad) on the same batches."""
    model = tiny_model()
    x, y = tiny_data()
    start = flatten_params(model)
    g = torch.Generator().manual_seed(5)
    batches = minibatch_indices(64, 6, 16, clone(g))
    lr = 0.05
    for index in batches:  # torch.optim.SGD would do, but its first use costs seconds of imports
        model.zero_grad()
        F.cross_entropy(model(x[index]), y[index]).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    target = flatten_params(model)
    loss, diag = trajectory_matching_loss(tiny_model(), x.requires_grad_(), y, start, target,
                                          torch.tensor(lr, requires_grad=True), syn_steps=6, batch_size=16,
                                          generator=g)
    assert float(diag["start_dist"]) > 1e-4
    assert float(loss.detach()) < 1e-8
    assert set(diag) >= {"param_dist", "start_dist", "student_loss", "syn_lr"}
    assert all(not t.requires_grad for t in diag.values())


def test_zero_step_size_keeps_the_student_at_start():
    model = tiny_model()
    x, y = tiny_data()
    start = flatten_params(model)
    target = flatten_params(tiny_model(seed=1))
    loss, diag = trajectory_matching_loss(model, x, y, start, target, torch.tensor(0.0, requires_grad=True),
                                          syn_steps=3, batch_size=16, generator=torch.Generator().manual_seed(0))
    assert float(loss.detach()) == pytest.approx(1.0, abs=1e-6)
    assert float(diag["param_dist"]) == pytest.approx(float(diag["start_dist"]), rel=1e-6)


def test_gradients_reach_the_synthetic_data_and_the_step_size():
    model = tiny_model()
    x, y = tiny_data()
    x.requires_grad_(True)
    syn_lr = torch.tensor(0.05, requires_grad=True)
    start = flatten_params(model)
    target = flatten_params(tiny_model(seed=1))
    loss, _ = trajectory_matching_loss(model, x, y, start, target, syn_lr, syn_steps=5, batch_size=16,
                                       generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert syn_lr.grad is not None and torch.isfinite(syn_lr.grad) and syn_lr.grad != 0
    assert all(p.grad is None for p in model.parameters())  # the template's own parameters are unused


def test_step_size_gradient_matches_finite_differences():
    model = tiny_model(dtype=torch.float64)
    x, y = tiny_data(32, torch.float64)
    start = flatten_params(model)
    target = flatten_params(tiny_model(seed=1, dtype=torch.float64))

    def loss_at(lr: torch.Tensor) -> torch.Tensor:
        return trajectory_matching_loss(model, x, y, start, target, lr, syn_steps=3, batch_size=8,
                                        generator=torch.Generator().manual_seed(3))[0]

    lr = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    (analytic,) = torch.autograd.grad(loss_at(lr), lr)
    h = 1e-5
    numeric = (loss_at(torch.tensor(0.1 + h, dtype=torch.float64)).detach()
               - loss_at(torch.tensor(0.1 - h, dtype=torch.float64)).detach()) / (2 * h)
    assert float(analytic.detach()) == pytest.approx(float(numeric), rel=1e-5, abs=1e-9)


def test_same_generator_same_loss_and_unroll_without_graph():
    model = tiny_model()
    x, y = tiny_data()
    start, target = flatten_params(model), flatten_params(tiny_model(seed=1))
    args = (model, x, y, start, target, torch.tensor(0.05))
    a, _ = trajectory_matching_loss(*args, syn_steps=4, batch_size=16, generator=torch.Generator().manual_seed(9))
    b, _ = trajectory_matching_loss(*args, syn_steps=4, batch_size=16, generator=torch.Generator().manual_seed(9))
    assert torch.equal(a, b)
    batches = minibatch_indices(64, 4, 16, torch.Generator().manual_seed(9))
    theta, _ = unroll_student(model, x, y, start, 0.05, batches, create_graph=False)
    assert not theta.requires_grad
    assert float((theta - target).pow(2).sum() / (start - target).pow(2).sum()) == pytest.approx(float(a.detach()), rel=1e-5)
    assert set(unflatten_params(model, theta)) == {n for n, _ in model.named_parameters()}


def test_bad_arguments():
    model = tiny_model()
    x, y = tiny_data()
    start = flatten_params(model)
    g = torch.Generator()
    with pytest.raises(TypeError, match="syn_lr"):
        trajectory_matching_loss(model, x, y, start, start + 1, 0.1, syn_steps=2, batch_size=8, generator=g)
    with pytest.raises(ValueError, match="flat"):
        trajectory_matching_loss(model, x, y, start, start[:-1], torch.tensor(0.1), syn_steps=2, batch_size=8,
                                 generator=g)
    with pytest.raises(ValueError, match="syn_steps"):
        trajectory_matching_loss(model, x, y, start, start + 1, torch.tensor(0.1), syn_steps=0, batch_size=8,
                                 generator=g)
    with pytest.raises(ValueError, match="y_syn"):
        trajectory_matching_loss(model, x, y[:-1], start, start + 1, torch.tensor(0.1), syn_steps=1, batch_size=8,
                                 generator=g)
