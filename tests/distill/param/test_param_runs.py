"""FreD, QuADD + FreD and AutoPalette as runs of the QuADD estimator: the loop learns the latent
(and the palette network), files hold the bit budget and load exactly, resume is byte-identical."""

import pytest
import torch

from beamsim.distill import describe, load
from beamsim.distill.config import default_config
from beamsim.distill.param.budget import matched_coefficients, matched_colors, palette_sample_bits
from beamsim.distill.quadd import QuADD
from tests.distill.test_quadd import Toy, tiny_config

RUNS = {
    "fred": dict(param="fred", quantizer="none", bits=32, coefficients=6),
    "qfred": dict(param="fred", quantizer="apot", bits=4, coefficients=8),
    "palette": dict(param="palette", quantizer="none", bits=32, colors=4, palette_warmup=3),
}


@pytest.mark.parametrize("name", list(RUNS))
@pytest.mark.parametrize("objective", ["dm", "tm"])
def test_the_latent_learns_and_the_file_decodes_to_the_synthetic_set(name, objective, tmp_path):
    cfg = tiny_config(objective=objective, iterations=2, **RUNS[name])
    q = QuADD(cfg, seed=1, cache_dir=tmp_path / "cache", device="cpu").fit(Toy())
    start = QuADD(cfg.replace(iterations=0, objective="none"), seed=1, device="cpu").fit(Toy())
    assert not torch.equal(q.raw_, start.raw_), "the latent did not move"
    assert q.synthetic_.shape == (q.labels_.numel(), 1, 8, 8)
    # the constant (unobserved) entries hold their value in the decoded samples
    e, a = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    assert torch.all(q.synthetic_[:, 0][:, (e + a) % 2 == 1] == 1.0)
    info = q.save(tmp_path / f"{name}.h5")
    x, y = load(tmp_path / f"{name}.h5")
    assert torch.equal(x, q.synthetic_) and torch.equal(y, q.labels_)
    assert describe(tmp_path / f"{name}.h5")["total_bits_stored"] == info["total_bits_stored"]


def test_the_palette_network_learns_with_the_samples(tmp_path):
    cfg = tiny_config(iterations=2, **RUNS["palette"])
    q = QuADD(cfg, seed=1, device="cpu").fit(Toy())
    warm = QuADD(cfg.replace(iterations=0, objective="none"), seed=1, device="cpu").fit(Toy())
    moved = [not torch.equal(a, b) for a, b in zip(q.param_.state_dict().values(), warm.param_.state_dict().values())
             if a.is_floating_point()]
    assert any(moved), "the palette network did not move"
    assert "loss" in q.history_[-1]


@pytest.mark.parametrize("name", list(RUNS))
def test_resume_equals_an_uninterrupted_run(name, tmp_path):
    cfg = tiny_config(iterations=4, checkpoint_every=2, val_fraction=0.2, val_every=2, **RUNS[name])
    whole = QuADD(cfg, seed=5, device="cpu").fit(Toy())
    ckpt = tmp_path / "run.ckpt.pt"

    def interrupt(done, total, info):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        QuADD(cfg, seed=5, device="cpu", checkpoint_path=ckpt, progress=interrupt).fit(Toy())
    resumed = QuADD(cfg, seed=5, device="cpu", checkpoint_path=ckpt).fit(Toy(), resume=True)
    assert torch.equal(whole.raw_, resumed.raw_)
    assert torch.equal(whole.synthetic_, resumed.synthetic_)
    assert [h["loss"] for h in whole.history_] == [h["loss"] for h in resumed.history_]


def test_same_seed_same_bytes(tmp_path):
    cfg = tiny_config(iterations=2, **RUNS["palette"])
    for i in range(2):
        QuADD(cfg, seed=2, device="cpu").fit(Toy()).save(tmp_path / f"{i}.h5")
    a, b = load(tmp_path / "0.h5"), load(tmp_path / "1.h5")
    assert torch.equal(a[0], b[0])


def test_matched_budgets_fit_quadd_bytes():
    # toy beam maps: 32 varying elements of one channel at 6 bits = 192 bits per sample
    assert matched_coefficients(32, 6, channels=1, coefficient_bits=32) * 32 <= 192
    assert matched_coefficients(32, 6, channels=1, coefficient_bits=6) * 6 <= 192
    colors = matched_colors(32, 6, pixels=32, channels=1)
    assert palette_sample_bits(32, colors, 1) <= 192 < palette_sample_bits(32, 2 * colors, 1)


@pytest.mark.parametrize("change, match", [
    (dict(param="palette", quantizer="apot", bits=6), "palette is its own quantizer"),
    (dict(param="fred", quantizer="ptq", bits=6), "not ptq"),
    (dict(param="dct"), "unknown --param"),
    (dict(param="palette", quantizer="none", bits=32, colors=6), "power of two"),
    (dict(param="palette", quantizer="none", bits=32, colors=1), "power of two"),
    (dict(param="fred", coefficients=-1), "coefficients"),
])
def test_bad_settings(change, match):
    with pytest.raises(ValueError, match=match):
        default_config("beam").replace(**change)


def test_more_coefficients_than_dimensions_is_refused():
    with pytest.raises(ValueError, match="coefficients"):
        QuADD(tiny_config(param="fred", coefficients=65), seed=0, device="cpu").fit(Toy())
