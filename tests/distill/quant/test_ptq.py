import pytest
import torch

from beamsim.distill.quant import PostTrainingQuantizer


@pytest.mark.parametrize("granularity", ["tensor", "channel", "feature"])
@pytest.mark.parametrize("bits", [1, 3, 8])
def test_min_max_uniform(granularity, bits, generator):
    x = torch.randn(64, 3, 4, 4, generator=generator) * 3 + 1
    q = PostTrainingQuantizer(bits=bits, granularity=granularity)
    out = q(x)  # fitted once on first use
    assert q.initialized and not list(q.parameters())
    assert torch.equal(q.decode(q.encode(x)), out)
    assert torch.equal(out.amin(), x.amin()) or granularity != "tensor"
    scale = q.scale.expand(3, 4, 4)
    assert bool(((out - x).abs() <= scale / 2 + 1e-5).all())
    codes = q.encode(x)
    assert int(codes.min()) == 0 and int(codes.max()) == 2 ** bits - 1


def test_constant_feature_is_exact():
    x = torch.zeros(10, 1, 2, 2)
    x[:, 0, 0, 0] = torch.linspace(0, 1, 10)
    q = PostTrainingQuantizer(bits=2, granularity="feature").initialize(x)
    assert torch.equal(q(x)[:, 0, 1:, :], x[:, 0, 1:, :])
