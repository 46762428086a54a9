"""The QuADD estimator end to end on tiny data: gradients, counts, resume, determinism, file size."""

import numpy as np
import pytest
import torch

from beamsim.distill.config import DistillConfig, default_config
from beamsim.distill.quadd import CheckpointMismatchError, QuADD
from beamsim.distill.provenance import Provenance


def toy_data(n_per_class=(12, 12, 3, 0), seed=0):
    """Beam-map-like toy data: class c is bright at column c; the odd checkerboard is constant."""
    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for c, n in enumerate(n_per_class):
        x = torch.rand(n, 1, 8, 8, generator=g) * 0.5
        x[:, 0, :, c] = 0.0  # strongest (attenuation 0) at column c
        xs.append(x)
        ys.append(torch.full((n,), c, dtype=torch.long))
    x = torch.cat(xs)
    e, a = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    x[:, 0][:, (e + a) % 2 == 1] = 1.0  # unobserved entries: constant 1
    return x, torch.cat(ys), len(n_per_class)


class Toy:
    def __init__(self, **kw):
        self.inputs, self.labels, self.num_classes = toy_data(**kw)


def tiny_config(**kw) -> DistillConfig:
    base = dict(objective="dm", quantizer="apot", bits=4, spc=4, iterations=4, real_per_class=4, val_fraction=0.0,
                checkpoint_every=2, num_experts=1, expert_epochs_train=3, max_start_epoch=1,
                initial_max_start_epoch=0, expert_epochs=1, syn_steps=2, batch_syn=8, expert_batch=8, lr_syn=1.0,
                lr_alpha=0.05, val_epochs=2, val_every=2, init="real", allocation="fixed")
    base.update(kw)
    return default_config("beam").replace(**base)


@pytest.mark.parametrize("objective", ["dm", "tm", "dc"])
def test_samples_and_thresholds_move_through_the_loop(objective, tmp_path):
    cfg = tiny_config(objective=objective, iterations=2)
    q = QuADD(cfg, seed=1, cache_dir=tmp_path, device="cpu").fit(Toy())
    first = [h["loss"] for h in q.history_]
    assert len(first) == 2 and all(np.isfinite(first))
    init = QuADD(cfg.replace(objective="none", iterations=0), seed=1, device="cpu").fit(Toy())
    assert not torch.equal(q.raw_, init.raw_), "synthetic samples did not move"
    assert q.history_[-1]["alpha_moved"] > 0, "thresholds did not move"
    # constant features stay at their constant, values stay in the data range
    e, a = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    assert torch.all(q.raw_[:, 0][:, (e + a) % 2 == 1] == 1.0)
    assert float(q.raw_.min()) >= 0.0 and float(q.raw_.max()) <= 1.0


def test_with_and_without_replacement_counts():
    cfg = tiny_config(objective="none", iterations=0)
    without = QuADD(cfg.replace(replacement=False), seed=0, device="cpu").fit(Toy())
    with_ = QuADD(cfg.replace(replacement=True), seed=0, device="cpu").fit(Toy())
    assert without.counts_.tolist() == [4, 4, 3, 0]
    assert with_.counts_.tolist() == [4, 4, 4, 0]
    assert without.labels_.tolist() == [0] * 4 + [1] * 4 + [2] * 3


def test_same_seed_same_result_other_seed_other_result(tmp_path):
    cfg = tiny_config()
    a = QuADD(cfg, seed=3, device="cpu").fit(Toy())
    b = QuADD(cfg, seed=3, device="cpu").fit(Toy())
    c = QuADD(cfg, seed=4, device="cpu").fit(Toy())
    assert torch.equal(a.synthetic_, b.synthetic_)
    assert not torch.equal(a.synthetic_, c.synthetic_)


@pytest.mark.parametrize("objective", ["dm", "tm"])
def test_resume_equals_an_uninterrupted_run(objective, tmp_path):
    cfg = tiny_config(objective=objective, iterations=4, checkpoint_every=2, val_fraction=0.2, val_every=2)
    whole = QuADD(cfg, seed=5, device="cpu", cache_dir=tmp_path / "cache").fit(Toy())
    ckpt = tmp_path / "run.ckpt.pt"

    def interrupt(done, total, info):  # Ctrl-C after iteration 3: the checkpoint of iteration 2 stays
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        QuADD(cfg, seed=5, device="cpu", cache_dir=tmp_path / "cache", checkpoint_path=ckpt,
              progress=interrupt).fit(Toy())
    assert ckpt.exists()
    assert int(torch.load(ckpt, weights_only=True)["iteration"]) == 2
    resumed = QuADD(cfg, seed=5, device="cpu", cache_dir=tmp_path / "cache", checkpoint_path=ckpt).fit(Toy(), resume=True)
    assert torch.equal(whole.raw_, resumed.raw_)
    assert torch.equal(whole.synthetic_, resumed.synthetic_)
    assert [h["loss"] for h in whole.history_] == [h["loss"] for h in resumed.history_]


def test_checkpoint_from_other_settings_is_refused(tmp_path):
    ckpt = tmp_path / "run.ckpt.pt"
    QuADD(tiny_config(iterations=2), seed=5, device="cpu", checkpoint_path=ckpt).fit(Toy())
    with pytest.raises(CheckpointMismatchError, match="other settings"):
        QuADD(tiny_config(iterations=4, bits=3), seed=5, device="cpu", checkpoint_path=ckpt).fit(Toy(), resume=True)


def test_saved_file_is_the_bit_budget_and_loads_exactly(tmp_path):
    from beamsim.distill import describe, load

    q = QuADD(tiny_config(bits=6), seed=0, device="cpu").fit(Toy())
    info = q.save(tmp_path / "d.h5", provenance=Provenance(source_sha256="abc", source_path="x.h5", encoding="attenuation"))
    x, y = load(tmp_path / "d.h5")
    assert torch.equal(x, q.synthetic_) and torch.equal(y, q.labels_)
    assert info["file_bytes"] <= info["payload_bits"] / 8 + 16 * 1024
    assert describe(tmp_path / "d.h5")["payload_bits_stored"] == q.labels_.numel() * 32 * 6


def test_fsq_optimises_a_latent_and_keeps_the_data_scale(tmp_path):
    from beamsim.distill import load

    e, a = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    unobserved = (e + a) % 2 == 1
    x_real = Toy().inputs
    # no iterations: the latent of the real initial rows quantizes back to them within half a step
    start = QuADD(tiny_config(quantizer="fsq", bits=4, objective="none", iterations=0), seed=1,
                  device="cpu").fit(Toy())
    assert float((start.synthetic_ - x_real[start.source_index_]).abs().max()) <= 0.5 / 15 + 1e-6
    assert not torch.equal(start.raw_, x_real[start.source_index_])  # the latent, not the data
    q = QuADD(tiny_config(quantizer="fsq", bits=4, iterations=2), seed=1, device="cpu").fit(Toy())
    # the unobserved beams stay at exactly 1.0 (FSQ's version 1 put them at 0.75), values in range
    assert torch.all(q.synthetic_[:, 0][:, unobserved] == 1.0)
    assert float(q.synthetic_.min()) >= float(x_real.min()) and float(q.synthetic_.max()) == 1.0
    q.save(tmp_path / "f.h5", provenance=Provenance(source_sha256="abc", source_path="x.h5", encoding="attenuation"))
    x, _ = load(tmp_path / "f.h5")
    assert torch.equal(x, q.synthetic_)


def test_ptq_quantizes_once_after_full_precision_distillation():
    q = QuADD(tiny_config(quantizer="ptq", bits=3), seed=0, device="cpu").fit(Toy())
    assert q.quantizer_ is not None and q.quantizer_.bits == 3
    assert torch.unique(q.synthetic_).numel() <= 2 ** 3 + 1


def test_validation_keeps_the_best_iteration():
    q = QuADD(tiny_config(val_fraction=0.25, val_every=2, iterations=4), seed=0, device="cpu").fit(Toy())
    assert [i for i, _ in q.validation_] == [2, 4]
    best = max(q.validation_, key=lambda t: t[1])
    assert q.best_iteration_ == best[0]


@pytest.mark.parametrize("change,match", [
    ({"bits": 9}, "out of range"), ({"bits": 32}, "out of range"), ({"spc": 0}, "--spc"),
    ({"objective": "magic"}, "unknown objective"), ({"quantizer": "zip"}, "unknown quantizer"),
    ({"init": "random"}, "unknown init"), ({"quantizer": "none", "bits": 6}, "use --bits 32"),
])
def test_bad_settings(change, match):
    with pytest.raises(ValueError, match=match):
        default_config("beam").replace(**change)


# --- images ---------------------------------------------------------------------------------


def image_data(per_class: int = 6, classes: int = 3, seed: int = 0):
    """Tiny RGB 8 x 8 images whose class shifts the mean."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(classes).repeat_interleave(per_class)
    x = torch.randn(per_class * classes, 3, 8, 8, generator=g) + y.view(-1, 1, 1, 1).float()
    return x, y


def tiny_image_config(**kw) -> DistillConfig:
    base = dict(spc=2, iterations=2, real_per_class=4, val_fraction=0.0, checkpoint_every=0, num_experts=1,
                expert_epochs_train=3, max_start_epoch=1, initial_max_start_epoch=0, expert_epochs=1, syn_steps=2,
                batch_syn=4, expert_batch=8, val_epochs=2, model="beamcnn")  # the small network keeps it fast
    base.update(kw)
    return default_config("image").replace(**base)


def test_image_defaults():
    cfg = default_config("image")
    q = cfg.quantizer
    assert (cfg.objective, q.name, q.bits, q.granularity, q.normalize, cfg.model, cfg.augment.dsa) == \
        ("dm", "apot", 3, "channel", True, "convnet3", True)
    assert "dsa" not in default_config("beam").to_toml()  # beam configs are written as before
    assert "dsa = true" in cfg.to_toml()
    with pytest.raises(ValueError, match="op groups from"):
        cfg.replace(dsa_strategy="color_blur")


@pytest.mark.parametrize("objective", ["dm", "tm", "dc"])
def test_image_run_augments_with_dsa_and_learns_channel_thresholds(objective, tmp_path, monkeypatch):
    from beamsim.distill.data import augment

    ops = []
    apply = augment.DSA.apply
    monkeypatch.setattr(augment.DSA, "apply", lambda self, x, p, index=None: (ops.append(p.op), apply(self, x, p, index))[1])
    x, y = image_data()
    q = QuADD(tiny_image_config(objective=objective), seed=0, device="cpu", cache_dir=tmp_path).fit((x, y))
    assert ops, "DSA was not used"
    assert q.quantizer_.alpha.shape == (3, 1, 1) and q.quantizer_.signed  # per channel, normalized
    assert q.synthetic_.shape == (6, 3, 8, 8) and q.counts_.tolist() == [2, 2, 2]
    init = QuADD(tiny_image_config(objective="none", iterations=0), seed=0, device="cpu").fit((x, y))
    assert not torch.equal(q.raw_, init.raw_)
    if objective == "dm":  # DSA draws come from the run's generator: same seed, same set
        again = QuADD(tiny_image_config(objective=objective), seed=0, device="cpu").fit((x, y))
        assert torch.equal(q.synthetic_, again.synthetic_)


def test_beam_runs_are_never_augmented(monkeypatch):
    from beamsim.distill.data import augment

    def refuse(*args, **kwargs):
        raise AssertionError("beam maps must not be augmented")

    monkeypatch.setattr(augment.DSA, "apply", refuse)
    QuADD(tiny_config(objective="dm", val_fraction=0.25, val_every=2), seed=0, device="cpu").fit(Toy())
