import pytest
import torch

from beamsim.distill.quant import UniformQuantizer


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("signed", [False, True])
def test_levels_evenly_spaced_and_round_trip(bits, signed, generator):
    x = torch.rand(200, 1, 8, 8, generator=generator) * (2 if signed else 1) - (1 if signed else 0)
    q = UniformQuantizer(bits=bits, signed=signed, granularity="tensor").initialize(torch.ones(1, 1, 8, 8))
    out = q(x)
    levels = torch.unique(q.decode(torch.arange(2 ** bits).view(-1, 1, 1, 1).expand(-1, 1, 8, 8)))
    assert levels.numel() == 2 ** bits
    step = (2.0 if signed else 1.0) / (2 ** bits - 1)
    assert torch.allclose(levels.diff(), torch.full((2 ** bits - 1,), step), atol=1e-6)
    assert torch.equal(q.decode(q.encode(x)), out)
    assert float((out.detach() - x).abs().max()) <= step / 2 + 1e-6


def test_straight_through_and_alpha_gradient(generator):
    x = torch.tensor([[0.1, 0.52, 0.8, 1.7]], requires_grad=True)
    q = UniformQuantizer(bits=2, signed=False, granularity="tensor").initialize(torch.ones(1, 1))
    out = q(x)
    out.sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0, 1.0, 0.0]]
    level = out.detach()[0]
    want = float((level[:3] - x.detach()[0, :3]).sum() + 1.0)  # level - x/alpha inside, 1 for the clipped
    assert float(q.alpha.grad) == pytest.approx(want, rel=1e-6)
