"""The orthonormal 2-D DCT: inverse, orthonormality, the transform itself, gradients."""

import math

import pytest
import torch

from beamsim.distill.param.dct import dct2, dct_matrix, idct2


@pytest.mark.parametrize("n", [1, 2, 5, 8, 32])
def test_dct_matrix_is_orthonormal(n):
    d = dct_matrix(n)
    assert d.shape == (n, n) and d.dtype == torch.float64
    eye = torch.eye(n, dtype=torch.float64)
    assert torch.allclose(d @ d.T, eye, atol=1e-13) and torch.allclose(d.T @ d, eye, atol=1e-13)


def test_dct_matrix_is_the_dct_ii_formula():
    n = 6
    d = dct_matrix(n, dtype=torch.float32)
    assert d.dtype == torch.float32
    for k in range(n):
        scale = math.sqrt((1 if k == 0 else 2) / n)
        want = [scale * math.cos(math.pi * (2 * i + 1) * k / (2 * n)) for i in range(n)]
        assert d[k].tolist() == pytest.approx(want, abs=1e-6)


def test_dct_matrix_hands_out_copies():
    d = dct_matrix(4)
    d.zero_()
    assert dct_matrix(4).abs().sum() > 0


@pytest.mark.parametrize("shape", [(3, 2, 8, 8), (2, 5, 7), (4, 4)])
def test_round_trip_float64_and_float32(generator, shape):
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    assert (idct2(dct2(x)) - x).abs().max() < 1e-12
    assert (dct2(idct2(x)) - x).abs().max() < 1e-12
    x32 = x.float()
    y = idct2(dct2(x32))
    assert y.dtype == torch.float32 and (y - x32).abs().max() < 1e-5


def test_dct2_keeps_energy_and_puts_a_constant_in_dc():
    x = torch.randn(3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(dct2(x).square().sum(), x.square().sum(), rtol=1e-12)
    c = dct2(torch.full((4, 6), 2.0, dtype=torch.float64))
    assert c[0, 0].item() == pytest.approx(2.0 * math.sqrt(24)) and c.flatten()[1:].abs().max() < 1e-12


def test_dct2_equals_separable_naive_sum():
    x = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    h, w = x.shape
    want = torch.zeros_like(x)
    for u in range(h):
        for v in range(w):
            su = math.sqrt((1 if u == 0 else 2) / h)
            sv = math.sqrt((1 if v == 0 else 2) / w)
            want[u, v] = su * sv * sum(x[i, j] * math.cos(math.pi * (2 * i + 1) * u / (2 * h))
                                       * math.cos(math.pi * (2 * j + 1) * v / (2 * w))
                                       for i in range(h) for j in range(w))
    assert torch.allclose(dct2(x), want, atol=1e-12)


def test_gradients_pass_both_ways():
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(dct2, (x,)) and torch.autograd.gradcheck(idct2, (x,))


@pytest.mark.parametrize("bad", [torch.arange(16).view(4, 4), torch.zeros(4), [[1.0]]])
def test_bad_input_is_refused(bad):
    with pytest.raises(ValueError, match=r"float tensor \[\.\.\., H, W\]"):
        dct2(bad)


@pytest.mark.parametrize("n", [0, -1, 2.0, True])
def test_bad_size_is_refused(n):
    with pytest.raises(ValueError, match="positive integer"):
        dct_matrix(n)
