"""Post-training quantization (baseline): min-max uniform levels, fixed once, no training.

``scale = (max - min) / (2^b - 1)``, ``code = clamp(round((x - min) / scale), 0, 2^b - 1)``,
``x_hat = min + code * scale``, with min and max per element position, per channel or for
the whole tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from beamsim.distill.quant.base import Granularity, Quantizer, QuantizerConfig
from beamsim.distill.quant.registry import register_quantizer
from beamsim.distill.quant.ste import ste_round

__all__ = ["PTQConfig", "PostTrainingQuantizer"]

_GRANULARITIES = ("feature", "channel", "tensor")


@dataclass(frozen=True)
class PTQConfig(QuantizerConfig):
    """Settings of :class:`PostTrainingQuantizer`.

    Attributes:
        bits: bits per element, 1..8.
        granularity: range per element position (``"feature"``), per channel or per tensor.
    """

    granularity: Granularity = "tensor"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.granularity not in _GRANULARITIES:
            raise ValueError(f"granularity {self.granularity!r} is unknown: use one of {', '.join(_GRANULARITIES)}")


@register_quantizer("ptq")
class PostTrainingQuantizer(Quantizer):
    """Min-max uniform quantizer fitted once to a finished set.

    ``forward`` initializes from its first input; the straight-through gradient to ``x`` is
    kept so that the module can sit in a graph, but nothing in it is learned.

    Attributes:
        lo, scale: float32 buffers broadcastable against one sample ([C, H, W], [C, 1, 1] or
            [1, 1, 1] for [N, C, H, W] input); None before :meth:`initialize`.

    Example:
        >>> q = PostTrainingQuantizer(bits=2)
        >>> q(torch.tensor([[0.0, 0.4, 3.0]])).tolist()
        [[0.0, 0.0, 3.0]]
    """

    in_loop = False

    config_class = PTQConfig
    config: PTQConfig

    def __init__(self, config: PTQConfig | None = None, *, generator: torch.Generator | None = None,
                 **kwargs) -> None:
        super().__init__(config, generator=generator, **kwargs)
        self.register_buffer("lo", None)
        self.register_buffer("scale", None)

    @property
    def initialized(self) -> bool:
        return self.lo is not None

    @property
    def signed(self) -> bool:
        if self.lo is None:
            raise RuntimeError("ptq quantizer is not initialized: call initialize(x) first")
        return bool((self.lo < 0).any())

    @property
    def levels_name(self) -> str:
        return f"ptq-{self.bits}"

    def initialize(self, x: torch.Tensor) -> "PostTrainingQuantizer":
        """Fit min and max to ``x`` [N, C, ...] (float); returns ``self``."""
        if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 2 or x.shape[0] == 0:
            raise ValueError("initialize needs a float tensor [N, C, ...] with at least one sample")
        x = x.detach().float()
        if self.config.granularity == "feature":
            dims: tuple[int, ...] = (0,)
        elif self.config.granularity == "channel":
            dims = (0, *range(2, x.ndim))
        else:
            dims = tuple(range(x.ndim))
        lo = x.amin(dim=dims, keepdim=True)[0]
        hi = x.amax(dim=dims, keepdim=True)[0]
        scale = (hi - lo) / (2 ** self.bits - 1)
        self.lo = lo
        self.scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        return self

    def decode_state(self) -> dict[str, torch.Tensor]:
        if not self.initialized:
            raise RuntimeError("ptq quantizer is not initialized: call initialize(x) first")
        return {"lo": self.lo.clone(), "scale": self.scale.clone()}

    def load_decode_state(self, state: dict[str, torch.Tensor]) -> "PostTrainingQuantizer":
        if set(state) != {"lo", "scale"}:
            raise ValueError(f"ptq quantizer state needs ['lo', 'scale'], got {sorted(state)}")
        self.lo = torch.as_tensor(state["lo"], dtype=torch.float32)
        self.scale = torch.as_tensor(state["scale"], dtype=torch.float32)
        if self.lo.shape != self.scale.shape or not bool((self.scale > 0).all()):
            raise ValueError("ptq quantizer state: lo and scale must have one shape and scale must be positive")
        return self

    def _check(self, x: torch.Tensor, what: str) -> None:
        if not self.initialized:
            raise RuntimeError("ptq quantizer is not initialized: call initialize(x) first")
        tail = tuple(x.shape[1:])
        try:
            ok = x.ndim == self.lo.ndim + 1 and torch.broadcast_shapes(tail, self.lo.shape) == tail
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(f"{what} of shape {list(x.shape)} does not fit a range of shape {list(self.lo.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, ...] float32 -> dequantized [N, C, ...] float32."""
        if not self.initialized:
            self.initialize(x)
        self._check(x, "input")
        k = torch.clamp(ste_round((x.float() - self.lo) / self.scale), 0, 2 ** self.bits - 1)
        return self.lo + k * self.scale

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """int64 codes in ``[0, 2^b)``, same shape as ``x``."""
        self._check(x, "input")
        with torch.no_grad():
            u = torch.round((x.detach().float() - self.lo) / self.scale)
            return torch.clamp(u, 0, 2 ** self.bits - 1).long()

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """float32 values of ``codes``; equal bit for bit to ``forward``."""
        self._check(codes, "codes")
        codes = self._check_codes(codes).to(self.lo.device)
        return self.lo + codes.to(torch.float32) * self.scale
