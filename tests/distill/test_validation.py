"""Validation: the stratified hold-out, the eval-mode view of Q(S), and the scorer's own generator."""

import doctest

import torch

import beamsim.distill.networks as networks
import beamsim.distill.validation as validation
from beamsim.distill.networks import Networks
from beamsim.distill.quant import build_quantizer
from beamsim.distill.run_param import decoded_view
from beamsim.distill.validation import Validator, stratified_holdout


def test_doctests():
    for module in (validation, networks):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


def test_holdout_takes_the_floor_of_every_class():
    y = torch.tensor([0] * 10 + [1] * 5 + [2] * 1)
    keep, held = stratified_holdout(y, 4, 0.25, torch.Generator().manual_seed(0))
    assert torch.bincount(y[held], minlength=4).tolist() == [2, 1, 0, 0]
    assert sorted(keep.tolist() + held.tolist()) == list(range(16))
    assert torch.equal(keep, keep.sort().values) and torch.equal(held, held.sort().values)
    again, _ = stratified_holdout(y, 4, 0.25, torch.Generator().manual_seed(0))
    other, _ = stratified_holdout(y, 4, 0.25, torch.Generator().manual_seed(1))
    assert torch.equal(keep, again) and not torch.equal(keep, other)


def test_decoded_view_uses_eval_mode_and_restores_it():
    syn = torch.rand(4, 1, 2, 2, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    q = build_quantizer("fsq", bits=3, generator=torch.Generator().manual_seed(1))
    q.train()
    view = decoded_view(syn, q, None)
    assert q.training and not view.requires_grad
    q.eval()
    assert torch.equal(view, q(syn).detach())
    plain = decoded_view(syn, None, None)
    assert torch.equal(plain, syn.detach()) and plain.data_ptr() != syn.data_ptr()


def test_the_same_iteration_scores_the_same():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(12, 1, 8, 8, generator=g), torch.arange(3).repeat(4)
    nets = Networks("beamcnn", (1, 8, 8), 3, torch.device("cpu"))
    v = Validator(x[:6], y[:6], nets, epochs=2, seed=3, dsa=None, device=torch.device("cpu"))
    assert v.enabled and not Validator(x[:0], y[:0], nets, epochs=2, seed=3, dsa=None, device=torch.device("cpu")).enabled
    a = v.score(x[6:], y[6:], 10)
    assert 0.0 <= a <= 1.0 and a == v.score(x[6:], y[6:], 10)
