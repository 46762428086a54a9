import math

import pytest
import torch

from beamsim.distill.quant import FSQConfig, FSQQuantizer, build_quantizer


@pytest.mark.parametrize("bits", range(2, 9))
def test_grid_and_codes(bits, generator):
    q = FSQQuantizer(bits=bits).eval()
    z = torch.randn(5000, generator=generator) * 4
    out = q(z)
    codes = q.encode(z)
    levels = 2 ** bits
    assert int(codes.min()) == 0 and int(codes.max()) == levels - 1  # every code reachable
    assert torch.equal(q.decode(codes), out)
    grid = (torch.arange(levels) - levels // 2) / (levels // 2)
    assert torch.equal(q.decode(torch.arange(levels)), grid.float())
    assert bool(torch.isin(out, grid.float()).all())


def test_formula_matches_design():
    q = FSQQuantizer(bits=3, eps=1e-3)
    half_l = 7 * (1 - 1e-3) / 2
    shift = math.atanh(0.5 / half_l)
    z = torch.linspace(-3, 3, 101)
    bound = torch.tanh(z + shift) * half_l - 0.5
    assert torch.allclose(q.bound(z), bound)
    assert torch.equal(q.eval()(z), torch.round(bound) / 4)


def test_alternating_training_modes_use_generator():
    z = torch.linspace(-2, 2, 400, requires_grad=True)
    q = FSQQuantizer(bits=3, generator=torch.Generator().manual_seed(7)).train()
    noisy = q(z)  # step 0: additive noise, not on the grid
    assert not torch.equal(noisy * 4, torch.round(noisy * 4))
    assert float((noisy * 4 - q.bound(z)).abs().max().detach()) <= 0.5 + 1e-6
    q.step()
    hard = q(z)  # step 1: straight-through round, on the grid
    assert torch.equal(hard, q.eval()(z).detach())
    q.train()
    hard.sum().backward()
    assert bool((z.grad > 0).all())
    # same generator seed, same noise; the global RNG is not used
    torch.manual_seed(0)
    a = FSQQuantizer(bits=3, generator=torch.Generator().manual_seed(7)).train()(z)
    torch.manual_seed(1)
    b = FSQQuantizer(bits=3, generator=torch.Generator().manual_seed(7)).train()(z)
    assert torch.equal(a, b) and torch.equal(a, noisy)


def test_modes_and_validation():
    z = torch.linspace(-2, 2, 50)
    q = build_quantizer("fsq", bits=4, training_mode="ste").train()
    assert torch.equal(q(z), q.eval()(z))
    with pytest.raises(ValueError, match="bits >= 2"):
        FSQConfig(bits=1)
    with pytest.raises(ValueError, match="training_mode"):
        FSQConfig(training_mode="sometimes")
    with pytest.raises(ValueError, match="eps"):
        FSQConfig(eps=0.7)
