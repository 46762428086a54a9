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


@pytest.mark.parametrize("bits", [2, 4, 6, 8])
def test_a_data_range_maps_codes_onto_it_with_both_ends_exact(bits, generator):
    x = torch.rand(4000, generator=generator) * 0.8 + 0.1
    x[:2] = torch.tensor([0.1, 0.9])
    q = FSQQuantizer(bits=bits).initialize(x).eval()
    assert q.ranged and q.latent_input and q.version == 2
    step = 0.8 / (2 ** bits - 1)
    z = q.to_latent(x)
    out = q(z)
    assert float((out - x).abs().max()) <= step / 2 + 1e-5
    assert torch.equal(q.decode(q.encode(z)), out)
    ends = q.decode(torch.tensor([0, 2 ** bits - 1]))
    assert torch.allclose(ends, torch.tensor([0.1, 0.9])) and float(ends[1]) == float(x.max())
    # the range travels with the decode state
    again = FSQQuantizer(bits=bits).load_decode_state(q.decode_state()).eval()
    assert torch.equal(again.decode(q.encode(z)), out)


def test_without_a_range_the_grid_and_latent_are_the_designs():
    q = FSQQuantizer(bits=3).eval()
    assert q.decode_state() == {}
    grid = (torch.arange(8) - 4) / 4
    assert torch.equal(q(q.to_latent(grid)), grid.float())


@pytest.mark.parametrize("state", [{"data_range": torch.tensor([1.0, 1.0])}, {"data_range": torch.tensor([0.0])},
                                   {"data_range": torch.tensor([0.0, float("nan")])}, {"alpha": torch.ones(2)}])
def test_bad_decode_state_is_refused(state):
    with pytest.raises(ValueError):
        FSQQuantizer(bits=3).load_decode_state(state)


def test_initialize_refuses_non_finite_data():
    with pytest.raises(ValueError, match="finite"):
        FSQQuantizer(bits=3).initialize(torch.tensor([0.0, float("inf")]))
