"""Packing b-bit codes into bytes: a b-bit code occupies exactly b bits, for every b in 1..8.

Bit order is little-endian: code ``i`` fills stream bits ``i*b .. i*b + b - 1``, its least
significant bit first, and stream bit ``k`` is bit ``k % 8`` (LSB = 0) of byte ``k // 8``.
Codes are taken in row-major order; the last byte is zero-padded.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["pack_codes", "unpack_codes", "packed_size"]


def _check_bits(bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= int(bits) <= 8:
        raise ValueError(f"bits must be an integer in 1..8, not {bits!r}")
    return int(bits)


def packed_size(count: int, bits: int) -> int:
    """Bytes that ``count`` codes of ``bits`` bits take: ``ceil(count * bits / 8)``.

    >>> packed_size(3, 6), packed_size(8, 1), packed_size(0, 5)
    (3, 1, 0)
    """
    return (int(count) * _check_bits(bits) + 7) // 8


def pack_codes(codes: np.ndarray | torch.Tensor, bits: int) -> np.ndarray:
    """Pack integer codes into bytes.

    Args:
        codes: integers in ``[0, 2^bits)``, any shape (flattened row-major).
        bits: 1..8.

    Returns:
        uint8 [ceil(codes.size * bits / 8)].

    >>> pack_codes(np.array([1, 2, 3]), 2).tolist()   # bits 1,0 | 0,1 | 1,1 -> 0b111001
    [57]
    """
    bits = _check_bits(bits)
    if torch.is_tensor(codes):
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes).reshape(-1)
    if codes.size and (not np.issubdtype(codes.dtype, np.integer) or codes.min() < 0 or codes.max() >= 2 ** bits):
        raise ValueError(f"codes must be integers in [0, {2 ** bits - 1}] to pack at {bits} bits")
    bit_planes = np.unpackbits(codes.astype(np.uint8)[:, None], axis=1, bitorder="little")[:, :bits]
    return np.packbits(bit_planes.reshape(-1), bitorder="little")


def unpack_codes(data: np.ndarray | bytes, bits: int, count: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`.

    Args:
        data: uint8 [>= ceil(count * bits / 8)] packed codes.
        bits: 1..8.
        count: number of codes to read.

    Returns:
        uint8 [count].

    >>> unpack_codes(np.array([57], dtype=np.uint8), 2, 3).tolist()
    [1, 2, 3]
    """
    bits = _check_bits(bits)
    data = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray)) else np.asarray(data)
    if data.dtype != np.uint8 or data.ndim != 1:
        raise ValueError(f"packed codes must be a 1-D uint8 array, got {data.dtype} of shape {list(data.shape)}")
    need = packed_size(count, bits)
    if data.size < need:
        raise ValueError(f"{count} codes of {bits} bits need {need} bytes, only {data.size} given (truncated?)")
    stream = np.unpackbits(data[:need], bitorder="little", count=int(count) * bits)
    return np.packbits(stream.reshape(int(count), bits), axis=1, bitorder="little").reshape(-1)
