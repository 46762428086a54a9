"""KPI functions on hand-made cases with known answers."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import f1_score

from beamsim.experiments.metrics import (
    beam_kpis, image_kpis, macro_f1, observed_scores, rsrp_loss_db, strongest_observed, topk_accuracy,
    topk_hits, within_margin,
)

SCORES = torch.tensor([
    [0.9, 0.5, 0.1, 0.0],  # ranking 0, 1, 2, 3
    [0.1, 0.2, 0.3, 0.4],  # ranking 3, 2, 1, 0
    [0.0, 1.0, 0.5, 0.7],  # ranking 1, 3, 2, 0
])
LABELS = torch.tensor([0, 1, 0])  # rank of the label: 1st, 3rd, 4th


@pytest.mark.parametrize("k,expected", [(1, 1 / 3), (2, 1 / 3), (3, 2 / 3), (4, 1.0), (10, 1.0)])
def test_topk_accuracy(k, expected):
    assert topk_accuracy(SCORES, LABELS, k) == pytest.approx(expected)


def test_topk_hits_per_sample_and_bad_k():
    assert topk_hits(SCORES, LABELS, 3).tolist() == [True, True, False]
    with pytest.raises(ValueError, match="k must be >= 1"):
        topk_accuracy(SCORES, LABELS, 0)
    with pytest.raises(ValueError):
        topk_accuracy(SCORES, LABELS[:2], 1)


RSRP = torch.tensor([
    [-70.0, -71.0, -75.0, -90.0],
    [-80.0, -70.0, -70.5, -72.0],
    [-60.0, -61.5, -62.0, -63.0],
])


def test_rsrp_loss_db():
    loss = rsrp_loss_db(torch.tensor([1, 2, 3]), RSRP)
    assert loss.tolist() == pytest.approx([1.0, 0.5, 3.0])
    assert rsrp_loss_db(torch.tensor([0, 1, 0]), RSRP).tolist() == [0.0, 0.0, 0.0]


def test_rsrp_loss_on_beam_grid_matches_flat_index():
    grid = torch.arange(64, dtype=torch.float32).view(1, 8, 8) - 100.0  # best = el 7, az 7 = index 63
    assert rsrp_loss_db(torch.tensor([63]), grid).item() == 0.0
    assert rsrp_loss_db(torch.tensor([8 * 2 + 5]), grid).item() == pytest.approx(63 - 21)
    with pytest.raises(ValueError, match="outside"):
        rsrp_loss_db(torch.tensor([64]), grid)


def test_within_margin_counts_the_margin_itself():
    pred = torch.tensor([1, 2, 1])  # losses 1.0, 0.5, 1.5
    assert within_margin(pred, RSRP, margin_db=1.0) == pytest.approx(2 / 3)
    assert within_margin(pred, RSRP, margin_db=0.5) == pytest.approx(1 / 3)
    assert within_margin(pred, RSRP, margin_db=2.0) == 1.0
    assert within_margin(pred, RSRP, margin_db=0.0) == 0.0


def test_macro_f1_hand_case():
    # class 0: TP 1, FP 1, FN 0 -> 2/3; class 1: TP 1, FP 0, FN 2 -> 1/2; class 2 absent from labels.
    pred, labels = torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 1])
    assert macro_f1(pred, labels, num_classes=4) == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert macro_f1(labels, labels) == 1.0
    assert macro_f1(torch.tensor([1, 0]), torch.tensor([0, 1])) == 0.0


def test_macro_f1_matches_sklearn_over_present_classes():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 40, (500,), generator=gen)  # some of 64 classes absent
    pred = torch.where(torch.rand(500, generator=gen) < 0.6, labels, torch.randint(0, 64, (500,), generator=gen))
    present = sorted(set(labels.tolist()))
    expected = f1_score(labels.numpy(), pred.numpy(), labels=present, average="macro", zero_division=0)
    assert macro_f1(pred, labels, 64) == pytest.approx(expected, abs=1e-12)


def test_strongest_observed():
    mask = torch.tensor([[False, True, True, False], [True, False, True, True], [False, False, False, True]])
    assert strongest_observed(RSRP, mask).tolist() == [1, 2, 3]
    scores = observed_scores(RSRP, mask)
    assert torch.isinf(scores[0, 0]) and scores[0, 1] == -71.0


def test_beam_kpis_perfect_and_reference():
    kpis = beam_kpis(RSRP, torch.tensor([0, 1, 0]), RSRP)  # true RSRP as scores: always right
    assert kpis == {"top1": 1.0, "top2": 1.0, "top3": 1.0, "top4": 1.0, "top5": 1.0, "top8": 1.0, "within_1db": 1.0,
                    "rsrp_loss_db": 0.0, "rsrp_loss_p95_db": 0.0, "macro_f1": 1.0}
    mask = torch.tensor([[False, True, True, False], [True, False, True, True], [False, True, True, True]])
    ref = beam_kpis(observed_scores(RSRP, mask), torch.tensor([0, 1, 0]), RSRP)
    # predictions 1, 2, 1: losses 1.0, 0.5, 1.5; the best beam is never observed
    assert ref["top1"] == 0.0 and ref["top2"] == 0.0
    assert ref["within_1db"] == pytest.approx(2 / 3)
    assert ref["rsrp_loss_db"] == pytest.approx(1.0)
    assert ref["rsrp_loss_p95_db"] == pytest.approx(1.0 + 0.9 * 0.5)  # linear interpolation
    assert ref["macro_f1"] == 0.0


def test_beam_kpis_accepts_beam_grid_and_checks_shapes():
    rsrp = torch.randn(5, 8, 8, generator=torch.Generator().manual_seed(0))
    labels = rsrp.flatten(1).argmax(1)
    assert beam_kpis(rsrp.flatten(1), labels, rsrp)["top1"] == 1.0
    with pytest.raises(ValueError):
        beam_kpis(torch.zeros(5, 32), labels, rsrp)


def test_image_kpis():
    scores = torch.linspace(1.0, 0.1, 10).repeat(4, 1)  # ranking 0, 1, ..., 9 for every sample
    out = image_kpis(scores, torch.tensor([0, 4, 5, 0]))
    assert set(out) == {"top1", "top5", "macro_f1"}
    assert out["top1"] == 0.5 and out["top5"] == 0.75
    assert out["macro_f1"] == pytest.approx((2 * 2 / (4 + 2) + 0 + 0) / 3)
