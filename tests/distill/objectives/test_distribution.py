import doctest

import pytest
import torch

import beamsim.distill.objectives.distribution as distribution_module
from beamsim.distill.objectives import class_means, distribution_matching_loss, sample_per_class
from beamsim.distill.params import embed
from beamsim.models import BeamCNN, reset_parameters


def identity(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


def test_doctests():
    assert doctest.testmod(distribution_module).failed == 0


def test_zero_when_synthetic_equals_real():
    g = torch.Generator().manual_seed(0)
    model = reset_parameters(BeamCNN(1, 4, (8, 8), widths=(4, 8, 8)), g)
    groups = [torch.rand(5, 1, 8, 8, generator=g) for _ in range(4)]
    loss = distribution_matching_loss(lambda x: embed(model, x), groups, [t.clone() for t in groups])
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-10)


def test_known_value_with_identity_embedding():
    real = [torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 1.0]])]
    syn = [torch.tensor([[0.0, 0.0]]), torch.tensor([[2.0, 3.0], [0.0, 1.0]])]
    # class 0: means (2, 3) vs (0, 0) -> 13; class 1: (1, 1) vs (1, 2) -> 1
    assert float(distribution_matching_loss(identity, real, syn)) == pytest.approx(14.0)


def test_classes_without_real_or_synthetic_samples_are_skipped():
    real = [torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 1.0]]), torch.tensor([[9.0, 9.0]]),
            torch.zeros(0, 2)]
    syn = [torch.tensor([[0.0, 0.0]]), torch.tensor([[2.0, 3.0], [0.0, 1.0]]), torch.zeros(0, 2),
           torch.tensor([[5.0, 5.0]])]
    assert float(distribution_matching_loss(identity, real, syn)) == pytest.approx(14.0)
    with pytest.raises(ValueError, match="per class"):
        distribution_matching_loss(identity, real, syn[:2])


def test_matches_a_per_class_loop_and_gradient_reaches_synthetic_only():
    g = torch.Generator().manual_seed(1)
    model = reset_parameters(BeamCNN(1, 4, (8, 8), widths=(4, 8, 8)), g)
    real = [torch.rand(n, 1, 8, 8, generator=g) for n in (6, 3, 5)]
    syn = [torch.rand(n, 1, 8, 8, generator=g).requires_grad_() for n in (2, 4, 1)]
    loss = distribution_matching_loss(lambda x: embed(model, x), real, syn)
    expected = sum((embed(model, r).mean(0) - embed(model, s).mean(0)).pow(2).sum() for r, s in zip(real, syn))
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    loss.backward()
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in syn)


def test_class_means_of_empty_classes_are_zero():
    means, counts = class_means(torch.ones(3, 2), torch.tensor([0, 0, 2]), 4)
    assert counts.tolist() == [2, 0, 1, 0]
    assert means.tolist() == [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [0.0, 0.0]]


def test_sample_per_class_draws_without_replacement():
    x = torch.arange(30.0).view(30, 1)  # row i holds the value i
    y = torch.tensor([0] * 12 + [1] * 3 + [2] * 15)
    groups = sample_per_class(x, y, 4, 5, torch.Generator().manual_seed(0))
    assert [len(t) for t in groups] == [5, 3, 5, 0]
    for c, t in enumerate(groups):
        rows = t.flatten().long()
        assert (y[rows] == c).all() and len(set(rows.tolist())) == len(rows)
    again = sample_per_class(x, y, 4, 5, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(groups, again))
    other = sample_per_class(x, y, 4, 5, torch.Generator().manual_seed(1))
    assert not torch.equal(groups[0], other[0])
    with pytest.raises(ValueError):
        sample_per_class(x, y, 4, 0, torch.Generator())
