import doctest

import pytest

from beamsim.distill import bits
from beamsim.distill.bits import compression_ratio, full_set_bits, label_bits, overhead_bits, payload_bits


def test_doctests():
    result = doctest.testmod(bits)
    assert result.attempted > 5 and result.failed == 0


def test_payload_both_accountings_for_a_checkerboard_beam_set():
    papers = payload_bits(64 * 50, 64, 6)
    stored = payload_bits(64 * 50, 32, 6)
    assert papers == 64 * 50 * 64 * 6 and stored * 2 == papers


def test_overhead_parts():
    header = bits.HEADER_BITS
    assert overhead_bits() == header
    assert overhead_bits(10) == 320 + header
    assert overhead_bits(0, 10, 100, labels="per_sample") == 100 * 4 + header
    assert overhead_bits(0, 10, 100, labels="none") == header
    assert overhead_bits(0, 10, labels="counts") == 320 + header
    assert overhead_bits(constant_elements=3, elements_per_sample=16, bits=5) == 16 + 15 + header


def test_compression_ratio_against_32_bit_full_set():
    assert full_set_bits(1000, 64) == 1000 * 64 * 32
    assert compression_ratio(1000 * 64 * 4, 1000, 64) == 8.0
    assert label_bits(2) == 1 and label_bits(3) == 2


@pytest.mark.parametrize("call", [
    lambda: payload_bits(-1, 64, 6),
    lambda: payload_bits(10, 64, 2.5),
    lambda: label_bits(0),
    lambda: overhead_bits(labels="bytes"),
    lambda: overhead_bits(constant_elements=5, elements_per_sample=4),
    lambda: compression_ratio(0, 10, 64),
])
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()
