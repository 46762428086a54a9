"""AutoPalette: index maps into per-sample palettes, the soft/hard maps, the losses, the warm-up."""

from __future__ import annotations

import doctest

import pytest
import torch

import beamsim.distill.param.palette as palette_module
from beamsim.distill.constant import constant_feature_mask
from beamsim.distill.param import AutoPalette, build_param
from beamsim.distill.param.palette import (decode_indices, hard_assignment, palette_colors, palette_losses,
                                           palette_payload_bits)
from beamsim.distill.settings import ParamSettings


def beam_like(n: int = 40, seed: int = 0) -> torch.Tensor:
    """[n, 1, 8, 8] in [0, 1]; every other pixel of every other row is the floor 1.0 in every sample."""
    x = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
    x[:, :, ::2, ::2] = 1.0
    return x


def fitted(x: torch.Tensor, *, colors: int = 4, warmup: int = 20, seed: int = 1, constant=True) -> AutoPalette:
    settings = ParamSettings(name="palette", colors=colors, warmup=warmup, lr=0.05)
    param = build_param(settings, generator=torch.Generator().manual_seed(seed))
    return param.fit(x, constant_feature_mask(x) if constant else None)


def test_doctests():
    result = doctest.testmod(palette_module)
    assert result.attempted > 5 and result.failed == 0


def test_registered_with_its_flags():
    param = build_param(ParamSettings(name="palette", colors=8))
    assert isinstance(param, AutoPalette) and param.name == "palette"
    assert not param.quantizable and param.latent_is_sample and param.index_bits == 3


def test_eval_decodes_to_its_palette_colours_and_the_constants():
    x = beam_like()
    param = fitted(x)
    latent = param.to_latent(x[:6])
    param.prepare(latent)
    hard = param.eval()(latent)
    indices, palettes = param.encode(latent)
    assert indices.dtype == torch.uint8 and palettes.dtype == torch.float32 and palettes.shape == (6, 4, 1)
    assert torch.equal(hard, decode_indices(indices, palettes, param.constant_))
    pixels = param.pixels_
    assert int(pixels.sum()) == 64 - 16 and not bool(pixels[0, 0])
    for n in range(6):  # every indexed pixel takes one of its sample's K colours
        values = hard[n, 0][pixels]
        assert bool((values[:, None] == palettes[n, :, 0][None, :]).any(dim=1).all())
        assert torch.equal(values, palettes[n, indices[n][pixels].long(), 0])
    assert bool((hard[:, :, ::2, ::2] == 1.0).all())  # constants applied in eval ...
    soft = param.train()(latent)
    assert bool((soft[:, :, ::2, ::2] == 1.0).all())  # ... and in train mode
    assert bool((indices[:, ::2, ::2] == 0).all())    # constant pixels get no index


def test_hard_palette_is_the_mean_of_the_assigned_pixels():
    x = torch.tensor([[[[0.0, 1.0], [2.0, 6.0]]]])
    one_hot = torch.nn.functional.one_hot(torch.tensor([[[0, 0], [1, 1]]]), 3).permute(0, 3, 1, 2).float()
    assert palette_colors(x, one_hot).tolist() == [[[0.5], [4.0], [0.0]]]  # an unused colour is 0
    assert hard_assignment(one_hot).tolist() == [[[0, 0], [1, 1]]]


def test_gradients_reach_the_latent_and_the_network():
    x = beam_like()
    param = fitted(x).train()
    latent = param.to_latent(x[:4]).requires_grad_(True)
    (param(latent) ** 2).mean().backward()
    assert latent.grad is not None and float(latent.grad.abs().sum()) > 0
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in param.parameters())
    param.zero_grad()
    latent.grad = None
    reg, info = param.regularization(latent)
    reg.backward()
    assert set(info) == {"palette_balance", "palette_max"}
    assert float(param.net_.conv.weight.grad.abs().sum()) > 0 and float(latent.grad.abs().sum()) > 0


def test_balance_loss_is_zero_only_for_even_usage():
    even = torch.zeros(1, 4, 2, 2)
    for k in range(4):
        even[0, k].view(-1)[k] = 1.0  # each colour owns one pixel
    balance, max_colour = palette_losses(even)
    assert float(balance) == pytest.approx(0.0, abs=1e-6) and float(max_colour) == pytest.approx(0.0, abs=1e-7)
    uniform = torch.full((1, 4, 2, 2), 0.25)  # even usage, but no colour is chosen with certainty
    balance, max_colour = palette_losses(uniform)
    assert float(balance) == pytest.approx(0.0, abs=1e-6) and float(max_colour) == pytest.approx(0.75)
    skewed = torch.zeros(1, 4, 2, 2)
    skewed[0, 0] = 0.7
    skewed[0, 1:] = 0.1
    balance, _ = palette_losses(skewed)
    assert float(balance) > 0.1
    pixels = torch.tensor([[True, False], [False, False]])  # only the pixels that count
    assert float(palette_losses(even, pixels)[0]) == pytest.approx(torch.log(torch.tensor(4.0)).item())


def test_same_seed_same_warmup_and_output():
    x = beam_like()
    runs = []
    for seed in (3, 3, 4):
        param = fitted(x, seed=seed, warmup=15)
        latent = param.to_latent(x[:5])
        log = param.prepare(latent)
        runs.append((log, param.eval()(latent), param.net_.conv.weight.detach().clone()))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1]) and torch.equal(runs[0][2], runs[1][2])
    assert not torch.equal(runs[0][2], runs[2][2])


def test_warmup_fits_the_soft_image():
    x = beam_like()
    param = fitted(x, warmup=0)
    latent = param.to_latent(x[:8])
    before = param.prepare(latent)["palette_warmup_mse"]
    param.settings = ParamSettings(name="palette", colors=4, warmup=60, lr=0.05)
    after = param.prepare(latent)
    assert after["palette_warmup_steps"] == 60 and after["palette_warmup_mse"] < before


def test_colour_images_without_constants():
    x = torch.rand(6, 3, 5, 7, generator=torch.Generator().manual_seed(2))
    param = fitted(x, colors=2, constant=False, warmup=3)
    latent = param.to_latent(x)
    hard = param.eval()(latent)
    indices, palettes = param.encode(latent)
    assert hard.shape == (6, 3, 5, 7) and palettes.shape == (6, 2, 3) and param.constant_ is None
    assert torch.equal(hard, decode_indices(indices, palettes))


def test_payload_accounting():
    assert palette_payload_bits(10, 48, 4, 1) == 10 * 48 * 2 + 10 * 4 * 32
    assert palette_payload_bits(2, 1024, 256, 3) == 2 * 1024 * 8 + 2 * 256 * 3 * 32
    with pytest.raises(ValueError, match="2..256"):
        palette_payload_bits(1, 1, 1, 1)
    with pytest.raises(ValueError, match="non-negative"):
        palette_payload_bits(-1, 1, 4, 1)


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_refusals_are_one_line():
    with pytest.raises(ValueError) as exc:
        ParamSettings(name="palette", colors=6)
    assert "power of two" in one_line(exc)
    with pytest.raises(ValueError) as exc:
        ParamSettings(name="palette", colors=1)
    assert "power of two" in one_line(exc)
    param = build_param(ParamSettings(name="palette", colors=4))
    with pytest.raises(ValueError) as exc:
        param.fit(torch.rand(10, 64), None)
    assert "image-like samples [C, H, W]" in one_line(exc) and "[64]" in one_line(exc)
    x = torch.ones(5, 1, 4, 4)
    with pytest.raises(ValueError) as exc:
        param.fit(x, constant_feature_mask(x))
    assert "every pixel is constant" in one_line(exc)
    with pytest.raises(RuntimeError, match="fit"):
        param.to_latent(x)
    param.fit(beam_like(), None)
    with pytest.raises(ValueError) as exc:
        param(torch.rand(2, 1, 4, 4))
    assert "[M, 1, 8, 8]" in one_line(exc)
