"""Entropy coding of b-bit codes: an adaptive range coder in pure Python/numpy.

The coder is a carry-propagating range coder (the LZMA construction, widened to a 64-bit
range) driven by an adaptive order-0 frequency model over the ``2^b`` symbols:

- every symbol starts with count 1; after each block of :data:`BLOCK` symbols the block's
  symbol counts are added (a block-adaptive model: within a block the table is fixed, so
  the encoder's table look-ups are vectorised with numpy and the decoder finds a symbol
  with a C-level ``bisect``);
- a symbol ``s`` with cumulative count ``lo``, count ``f`` and table total ``T`` narrows the
  range by ``r = range // T``: ``low += r * lo``, ``range = r * f``; the range is renormalised
  byte by byte whenever it falls below ``2^56``. With ``T < 2^40`` the integer division loses
  under ``2^-15`` bits per symbol, so the output is within a few bytes of the model's code
  length (:func:`model_code_bits`), which :func:`coded_size_bound` turns into a guaranteed
  upper bound without running the coder.

Stream layout (little-endian)::

    b"rc"  version u8  bits u8  count u32  crc32(codes as uint8) u32  | coded bytes

The stored length and CRC32 make a damaged stream an error instead of silently wrong codes
(:func:`decode` raises :class:`~beamsim.errors.DataFileError`). Trailing zero bytes of the
coded part are dropped (the decoder reads zeros past the end).

>>> codes = np.array([0, 0, 0, 1, 0, 0, 3, 0] * 100, dtype=np.uint8)
>>> stream = encode(codes, bits=2)
>>> len(stream) < (codes.size * 2) // 8      # smaller than the packed codes (200 bytes)
True
>>> bool((decode(stream) == codes).all())
True
"""

from __future__ import annotations

import math
from collections.abc import Iterator
import struct
import zlib
from bisect import bisect_right

import numpy as np
import torch

from beamsim.errors import DataFileError

__all__ = ["BLOCK", "HEADER_BYTES", "encode", "decode", "stream_info", "model_code_bits", "coded_size_bound"]

#: Symbols per model update (part of the stream format).
BLOCK = 64
_CHUNK_BLOCKS = 2048  # blocks whose tables are built at once (memory, not format)
_MAGIC = b"rc"
_VERSION = 1
_HEADER = struct.Struct("<2sBBII")
#: Bytes of the stream header (magic, version, bits, count, crc32).
HEADER_BYTES = _HEADER.size
_RANGE_BITS = 64
_TOP = 1 << _RANGE_BITS
_BOTTOM = 1 << (_RANGE_BITS - 8)
_LOW_MASK = _BOTTOM - 1
_CARRY_LIMIT = 0xFF << (_RANGE_BITS - 8)
_FLUSH = _RANGE_BITS // 8 + 1
_MAX_COUNT = 2**32 - 1


def _check(codes: np.ndarray | torch.Tensor, bits: int) -> np.ndarray:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= int(bits) <= 8:
        raise ValueError(f"bits must be an integer in 1..8, not {bits!r}")
    if torch.is_tensor(codes):
        codes = codes.detach().cpu().numpy()
    codes = np.asarray(codes).reshape(-1)
    if codes.size > _MAX_COUNT:
        raise ValueError(f"{codes.size} codes exceed the coder's limit of {_MAX_COUNT}; code the set in parts")
    if codes.size and (not np.issubdtype(codes.dtype, np.integer) or codes.min() < 0 or codes.max() >= 2**bits):
        raise ValueError(f"codes must be integers in [0, {2 ** bits - 1}] to code at {bits} bits")
    return codes.astype(np.uint8)


def _tables(codes: np.ndarray, bits: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per symbol: cumulative count below it, its count and the table total, as the model
    holds them when the symbol is coded. Yields three int64 arrays per chunk of symbols
    (chunks keep the memory bounded for long inputs)."""
    symbols = 1 << bits
    counts = np.ones(symbols, dtype=np.int64)  # the table at the start of the chunk
    step = _CHUNK_BLOCKS * BLOCK
    for start in range(0, codes.size, step):
        chunk = codes[start:start + step].astype(np.int64)
        n = chunk.size
        blocks = -(-n // BLOCK)
        block_of = np.arange(n) // BLOCK
        per_block = np.zeros((blocks, symbols), dtype=np.int64)
        np.add.at(per_block, (block_of, chunk), 1)
        table = np.cumsum(per_block, axis=0) - per_block + counts  # counts each block starts with
        cum = np.zeros((blocks, symbols + 1), dtype=np.int64)
        np.cumsum(table, axis=1, out=cum[:, 1:])
        yield cum[block_of, chunk], table[block_of, chunk], cum[block_of, symbols]
        counts = counts + per_block.sum(axis=0)


def model_code_bits(codes: np.ndarray | torch.Tensor, bits: int) -> float:
    """The adaptive model's code length of ``codes``: ``sum -log2(count / total)`` [bits].

    The range coder's output is within a few bytes of this (see :func:`coded_size_bound`).

    >>> model_code_bits(np.zeros(0, dtype=np.uint8), 3)
    0.0
    """
    codes = _check(codes, bits)
    if not codes.size:
        return 0.0
    return float(sum(np.sum(np.log2(total) - np.log2(freq)) for _, freq, total in _tables(codes, int(bits))))


def coded_size_bound(codes: np.ndarray | torch.Tensor, bits: int) -> int:
    """An upper bound on ``len(encode(codes, bits))`` [bytes], computed without coding.

    Each symbol costs at most ``log2(T / f) - log2(1 - T / 2^56)`` bits (the integer division
    of the range), plus the flush and the header.

    >>> c = np.random.default_rng(0).integers(0, 4, 5000)
    >>> len(encode(c, 2)) <= coded_size_bound(c, 2)
    True
    """
    codes = _check(codes, bits)
    n = codes.size
    ideal = model_code_bits(codes, bits)
    total_max = (1 << int(bits)) + n
    slack = -n * math.log2(1.0 - total_max / _BOTTOM) + 1e-6 * ideal + 1.0
    return HEADER_BYTES + _FLUSH + math.ceil((ideal + slack) / 8)


def encode(codes: np.ndarray | torch.Tensor, bits: int) -> bytes:
    """Range-code b-bit codes.

    Args:
        codes: integers in ``[0, 2^bits)``, any shape (flattened row-major); at most 2^32 - 1.
        bits: 1..8.

    Returns:
        the stream: a 12-byte header (length, CRC32 of the codes) and the coded bytes.

    Raises:
        ValueError: codes outside ``[0, 2^bits)`` or bits outside 1..8.
    """
    codes = _check(codes, bits)
    bits = int(bits)
    header = _HEADER.pack(_MAGIC, _VERSION, bits, codes.size, zlib.crc32(codes.tobytes()))
    if not codes.size:
        return header
    out = bytearray()
    low, rng, cache, pending = 0, _TOP - 1, 0, 1

    def shift_low() -> None:
        """Move the top byte of ``low`` out (LZMA's ShiftLow with a 64-bit low): bytes wait in
        ``cache``/``pending`` until a carry can no longer reach them."""
        nonlocal low, cache, pending
        if low < _CARRY_LIMIT or low >= _TOP:
            carry = low >> _RANGE_BITS
            out.append((cache + carry) & 0xFF)
            if pending > 1:
                out.extend(bytes([(0xFF + carry) & 0xFF]) * (pending - 1))
            pending = 0
            cache = (low >> (_RANGE_BITS - 8)) & 0xFF
        pending += 1
        low = (low & _LOW_MASK) << 8

    bottom = _BOTTOM
    steps = ((lo, f, t) for table in _tables(codes, bits) for lo, f, t in zip(*(a.tolist() for a in table)))
    for lo, f, t in steps:
        r = rng // t
        low += r * lo
        rng = r * f
        while rng < bottom:
            shift_low()
            rng <<= 8
    for _ in range(_FLUSH):
        shift_low()
    return header + bytes(out).rstrip(b"\0")


def stream_info(stream: bytes) -> tuple[int, int, int]:
    """``(bits, count, crc32)`` from a stream's header.

    Raises:
        DataFileError: too short, wrong magic or version, bits outside 1..8.
    """
    if len(stream) < HEADER_BYTES:
        raise DataFileError(f"coded codes are corrupt: {len(stream)} bytes, shorter than the {HEADER_BYTES}-byte header")
    magic, version, bits, count, crc = _HEADER.unpack_from(stream)
    if magic != _MAGIC or version != _VERSION:
        raise DataFileError(f"coded codes are corrupt or of another coder (header {magic!r} version {version}, "
                            f"expected {_MAGIC!r} version {_VERSION})")
    if not 1 <= bits <= 8:
        raise DataFileError(f"coded codes are corrupt: header says {bits} bits per code (expected 1..8)")
    return bits, count, crc


def decode(stream: bytes | np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode`.

    Args:
        stream: the bytes :func:`encode` returned (or a uint8 array of them).

    Returns:
        uint8 [count] codes, exactly the ones encoded.

    Raises:
        DataFileError: a damaged stream (header, length or CRC32 mismatch), with a message
            that says so.
    """
    stream = stream.tobytes() if isinstance(stream, np.ndarray) else bytes(stream)
    bits, count, crc = stream_info(stream)
    body = stream[HEADER_BYTES:]
    symbols = 1 << bits
    out = np.empty(count, dtype=np.uint8)
    if count:
        size = len(body)
        # the decoder reads one byte per renormalisation: a valid stream never needs more
        # than its length plus the dropped trailing zeros (at most the flush)
        data = body + bytes(_FLUSH + 1)
        code, rng, pos = 0, _TOP - 1, 0
        for _ in range(_FLUSH):
            code = (code << 8) | data[pos]
            pos += 1
        counts = np.ones(symbols, dtype=np.int64)
        bottom = _BOTTOM
        start = 0
        while start < count:
            stop = min(start + BLOCK, count)
            decoded: list[int] = []
            append = decoded.append
            cum = [0, *np.cumsum(counts).tolist()]
            total = cum[-1]
            for _ in range(stop - start):
                r = rng // total
                target = code // r
                if target >= total:  # only in a damaged stream
                    target = total - 1
                s = bisect_right(cum, target) - 1
                lo = cum[s]
                code -= r * lo
                rng = r * (cum[s + 1] - lo)
                while rng < bottom:
                    if pos >= len(data):
                        raise DataFileError(f"coded codes are corrupt: the stream of {size} bytes ended before "
                                            f"all {count} codes were decoded (truncated or damaged)")
                    code = (code << 8) | data[pos]
                    pos += 1
                    rng <<= 8
                append(s)
            out[start:stop] = decoded
            counts += np.bincount(out[start:stop], minlength=symbols)
            start = stop
    if zlib.crc32(out.tobytes()) != crc:
        raise DataFileError(f"coded codes are corrupt: the {count} decoded codes do not match the stored CRC32 "
                            "(file damaged or edited)")
    return out
