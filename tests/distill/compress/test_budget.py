import pytest
import torch

from beamsim.distill.compress import CompressConfig, build_pool, search_budget, search_groups, select_per_class


@pytest.fixture
def pool(small_beams, generator, checkerboard):
    x, y = small_beams
    extra = torch.where(checkerboard, torch.rand(40, 1, 8, 8, generator=generator), torch.ones(()))
    extra_y = torch.arange(8).repeat(5)
    return build_pool(x, y, extra, extra_y, generator=torch.Generator().manual_seed(0))


def test_pool_puts_distilled_rows_first_and_drops_duplicates(small_beams):
    x, y = small_beams
    extra = torch.cat([x[:2], torch.zeros(3, 1, 8, 8)])  # two copies of distilled rows
    px, py, distilled = build_pool(x, y, extra, torch.tensor([0, 0, 1, 1, 2]))
    assert len(py) == 24 + 3 and int(distilled.sum()) == 24
    assert py.tolist() == sorted(py.tolist())
    for c in range(3):
        flags = distilled[py == c].tolist()
        assert flags == sorted(flags, reverse=True)  # distilled first within the class


def test_select_per_class_takes_the_first_rows():
    y = torch.tensor([0, 0, 0, 1, 2, 2, 2, 2])
    assert select_per_class(y, 1).tolist() == [0, 3, 4]
    assert select_per_class(y, 3).tolist() == [0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("entropy", [True, False])
def test_search_respects_the_budget_and_is_monotone(pool, entropy):
    px, py, _ = pool
    cfg = CompressConfig(bits=2, refine=False, entropy=entropy)
    previous = 0
    for budget in (400, 700, 1200, 2500, 6000):
        choice = search_budget(px, py, budget, cfg, generator=torch.Generator().manual_seed(3))
        assert choice.sizes.payload <= budget
        assert choice.samples_per_class >= previous
        previous = choice.samples_per_class
    assert previous == 8  # the whole pool (3 distilled + 5 real per class) fits 6000 bytes


def test_group_search_is_monotone_and_prefers_paq_when_it_fits(small_beams):
    x, _ = small_beams
    cfg = CompressConfig(bits=2, refine=False)
    groups = [search_groups(x, budget, cfg, generator=torch.Generator().manual_seed(0))[0]
              for budget in (450, 700, 1000, 5000)]
    assert groups == sorted(groups) and groups[-1] == 24 * 16


def test_search_is_pure(pool):
    px, py, _ = pool
    g = torch.Generator().manual_seed(9)
    state = g.get_state()
    cfg = CompressConfig(bits=3, refine=False)
    a = search_budget(px, py, 1500, cfg, generator=g)
    b = search_budget(px, py, 1500, cfg, generator=g)
    assert a == b and torch.equal(g.get_state(), state)
    assert torch.equal(a.index, b.index) and torch.equal(a.quantized.codes, b.quantized.codes)


def test_fixed_groups(pool):
    px, py, _ = pool
    choice = search_budget(px, py, 3000, CompressConfig(bits=2, groups=4, refine=False))
    assert choice.groups == 4 and choice.num_groups <= 4 and choice.codec == "gaq"


def test_too_small_a_budget_says_what_is_needed(pool):
    px, py, _ = pool
    with pytest.raises(ValueError, match="too small.*at least"):
        search_budget(px, py, 50, CompressConfig(bits=2, refine=False))


def test_prepared_rows_that_cost_more_get_one_sample_per_class_less(pool):
    px, py, _ = pool
    cfg = CompressConfig(bits=2, refine=False, entropy=False)
    plain = search_budget(px, py, 600, cfg, generator=torch.Generator().manual_seed(1))
    assert plain.samples_per_class < 8  # the budget, not the pool, limits k
    seen = []

    def unmask(x):  # the masked entries stop being constant: every row stores 64 codes, not 32
        seen.append(len(x))
        return x + torch.linspace(0.0, 0.1, len(x)).view(-1, 1, 1, 1)

    costly = search_budget(px, py, 600, cfg, generator=torch.Generator().manual_seed(1), prepare=unmask)
    assert costly.samples_per_class < plain.samples_per_class and costly.sizes.payload <= 600
    assert len(seen) >= 2 and seen == sorted(seen, reverse=True)  # tried, then one per class less
    prepared = px[costly.index] + torch.linspace(0.0, 0.1, len(costly.index)).view(-1, 1, 1, 1)
    assert torch.allclose(costly.quantized.decode(), prepared, atol=1.1 / 6 + 1e-6)  # half a 2-bit step
    same = search_budget(px, py, 600, cfg, generator=torch.Generator().manual_seed(1), prepare=lambda x: x)
    assert same.samples_per_class == plain.samples_per_class and torch.equal(same.index, plain.index)
