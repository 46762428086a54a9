"""evaluate(): protocol, determinism, input dispatch and errors, on small synthetic files."""

from __future__ import annotations

import math

import h5py
import pytest
import torch

import beamsim
import beamsim.distill
from beamsim.dataset import ENCODINGS, BeamDataset
from beamsim.errors import DataFileError
from beamsim.experiments.evaluate import (
    KPI_NAMES, EvaluationResult, Protocol, default_epochs, evaluate, load_training_set,
)
from beamsim.models.training import predict, train_model
from beamsim.models import get_model

from synthetic import write_synthetic


def test_public_entry_point():
    assert beamsim.evaluate is evaluate


def test_result_numbers_and_reference(beam_file):
    result = evaluate(beam_file, runs=2, epochs=2, seed=0)
    assert isinstance(result, EvaluationResult)
    assert result.train_samples == 300 and result.test_samples == 100
    assert result.runs == 2 and result.epochs == 2 and result.model == "beamcnn"
    assert result.input_shape == (1, 8, 8) and result.num_classes == 64
    assert len(result.per_run) == 2 and len(result.seconds_per_run) == 2
    summary = result.summary
    assert tuple(summary) == KPI_NAMES
    for name in KPI_NAMES:
        assert set(summary[name]) == {"mean", "std"}
        assert set(result.reference) >= {name}
    for name in ("top1", "top3", "within_1db", "macro_f1"):
        assert 0.0 <= summary[name]["mean"] <= 1.0
    assert summary["top1"]["mean"] <= summary["top3"]["mean"] <= summary["top5"]["mean"]
    # the checkerboard hides half of the beams: the reference finds the best beam about half the time
    assert 0.3 < result.reference["top1"] < 0.7
    assert result.predictions.shape == (2, 100) and result.rsrp_loss.shape == (2, 100)
    doc = result.to_dict()
    assert {"top1", "top3", "within_1db", "rsrp_loss_db", "macro_f1", "runs", "epochs", "model",
            "train_samples", "reference", "protocol", "seconds_per_run"} <= set(doc)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_learns_beyond_the_trivial_reference(beam_file, encoding):
    # 20 epochs: at 10 the attenuation encoding is still at the reference's RSRP loss on this small set
    result = evaluate(beam_file, runs=1, epochs=20, batch_size=64, seed=0, encoding=encoding)
    assert result.summary["top1"]["mean"] > result.reference["top1"] + 0.1
    assert result.summary["rsrp_loss_db"]["mean"] < result.reference["rsrp_loss_db"]


def test_same_seed_same_numbers(beam_file):
    a = evaluate(beam_file, runs=2, epochs=2, seed=3)
    b = evaluate(beam_file, runs=2, epochs=2, seed=3)
    assert a.per_run == b.per_run
    assert torch.equal(a.predictions, b.predictions)
    c = evaluate(beam_file, runs=1, epochs=2, seed=4)
    assert not torch.equal(a.predictions[0], c.predictions[0])


def test_runs_differ_from_each_other(beam_file):
    result = evaluate(beam_file, runs=2, epochs=1, seed=0)
    assert not torch.equal(result.predictions[0], result.predictions[1])


def test_default_epochs_rule():
    assert (default_epochs(24_000), default_epochs(3_200), default_epochs(1_000), default_epochs(640)) == (30, 63, 300, 600)
    assert default_epochs(10**7) == 30 and default_epochs(1) == 600
    sizes = [10, 640, 1000, 1499, 1500, 3000, 5000, 10000, 30000]
    assert [default_epochs(n) for n in sizes] == sorted((default_epochs(n) for n in sizes), reverse=True)
    with pytest.raises(ValueError):
        default_epochs(0)


def test_default_epochs_rule_2_changes_only_small_sets():
    # rule 1 (until 2026-12-05) for 1,500 samples and more; the rule is continuous at the knee
    assert all(default_epochs(n) == min(300, max(30, math.ceil(200_000 / n))) for n in range(1_500, 30_001, 7))
    assert default_epochs(1_499) == default_epochs(1_500) == 134
    assert all(default_epochs(n) > min(300, math.ceil(200_000 / n)) for n in range(10, 1_400, 13))


def test_default_epochs_used_and_recorded(beam_file, monkeypatch):
    seen = {}
    import beamsim.experiments.protocol as ev

    def fake_train(model, x, y, *, epochs, **kwargs):
        seen["epochs"] = epochs
        return []

    monkeypatch.setattr(ev, "train_model", fake_train)
    result = evaluate(beam_file, runs=1)
    assert seen["epochs"] == default_epochs(300) == result.epochs == 600


def test_tensor_training_set(beam_file):
    ds = BeamDataset(beam_file, "train")
    x, y = ds.tensors()
    result = evaluate((x[:100], y[:100]), test=beam_file, runs=1, epochs=1)
    assert result.train_samples == 100 and result.train_kind == "tensors"
    with pytest.raises(ValueError, match="needs test="):
        evaluate((x, y), runs=1, epochs=1)


def test_attenuation_encoding_reaches_the_test_set(beam_file, monkeypatch):
    import beamsim.experiments.protocol as ev

    captured = {}
    real_predict = ev.predict

    def spy(model, x, **kwargs):
        captured["x"] = x
        return real_predict(model, x, **kwargs)

    monkeypatch.setattr(ev, "predict", spy)
    result = evaluate(beam_file, runs=1, epochs=1, encoding="attenuation")
    assert result.encoding == "attenuation"
    assert torch.equal(captured["x"], BeamDataset(beam_file, "test", encoding="attenuation").inputs)


def test_random_mask_training_redraws_masks(random_mask_file, monkeypatch):
    train = load_training_set(random_mask_file)
    assert train.redraw is not None and train.x.shape[1] == 2  # mask channel on
    calls = []
    original = train.redraw

    def counting(index, generator):
        calls.append(index.numel())
        return original(index, generator)

    train.redraw = counting
    result = evaluate(train, runs=1, epochs=2)
    assert sum(calls) == 2 * result.train_samples
    assert result.input_shape == (2, 8, 8)


def test_train_model_reduces_the_loss_and_uses_redraw():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 8, 8, generator=gen)
    y = x.flatten(1).argmax(1)
    model = get_model("beamcnn", 1, 64, 8, generator=gen)
    history = train_model(model, x, y, epochs=15, batch_size=16, lr=3e-3, generator=gen)
    assert len(history) == 15 and history[-1] < history[0]
    assert predict(model, x).shape == (64, 64)
    seen = []
    train_model(model, x, y, epochs=1, batch_size=16, generator=gen,
                redraw=lambda idx, g: (seen.append(idx.clone()), x[idx])[1])
    assert sorted(torch.cat(seen).tolist()) == list(range(64))


def test_precision_option(beam_file):
    assert evaluate(beam_file, runs=1, epochs=1).protocol.precision == "bf16"
    assert evaluate(beam_file, runs=1, epochs=1, precision="fp32").protocol.precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        Protocol(epochs=1, precision="fp16")


# --- errors ---------------------------------------------------------------------------------


def test_bad_arguments(beam_file, tmp_path):
    with pytest.raises(ValueError, match="runs must be >= 1"):
        evaluate(beam_file, runs=0)
    with pytest.raises(ValueError, match="unknown model 'lenet'; known models: alexnet, beamcnn"):
        evaluate(beam_file, model="lenet")
    with pytest.raises(ValueError, match="epochs"):
        evaluate(beam_file, epochs=0)
    with pytest.raises(ValueError, match="label smoothing"):
        Protocol(epochs=1, label_smoothing=1.0)
    with pytest.raises(DataFileError, match="no such file"):
        evaluate(tmp_path / "missing.h5")


def test_test_set_with_other_input_shape(beam_file, tmp_path):
    other = write_synthetic(tmp_path / "grid4x8.h5", grid=(4, 8), n=40)
    with pytest.raises(DataFileError, match="inputs of shape"):
        evaluate(beam_file, test=other, runs=1, epochs=1)


def test_test_set_with_other_mask_kind_keeps_the_training_encoding(beam_file, random_mask_file):
    # a fixed-mask model on random-mask test data: the test inputs follow the training set (1 channel)
    result = evaluate(beam_file, test=random_mask_file, runs=1, epochs=1)
    assert result.input_shape == (1, 8, 8)


def test_labels_outside_the_test_classes(beam_file):
    x = torch.rand(10, 1, 8, 8)
    with pytest.raises(DataFileError, match="outside the test set's 64 classes"):
        evaluate((x, torch.full((10,), 70)), test=beam_file, runs=1, epochs=1)


def test_unknown_file_format(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "someone.else"
    with pytest.raises(DataFileError, match="cannot train on this file .*'someone.else'"):
        evaluate(path, runs=1, epochs=1)


# --- distilled files (beamsim.distill.load is faked: the container is another module's job) ----


def _fake_distilled(path, source, sha, encoding="relative", channels=1):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "beamsim.distilled"
        f.attrs["source_path"] = str(source)
        f.attrs["source_sha256"] = sha
        f.attrs["encoding"] = encoding
        f.attrs["channels"] = channels
    return path


@pytest.fixture
def fake_load(monkeypatch):
    def load(path):
        with h5py.File(path, "r") as f:
            channels = int(f.attrs["channels"])
        gen = torch.Generator().manual_seed(0)
        return torch.rand(64, channels, 8, 8, generator=gen), torch.arange(64)

    monkeypatch.setattr(beamsim.distill, "load", load, raising=False)
    return load


def test_distilled_file_is_tested_on_its_source(beam_file, tmp_path, fake_load):
    sha = BeamDataset(beam_file, "test").checksum
    path = _fake_distilled(tmp_path / "d.h5", beam_file, sha, encoding="attenuation")
    result = evaluate(path, runs=1, epochs=1)
    assert result.train_kind == "distilled" and result.train_samples == 64
    assert result.test == str(beam_file) and result.encoding == "attenuation"
    with pytest.raises(ValueError, match="distilled with the 'attenuation' encoding"):
        evaluate(path, runs=1, epochs=1, encoding="relative")


def test_distilled_file_whose_source_changed(beam_file, tmp_path, fake_load):
    path = _fake_distilled(tmp_path / "d.h5", beam_file, "0" * 64)
    with pytest.raises(DataFileError, match="not the data set"):
        evaluate(path, runs=1, epochs=1)
    assert evaluate(path, test=beam_file, runs=1, epochs=1).test_samples == 100  # explicit --test is trusted


def test_distilled_file_with_a_missing_source(tmp_path, fake_load):
    path = _fake_distilled(tmp_path / "d.h5", tmp_path / "gone.h5", "0" * 64)
    with pytest.raises(DataFileError, match="gone.h5: no such file"):
        evaluate(path, runs=1, epochs=1)


def test_real_distilled_file_round_trip(beam_file, tmp_path):
    """A float32 set written by beamsim.distill.save is trained on and tested on its source."""
    from beamsim.distill import save
    from beamsim.distill.provenance import Provenance

    train = BeamDataset(beam_file, "train", encoding="attenuation")
    x, y = train.inputs[:64], train.labels[:64]
    order = torch.argsort(y, stable=True)
    path = tmp_path / "distilled.h5"
    save(path, x[order], y[order], None, num_classes=64,
         provenance=Provenance(source_sha256=train.checksum, source_path=str(beam_file), encoding="attenuation"))
    result = evaluate(path, runs=1, epochs=1)
    assert (result.train_kind, result.train_samples, result.test) == ("distilled", 64, str(beam_file))
    assert result.encoding == "attenuation" and result.num_classes == 64


# --- image sets -----------------------------------------------------------------------------


def _image_test_set(n: int = 40, classes: int = 6):
    from beamsim.experiments.evaluate import IMAGE, TestSet

    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % classes
    x = torch.randn(n, 3, 8, 8, generator=g) + y.view(-1, 1, 1, 1).float()
    return TestSet(x=x, y=y, rsrp=None, mask=None, num_classes=classes, path=__import__("pathlib").Path("toy"),
                   checksum="", task=IMAGE, dsa_strategy="crop_flip")


def test_image_evaluation_reports_image_kpis_with_dsa(monkeypatch):
    from beamsim.distill.data import augment

    test = _image_test_set()
    ops = []
    apply = augment.DSA.apply
    monkeypatch.setattr(augment.DSA, "apply", lambda self, x, p, index=None: (ops.append(p.op), apply(self, x, p, index))[1])
    result = evaluate((test.x[:12], test.y[:12]), test=test, runs=1, epochs=2, batch_size=4)
    assert tuple(result.summary) == ("top1", "top5", "macro_f1")
    assert result.model == "convnet3" and result.modality == "image" and result.rsrp_loss is None
    assert result.protocol.augment == "dsa:crop_flip" and set(ops) <= {"crop", "flip"} and len(ops) == 6
    doc = result.to_dict()
    assert "reference" not in doc and doc["modality"] == "image"
    ops.clear()
    assert evaluate((test.x[:12], test.y[:12]), test=test, runs=1, epochs=1, augment="none").protocol.augment == "none"
    assert not ops


def test_beam_maps_are_never_augmented(beam_file):
    assert evaluate(beam_file, runs=1, epochs=1).protocol.augment == "none"
    with pytest.raises(ValueError, match="DSA is for images"):
        evaluate(beam_file, runs=1, epochs=1, augment="dsa")


def test_distilled_image_file_refits_and_checks_its_transform(tmp_path):
    from beamsim.distill import save
    from beamsim.distill.data import ImageSpec, load_image_data
    from beamsim.distill.provenance import Provenance

    data = load_image_data(ImageSpec("digits", zca=True), device="cpu")
    x, y = data.train.inputs[:30], data.train.labels[:30]
    order = torch.argsort(y, stable=True)
    good = tmp_path / "good.h5"
    save(good, x[order], y[order], None, num_classes=10, provenance=Provenance(source_sha256=data.checksum),
         settings={"dataset": data.settings(), "config": {"model": "beamcnn"}})
    result = evaluate(good, runs=1, epochs=1)
    assert (result.model, result.test_samples, result.train_kind) == ("beamcnn", 359, "distilled")
    with pytest.raises(ValueError, match="leave --test out"):
        evaluate(good, test=good, runs=1, epochs=1)
    record = dict(data.settings(), zca_sha256="0" * 64, zca_invariants=[1.0, 2.0, 3.0])
    bad = tmp_path / "bad.h5"
    save(bad, x[order], y[order], None, num_classes=10, settings={"dataset": record})
    with pytest.raises(DataFileError, match="ZCA transform refitted .* differs"):
        evaluate(bad, runs=1, epochs=1)
