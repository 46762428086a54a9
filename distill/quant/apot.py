"""Additive powers-of-two (APoT) quantization with a learnable clipping threshold.

Level construction (:func:`apot_levels`), for ``b`` unsigned bits:

1. Split the bits into ``m = b // 2`` *two-bit terms* and, when ``b`` is odd, one
   *one-bit term*.
2. Hand out the exponents 1, 2, 3, ... in order: two round-robin passes over the two-bit
   terms (exponents 1..2m), then one exponent to the one-bit term (odd ``b`` only), then a
   third pass over the two-bit terms.
3. A two-bit term takes a value in {0, 2^-e1, 2^-e2, 2^-e3} (its three exponents), the
   one-bit term a value in {0, 2^-e}. A level is the sum of one value from every term.
4. Divide every level by the largest.

For even ``b`` this is the APoT paper's rule: ``n = b / 2`` terms, term ``i`` in
{0} U {2^-(i + j n + 1), j = 0, 1, 2}; for ``b`` = 3 (and 5) it reproduces the paper's odd
bit widths. The exponents of all terms are distinct, so every level is a distinct sum of
distinct powers of two: ``b`` bits give exactly ``2^b`` distinct levels for every ``b`` in
1..8. Examples: b = 2: {0, 1/4, 1/2, 1}; b = 3: {0, .1, .2, .3, .4, .6, .8, 1}; b = 4:
{0, 1/48, 1/24, 1/16, 1/12, 1/8, 1/6, 3/16, 1/4, 1/3, 3/8, 1/2, 2/3, 11/16, 3/4, 1}.
Signed data uses ``b - 1`` magnitude bits and a sign: ``2^b - 1`` levels in [-1, 1].

Levels are densest near 0, so point the data's fine side at 0 (the ``attenuation`` beam
encoding does).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import torch

from beamsim.distill.quant.base import MAX_BITS
from beamsim.distill.quant.clipped import ClippedConfig, ClippedQuantizer
from beamsim.distill.quant.levels import NearestLevel
from beamsim.distill.quant.registry import register_quantizer
from beamsim.distill.quant.ste import straight_through

__all__ = ["apot_levels", "apot_exponents", "APoTConfig", "APoTQuantizer"]


def apot_exponents(bits: int) -> list[list[int]]:
    """The exponents of each additive term for ``bits`` unsigned bits (see the module docstring).

    >>> apot_exponents(4)
    [[1, 3, 5], [2, 4, 6]]
    >>> apot_exponents(3)
    [[1, 2, 4], [3]]
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= MAX_BITS:
        raise ValueError(f"APoT levels need bits in 1..{MAX_BITS}, not {bits!r}")
    m = bits // 2
    terms: list[list[int]] = [[] for _ in range(m)]
    exponent = itertools.count(1)
    for _ in range(2):
        for term in terms:
            term.append(next(exponent))
    one_bit = [[next(exponent)]] if bits % 2 else []
    for term in terms:
        term.append(next(exponent))
    return terms + one_bit


@lru_cache(maxsize=None)
def _unsigned_fractions(bits: int) -> tuple[Fraction, ...]:
    choices = [[Fraction(0)] + [Fraction(1, 2 ** e) for e in term] for term in apot_exponents(bits)]
    sums = sorted({sum(combo, Fraction(0)) for combo in itertools.product(*choices)})
    return tuple(s / sums[-1] for s in sums)


def apot_levels(bits: int, signed: bool = False) -> torch.Tensor:
    """The sorted, max-normalized APoT levels.

    Args:
        bits: bits per element, 1..8 (2..8 when ``signed``).
        signed: ``b - 1`` magnitude bits mirrored around 0.

    Returns:
        [2^bits] float32 in [0, 1] (unsigned), or [2^bits - 1] float32 in [-1, 1] (signed),
        sorted ascending.

    >>> apot_levels(2).tolist()
    [0.0, 0.25, 0.5, 1.0]
    >>> apot_levels(2, signed=True).tolist()
    [-1.0, 0.0, 1.0]
    """
    apot_exponents(bits)  # validates bits
    if signed:
        if bits == 1:
            raise ValueError("signed APoT needs at least 2 bits (1 sign bit + magnitude bits); "
                             "use bits >= 2 or signed=False")
        magnitude = apot_levels(bits - 1)
        return torch.cat([-magnitude[1:].flip(0), magnitude])
    return torch.tensor([float(v) for v in _unsigned_fractions(bits)], dtype=torch.float32)


@dataclass(frozen=True)
class APoTConfig(ClippedConfig):
    """Settings of :class:`APoTQuantizer` (see :class:`ClippedConfig` for the fields)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.signed and self.bits < 2:
            raise ValueError("signed APoT needs bits >= 2 (one bit is the sign); raise bits or set signed=false")


@register_quantizer("apot")
class APoTQuantizer(ClippedQuantizer):
    """APoT quantizer: ``alpha * nearest_apot_level(clamp(x / alpha, lo, 1))``.

    Hard projection to the nearest level (ties to the lower level, via
    :class:`~beamsim.distill.quant.levels.NearestLevel`); straight-through gradient to
    ``x`` inside the clip range, zero outside; reparameterized clipping gradient to
    ``alpha`` (see :mod:`beamsim.distill.quant.clipped`). Codes are indices into the
    sorted level table :attr:`levels`.

    Args:
        config: :class:`APoTConfig`, or its fields as keywords (``bits=6, granularity="feature"``).

    Example:
        >>> q = APoTQuantizer(bits=2)
        >>> x = torch.tensor([[0.0, 0.2, 0.4, 0.9]])
        >>> q.initialize(torch.ones(1, 4)).alpha.tolist()
        [1.0, 1.0, 1.0, 1.0]
        >>> q(x).tolist()
        [[0.0, 0.25, 0.5, 1.0]]
    """

    config_class = APoTConfig
    config: APoTConfig

    @property
    def num_levels(self) -> int:
        return 2 ** self.bits - 1 if self.signed else 2 ** self.bits

    def _set_signed(self, signed: bool) -> None:
        if signed and self.bits < 2:
            raise ValueError("the data has negative values, but signed APoT needs bits >= 2; "
                             "raise bits or shift the data")
        super()._set_signed(signed)
        levels = apot_levels(self.bits, signed=signed)
        self.register_buffer("levels", levels, persistent=False)
        self.nearest = NearestLevel(levels, -1.0 if signed else 0.0, 1.0)

    def _on(self, device: torch.device) -> None:
        if self.levels.device != device:  # tables built after the module was moved
            self.levels = self.levels.to(device)
            self.nearest.to(device)

    def _index(self, xn: torch.Tensor) -> torch.Tensor:
        self._on(xn.device)
        return self.nearest(xn.detach())

    def _level_of(self, codes: torch.Tensor) -> torch.Tensor:
        self._on(codes.device)
        return self.levels[codes]

    def _project(self, xn: torch.Tensor) -> torch.Tensor:
        return straight_through(xn, self._level_of(self._index(xn)))
