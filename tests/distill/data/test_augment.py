"""DSA: every op keeps the shape and passes gradients; draws come from the generator; siamese pairing."""

from __future__ import annotations

import pytest
import torch

from beamsim.distill.data.augment import DSA, OPS, DSAConfig, within_class_rank


def images(n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("op", OPS)
def test_every_op_keeps_shape_and_is_differentiable(op):
    dsa = DSA()
    x = images().requires_grad_(True)
    params = dsa.draw(x.shape[0], (8, 8), torch.Generator().manual_seed(1), op=op)
    y = dsa.apply(x, params)
    assert y.shape == x.shape and y.dtype == torch.float32 and torch.isfinite(y).all()
    y.pow(2).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_same_generator_same_augmentation_and_no_global_rng():
    dsa = DSA()
    x = images()
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    a = dsa(x, torch.Generator().manual_seed(5))
    b = dsa(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    assert torch.equal(state, torch.random.get_rng_state()), "DSA touched the global RNG"
    outs = {tuple(dsa(x, torch.Generator().manual_seed(s)).flatten()[:20].tolist()) for s in range(8)}
    assert len(outs) > 1


def test_flip_and_crop_semantics():
    dsa = DSA(flip_prob=1.0)
    x = images(2)
    flip = dsa.draw(2, (8, 8), None, op="flip")
    assert torch.equal(dsa.apply(x, flip), x.flip(3))
    crop = dsa.draw(2, (8, 8), None, op="crop")
    crop.values = {"dx": torch.tensor([0, 1]), "dy": torch.tensor([0, 0])}
    out = dsa.apply(x, crop)
    assert torch.equal(out[0], x[0])  # no shift
    assert torch.equal(out[1, :, :7], x[1, :, 1:]) and torch.all(out[1, :, 7] == 0)  # one row up, zero padded


def test_siamese_pairs_rows_by_position_within_class():
    dsa = DSA()
    x = images(5)
    y_real = torch.tensor([0, 1, 0, 1, 1])
    x_syn = x[[0, 1, 2]].clone().requires_grad_(True)  # class 0 rank 0, class 1 rank 0, class 0 rank 1
    y_syn = torch.tensor([0, 1, 0])
    for seed in range(6):  # every op group: paired rows get identical augmentations
        real, syn = dsa.siamese(x, y_real, x_syn, y_syn, torch.Generator().manual_seed(seed))
        torch.testing.assert_close(syn, real[[0, 1, 2]])
    syn.sum().backward()
    assert x_syn.grad is not None


def test_within_class_rank_and_config_errors():
    assert within_class_rank(torch.tensor([2, 2, 0, 2])).tolist() == [0, 1, 0, 2]
    assert DSAConfig(strategy="crop_flip").ops == ("crop", "flip")
    with pytest.raises(ValueError, match="op groups from"):
        DSAConfig(strategy="color_blur")


def test_objectives_take_dsa_and_pass_gradients_through_it():
    from beamsim.distill.objectives import distribution_matching_loss, gradient_matching_loss, trajectory_matching_loss
    from beamsim.distill.params import embed, flatten_params
    from beamsim.models import get_model

    g = torch.Generator().manual_seed(0)
    dsa = DSA()
    net = get_model("beamcnn", 3, 2, 8, generator=torch.Generator().manual_seed(1))
    real, y_real = images(8), torch.tensor([0, 1] * 4)
    syn = images(4, seed=1).requires_grad_(True)
    y_syn = torch.tensor([0, 1, 0, 1])
    pair = lambda xr, yr, xs, ys: dsa.siamese(xr, yr, xs, ys, g)  # noqa: E731
    dm = distribution_matching_loss(lambda t: embed(net, t), [real[y_real == c] for c in (0, 1)],
                                    [syn[y_syn == c] for c in (0, 1)], augment=pair)
    dc = gradient_matching_loss(net, real, y_real, syn, y_syn, 2, augment=pair)
    start = flatten_params(net)
    target = start + 0.01 * torch.randn(start.shape, generator=g)
    calls = []
    tm, _ = trajectory_matching_loss(net, syn, y_syn, start, target, torch.tensor(0.01, requires_grad=True),
                                     syn_steps=2, batch_size=2, generator=g,
                                     augment=lambda xb: (calls.append(xb.shape[0]), dsa(xb, g))[1])
    assert calls == [2, 2]
    for loss in (dm, dc, tm):
        (grad,) = torch.autograd.grad(loss, syn)
        assert torch.isfinite(grad).all() and float(grad.abs().sum()) > 0


def test_expert_cache_key_includes_the_augmentation():
    from beamsim.distill.experts import ExpertSettings, expert_cache_key

    plain = ExpertSettings(model="convnet3")
    dsa = ExpertSettings(model="convnet3", augment="dsa:color_crop")
    assert plain.augmenter() is None and dsa.augmenter() is not None
    assert expert_cache_key("d", plain, 0, 0, (3, 8, 8), 10) != expert_cache_key("d", dsa, 0, 0, (3, 8, 8), 10)
    with pytest.raises(ValueError, match="dsa:<strategy>"):
        ExpertSettings(augment="mixup")
