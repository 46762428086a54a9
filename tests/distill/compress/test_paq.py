import pytest
import torch

from beamsim.distill.compress import PatchLayout, asymmetric_params, fake_quantize, paq


def per_element_scale(q):
    rows = q.parameter_rows()[:, q.layout.patch_of]
    return q.layout.merge(q.scale[rows].float())


@pytest.mark.parametrize("bits", [1, 2, 3, 5, 8])
def test_round_trip_within_half_a_step_per_patch(small_images, bits):
    q = paq(small_images, bits, patch=5)
    assert q.layout.num_patches == 3 * 3  # 11 x 13 in 5 x 5 patches with edge patches
    assert q.num_groups == 6 * 9 and q.group is None and q.codec == "paq"
    err = (q.decode() - small_images).abs()
    assert bool((err <= per_element_scale(q) / 2 * (1 + 1e-6) + 1e-7).all())
    assert int(q.codes.max()) <= 2 ** bits - 1


def test_beam_maps_store_constants_once(small_beams):
    x, _ = small_beams
    q = paq(x, 2)  # default 2 x 2 patches for 8 x 8 maps
    assert q.layout.patch == (2, 2) and q.layout.num_patches == 16 and q.layout.varying == 32
    out = q.decode()
    assert torch.equal(out[:, 0, 0, 1], torch.ones(24))  # unobserved beam, exact
    assert out.shape == x.shape and out.dtype == torch.float32


def test_constant_patches_are_exact():
    x = torch.zeros(3, 1, 4, 4)
    x[0] = 0.7
    x[1] = -0.7
    x[2, 0, :2, :2] = torch.tensor([[0.1, 0.9], [0.4, 0.2]])
    q = paq(x, 2, PatchLayout.build(x, 2, constants_once=False))
    out = q.decode()
    assert torch.equal(out[0], x[0]) and torch.equal(out[1], x[1]) and torch.equal(out[2, 0, 2:], x[2, 0, 2:])
    assert bool((q.scale > 0).all())


def test_params_formula():
    scale, zp = asymmetric_params(torch.tensor([0.2]), torch.tensor([0.8]), 2)
    assert torch.allclose(scale, torch.tensor([0.2])) and zp.tolist() == [-1]
    assert zp.dtype == torch.int32


def test_fake_quantize_matches_and_passes_gradients(small_images):
    layout = PatchLayout.build(small_images, 4)
    x = small_images.clone().requires_grad_(True)
    out = fake_quantize(x, 3, layout)
    assert torch.equal(out.detach(), paq(small_images, 3, layout).decode())
    out.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0.5 * x.numel()


@pytest.mark.parametrize("kwargs", [dict(bits=0), dict(bits=9), dict(bits=2, patch=0), dict(bits=2, patch=(2, -1))])
def test_bad_settings(small_images, kwargs):
    with pytest.raises(ValueError):
        paq(small_images, **kwargs)


def test_bad_shape():
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        paq(torch.rand(4, 8, 8), 2)
