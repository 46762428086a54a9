"""Matched budgets: the FreD and AutoPalette settings whose payload fits a QuADD payload.

The papers compare parameterized sets with QuADD at the same samples per class and closely
matched storage. These pure functions give the largest setting whose payload per sample is at
most QuADD's, ``varying x bits`` (the constant features are stored once by every method and
are left out on both sides).

>>> matched_coefficients(32, 6, channels=1, coefficient_bits=32)   # beam maps, FreD float32
6
>>> matched_coefficients(32, 6, channels=1, coefficient_bits=6)    # QuADD + FreD at 6 bits
32
>>> matched_colors(32, 6, pixels=32, channels=1)                   # 32 x 2 + 4 x 32 = 192 bits
4
"""

from __future__ import annotations

import math

__all__ = ["matched_coefficients", "matched_colors", "palette_sample_bits"]


def matched_coefficients(varying: int, bits: int, *, channels: int, coefficient_bits: int) -> int:
    """FreD coefficients per channel within ``varying x bits`` bits per sample (at least 1).

    Args:
        varying: elements of one sample that are not constant over the real data.
        bits: QuADD's bits per element.
        channels: the sample's channels (each keeps the same number of coefficients).
        coefficient_bits: bits of one stored coefficient (32 for FreD, the quantizer's for QuADD + FreD).

    >>> matched_coefficients(61, 3, channels=1, coefficient_bits=32)   # digits at 3 bits: 183 bits
    5
    """
    return max(1, (int(varying) * int(bits)) // (int(channels) * int(coefficient_bits)))


def palette_sample_bits(pixels: int, colors: int, channels: int) -> int:
    """Bits of one AutoPalette sample: a ``log2 K``-bit index per varying pixel and ``K``
    float32 colours of ``channels`` values.

    >>> palette_sample_bits(32, 4, 1)
    192
    """
    return int(pixels) * int(math.log2(colors)) + 32 * int(colors) * int(channels)


def matched_colors(varying: int, bits: int, *, pixels: int, channels: int) -> int:
    """The largest palette size K (a power of two, at least 2) whose sample fits ``varying x bits``.

    >>> matched_colors(61, 3, pixels=61, channels=1)   # digits at 3 bits: 2 colours (125 of 183 bits)
    2
    """
    budget, colors = int(varying) * int(bits), 2
    while colors < 256 and palette_sample_bits(pixels, colors * 2, channels) <= budget:
        colors *= 2
    return colors
