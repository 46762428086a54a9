"""Bit accounting: small pure functions, no state, no I/O. Used by every report.

Two accountings of a distilled set of ``N`` samples with ``d`` elements at ``b`` bits:

- the papers' payload ``N x d x b`` (:func:`payload_bits` with all ``d`` elements);
- the bits actually stored: elements that are constant across the whole set are stored once
  (a ``d``-bit feature mask plus one ``b``-bit value each, in :func:`overhead_bits`), so the
  payload counts only the ``d - k`` varying elements.

Overhead: thresholds at 32 bits each, labels (``ceil(log2 C)`` bits per sample, or ``C``
32-bit per-class counts when rows are grouped by class), and a header (level-set id, bit
width, signed flag, sample shape). Compression ratios are against the full training set at
32 bits per element.
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = [
    "FLOAT_BITS", "HEADER_BITS", "payload_bits", "label_bits", "overhead_bits", "full_set_bits",
    "compression_ratio",
]

#: Bits of one float32 value (thresholds, unquantized elements, the full set).
FLOAT_BITS = 32
#: Header: level-set id, bit width and signed flag (8 bits each) and a sample shape of up
#: to three 32-bit sizes, rounded up to 128 bits.
HEADER_BITS = 128

LabelStorage = Literal["counts", "per_sample", "none"]


def payload_bits(num_samples: int, elements_per_sample: int, bits: int) -> int:
    """The papers' payload: ``num_samples x elements_per_sample x bits``.

    >>> payload_bits(3200, 64, 6)   # 64 classes x 50 samples of 8x8 beam maps at 6 bits
    1228800
    >>> payload_bits(3200, 64 - 32, 6)   # only the 32 varying beams are stored
    614400
    """
    for name, value in (("num_samples", num_samples), ("elements_per_sample", elements_per_sample), ("bits", bits)):
        if int(value) != value or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return int(num_samples) * int(elements_per_sample) * int(bits)


def label_bits(num_classes: int) -> int:
    """Bits of one label among ``num_classes``: ``ceil(log2 C)`` (0 for a single class).

    >>> label_bits(64), label_bits(10), label_bits(1)
    (6, 4, 0)
    """
    if int(num_classes) != num_classes or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, not {num_classes!r}")
    return math.ceil(math.log2(num_classes)) if num_classes > 1 else 0


def overhead_bits(num_thresholds: int = 0, num_classes: int = 0, num_samples: int = 0, *,
                  labels: LabelStorage = "counts", constant_elements: int = 0, elements_per_sample: int = 0,
                  bits: int = FLOAT_BITS, header_bits: int = HEADER_BITS) -> int:
    """Everything stored besides the payload.

    Args:
        num_thresholds: float32 thresholds (and other decode parameters), 32 bits each.
        num_classes: number of classes ``C``.
        num_samples: number of samples ``N`` (for per-sample labels).
        labels: ``"counts"`` (rows grouped by class: ``C`` 32-bit counts), ``"per_sample"``
            (``N x ceil(log2 C)`` bits) or ``"none"``.
        constant_elements: elements constant across the set, stored once; when > 0 they
            cost a ``elements_per_sample``-bit mask plus ``bits`` bits each.
        elements_per_sample: ``d`` (needed with ``constant_elements``).
        bits: bits of one stored value.
        header_bits: the fixed header.

    >>> overhead_bits(64, 64)                      # 64 thresholds, 64 class counts, header
    4224
    >>> overhead_bits(64, 64, 3200, labels="per_sample")
    21376
    >>> overhead_bits(64, 64, constant_elements=32, elements_per_sample=64, bits=6)
    4480
    """
    if labels == "counts":
        label_part = FLOAT_BITS * int(num_classes)
    elif labels == "per_sample":
        label_part = int(num_samples) * label_bits(num_classes)
    elif labels == "none":
        label_part = 0
    else:
        raise ValueError(f"labels must be 'counts', 'per_sample' or 'none', not {labels!r}")
    if constant_elements < 0 or constant_elements > max(elements_per_sample, 0):
        raise ValueError(f"constant_elements={constant_elements} must lie in "
                         f"[0, elements_per_sample={elements_per_sample}]")
    constant_part = int(elements_per_sample) + int(constant_elements) * int(bits) if constant_elements else 0
    return FLOAT_BITS * int(num_thresholds) + label_part + constant_part + int(header_bits)


def full_set_bits(num_samples: int, elements_per_sample: int, bits: int = FLOAT_BITS) -> int:
    """Bits of the full (real) training set at ``bits`` (32) per element.

    >>> full_set_bits(24576, 64)
    50331648
    """
    return payload_bits(num_samples, elements_per_sample, bits)


def compression_ratio(stored_bits: int, full_samples: int, elements_per_sample: int,
                      full_bits: int = FLOAT_BITS) -> float:
    """How many times smaller than the full set at ``full_bits`` per element.

    >>> round(compression_ratio(payload_bits(3200, 64, 6), 24576, 64), 2)
    40.96
    """
    if stored_bits <= 0:
        raise ValueError(f"stored_bits must be positive, not {stored_bits!r}")
    return full_set_bits(full_samples, elements_per_sample, full_bits) / stored_bits
