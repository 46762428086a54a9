"""The quantizer interface every quantizer in :mod:`beamsim.distill.quant` implements.

A quantizer is an ``nn.Module``:

- ``forward(x) -> x_hat``: same shape, dequantized, differentiable through its estimator;
- ``encode(x) -> codes``: int64 codes in ``[0, num_levels)``, same shape as ``x``;
- ``decode(codes) -> x_hat``: float32, equal bit for bit to ``forward(x)`` in eval mode;
- ``bits``: read-only bits per element.

Data-dependent state (thresholds, ranges, the signed/unsigned choice) is set by
``initialize(x)``; ``forward`` initializes from its first input when that was not done, so
build the optimizer for the thresholds *after* the first ``initialize``/forward call.
Settings live in a frozen config dataclass that validates itself.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar, Literal

import torch
from torch import nn

from beamsim import tomlio

__all__ = ["Quantizer", "QuantizerConfig", "Granularity", "MAX_BITS"]

#: Codes are packed into bytes: 1..8 bits per element.
MAX_BITS = 8

Granularity = Literal["feature", "channel", "tensor"]


@dataclass(frozen=True)
class QuantizerConfig:
    """Settings shared by every quantizer.

    Attributes:
        bits: bits per element, 1..8.
    """

    bits: int = 6

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int):
            raise ValueError(f"bits must be an integer in 1..{MAX_BITS}, not {self.bits!r}")
        if not 1 <= self.bits <= MAX_BITS:
            raise ValueError(f"bits={self.bits} is outside 1..{MAX_BITS}; choose a bit width from 1 to {MAX_BITS}")

    def as_dict(self) -> dict:
        """The settings as plain values (tuples as lists, ``None`` dropped), for TOML."""
        return tomlio.plain_fields(self)


class Quantizer(nn.Module):
    """Base class: see the module docstring for the contract.

    Args:
        config: the settings; when None, built from ``**kwargs``.
        generator: source of randomness for quantizers that draw noise in training (FSQ);
            the others ignore it.
    """

    #: registry name, set by :func:`~beamsim.distill.quant.register_quantizer`.
    name: ClassVar[str] = ""
    #: bumped when a change makes the same settings give other numbers (studies re-run points
    #: of a quantizer whose version is above 1; checkpoints of another version are refused).
    version: ClassVar[int] = 1
    #: True when ``forward`` takes a latent rather than data: :meth:`to_latent` maps data to
    #: it, and a distillation optimises the latent (FSQ's tanh bound).
    latent_input: ClassVar[bool] = False
    #: Sits inside the distillation loop (False: applied once to the finished set, ``ptq``).
    in_loop: ClassVar[bool] = True
    config_class: ClassVar[type[QuantizerConfig]] = QuantizerConfig

    def __init__(self, config: QuantizerConfig | None = None, *, generator: torch.Generator | None = None,
                 **kwargs) -> None:
        super().__init__()
        if config is None:
            config = self.config_class(**kwargs)
        elif kwargs:
            raise TypeError(f"{type(self).__name__}: give either a config or keyword settings, not both")
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config
        self.generator = generator

    # -- read-only description ---------------------------------------------------------
    @property
    def bits(self) -> int:
        """Bits per element (read-only)."""
        return self.config.bits

    @property
    def num_levels(self) -> int:
        """Number of distinct values a code can take (at most ``2 ** bits``)."""
        return 2 ** self.bits

    @property
    def signed(self) -> bool:
        """Whether the level set covers negative values."""
        raise NotImplementedError

    @property
    def levels_name(self) -> str:
        """A short id of the level set, e.g. ``"apot-6u"`` (stored in the distilled file)."""
        return f"{self.name}-{self.bits}{'s' if self.signed else 'u'}"

    @property
    def initialized(self) -> bool:
        """True once data-dependent state is set (always True for data-free quantizers)."""
        return True

    def resolved_config(self) -> QuantizerConfig:
        """The config with data-dependent choices (e.g. ``signed``) fixed to their values."""
        if "signed" in {f.name for f in fields(self.config)} and self.initialized:
            return replace(self.config, signed=self.signed)
        return self.config

    # -- state ---------------------------------------------------------------------------
    def initialize(self, x: torch.Tensor) -> "Quantizer":
        """Set data-dependent state from ``x`` [N, ...]; returns ``self``."""
        return self

    def step(self) -> None:
        """Call once per optimisation step (FSQ alternates its training mode here)."""

    def to_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The input whose ``forward`` output is ``x`` (up to rounding); data itself unless
        :attr:`latent_input`."""
        return x

    def decode_state(self) -> dict[str, torch.Tensor]:
        """The float tensors ``decode`` needs besides the codes (stored in the file)."""
        return {}

    def load_decode_state(self, state: dict[str, torch.Tensor]) -> "Quantizer":
        """Restore what :meth:`decode_state` returned; returns ``self``."""
        if state:
            raise ValueError(f"{self.name} quantizer has no state, got {sorted(state)}")
        return self

    # -- the quantizer ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, codes: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.as_dict().items())

    def _check_codes(self, codes: torch.Tensor) -> torch.Tensor:
        if codes.dtype.is_floating_point or codes.dtype == torch.bool:
            raise TypeError(f"codes must be an integer tensor, got {codes.dtype}")
        codes = codes.long()
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.num_levels):
            raise ValueError(f"codes must lie in [0, {self.num_levels - 1}] for {self.levels_name}, "
                             f"found [{int(codes.min())}, {int(codes.max())}]")
        return codes
