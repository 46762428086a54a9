"""ZCA whitening: the Kornia/MTT formula, dense and low-rank fits agree, the sha256 identifies the fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import beamsim.distill.data.zca as zca_module
from beamsim.distill.data.zca import fit_zca


def correlated(n: int = 200, shape=(2, 3, 3), seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    d = int(np.prod(shape))
    mix = torch.randn(d, d, generator=g)
    return (torch.randn(n, d, generator=g) @ mix + 3.0).view(n, *shape)


def test_matches_the_reference_formula():
    x = correlated()
    z = fit_zca(x, eps=0.1, device="cpu")
    flat = x.reshape(x.shape[0], -1).double().numpy()
    mean = flat.mean(0)
    cov = (flat - mean).T @ (flat - mean) / (flat.shape[0] - 1)
    lam, u = np.linalg.eigh(cov)
    ref = (flat - mean) @ (u @ np.diag(1.0 / np.sqrt(lam + 0.1)) @ u.T)
    out = z.apply(x).reshape(x.shape[0], -1).double().numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    # whitened: the covariance has eigenvalues lam / (lam + eps) <= 1
    white_cov = np.cov(out.T)
    assert np.linalg.eigvalsh(white_cov).max() < 1.0 + 1e-3


def test_low_rank_fit_equals_the_dense_fit(monkeypatch):
    x = correlated(n=30, shape=(1, 4, 5))  # 20 features, 30 samples
    dense = fit_zca(x, device="cpu")
    monkeypatch.setattr(zca_module, "DENSE_MAX_FEATURES", 4)  # as if the images were large
    low = fit_zca(x, device="cpu")
    assert dense.matrix is not None and low.matrix is None and low.basis.shape == (20, 20)
    few = fit_zca(x[:12], device="cpu")  # fewer images than features: rank 11, low rank
    assert few.matrix is None and few.basis.shape == (20, 11)
    probe = correlated(n=5, shape=(1, 4, 5), seed=3)
    torch.testing.assert_close(low.apply(probe), dense.apply(probe), rtol=1e-3, atol=1e-3)
    for a, b in zip(low.invariants, dense.invariants):
        assert a == pytest.approx(b, rel=1e-4)


def test_sha256_is_deterministic_and_invariants_check_refits():
    x = correlated()
    a, b = fit_zca(x, device="cpu"), fit_zca(x, device="cpu")
    assert a.sha256 == b.sha256 and len(a.sha256) == 64
    assert a.matches(b.sha256)
    assert a.matches("0" * 64, b.invariants)  # another machine's last bits: invariants agree
    other = fit_zca(correlated(seed=1), device="cpu")
    assert not a.matches(other.sha256, other.invariants)
    assert fit_zca(x, eps=0.2, device="cpu").sha256 != a.sha256


def test_bad_inputs():
    with pytest.raises(ValueError, match="N >= 2"):
        fit_zca(torch.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="eps"):
        fit_zca(torch.zeros(3, 1, 2, 2), eps=0.0)
    z = fit_zca(correlated(), device="cpu")
    with pytest.raises(ValueError, match="fitted on images of shape"):
        z.apply(torch.zeros(2, 1, 3, 3))
