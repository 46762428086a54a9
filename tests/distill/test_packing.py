import numpy as np
import pytest
import torch

from beamsim.distill.packing import pack_codes, packed_size, unpack_codes


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("count", [1, 7, 13, 1001])
def test_round_trip_every_width_and_odd_counts(bits, count):
    rng = np.random.default_rng(bits * 1000 + count)
    codes = rng.integers(0, 2 ** bits, size=count)
    packed = pack_codes(codes, bits)
    assert packed.dtype == np.uint8 and packed.shape == (packed_size(count, bits),)
    assert packed.size == -(-count * bits // 8)  # exactly b bits per code
    assert np.array_equal(unpack_codes(packed, bits, count), codes.astype(np.uint8))


def test_bit_layout_is_little_endian():
    # 3-bit codes 5 (101), 3 (011), 7 (111): stream 1,0,1, 1,1,0, 1,1,1 -> 0b11011101, 0b1
    assert pack_codes(np.array([5, 3, 7]), 3).tolist() == [0b11011101, 0b1]
    assert pack_codes(torch.tensor([255, 1]), 8).tolist() == [255, 1]


def test_errors():
    with pytest.raises(ValueError, match=r"\[0, 3\]"):
        pack_codes(np.array([4]), 2)
    with pytest.raises(ValueError, match="1..8"):
        pack_codes(np.array([1]), 9)
    with pytest.raises(ValueError, match="truncated"):
        unpack_codes(np.zeros(2, dtype=np.uint8), 6, 3)

