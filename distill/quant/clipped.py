"""Quantizers with a learnable clipping threshold alpha (APoT and uniform share this).

``forward(x) = alpha * level(clamp(x / alpha, lo, 1))`` with ``lo = -1`` (signed) or ``0``
(unsigned). The level projection hands the gradient straight through to ``x / alpha``, so
autograd gives exactly the reparameterized clipping gradient:

- ``d x_hat / d x = 1`` inside the clip range, ``0`` outside;
- ``d x_hat / d alpha = level - x / alpha`` inside the range and ``level(+-1) = sign(x)``
  where ``x`` is clipped at ``+-alpha`` (for unsigned data, values clipped at 0 give 0: the
  output there does not depend on alpha), so alpha learns from every element.

alpha has one entry per element position (``granularity="feature"``, e.g. 64 for an 8x8 beam
map: the beam default), per channel (``"channel"``) or one for the tensor (``"tensor"``),
and starts at a robust percentile of ``|x|`` over the samples (99.5 by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from beamsim.distill.quant.base import Granularity, Quantizer, QuantizerConfig

__all__ = ["ClippedConfig", "ClippedQuantizer", "percentile"]

_GRANULARITIES = ("feature", "channel", "tensor")
#: Floor of the effective threshold |alpha| (a threshold pushed through 0 stays usable).
MIN_ALPHA = 1e-12


@dataclass(frozen=True)
class ClippedConfig(QuantizerConfig):
    """Settings of a clipping-threshold quantizer.

    Attributes:
        bits: bits per element, 1..8.
        granularity: ``"feature"`` (one alpha per element position), ``"channel"`` or ``"tensor"``.
        percentile: alpha starts at this percentile of ``|x|`` (0 < p <= 100).
        signed: levels on [-1, 1] (True) or [0, 1] (False); ``None`` chooses from the data
            (signed when any value is negative).
        normalize: per-channel standardisation before quantizing (images); off for beam data.
        learn_alpha: make alpha an ``nn.Parameter`` that receives gradients.
    """

    granularity: Granularity = "feature"
    percentile: float = 99.5
    signed: bool | None = None
    normalize: bool = False
    learn_alpha: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.granularity not in _GRANULARITIES:
            raise ValueError(f"granularity {self.granularity!r} is unknown: use one of {', '.join(_GRANULARITIES)}")
        if isinstance(self.percentile, bool) or not isinstance(self.percentile, (int, float)) \
                or not 0.0 < float(self.percentile) <= 100.0:
            raise ValueError(f"percentile must be a number in (0, 100], not {self.percentile!r} (default 99.5)")
        if self.signed is not None and not isinstance(self.signed, bool):
            raise ValueError(f"signed must be true, false or left unset, not {self.signed!r}")
        for name in ("normalize", "learn_alpha"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, not {getattr(self, name)!r}")


def percentile(a: torch.Tensor, q: float, dim: int) -> torch.Tensor:
    """The ``q``-th percentile of ``a`` along ``dim`` (linear interpolation, as ``torch.quantile``).

    Works on tensors of any size (``torch.quantile`` refuses more than 2^24 elements).

    >>> percentile(torch.arange(101.0).view(1, -1), 99.5, dim=1)
    tensor([99.5000])
    """
    n = a.shape[dim]
    pos = (float(q) / 100.0) * (n - 1)
    lo = int(pos)
    hi = min(lo + 1, n - 1)
    v_lo = a.kthvalue(lo + 1, dim=dim).values
    if hi == lo or pos == lo:
        return v_lo
    v_hi = a.kthvalue(hi + 1, dim=dim).values
    return v_lo + (v_hi - v_lo) * (pos - lo)


class ClippedQuantizer(Quantizer):
    """Base of APoT and uniform: alpha, granularity, normalization, the value path.

    Subclasses define the normalized level set through ``_index(xn)`` (codes of values
    ``xn`` in the clip range), ``_level_of(codes)`` (their normalized levels) and
    ``_project(xn)`` (the levels of ``xn`` with the straight-through gradient).

    Attributes:
        alpha: ``nn.Parameter`` of the thresholds, broadcastable against one sample:
            ``[C, H, W]`` (feature), ``[C, 1, 1]`` (channel) or ``[1, 1, 1]`` (tensor) for
            ``[N, C, H, W]`` input; None before :meth:`initialize`.
        norm_mean, norm_std: ``[C, 1, 1]`` buffers when ``normalize`` is on.
    """

    config_class = ClippedConfig
    config: ClippedConfig

    def __init__(self, config: ClippedConfig | None = None, *, generator: torch.Generator | None = None,
                 **kwargs) -> None:
        super().__init__(config, generator=generator, **kwargs)
        self.register_parameter("alpha", None)
        self.register_buffer("norm_mean", None)
        self.register_buffer("norm_std", None)
        self._signed: bool | None = None
        if self.config.signed is not None:
            self._set_signed(self.config.signed)

    # -- description -----------------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return self.alpha is not None

    @property
    def signed(self) -> bool:
        if self._signed is None:
            raise RuntimeError(f"{self.name} quantizer: signed is chosen from the data; call initialize(x) first")
        return self._signed

    @property
    def num_thresholds(self) -> int:
        """Number of alpha entries (0 before initialization)."""
        return 0 if self.alpha is None else self.alpha.numel()

    def _lower(self) -> float:
        return -1.0 if self.signed else 0.0

    def _set_signed(self, signed: bool) -> None:
        self._signed = bool(signed)

    # -- state -------------------------------------------------------------------------------
    def initialize(self, x: torch.Tensor) -> "ClippedQuantizer":
        """Set normalization, signedness and alpha from ``x`` [N, C, ...] (float); returns self.

        Re-initializing with the same alpha shape keeps the same ``nn.Parameter`` object, so
        an optimizer built earlier stays attached.
        """
        if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 2 or x.shape[0] == 0:
            raise ValueError("initialize needs a float tensor [N, C, ...] with at least one sample")
        with torch.no_grad():
            x = x.detach().float()
            if self.config.normalize:
                flat = x.transpose(0, 1).reshape(x.shape[1], -1)
                view = (x.shape[1],) + (1,) * (x.ndim - 2)
                std = flat.std(dim=1, unbiased=False)
                self.norm_mean = flat.mean(dim=1).view(view)
                self.norm_std = torch.where(std > 0, std, torch.ones_like(std)).view(view)
            z = self._normalize(x)
            if self.config.signed is None:
                self._set_signed(bool((z < 0).any()))
            alpha = self._initial_alpha(z.abs())
        self._set_alpha(alpha)
        return self

    def _initial_alpha(self, a: torch.Tensor) -> torch.Tensor:
        q = float(self.config.percentile)
        n = a.shape[0]
        if self.config.granularity == "feature":
            alpha = percentile(a.reshape(n, -1), q, dim=0).view(a.shape[1:])
        elif self.config.granularity == "channel":
            c = a.shape[1]
            alpha = percentile(a.transpose(0, 1).reshape(c, -1), q, dim=1).view((c,) + (1,) * (a.ndim - 2))
        else:
            alpha = percentile(a.reshape(1, -1), q, dim=1).view((1,) * (a.ndim - 1))
        # A group that is all zeros (e.g. unobserved beams) needs some positive threshold.
        fallback = float(a.max()) if float(a.max()) > MIN_ALPHA else 1.0
        return torch.where(alpha > MIN_ALPHA, alpha, torch.full_like(alpha, fallback))

    def _set_alpha(self, alpha: torch.Tensor) -> None:
        alpha = alpha.detach().float()
        if self.alpha is not None and self.alpha.shape == alpha.shape:
            with torch.no_grad():
                self.alpha.copy_(alpha.to(self.alpha.device))
        else:
            self.alpha = nn.Parameter(alpha.clone(), requires_grad=self.config.learn_alpha)

    def decode_state(self) -> dict[str, torch.Tensor]:
        """``alpha`` (the effective thresholds ``|alpha|``) and, if on, ``norm_mean``/``norm_std``."""
        if not self.initialized:
            raise RuntimeError(f"{self.name} quantizer is not initialized: call initialize(x) first")
        state = {"alpha": self.scale().detach().clone()}
        if self.config.normalize:
            state["norm_mean"] = self.norm_mean.detach().clone()
            state["norm_std"] = self.norm_std.detach().clone()
        return state

    def load_decode_state(self, state: dict[str, torch.Tensor]) -> "ClippedQuantizer":
        want = {"alpha", "norm_mean", "norm_std"} if self.config.normalize else {"alpha"}
        if set(state) != want:
            raise ValueError(f"{self.name} quantizer state needs {sorted(want)}, got {sorted(state)}")
        if self._signed is None:
            raise ValueError(f"{self.name} quantizer: set signed in the config before loading its state")
        alpha = torch.as_tensor(state["alpha"], dtype=torch.float32)
        if alpha.numel() == 0 or not torch.isfinite(alpha).all() or bool((alpha <= 0).any()):
            raise ValueError(f"{self.name} quantizer: thresholds must be finite and positive")
        self._set_alpha(alpha)
        if self.config.normalize:
            self.norm_mean = torch.as_tensor(state["norm_mean"], dtype=torch.float32).to(self.alpha.device)
            self.norm_std = torch.as_tensor(state["norm_std"], dtype=torch.float32).to(self.alpha.device)
        return self

    # -- the value path -------------------------------------------------------------------------
    def scale(self) -> torch.Tensor:
        """The effective thresholds ``max(|alpha|, MIN_ALPHA)`` (differentiable)."""
        return self.alpha.abs().clamp_min(MIN_ALPHA)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.norm_mean) / self.norm_std if self.config.normalize else x

    def _denormalize(self, y: torch.Tensor) -> torch.Tensor:
        return y * self.norm_std + self.norm_mean if self.config.normalize else y

    def _check(self, x: torch.Tensor, what: str) -> None:
        if not self.initialized:
            raise RuntimeError(f"{self.name} quantizer is not initialized: call initialize(x) first")
        tail = tuple(x.shape[1:])
        try:
            ok = x.ndim == self.alpha.ndim + 1 and torch.broadcast_shapes(tail, self.alpha.shape) == tail
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(f"{what} of shape {list(x.shape)} does not fit thresholds of shape "
                             f"{list(self.alpha.shape)} ({self.config.granularity} granularity)")

    def _normalized(self, x: torch.Tensor) -> torch.Tensor:
        """``clamp(x / alpha, lo, 1)`` in the (normalized) clip range."""
        return torch.clamp(self._normalize(x) / self.scale(), self._lower(), 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Quantize and dequantize.

        Args:
            x: [N, C, ...] float32 (e.g. [N, 1, 8, 8] beam maps in [0, 1]).

        Returns:
            [N, C, ...] float32, ``alpha * level``; straight-through gradient to ``x`` inside
            the clip range, reparameterized clipping gradient to ``alpha``.
        """
        if not self.initialized:
            self.initialize(x)
        self._check(x, "input")
        level = self._project(self._normalized(x.float()))
        return self._denormalize(self.scale() * level)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes of ``x`` [N, C, ...]: int64 indices into the sorted level set, same shape."""
        if not self.initialized:
            raise RuntimeError(f"{self.name} quantizer is not initialized: call initialize(x) first")
        self._check(x, "input")
        with torch.no_grad():
            return self._index(self._normalized(x.detach().float()))

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Values of ``codes`` [N, C, ...] (integers): float32, equal to ``forward`` bit for bit."""
        self._check(codes, "codes")
        codes = self._check_codes(codes).to(self.alpha.device)
        with torch.no_grad():
            return self._denormalize(self.scale() * self._level_of(codes))

    # -- the level set (subclasses) -----------------------------------------------------------------
    def _index(self, xn: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _level_of(self, codes: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _project(self, xn: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError
