"""FreD: explained-variance selection, the decoder, constants, gradients, settings and errors."""

import doctest
import importlib

import pytest
import torch

import beamsim.distill.param.fred as fred_module
from beamsim.distill.constant import constant_feature_mask
from beamsim.distill.param import FreD, build_param
from beamsim.distill.param.dct import dct2, idct2
from beamsim.distill.param.fred import (coefficients_per_channel, explained_variance_ratio, fred_overhead_bits,
                                        fred_payload_bits, select_frequencies)
from beamsim.distill.quant import build_quantizer
from beamsim.distill.settings import ParamSettings


def fred(k: int = 0) -> FreD:
    return FreD(ParamSettings(name="fred", coefficients=k))


def beam_maps(generator, checkerboard, n=60):
    x = torch.rand(n, 1, 8, 8, generator=generator)
    return torch.where(checkerboard, x, torch.ones(()))


@pytest.mark.parametrize("name", ["beamsim.distill.param.dct", "beamsim.distill.param.fred",
                                  "beamsim.distill.param.fred_file"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0


def test_registered_with_its_roles():
    param = build_param(ParamSettings(name="fred", coefficients=4))
    assert type(param) is FreD and param.name == "fred"
    assert FreD.quantizable and not FreD.latent_is_sample and not param.fitted


def known_variance_data(generator):
    """Data whose coefficient variance sits on chosen DCT positions (sd 3, 2, 1 in channel 0;
    sd 5, 4 in channel 1), built by idct2 of random coefficients."""
    n = 400
    coefficients = torch.zeros(n, 2, 4, 4, dtype=torch.float64)
    for (c, u, v), sd in {(0, 0, 1): 3.0, (0, 2, 3): 2.0, (0, 3, 3): 1.0, (1, 1, 0): 5.0, (1, 3, 1): 4.0}.items():
        coefficients[:, c, u, v] = sd * torch.randn(n, generator=generator, dtype=torch.float64)
    coefficients[:, 0, 0, 0] = 7.0  # a constant DC offset carries no variance
    return idct2(coefficients).float()


def test_fit_keeps_the_positions_with_the_largest_explained_variance(generator):
    x = known_variance_data(generator)
    param = fred(2).fit(x, None)
    assert param.freq_mask.dtype == torch.bool and param.freq_mask.shape == (2, 4, 4)
    assert param.freq_mask[0].nonzero().tolist() == [[0, 1], [2, 3]]
    assert param.freq_mask[1].nonzero().tolist() == [[1, 0], [3, 1]]
    ratio = explained_variance_ratio(dct2(x.double()))
    assert torch.allclose(ratio.sum(dim=(1, 2)), torch.ones(2, dtype=torch.float64))
    assert ratio[0, 0, 1] > ratio[0, 2, 3] > ratio[0, 3, 3] > 10 * ratio[0, 0, 0]


def test_fit_matches_the_pure_functions_and_does_not_depend_on_chunking(generator, monkeypatch):
    x = torch.randn(50, 3, 5, 6, generator=generator)
    want = select_frequencies(explained_variance_ratio(dct2(x.double())), 7)
    assert torch.equal(fred(7).fit(x, None).freq_mask, want)
    monkeypatch.setattr(fred_module, "_CHUNK_ELEMENTS", 200)  # 2 samples per chunk
    assert torch.equal(fred(7).fit(x, None).freq_mask, want)


def test_zero_variance_channel_and_ties_go_to_the_lowest_index():
    assert explained_variance_ratio(torch.ones(5, 2, 3, 3)).abs().sum() == 0
    ratio = torch.tensor([[[0.2, 0.3], [0.3, 0.2]], [[0.0, 0.0], [0.0, 0.0]]])
    mask = select_frequencies(ratio, 3)
    assert mask.int().tolist() == [[[1, 1], [1, 0]], [[1, 1], [1, 0]]]
    assert mask.view(2, -1).sum(dim=1).tolist() == [3, 3]
    with pytest.raises(ValueError, match="more than the 4 DCT coefficients of each 2x2 channel; use 1..4"):
        select_frequencies(ratio, 5)
    with pytest.raises(ValueError, match="1..4"):
        select_frequencies(ratio, 0)


def test_default_coefficients_are_a_quarter(generator):
    assert coefficients_per_channel(0, 8, 8) == 16 and coefficients_per_channel(0, 1, 1) == 1
    assert fred(0).fit(torch.rand(4, 2, 4, 6, generator=generator), None).coefficients_ == 6


def test_all_coefficients_reconstruct_the_samples(generator):
    x = torch.randn(10, 2, 5, 4, generator=generator)
    param = fred(20).fit(x, None)
    latent = param.to_latent(x)
    assert latent.shape == (10, 2, 20) and latent.dtype == torch.float32
    assert (param(latent) - x).abs().max() < 1e-5


def test_to_latent_is_the_kept_coefficients_in_flat_order(generator):
    x = torch.randn(6, 2, 4, 4, generator=generator)
    param = fred(5).fit(x, None)
    coefficients = dct2(x.double()).float()
    for c in range(2):
        assert torch.allclose(param.to_latent(x)[:, c], coefficients[:, c][:, param.freq_mask[c]], atol=1e-6)


def test_constants_are_applied_after_decoding(generator, checkerboard):
    x = beam_maps(generator, checkerboard)
    mask, values = constant_feature_mask(x)
    param = fred(16).fit(x, (mask, values))
    assert param.constant_elements == 32
    latent = torch.randn(7, 1, 16, generator=generator) * 5  # any latent at all
    out = param(latent)
    assert out.shape == (7, 1, 8, 8) and out.dtype == torch.float32
    assert torch.equal(out[:, mask], torch.ones(7, 32))
    free = fred(16).fit(x, None)
    assert not torch.equal(free(latent)[:, mask], out[:, mask])
    assert torch.equal(free(latent)[:, ~mask], out[:, ~mask])  # the same decoder elsewhere


def test_train_and_eval_give_the_same_output(generator, checkerboard):
    x = beam_maps(generator, checkerboard)
    param = fred(10).fit(x, constant_feature_mask(x))
    latent = param.to_latent(x[:5])
    assert torch.equal(param.train()(latent), param.eval()(latent))


def test_gradients_reach_the_latent(generator, checkerboard):
    x = beam_maps(generator, checkerboard)
    mask, values = constant_feature_mask(x)
    param = fred(16).fit(x, (mask, values))
    latent = param.to_latent(x[:8]).requires_grad_(True)
    out = param(latent)
    grad_out = torch.randn(out.shape, generator=generator)
    (out * grad_out).sum().backward()
    assert latent.grad is not None and latent.grad.abs().sum() > 0
    # the gradient is the adjoint (DCT) of the output gradient at the free positions, kept coefficients only
    want = dct2(torch.where(mask, 0.0, grad_out).double())[:, param.freq_mask].view(8, 1, 16).float()
    assert torch.allclose(latent.grad, want, atol=1e-5)


def test_gradients_reach_the_latent_through_an_apot_quantizer(generator, checkerboard):
    x = beam_maps(generator, checkerboard)
    param = fred(16).fit(x, constant_feature_mask(x))
    latent = param.to_latent(x[:8])
    q = build_quantizer("apot", bits=6)
    q.initialize(latent)
    assert q.alpha.shape == (1, 16)  # feature granularity: one threshold per latent element
    latent.requires_grad_(True)
    loss = (param(q(latent)) - x[:8]).square().mean()
    loss.backward()
    assert torch.isfinite(latent.grad).all() and latent.grad.abs().sum() > 0
    assert q.alpha.grad is not None and q.alpha.grad.abs().sum() > 0


def test_state_dict_loads_into_an_unfitted_fred(generator, checkerboard):
    x = beam_maps(generator, checkerboard)
    param = fred(12).fit(x, constant_feature_mask(x))
    other = fred(12)
    other.load_state_dict(param.state_dict())
    latent = param.to_latent(x[:3])
    assert other.fitted and other.coefficients_ == 12 and torch.equal(other(latent), param(latent))
    assert sorted(param.state_dict()) == ["constant_mask", "constant_values", "freq_mask"]


def test_from_masks_rebuilds_the_decoder(generator, checkerboard):
    x = beam_maps(generator, checkerboard)
    param = fred(9).fit(x, constant_feature_mask(x))
    again = FreD.from_masks(param.freq_mask, (param.constant_mask, param.constant_values))
    latent = param.to_latent(x[:4])
    assert again.coefficients_ == 9 and torch.equal(again(latent), param(latent))
    with pytest.raises(ValueError, match="same number"):
        FreD.from_masks(torch.tensor([[[True, True]], [[True, False]]]))


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_too_many_coefficients_is_refused_with_the_fix(generator):
    with pytest.raises(ValueError) as exc:
        fred(80).fit(torch.rand(5, 1, 8, 8, generator=generator), None)
    assert one_line(exc) == "--coefficients 80 is more than the 64 DCT coefficients of each 8x8 channel; use 1..64"


@pytest.mark.parametrize("shape", [(10, 64), (10, 8, 8), (2, 1, 1, 8, 8)])
def test_samples_that_are_not_4d_are_refused(generator, shape):
    with pytest.raises(ValueError) as exc:
        fred(4).fit(torch.rand(shape, generator=generator), None)
    assert "[N, C, H, W]" in one_line(exc) and "--param none" in one_line(exc)


def test_bad_latents_and_use_before_fit_are_refused(generator):
    param = fred(4)
    with pytest.raises(RuntimeError, match="not fitted"):
        param(torch.zeros(1, 1, 4))
    param.fit(torch.rand(6, 1, 4, 4, generator=generator), None)
    with pytest.raises(ValueError, match=r"latent \[M, 1, 4\]"):
        param(torch.zeros(2, 1, 5))
    with pytest.raises(ValueError, match=r"\[M, 1, 4, 4\]"):
        param.to_latent(torch.zeros(2, 1, 4, 5))
    with pytest.raises(ValueError, match="NaN"):
        fred(4).fit(torch.full((3, 1, 4, 4), float("nan")), None)


def test_accounting_functions():
    assert fred_payload_bits(640, 1, 16, 6) == 640 * 16 * 6
    # mask 64 + thresholds 16 x 32 + counts 64 x 32 + constants (64 + 32 x 32) + header 128
    assert fred_overhead_bits((1, 8, 8), num_thresholds=16, num_classes=64, constant_elements=32) == \
        64 + 16 * 32 + 64 * 32 + 64 + 32 * 32 + 128
    assert fred_overhead_bits((3, 4, 4), num_classes=10) == 48 + 10 * 32 + 128


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_decoding_matches_cpu(generator, checkerboard):
    x = beam_maps(generator, checkerboard, n=400)
    param = fred(16).fit(x, constant_feature_mask(x))
    latent = param.to_latent(x)
    gpu = fred(16).cuda()
    gpu.load_state_dict(param.state_dict())
    assert torch.equal(gpu(latent.cuda()).cpu(), param(latent))
    assert torch.equal(fred(16).fit(x.cuda(), constant_feature_mask(x.cuda())).freq_mask.cpu(), param.freq_mask)
