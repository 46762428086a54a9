import pytest
import torch

from beamsim.distill.coresets import (class_rows, herding_select, kcenter_select, pad_with_repeats, random_per_class,
                                      random_select, select_per_class)

# Hand-made 2-D class: mean (1, 0.25).
POINTS = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [1.0, 1.0]])


def test_herding_first_pick_is_closest_to_the_mean():
    # distances^2 to (1, 0.25): 1.0625, 1.0625, 0.0625, 0.5625
    assert herding_select(POINTS, 1).tolist() == [2]


def test_herding_second_pick_by_hand():
    # 2 mu = (2, 0.5); chosen sum (1, 0); candidate sums: row 0 -> (1, 0), row 1 -> (3, 0), row 3 -> (2, 1);
    # squared distances to 2 mu: 1.25, 1.25, 0.25 -> row 3.
    assert herding_select(POINTS, 2).tolist() == [2, 3]


def test_herding_never_repeats_and_orders_all():
    f = torch.randn(30, 5, generator=torch.Generator().manual_seed(0))
    picked = herding_select(f, 30)
    assert sorted(picked.tolist()) == list(range(30))


def test_herding_mean_tracks_class_mean_better_than_random():
    g = torch.Generator().manual_seed(1)
    f = torch.randn(500, 8, generator=g) * torch.linspace(0.5, 3.0, 8)
    mu = f.mean(0)
    herd = f[herding_select(f, 10)].mean(0)
    rand_err = torch.stack([(f[random_select(500, 10, generator=g)].mean(0) - mu).norm() for _ in range(50)])
    assert float((herd - mu).norm()) < float(rand_err.quantile(0.05))


def test_kcenter_starts_at_mean_then_takes_the_farthest():
    f = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.4, 0.1], [-3.0, 0.0], [0.0, 2.0]])
    # mean (-0.32, 0.42): row 0 is closest (squared distance 0.28). Farthest from row 0: row 3 (3.0).
    # Then distance to the nearest of {0, 3}: row 1 -> 1.0, row 2 -> 0.41, row 4 -> 2.0 -> row 4.
    assert kcenter_select(f, 1).tolist() == [0]
    assert kcenter_select(f, 2).tolist() == [0, 3]
    assert kcenter_select(f, 3).tolist() == [0, 3, 4]
    assert kcenter_select(f, 5).tolist() == [0, 3, 4, 1, 2]


def test_kcenter_with_duplicates_never_repeats():
    f = torch.zeros(6, 3)
    assert sorted(kcenter_select(f, 6).tolist()) == list(range(6))


@pytest.mark.parametrize("select", [herding_select, kcenter_select])
def test_k_out_of_range(select):
    with pytest.raises(ValueError, match="k must be"):
        select(POINTS, 5)
    with pytest.raises(ValueError, match="k must be"):
        select(POINTS, -1)
    assert select(POINTS, 0).numel() == 0


def test_class_rows():
    rows = class_rows(torch.tensor([2, 0, 2, 1, 0]), 4)
    assert [r.tolist() for r in rows] == [[1, 4], [3], [0, 2], []]


def test_pad_with_repeats_is_even():
    g = torch.Generator().manual_seed(3)
    out = pad_with_repeats(torch.tensor([4, 5, 6]), 11, generator=g)
    assert out[:3].tolist() == [4, 5, 6]
    counts = out.bincount()[4:]
    assert counts.sum() == 11 and set(counts.tolist()) <= {3, 4}
    with pytest.raises(ValueError, match="empty"):
        pad_with_repeats(torch.zeros(0, dtype=torch.long), 3, generator=g)


def test_random_per_class_counts_and_determinism():
    y = torch.tensor([0] * 10 + [1] * 3 + [3] * 7)
    a = random_per_class(y, 4, 5, replacement=False, generator=torch.Generator().manual_seed(0))
    b = random_per_class(y, 4, 5, replacement=False, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert y[a].tolist() == [0] * 5 + [1] * 3 + [3] * 5
    assert a.unique().numel() == a.numel()
    c = random_per_class(y, 4, 5, replacement=True, generator=torch.Generator().manual_seed(0))
    assert y[c].bincount(minlength=4).tolist() == [5, 5, 0, 5]
    assert set(c[5:10].tolist()) == {10, 11, 12}


def test_select_per_class_checks_the_selector():
    y = torch.tensor([0, 0, 0])
    with pytest.raises(RuntimeError, match="distinct"):
        select_per_class(y, 1, 2, lambda rows, k: torch.zeros(k, dtype=torch.long),
                         generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="spc"):
        select_per_class(y, 1, 0, lambda rows, k: torch.arange(k), generator=torch.Generator())
