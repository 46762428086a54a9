import pytest
import torch

from beamsim.distill.quant import apot_levels
from beamsim.distill.quant.levels import NearestLevel


@pytest.mark.parametrize("bits, signed", [(b, False) for b in range(1, 9)] + [(b, True) for b in range(2, 9)])
def test_equals_bucketize_including_ties_and_neighbours(bits, signed, generator):
    table = apot_levels(bits, signed=signed)
    lo = -1.0 if signed else 0.0
    mid = (table[1:] + table[:-1]) / 2
    x = torch.cat([torch.rand(20000, generator=generator) * (1 - lo) + lo, mid, table, torch.tensor([lo, 1.0]),
                   torch.nextafter(mid, torch.tensor(2.0)), torch.nextafter(mid, torch.tensor(-2.0))]).clamp(lo, 1.0)
    assert torch.equal(NearestLevel(table, lo, 1.0)(x), torch.bucketize(x, mid))


def test_uneven_table_with_coarse_bins():
    table = torch.tensor([0.0, 0.001, 0.0011, 0.0012, 0.5, 1.0])
    f = NearestLevel(table, 0.0, 1.0, bins=8)
    assert f.window >= 3
    x = torch.linspace(0, 1, 100001)
    assert torch.equal(f(x), torch.bucketize(x, (table[1:] + table[:-1]) / 2))


def test_bad_tables():
    with pytest.raises(ValueError, match="strictly increasing"):
        NearestLevel(torch.tensor([0.0, 0.5, 0.5]), 0.0, 1.0)
    with pytest.raises(ValueError, match="hi > lo"):
        NearestLevel(torch.tensor([0.0, 1.0]), 1.0, 1.0)

