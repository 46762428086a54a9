"""ZCA whitening as the trajectory-matching literature uses it (Kornia's ``ZCAWhitening``).

Fitted on the training images, flattened to D features: with the feature means ``mu`` and
the covariance ``S = Xc^T Xc / (N - 1)`` (unbiased, as Kornia) with eigen-decomposition
``U diag(lambda) U^T``, the transform is

    T = U diag(1 / sqrt(lambda + eps)) U^T,        x_white = (x - mu) T

with ``eps = 0.1`` regularising the small eigenvalues (MTT/DATM call
``kornia.enhance.ZCAWhitening(eps=0.1, compute_inv=True)``). The same ``mu`` and ``T``
whiten the training and the test images.

Two ways to fit, with the same result up to rounding:

- ``D <= DENSE_MAX_FEATURES`` and more images than features (CIFAR: 3,072 features, 50,000
  images): the D x D covariance, eigen-decomposed in float64; ``T`` is stored dense.
- larger D (128 x 128 RGB: 49,152 features, where a D x D matrix would take 9.7 GB) or fewer
  images than features: the N x N Gram matrix ``Xc Xc^T`` gives the r <= N - 1 non-zero eigenpairs; every direction
  orthogonal to the data has eigenvalue 0 and is scaled by ``1 / sqrt(eps)``, so
  ``T = I / sqrt(eps) + U (diag(1 / sqrt(lambda + eps)) - I / sqrt(eps)) U^T`` with ``U``
  [D, r]. Memory is about that of the training set itself.

:attr:`ZCA.sha256` identifies the fitted transform (its float32 bytes); the distilled file
records it so that evaluation can refit on the training images and check it got the same
transform. Eigen-solvers and BLAS may differ in the last bits between machines, devices and
thread counts; :meth:`ZCA.matches` therefore also compares the rotation-invariant summary
:attr:`ZCA.invariants` (trace and squared Frobenius norm of ``T``, squared norm of ``mu``)
within a relative tolerance.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch

from beamsim.config import resolve_device

__all__ = ["ZCA", "fit_zca", "DENSE_MAX_FEATURES", "DEFAULT_EPS"]

#: Largest feature count fitted and stored as a dense D x D matrix.
DENSE_MAX_FEATURES = 4096
#: Largest image count of the low-rank (Gram-matrix) fit.
LOW_RANK_MAX_IMAGES = 40_000
#: Eigenvalue regularisation of MTT/DATM (Kornia's ``eps``).
DEFAULT_EPS = 0.1


@dataclass(frozen=True, eq=False)
class ZCA:
    """A fitted ZCA whitening transform (see the module docstring).

    Attributes:
        mean: [D] float32 feature means of the training images.
        eps: eigenvalue regularisation.
        shape: per-image shape (C, H, W) it was fitted on.
        matrix: [D, D] float32 ``T`` (dense fit), else None.
        basis: [D, r] float32 eigenvectors with non-zero eigenvalues (low-rank fit), else None.
        scales: [r] float32 ``1 / sqrt(lambda + eps)`` of ``basis`` (low-rank fit), else None.
    """

    mean: torch.Tensor
    eps: float
    shape: tuple[int, ...]
    matrix: torch.Tensor | None = None
    basis: torch.Tensor | None = None
    scales: torch.Tensor | None = None

    @property
    def num_features(self) -> int:
        return int(self.mean.numel())

    def apply(self, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Whiten images.

        Args:
            x: [N, C, H, W] float32 with the fitted per-image shape (any device).
            batch_size: images per matrix product (bounds the temporary memory).

        Returns:
            [N, C, H, W] float32 on ``x``'s device.
        """
        if tuple(x.shape[1:]) != tuple(self.shape):
            raise ValueError(f"ZCA was fitted on images of shape {list(self.shape)}, got {list(x.shape[1:])}")
        dev = x.device
        mean = self.mean.to(dev)
        out = torch.empty_like(x, dtype=torch.float32)
        floor = 1.0 / math.sqrt(self.eps)
        for start in range(0, x.shape[0], batch_size):
            xc = x[start:start + batch_size].reshape(-1, self.num_features).float() - mean
            if self.matrix is not None:
                y = xc @ self.matrix.to(dev)
            else:
                basis = self.basis.to(dev)
                y = floor * xc + ((xc @ basis) * (self.scales.to(dev) - floor)) @ basis.T
            out[start:start + batch_size] = y.view(-1, *self.shape)
        return out

    @property
    def sha256(self) -> str:
        """Hex sha256 of the fitted transform's float32 bytes (mean, eps and matrix or basis)."""
        digest = hashlib.sha256()
        digest.update(f"zca;eps={self.eps!r};shape={list(self.shape)};".encode())
        for name in ("mean", "matrix", "basis", "scales"):
            value = getattr(self, name)
            if value is not None:
                digest.update(f"{name}:{list(value.shape)};".encode())
                digest.update(value.detach().cpu().contiguous().float().numpy().tobytes())
        return digest.hexdigest()

    @property
    def invariants(self) -> list[float]:
        """``[trace T, ||T||_F^2, ||mu||^2]``: invariant to the eigenvectors' signs and order."""
        if self.matrix is not None:
            t = self.matrix.double()
            trace, fro = float(t.diagonal().sum()), float(t.pow(2).sum())
        else:
            floor = 1.0 / math.sqrt(self.eps)
            s = self.scales.double()
            rest = self.num_features - s.numel()
            trace = float(s.sum()) + rest * floor
            fro = float(s.pow(2).sum()) + rest * floor ** 2
        m = self.mean.double()
        return [trace, fro, float(m.pow(2).sum())]

    def matches(self, sha256: str, invariants: list[float] | None = None, rtol: float = 1e-4) -> bool:
        """True when this transform is the recorded one: the same sha256, or (refitted on other
        hardware) the same :attr:`invariants` within ``rtol``."""
        if sha256 == self.sha256:
            return True
        if not invariants or len(invariants) != 3:
            return False
        return all(abs(a - float(b)) <= rtol * max(abs(a), abs(float(b))) + 1e-9
                   for a, b in zip(self.invariants, invariants))


def fit_zca(x: torch.Tensor, eps: float = DEFAULT_EPS, *, device: str | torch.device | None = None) -> ZCA:
    """Fit ZCA whitening on training images.

    Args:
        x: [N, C, H, W] float32 training images (N >= 2).
        eps: added to every eigenvalue before the inverse square root (> 0).
        device: where to compute (``None``: the config's device); the result lives on the CPU.

    Returns:
        a :class:`ZCA`; deterministic for the same inputs on the same device and threads.
    """
    if x.ndim != 4 or x.shape[0] < 2:
        raise ValueError(f"ZCA needs images [N, C, H, W] with N >= 2, got {list(x.shape)}")
    if not eps > 0:
        raise ValueError(f"ZCA eps must be > 0, got {eps}")
    dev = resolve_device(device)
    n = int(x.shape[0])
    shape = tuple(int(s) for s in x.shape[1:])
    d = int(math.prod(shape))
    if d <= DENSE_MAX_FEATURES and n > d:
        mean = torch.zeros(d, dtype=torch.float64, device=dev)
        for start in range(0, n, 8192):
            mean += x[start:start + 8192].reshape(-1, d).to(dev, torch.float64).sum(0)
        mean /= n
        cov = torch.zeros(d, d, dtype=torch.float64, device=dev)
        for start in range(0, n, 8192):
            xc = x[start:start + 8192].reshape(-1, d).to(dev, torch.float64) - mean
            cov += xc.T @ xc
        cov /= n - 1
        lam, u = torch.linalg.eigh(cov)
        inv = (lam.clamp_min(0.0) + eps).rsqrt()
        matrix = (u * inv) @ u.T
        return ZCA(mean=mean.float().cpu(), eps=float(eps), shape=shape, matrix=matrix.float().cpu())
    # low rank: eigenpairs of the covariance from the N x N Gram matrix
    if n > LOW_RANK_MAX_IMAGES:
        raise ValueError(f"ZCA on {n:,} images of {d:,} features needs a {n:,} x {n:,} Gram matrix; "
                         "use fewer images, a smaller --image-size, or --no-zca")
    xf = x.reshape(n, d).to(dev, torch.float32)
    mean = xf.double().mean(0)
    xc = xf - mean.float()
    gram = (xc @ xc.T).double() / (n - 1)
    lam, v = torch.linalg.eigh(gram)
    # directions with (numerically) zero variance: scaled by 1 / sqrt(eps) like the rest of the
    # orthogonal complement (a float32 Gram matrix puts them at ~1e-6 of the largest eigenvalue)
    keep = lam > lam.max() * 1e-5
    lam, v = lam[keep], v[:, keep]
    # covariance eigenvectors: u_i = Xc^T v_i / sqrt((n - 1) lambda_i)
    basis = (xc.T @ v.float()) / ((n - 1) * lam).sqrt().float()
    scales = (lam + eps).rsqrt().float()
    return ZCA(mean=mean.float().cpu(), eps=float(eps), shape=shape, basis=basis.cpu(), scales=scales.cpu())
