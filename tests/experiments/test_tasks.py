"""Tasks: each modality's KPIs, reference, default model and augmentation are what
``beamsim.experiments.tasks`` says, and a new modality plugs into the protocol unchanged."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
import torch

import beamsim.experiments.evaluate as evaluate_module
import beamsim.experiments.protocol as protocol_module
import beamsim.experiments.result as result_module
from beamsim.distill.data.augment import DEFAULT_STRATEGY, DSA
from beamsim.errors import DataFileError
from beamsim.experiments.evaluate import evaluate
from beamsim.experiments import loaders
from beamsim.experiments.loaders import TrainingSet, load_test_set
from beamsim.experiments.metrics import rsrp_loss_db, strongest_observed
from beamsim.experiments.tasks import (
    BEAM, IMAGE, IMAGE_KPI_NAMES, KPI_NAMES, BeamTask, ImageTask, Reference, Task,
)


def _train(x: torch.Tensor, y: torch.Tensor, **kwargs) -> TrainingSet:
    return TrainingSet(x=x, y=y, source="tensors", kind="tensors", **kwargs)


def _images(n: int, classes: int, size: int = 8, **kwargs) -> loaders.TestSet:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % classes
    return loaders.TestSet(x=torch.randn(n, 3, size, size, generator=g), y=y, rsrp=None, mask=None, num_classes=classes,
                   path=Path("toy"), checksum="", task=IMAGE, **kwargs)


# --- beam maps -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def beam_test(beam_file) -> loaders.TestSet:
    return load_test_set(beam_file)


def test_beam_kpis_are_the_3gpp_set(beam_test):
    scores = torch.randn(len(beam_test), 64, generator=torch.Generator().manual_seed(1))
    kpis = BEAM.kpis(scores, beam_test)
    assert tuple(kpis) == KPI_NAMES == BeamTask.kpi_names
    loss = BEAM.sample_loss(scores.argmax(1), beam_test)
    assert torch.equal(loss, rsrp_loss_db(scores.argmax(1), beam_test.rsrp))
    assert kpis["rsrp_loss_db"] == pytest.approx(float(loss.mean()))


def test_beam_reference_is_the_strongest_observed_beam(beam_test):
    ref = BEAM.reference(beam_test)
    assert isinstance(ref, Reference) and ref.name == "strongest observed beam"
    pred = strongest_observed(beam_test.observed, beam_test.mask)
    assert ref.kpis["top1"] == pytest.approx(float((pred == beam_test.y).double().mean()))
    assert torch.equal(ref.sample_loss, rsrp_loss_db(pred, beam_test.rsrp))
    assert tuple(ref.kpis) == KPI_NAMES


def test_beam_model_and_no_augmentation(beam_test):
    train = _train(beam_test.x, beam_test.y)
    assert BEAM.default_model(train, beam_test) == "beamcnn"
    assert BEAM.augmentation("auto", train, beam_test) == BEAM.augmentation("none", train, beam_test) == "none"
    with pytest.raises(ValueError, match="DSA is for images: beam maps are never augmented"):
        BEAM.augmentation("dsa", train, beam_test)
    assert BEAM.augmenter("none") is None
    with pytest.raises(ValueError, match="beam data takes no augmentation"):
        BEAM.augmenter("dsa:crop")


# --- images --------------------------------------------------------------------------------


def test_image_kpis_top5_only_with_five_classes():
    many, few = _images(20, 10), _images(20, 3)
    scores = torch.randn(20, 10, generator=torch.Generator().manual_seed(0))
    assert tuple(IMAGE.kpis(scores, many)) == IMAGE_KPI_NAMES == ImageTask.kpi_names
    assert tuple(IMAGE.kpis(scores[:, :3], few)) == ("top1", "macro_f1")
    assert IMAGE.reference(many) is None and IMAGE.sample_loss(scores.argmax(1), many) is None


def test_image_default_model():
    test = _images(4, 2)
    assert IMAGE.default_model(_train(test.x, test.y, model="alexnet"), test) == "alexnet"
    assert IMAGE.default_model(_train(test.x, test.y), test) == "convnet3"
    big = torch.zeros(2, 3, 128, 128)
    assert IMAGE.default_model(_train(big, torch.arange(2)), _images(2, 2, size=128)) == "convnet5"


def test_image_augmentation_is_dsa_with_the_files_then_the_data_sets_strategy():
    test = _images(4, 2, dsa_strategy="crop_flip")
    assert IMAGE.augmentation("auto", _train(test.x, test.y, dsa_strategy="scale"), test) == "dsa:scale"
    assert IMAGE.augmentation("dsa", _train(test.x, test.y), test) == "dsa:crop_flip"
    bare = _images(4, 2)
    assert IMAGE.augmentation("auto", _train(bare.x, bare.y), bare) == "dsa:" + DEFAULT_STRATEGY
    assert IMAGE.augmentation("none", _train(test.x, test.y), test) == "none"
    augmenter = IMAGE.augmenter("dsa:crop_flip")
    assert isinstance(augmenter, DSA) and augmenter.config.strategy == "crop_flip"
    assert IMAGE.augmenter("none") is None


# --- a new modality ------------------------------------------------------------------------


class ParityTask(Task):
    """A toy modality: 8 x 8 maps, class = parity of the brightest pixel; reference: class 0."""

    name = "parity"
    classes_label = "parities"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def kpis(self, scores, test):
        self.calls.append("kpis")
        return {"top1": float((scores.argmax(1) == test.y).double().mean()), "mean_logit": float(scores.mean())}

    def sample_loss(self, pred, test):
        return (pred != test.y).double()

    def reference(self, test):
        pred = torch.zeros_like(test.y)
        return Reference("always even", {"top1": float((pred == test.y).double().mean()), "mean_logit": 0.0},
                         (pred != test.y).double())

    def default_model(self, train, test):
        self.calls.append("model")
        return "beamcnn"

    def augmentation(self, name, train, test):
        if name == "dsa":
            raise ValueError("parity maps take no DSA")
        return "none"


def _parity_data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
    return x, x.flatten(1).argmax(1) % 2


def test_a_new_modality_plugs_into_the_protocol_unchanged():
    task = ParityTask()
    x, y = _parity_data(32, 0)
    tx, ty = _parity_data(20, 1)
    test = loaders.TestSet(x=tx, y=ty, rsrp=None, mask=None, num_classes=2, path=Path("parity"), checksum="", task=task)
    result = evaluate((x, y), test=test, runs=2, epochs=1, batch_size=16, seed=0)
    assert task.calls == ["model", "kpis", "kpis"]
    assert (result.modality, result.model, result.encoding) == ("parity", "beamcnn", "")
    assert tuple(result.summary) == ("top1", "mean_logit") and result.protocol.augment == "none"
    assert result.reference_name == "always even" and result.reference["mean_logit"] == 0.0
    assert result.rsrp_loss.shape == (2, 20) and result.reference_rsrp_loss.shape == (20,)
    doc = result.to_dict()
    assert doc["reference"]["name"] == "always even" and doc["modality"] == "parity"
    with pytest.raises(ValueError, match="parity maps take no DSA"):
        evaluate((x, y), test=test, runs=1, epochs=1, augment="dsa")
    with pytest.raises(DataFileError, match="has 2 parities, the training set 3"):
        evaluate(_train(x, y, num_classes=3), test=test, runs=1, epochs=1)
    with pytest.raises(DataFileError, match="is an image set; it cannot be tested on the parity data set"):
        evaluate(_train(x, y, modality="image"), test=test, runs=1, epochs=1)


@pytest.mark.parametrize("module", [evaluate_module, protocol_module, result_module])
def test_the_protocol_never_compares_with_a_modality_name(module):
    tree = ast.parse(inspect.getsource(module))
    names = {"beam", "image", "images"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            constants = {c.value for c in ast.walk(node) if isinstance(c, ast.Constant)}
            assert not constants & names, f"{module.__name__}:{node.lineno} branches on the modality"
