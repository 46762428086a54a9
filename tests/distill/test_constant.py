import pytest
import torch

from beamsim.distill.constant import apply_constant, constant_feature_mask


def test_fixed_mask_beam_maps(beam_set, checkerboard):
    x, _ = beam_set
    mask, values = constant_feature_mask(x)
    assert mask.shape == (1, 8, 8) and mask.dtype == torch.bool
    assert torch.equal(mask, ~checkerboard)  # the 32 unobserved beams
    assert int(mask.sum()) == 32
    assert torch.equal(values[mask], torch.ones(32))
    assert torch.equal(values[~mask], torch.zeros(32))
    assert values.dtype == x.dtype


def test_equality_is_exact():
    x = torch.ones(4, 3)
    x[2, 0] = torch.nextafter(torch.tensor(1.0), torch.tensor(2.0))  # one float32 ulp
    x[:, 2] = float("nan")
    mask, _ = constant_feature_mask(x)
    assert mask.tolist() == [False, True, False]


def test_single_sample_is_all_constant():
    x = torch.rand(1, 2, 2)
    mask, values = constant_feature_mask(x)
    assert bool(mask.all()) and torch.equal(values, x[0])


def test_apply_constant_sets_values_and_blocks_gradient(beam_set):
    x, _ = beam_set
    mask, values = constant_feature_mask(x)
    syn = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    out = apply_constant(syn, mask, values)
    assert torch.equal(out[:, mask], torch.ones(5, 32))
    assert torch.equal(out[:, ~mask], syn.detach()[:, ~mask])
    out.sum().backward()
    assert torch.equal(syn.grad[:, mask], torch.zeros(5, 32))
    assert torch.equal(syn.grad[:, ~mask], torch.ones(5, 32))
    # pure: the input is not modified
    assert not torch.equal(syn.detach()[:, mask], torch.ones(5, 32))


def test_apply_constant_casts_values():
    mask = torch.tensor([True, False])
    out = apply_constant(torch.zeros(2, 2, dtype=torch.float64), mask, torch.tensor([3, 0]))
    assert out.dtype == torch.float64 and out.tolist() == [[3.0, 0.0], [3.0, 0.0]]


def test_errors():
    with pytest.raises(ValueError, match="N >= 1"):
        constant_feature_mask(torch.zeros(0, 3))
    mask, values = constant_feature_mask(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="shape"):
        apply_constant(torch.zeros(2, 4), mask, values)
    with pytest.raises(ValueError, match="bool"):
        apply_constant(torch.zeros(2, 3), mask.float(), values)
