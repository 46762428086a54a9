"""The model registry, output shapes on beam maps and images, seeded initialisation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from beamsim.models import get_model, list_models, register_model, reset_parameters

ALL = ["alexnet", "beamcnn", "beamgru", "beammlp", "convnet3", "convnet5", "resnet18", "vgg11"]

# (input shape, number of classes): beam maps without/with the mask channel, RGB and grey images.
SHAPES = [((2, 1, 8, 8), 64), ((2, 2, 8, 8), 64), ((2, 3, 32, 32), 10), ((2, 1, 28, 28), 10)]


def test_registry_lists_every_model():
    assert list_models() == ALL


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("shape,classes", SHAPES, ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else str(v))
def test_output_shape(name, shape, classes):
    model = get_model(name, shape[1], classes, shape[-2:], generator=torch.Generator().manual_seed(0))
    out = model(torch.rand(shape, generator=torch.Generator().manual_seed(1)))
    assert out.shape == (shape[0], classes)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_non_square_and_int_image_size():
    assert get_model("convnet3", 1, 5, (8, 4))(torch.rand(3, 1, 8, 4)).shape == (3, 5)
    assert get_model("beamcnn", 1, 64, 8)(torch.rand(1, 1, 8, 8)).shape == (1, 64)


def test_unknown_model_lists_known_names():
    with pytest.raises(ValueError, match="unknown model 'lenet'.*beamcnn.*resnet18"):
        get_model("lenet", 1, 64, 8)


@pytest.mark.parametrize("kwargs", [{"in_channels": 0}, {"num_classes": 0}, {"image_size": (8,)}, {"image_size": 0}])
def test_bad_sizes_raise(kwargs):
    args = {"in_channels": 1, "num_classes": 64, "image_size": 8, **kwargs}
    with pytest.raises(ValueError):
        get_model("beamcnn", **args)


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="already registered"):
        register_model("beamcnn")(lambda c, k, s: nn.Linear(1, 1))


def test_beamcnn_layout():
    model = get_model("beamcnn", 1, 64, 8)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 64]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 1 and linears[0].in_features == 64 * 8 * 8 and linears[0].out_features == 64


def test_convnet_uses_instance_norm_and_skips_pooling_below_2x2():
    model = get_model("convnet5", 1, 64, 8)
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 5 and all(n.num_groups == n.num_channels == 128 for n in norms)
    pools = [m for m in model.modules() if isinstance(m, nn.AvgPool2d)]
    assert len(pools) == 3  # 8 -> 4 -> 2 -> 1, then no more pooling
    assert model.classifier.in_features == 128
    assert get_model("convnet3", 3, 10, 32).classifier.in_features == 128 * 4 * 4


@pytest.mark.parametrize("name", ALL)
def test_same_generator_same_weights(name):
    a = get_model(name, 1, 64, 8, generator=torch.Generator().manual_seed(7))
    b = get_model(name, 1, 64, 8, generator=torch.Generator().manual_seed(7))
    c = get_model(name, 1, 64, 8, generator=torch.Generator().manual_seed(8))
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters()))


def test_reset_parameters_leaves_global_rng_alone_and_matches_pytorch_bounds():
    model = get_model("beamcnn", 2, 64, 8)
    state = torch.random.get_rng_state()
    reset_parameters(model, torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.random.get_rng_state())
    conv = model.features[2]  # 32 -> 64 channels, fan_in = 32 * 9
    bound = 1 / math.sqrt(32 * 9)
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.9 * bound
    # U(-b, b) has std b / sqrt(3)
    assert conv.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert conv.bias.abs().max() <= bound


def test_reset_parameters_sets_norm_layers():
    model = get_model("resnet18", 3, 10, 32)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.GroupNorm):
                m.weight.fill_(3.0)
    reset_parameters(model, torch.Generator().manual_seed(0))
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert norms and all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in norms)


def test_reset_parameters_refuses_unknown_layers():
    with pytest.raises(TypeError, match="Embedding"):
        reset_parameters(nn.Sequential(nn.Embedding(3, 2)), torch.Generator())


def test_gradients_reach_every_parameter():
    model = get_model("beamcnn", 1, 64, 8, generator=torch.Generator().manual_seed(0))
    model(torch.rand(4, 1, 8, 8)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
