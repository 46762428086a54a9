import pytest
import torch

from beamsim.distill.quant.ste import ste_round, straight_through


def test_ste_round_values_and_gradient():
    x = torch.tensor([-1.6, -0.4, 0.5, 1.5, 2.49], requires_grad=True)
    y = ste_round(x)
    assert torch.equal(y, torch.round(x.detach()))
    (y * torch.arange(5.0)).sum().backward()
    assert torch.equal(x.grad, torch.arange(5.0))


def test_straight_through_returns_value_exactly():
    x = torch.linspace(-3, 3, 1001, requires_grad=True)
    value = torch.round(x.detach() * 7.3) / 7.3  # a value that x + (v - x).detach() may not reproduce
    out = straight_through(x, value)
    assert torch.equal(out, value)
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_straight_through_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        straight_through(torch.zeros(3), torch.zeros(4))

