"""FSQ-style symmetric uniform quantization (finite scalar quantization, tanh-bounded).

With ``L = 2^b`` levels::

    half_l   = (L - 1) (1 - eps) / 2
    offset   = 0.5 (L is even)
    shift    = atanh(offset / half_l)
    bound(z) = tanh(z + shift) * half_l - offset          # in (-L/2 - ..., L/2 - 1 + ...)
    value    = round(bound(z)) / (L // 2)                  # in {-1, ..., (L/2 - 1) / (L/2)}

Codes are ``round(bound(z)) + L // 2`` in ``[0, L)``. The input ``z`` is unbounded (the
synthetic set is parameterised behind the tanh), so there is no threshold to learn.

Data range. Without :meth:`FSQQuantizer.initialize` the values are the grid above, in
``[-1, 1)``. ``initialize(x)`` records the data's range ``[lo, hi]`` and maps code ``k`` to
``lo + k (hi - lo) / (L - 1)`` instead, so the quantized set lives on the data's scale (both
ends exact: an unobserved beam at 1.0 stays 1.0); :meth:`FSQQuantizer.to_latent` gives the
latent ``z`` of a data value, which is what a distillation optimises.

>>> q = FSQQuantizer(bits=2).initialize(torch.tensor([0.0, 1.0])).eval()
>>> q(q.to_latent(torch.tensor([0.0, 0.3, 0.7, 1.0])))
tensor([0.0000, 0.3333, 0.6667, 1.0000])

Training alternates per step between two surrogates of the rounding: additive uniform noise
in [-0.5, 0.5] in place of the rounding (``value = (bound(z) + u) / (L // 2)``), and the
hard round with the straight-through gradient. Call :meth:`FSQQuantizer.step` once per
optimisation step. In eval mode (and in ``encode``/``decode``) the hard round is used.
The noise comes from the quantizer's own ``generator``, never the global RNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from beamsim.config import make_generator
from beamsim.distill.quant.base import Quantizer, QuantizerConfig
from beamsim.distill.quant.registry import register_quantizer
from beamsim.distill.quant.ste import ste_round

__all__ = ["FSQConfig", "FSQQuantizer"]

TrainingMode = Literal["alternate", "noise", "ste"]
_MODES = ("alternate", "noise", "ste")


@dataclass(frozen=True)
class FSQConfig(QuantizerConfig):
    """Settings of :class:`FSQQuantizer`.

    Attributes:
        bits: bits per element, 2..8 (one bit leaves no room for the tanh bound).
        eps: shrinks the bound so that the outermost levels stay reachable, 0 < eps < 0.5.
        training_mode: ``"alternate"`` (noise on even steps, straight-through round on odd
            steps), ``"noise"`` or ``"ste"``.
    """

    eps: float = 1e-3
    training_mode: TrainingMode = "alternate"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bits < 2:
            raise ValueError("fsq needs bits >= 2 (with 2 levels the tanh bound has no offset room); raise bits")
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not 0.0 < self.eps < 0.5:
            raise ValueError(f"eps must be a number in (0, 0.5), not {self.eps!r} (default 1e-3)")
        if self.training_mode not in _MODES:
            raise ValueError(f"training_mode {self.training_mode!r} is unknown: use one of {', '.join(_MODES)}")


@register_quantizer("fsq")
class FSQQuantizer(Quantizer):
    """The tanh-bounded symmetric grid (see the module docstring).

    Args:
        config: :class:`FSQConfig`, or its fields as keywords.
        generator: source of the training noise; a CPU generator seeded from
            ``beamsim.config.config.seed`` when None.

    Attributes:
        steps: int64 buffer, number of :meth:`step` calls (selects the training mode).
    """

    config_class = FSQConfig
    config: FSQConfig
    version = 2  # 2: values on the data's range after initialize (1 left [0, 1] data on [0, 0.75])
    latent_input = True

    def __init__(self, config: FSQConfig | None = None, *, generator: torch.Generator | None = None,
                 **kwargs) -> None:
        super().__init__(config, generator=generator, **kwargs)
        levels = 2 ** self.bits
        self.half_levels = levels // 2
        self.half_l = (levels - 1) * (1.0 - self.config.eps) / 2.0
        self.offset = 0.5
        self.shift = math.atanh(self.offset / self.half_l)
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))
        self.register_buffer("data_range", torch.zeros(0))  # [lo, hi] once initialized

    @property
    def ranged(self) -> bool:
        """True once :meth:`initialize` set a data range (values in ``[lo, hi]``)."""
        return self.data_range.numel() == 2

    def initialize(self, x: torch.Tensor) -> "FSQQuantizer":
        """Record the range ``[lo, hi]`` of ``x`` (any shape); returns ``self``.

        Raises:
            ValueError: ``x`` is empty or not finite.
        """
        if x.numel() == 0 or not bool(torch.isfinite(x).all()):
            raise ValueError("fsq needs finite, non-empty data to set its range")
        lo, hi = float(x.min()), float(x.max())
        if hi <= lo:
            hi = lo + 1.0  # a constant set: any width keeps its value exact (code 0)
        self.data_range = torch.tensor([lo, hi], dtype=torch.float32, device=self.steps.device)
        return self

    def decode_state(self) -> dict[str, torch.Tensor]:
        return {"data_range": self.data_range} if self.ranged else {}

    def load_decode_state(self, state: dict[str, torch.Tensor]) -> "FSQQuantizer":
        state = dict(state)
        value = state.pop("data_range", None)
        super().load_decode_state(state)
        if value is not None:
            value = torch.as_tensor(value, dtype=torch.float32).reshape(-1)
            if value.numel() != 2 or not bool(torch.isfinite(value).all()) or not float(value[1]) > float(value[0]):
                raise ValueError(f"fsq data_range must be two finite values lo < hi, got {value.tolist()}")
            self.data_range = value.to(self.steps.device)
        return self

    def _to_data(self, grid: torch.Tensor) -> torch.Tensor:
        """Grid values ``k / (L/2) - 1`` to the data range (identity before :meth:`initialize`)."""
        if not self.ranged:
            return grid
        levels = 2 ** self.bits
        lo, hi = self.data_range[0], self.data_range[1]
        return lo + (hi - lo) * ((grid + 1) * (levels / (2 * (levels - 1))))

    def to_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The latent ``z`` whose value is ``x`` before rounding (grid units before
        :meth:`initialize`, data units after); values outside the range go to the end codes."""
        x = x.float()
        if self.ranged:
            lo, hi = self.data_range[0], self.data_range[1]
            k = (x - lo) / (hi - lo) * (2 ** self.bits - 1)
        else:
            k = (x + 1) * self.half_levels
        ratio = ((k - self.half_levels + self.offset) / self.half_l).clamp(-1 + 1e-6, 1 - 1e-6)
        return torch.atanh(ratio) - self.shift

    @property
    def signed(self) -> bool:
        return True

    def step(self) -> None:
        self.steps += 1

    @property
    def noise_phase(self) -> bool:
        """Whether the next training forward uses additive noise instead of the hard round."""
        mode = self.config.training_mode
        return mode == "noise" or (mode == "alternate" and int(self.steps) % 2 == 0)

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """``tanh(z + shift) * half_l - offset``, any shape, float32."""
        return torch.tanh(z + self.shift) * self.half_l - self.offset

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        if self.generator is None:
            self.generator = make_generator(None, "cpu")
        u = torch.rand(like.shape, generator=self.generator, device=self.generator.device, dtype=like.dtype)
        return (u - 0.5).to(like.device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Quantized values of ``z`` (any shape, float32): ``round(bound(z)) / (L // 2)``
        (mapped to the data range after :meth:`initialize`).

        In training mode on a noise step, ``(bound(z) + u) / (L // 2)`` with ``u ~ U[-0.5, 0.5]``.
        """
        b = self.bound(z.float())
        if self.training and self.noise_phase:
            return self._to_data((b + self._noise(b)) / self.half_levels)
        return self._to_data(ste_round(b) / self.half_levels)

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """int64 codes in ``[0, 2^b)``, same shape as ``z``."""
        with torch.no_grad():
            k = torch.round(self.bound(z.detach().float())).long() + self.half_levels
        return k.clamp_(0, 2 ** self.bits - 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """float32 values of ``codes``; equal bit for bit to ``forward`` in eval mode."""
        codes = self._check_codes(codes)
        return self._to_data((codes - self.half_levels).to(torch.float32) / self.half_levels)
