"""Allocation of the sample budget among classes: quotas sum to the budget, follow the class
sizes, and a proportional run keeps the total bytes of the fixed one."""

import pytest
import torch

from beamsim.distill.allocation import class_quotas, fixed_quotas, proportional_quotas
from beamsim.distill.coresets import per_class_quotas
from beamsim.distill.quadd import QuADD
from tests.distill.test_quadd import Toy, tiny_config


@pytest.mark.parametrize("sizes, total", [([1417, 18, 475, 900, 3, 0, 60], 200), ([5, 5, 5], 15), ([5, 5, 5], 3),
                                          ([1, 1000], 2), ([10, 0, 7], 9)])
def test_proportional_quotas_sum_to_the_budget_within_every_class(sizes, total):
    quotas = proportional_quotas(sizes, total)
    assert sum(quotas) == total
    assert all((q >= 1 if n else q == 0) and q <= n for q, n in zip(quotas, sizes))
    order = sorted(range(len(sizes)), key=lambda c: sizes[c])
    assert [quotas[c] for c in order] == sorted(quotas), "a larger class never gets fewer samples"


def test_proportional_quotas_follow_the_class_sizes():
    quotas = proportional_quotas([800, 100, 100], 100)
    assert quotas == [80, 10, 10]


@pytest.mark.parametrize("call, match", [
    (lambda: proportional_quotas([5, 5], 1), "between the 2 non-empty classes"),
    (lambda: proportional_quotas([5, 5], 11), "their 10 samples"),
    (lambda: proportional_quotas([0, 0], 1), "at least one sample"),
    (lambda: class_quotas([5, 5], 2, "greedy"), "unknown allocation"),
    (lambda: fixed_quotas([5], 0), "spc"),
    (lambda: per_class_quotas([1, 2], 3), "3 non-negative per-class quotas"),
    (lambda: per_class_quotas([0, 0, 0], 3), "positive sum"),
])
def test_bad_allocations_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_proportional_run_keeps_the_fixed_total_and_shares_it_by_class_size():
    fixed = QuADD(tiny_config(spc=4, iterations=0, objective="none"), seed=0, device="cpu").fit(Toy())
    prop = QuADD(tiny_config(spc=4, iterations=0, objective="none", allocation="proportional"), seed=0,
                 device="cpu").fit(Toy())
    assert fixed.counts_.tolist() == [4, 4, 3, 0]
    assert prop.counts_.sum() == fixed.counts_.sum()
    assert prop.counts_.tolist() == proportional_quotas([12, 12, 3, 0], 11)


def test_a_proportional_run_resumes_byte_identically(tmp_path):
    cfg = tiny_config(iterations=4, checkpoint_every=2, allocation="proportional")
    whole = QuADD(cfg, seed=5, device="cpu").fit(Toy())

    def interrupt(done, total, info):
        if done == 3:
            raise KeyboardInterrupt

    ckpt = tmp_path / "run.ckpt.pt"
    with pytest.raises(KeyboardInterrupt):
        QuADD(cfg, seed=5, device="cpu", checkpoint_path=ckpt, progress=interrupt).fit(Toy())
    resumed = QuADD(cfg, seed=5, device="cpu", checkpoint_path=ckpt).fit(Toy(), resume=True)
    assert torch.equal(whole.synthetic_, resumed.synthetic_) and torch.equal(whole.labels_, resumed.labels_)


def test_noise_initialisation_needs_the_fixed_allocation():
    with pytest.raises(ValueError, match="use --allocation fixed"):
        tiny_config(init="noise", allocation="proportional")
