import doctest

import pytest
import torch

import beamsim.distill.objectives.gradient as gradient_module
from beamsim.distill.objectives import gradient_distance, gradient_matching_loss
from beamsim.models import BeamCNN, reset_parameters


def tiny_model(seed: int = 0) -> BeamCNN:
    return reset_parameters(BeamCNN(1, 4, (8, 8), widths=(4, 8, 8)), torch.Generator().manual_seed(seed))


def tiny_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g), torch.arange(4).repeat(n // 4)


def rows(model: torch.nn.Module) -> int:
    return sum(p.shape[0] if p.ndim >= 2 else 1 for p in model.parameters())


def test_doctests():
    assert doctest.testmod(gradient_module).failed == 0


def test_zero_when_synthetic_equals_real():
    model = tiny_model()
    x, y = tiny_data(16, 1)
    exact = gradient_matching_loss(model, x, y, x.clone(), y.clone(), 4, eps=0.0)
    assert float(exact.detach()) == pytest.approx(0.0, abs=1e-4)
    # DC's eps = 1e-6 biases small gradient rows a little toward 1
    assert 0.0 <= float(gradient_matching_loss(model, x, y, x.clone(), y.clone(), 4).detach()) < 0.05 * rows(model) * 4


@pytest.mark.parametrize("granularity", ["channel", "layer"])
def test_bounded_and_differentiable_in_the_synthetic_data(granularity):
    model = tiny_model()
    x_real, y_real = tiny_data(32, 1)
    x_syn, y_syn = tiny_data(8, 2)
    x_syn.requires_grad_(True)
    loss = gradient_matching_loss(model, x_real, y_real, x_syn, y_syn, 4, granularity=granularity)
    units = rows(model) if granularity == "channel" else len(list(model.parameters()))
    assert 0.0 < float(loss.detach()) <= 2 * units * 4
    assert all(p.grad is None for p in model.parameters())  # the function itself leaves .grad alone
    loss.backward(inputs=[x_syn])
    assert x_syn.grad is not None and torch.isfinite(x_syn.grad).all() and x_syn.grad.abs().sum() > 0


def test_classes_missing_on_either_side_are_skipped():
    model = tiny_model()
    x_real, y_real = tiny_data(32, 1)
    x_syn, y_syn = tiny_data(8, 2)
    keep_syn, keep_real = y_syn < 2, y_real != 1  # synthetic: classes 0, 1; real: 0, 2, 3
    total = gradient_matching_loss(model, x_real[keep_real], y_real[keep_real], x_syn[keep_syn], y_syn[keep_syn], 4)
    only_0 = gradient_matching_loss(model, x_real[y_real == 0], y_real[y_real == 0], x_syn[y_syn == 0],
                                    y_syn[y_syn == 0], 4)
    assert float(total.detach()) == pytest.approx(float(only_0.detach()), rel=1e-6)
    x_none = x_syn[:0].clone().requires_grad_(True)
    nothing = gradient_matching_loss(model, x_real, y_real, x_none, y_syn[:0], 4)
    assert float(nothing.detach()) == 0.0 and nothing.requires_grad


def test_gradient_distance_rows():
    a = torch.randn(3, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    assert float(gradient_distance(a, -a)) == pytest.approx(6.0)  # three output channels, each cos = -1
    assert float(gradient_distance(a, -a, "layer")) == pytest.approx(2.0)
    b = a.clone()
    b[0] = 0.0
    assert float(gradient_distance(torch.where(b == 0, 0.0, a), b, eps=0.0)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="granularity"):
        gradient_distance(a, a, "tensor")
