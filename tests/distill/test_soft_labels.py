"""Learned soft labels: the stored code, the loop (labels learn, resume byte-identical), the
bits they cost in the file, and networks trained on them."""

import pytest
import torch

from beamsim.distill.labels import SoftLabels, check_codes, decode, encode, label_bits, stored_targets
from beamsim.distill.quadd import QuADD
from beamsim.models import get_model, reset_parameters
from beamsim.models.training import train_model
from tests.distill.test_quadd import Toy, tiny_config


def soft_config(**kw):
    return tiny_config(**{"objective": "tm", "iterations": 4, "soft_labels": True, "label_topk": 2, "label_bits": 4,
                          "val_fraction": 0.25, "val_every": 2, **kw})


@pytest.mark.parametrize("top_k, bits", [(1, 1), (2, 4), (4, 8), (7, 3)])
def test_the_loop_target_is_the_stored_code(top_k, bits):
    z = torch.randn(20, 7, generator=torch.Generator().manual_seed(top_k * 10 + bits), requires_grad=True)
    loop = stored_targets(z, top_k, bits)
    classes, codes = encode(torch.softmax(z, 1), top_k, bits)
    assert torch.allclose(loop, decode(classes, codes, 7), atol=1e-6)
    assert check_codes(classes, codes, 7, bits) is None
    assert ((loop > 0).sum(1) <= top_k).all() and torch.allclose(loop.sum(1), torch.ones(20))
    loop[:, 0].sum().backward()
    moved = float(z.grad.abs().sum())
    assert moved > 0 if top_k > 1 else moved == 0, "top-1 is a hard label; with more classes the logits learn"


def test_the_code_keeps_the_largest_classes_relative_to_the_largest():
    p = torch.tensor([[0.05, 0.5, 0.25, 0.2]])
    classes, codes = encode(p, 3, 2)  # ratios 1, 0.5, 0.4 -> 3, 1.5 -> 2, 1.2 -> 1
    assert classes.tolist() == [[1, 2, 3]] and codes.tolist() == [[3, 2, 1]]
    assert label_bits(64, 4, 4) == 4 * (6 + 4) and SoftLabels(classes, codes, 2, 4).stored_bits() == 3 * (2 + 2)


@pytest.mark.parametrize("classes, codes, problem", [
    ([[0, 4]], [[15, 1]], "outside [0, 4)"), ([[2, 2]], [[15, 1]], "one class twice"),
    ([[0, 1]], [[14, 1]], "first code"), ([[0, 1]], [[15, 16]], "first code"),
])
def test_bad_codes_are_named(classes, codes, problem):
    assert problem in check_codes(torch.tensor(classes), torch.tensor(codes), 4, 4)


def test_soft_targets_that_are_one_hot_train_like_hard_labels():
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.arange(32) % 4
    losses = []
    for targets in (None, torch.nn.functional.one_hot(y, 4).float()):
        model = get_model("beamcnn", 1, 4, 8)
        reset_parameters(model, torch.Generator().manual_seed(0))
        losses.append(train_model(model, x, y, epochs=2, batch_size=8, targets=targets,
                                  generator=torch.Generator().manual_seed(1)))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_labels_learn_with_the_samples_and_the_best_is_kept():
    q = QuADD(soft_config(), seed=2, device="cpu").fit(Toy())
    start = QuADD(soft_config(iterations=0, val_fraction=0.0), seed=2, device="cpu").fit(Toy())
    assert q.soft_labels_ is not None and q.soft_labels_.classes.shape == (len(q.labels_), 2)
    assert not torch.equal(q.soft_labels_.targets(), start.soft_labels_.targets()), "the labels did not move"
    assert check_codes(q.soft_labels_.classes, q.soft_labels_.codes, 4, 4) is None


def test_a_soft_label_run_resumes_byte_identically(tmp_path):
    cfg = soft_config(checkpoint_every=2)
    whole = QuADD(cfg, seed=5, device="cpu", cache_dir=tmp_path / "cache").fit(Toy())
    ckpt = tmp_path / "run.ckpt.pt"

    def interrupt(done, total, info):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        QuADD(cfg, seed=5, device="cpu", cache_dir=tmp_path / "cache", checkpoint_path=ckpt,
              progress=interrupt).fit(Toy())
    resumed = QuADD(cfg, seed=5, device="cpu", cache_dir=tmp_path / "cache", checkpoint_path=ckpt).fit(Toy(), resume=True)
    assert torch.equal(whole.synthetic_, resumed.synthetic_)
    assert torch.equal(whole.soft_labels_.codes, resumed.soft_labels_.codes)
    assert torch.equal(whole.soft_labels_.classes, resumed.soft_labels_.classes)


@pytest.mark.parametrize("change, match", [
    ({"objective": "dm"}, "use --objective tm"), ({"label_bits": 9}, "label_bits"), ({"label_topk": 0}, "label_topk"),
])
def test_bad_soft_label_settings(change, match):
    with pytest.raises(ValueError, match=match):
        soft_config(**change)


def test_more_kept_classes_than_the_data_has_is_refused():
    with pytest.raises(ValueError, match="more than the 4 classes"):
        QuADD(soft_config(label_topk=5), seed=0, device="cpu").fit(Toy())
