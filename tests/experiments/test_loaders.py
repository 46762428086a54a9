"""Loaders: one default encoding, a distilled file's own encoding, and the compatibility checks."""

from __future__ import annotations

import h5py
import pytest
import torch

import beamsim.distill
from beamsim.dataset import DEFAULT_ENCODING, ENCODINGS, BeamDataset
from beamsim.errors import DataFileError
from beamsim.experiments.evaluate import evaluate
from beamsim.experiments.loaders import (
    UNRECORDED_ENCODING, TrainingSet, check_compatible, load_test_set, load_training_set, prepare,
)

#: The encoding that is not the default (what a file made before a change of default records).
OTHER = next(e for e in ENCODINGS if e != DEFAULT_ENCODING)


def test_every_loader_defaults_to_the_one_encoding(beam_file):
    assert load_training_set(beam_file).encoding == DEFAULT_ENCODING
    test = load_test_set(beam_file)
    assert test.encoding == DEFAULT_ENCODING
    assert torch.equal(test.x, BeamDataset(beam_file, "test", encoding=DEFAULT_ENCODING).inputs)
    x, y = BeamDataset(beam_file, "train").tensors()
    _, from_tensors = prepare((x, y), beam_file)
    assert from_tensors.encoding == DEFAULT_ENCODING and torch.equal(from_tensors.x, test.x)


def test_the_other_encoding_reaches_both_sets(beam_file):
    train, test = prepare(beam_file, encoding=OTHER)
    assert train.encoding == test.encoding == OTHER
    assert torch.equal(test.x, BeamDataset(beam_file, "test", encoding=OTHER).inputs)
    assert torch.equal(train.x, BeamDataset(beam_file, "train", encoding=OTHER).inputs)


def _distilled(path, source, encoding: str):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "beamsim.distilled"
        f.attrs["source_path"] = str(source)
        f.attrs["source_sha256"] = BeamDataset(source, "test").checksum
        f.attrs["encoding"] = encoding
    return path


@pytest.fixture
def fake_load(monkeypatch):
    monkeypatch.setattr(beamsim.distill, "load", lambda path: (torch.rand(64, 1, 8, 8), torch.arange(64)),
                        raising=False)


def test_a_distilled_file_keeps_its_own_encoding(beam_file, tmp_path, fake_load):
    path = _distilled(tmp_path / "other.h5", beam_file, OTHER)
    train, test = prepare(path)
    assert train.encoding == test.encoding == OTHER
    assert torch.equal(test.x, BeamDataset(beam_file, "test", encoding=OTHER).inputs)
    with pytest.raises(ValueError, match=f"distilled with the {OTHER!r} encoding; it cannot be evaluated with "
                                         f"{DEFAULT_ENCODING!r} \\(leave --encoding out\\)"):
        prepare(path, encoding=DEFAULT_ENCODING)
    unrecorded = _distilled(tmp_path / "unrecorded.h5", beam_file, "")  # made by 0.1's Python API
    assert prepare(unrecorded)[1].encoding == UNRECORDED_ENCODING == "relative"
    assert prepare(unrecorded, encoding=OTHER)[1].encoding == OTHER


def test_evaluate_reports_the_encoding_it_used(beam_file, tmp_path, fake_load):
    assert evaluate(beam_file, runs=1, epochs=1).encoding == DEFAULT_ENCODING
    assert evaluate(_distilled(tmp_path / "d.h5", beam_file, OTHER), runs=1, epochs=1).encoding == OTHER


def test_a_test_set_encoded_otherwise_is_refused(beam_file):
    test = load_test_set(beam_file, OTHER)
    train = TrainingSet(x=test.x, y=test.y, source="tensors", kind="tensors", encoding=DEFAULT_ENCODING)
    with pytest.raises(DataFileError, match=f"is encoded {OTHER!r}, the training set {DEFAULT_ENCODING!r}"):
        check_compatible(train, test)
    check_compatible(TrainingSet(x=test.x, y=test.y, source="tensors", kind="tensors"), test)  # unknown: trusted


def test_an_image_set_is_not_tested_on_beam_maps(beam_file):
    test = load_test_set(beam_file)
    train = TrainingSet(x=test.x, y=test.y, source="digits.h5", kind="distilled", modality="image")
    with pytest.raises(DataFileError, match="digits.h5 is an image set; it cannot be tested on the beam data set"):
        check_compatible(train, test)


def test_class_count_and_input_rank(beam_file):
    test = load_test_set(beam_file)
    with pytest.raises(DataFileError, match=r"has 64 classes \(beams\), the training set 10"):
        check_compatible(TrainingSet(x=test.x, y=test.y % 10, source="t", kind="tensors", num_classes=10), test)
    flat = TrainingSet(x=test.x[:, 0], y=test.y, source="t", kind="tensors")
    with pytest.raises(DataFileError, match="inputs of shape"):
        check_compatible(flat, test)
    with pytest.raises(DataFileError, match=r"t: training inputs must be \[N, C, H, W\]"):
        prepare(flat, beam_file)
