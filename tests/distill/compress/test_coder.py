import numpy as np
import pytest

from beamsim.distill.packing import packed_size
from beamsim.distill.compress import coder
from beamsim.errors import DataFileError


def skewed(bits, n, seed=0):
    p = np.exp(-1.5 * np.arange(2 ** bits))
    return np.random.default_rng(seed).choice(2 ** bits, n, p=p / p.sum()).astype(np.uint8)


@pytest.mark.parametrize("bits", range(1, 9))
def test_round_trip_random_and_skewed(bits):
    rng = np.random.default_rng(bits)
    for codes in (rng.integers(0, 2 ** bits, 3001), skewed(bits, 3001)):
        stream = coder.encode(codes, bits)
        assert np.array_equal(coder.decode(stream), codes)
        assert len(stream) <= coder.coded_size_bound(codes, bits)


@pytest.mark.parametrize("bits", range(1, 9))
def test_smaller_than_packed_codes_on_skewed_data(bits):
    codes = skewed(bits, 20000)
    assert len(coder.encode(codes, bits)) < packed_size(codes.size, bits)


@pytest.mark.parametrize("bits", [1, 8])
def test_empty_and_constant_runs(bits):
    empty = np.zeros(0, dtype=np.uint8)
    assert coder.decode(coder.encode(empty, bits)).size == 0
    top = np.full(5000, 2 ** bits - 1, dtype=np.uint8)  # long runs of one symbol (carry handling)
    stream = coder.encode(top, bits)
    assert np.array_equal(coder.decode(stream), top) and len(stream) < packed_size(top.size, bits) / 10


def test_carry_heavy_stream():
    codes = np.tile(np.array([255] * 40 + [0, 128], dtype=np.uint8), 300)
    assert np.array_equal(coder.decode(coder.encode(codes, 8)), codes)


def test_flipped_byte_is_detected():
    codes = skewed(3, 5000)
    stream = bytearray(coder.encode(codes, 3))
    middle = coder.HEADER_BYTES + (len(stream) - coder.HEADER_BYTES) // 2
    stream[middle] ^= 0xFF
    with pytest.raises(DataFileError, match="corrupt"):
        coder.decode(bytes(stream))


@pytest.mark.parametrize("damage", ["magic", "short", "count"])
def test_damaged_header(damage):
    stream = bytearray(coder.encode(skewed(2, 500), 2))
    if damage == "magic":
        stream[0] ^= 1
    elif damage == "short":
        stream = stream[:5]
    else:
        stream[4] ^= 1  # the stored length
    with pytest.raises(DataFileError):
        coder.decode(bytes(stream))


def test_bad_input():
    with pytest.raises(ValueError, match="0, 3"):
        coder.encode(np.array([4]), 2)
    with pytest.raises(ValueError, match="1..8"):
        coder.encode(np.array([0]), 9)


def test_model_code_length_is_close():
    codes = skewed(4, 10000)
    ideal = coder.model_code_bits(codes, 4) / 8
    assert ideal <= len(coder.encode(codes, 4)) <= ideal + coder.HEADER_BYTES + 10
