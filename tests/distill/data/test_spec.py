"""Digits split, the image spec, the fitted transform and the record a distilled file keeps."""

from __future__ import annotations

import pytest
import torch

from beamsim.distill.data.digits import load_digits
from beamsim.distill.data.spec import ImageSpec, load_image_data, spec_from_settings, verify_settings
from beamsim.errors import DataFileError


@pytest.fixture(scope="module")
def digits():
    return load_image_data(ImageSpec("digits"), device="cpu")


@pytest.fixture(scope="module")
def digits_zca():
    return load_image_data(ImageSpec("digits", zca=True), device="cpu")


def test_digits_fixed_stratified_split():
    a, b = load_digits(), load_digits()
    assert (len(a.train), len(a.test)) == (1438, 359)
    assert torch.equal(a.train.x, b.train.x) and a.checksum == b.checksum
    assert a.train.x.shape[1:] == (1, 8, 8) and float(a.train.x.max()) == 1.0 and float(a.train.x.min()) == 0.0
    share = torch.bincount(a.test.y, minlength=10) / (torch.bincount(a.test.y, minlength=10) + torch.bincount(a.train.y, minlength=10))
    assert torch.all((share - 0.2).abs() < 0.01)


def test_transform_standardises_and_whitens(digits, digits_zca):
    x = digits.train.inputs
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std(unbiased=False)) - 1.0) < 1e-3
    assert digits.transform.zca is None and digits_zca.transform.zca is not None
    assert digits_zca.train.inputs.shape == digits.train.inputs.shape
    # the test split goes through the same transform
    again = digits_zca.transform.apply(load_digits().test.x)
    assert torch.equal(again, digits_zca.test.inputs)


def test_settings_round_trip_and_verification(digits_zca):
    record = digits_zca.settings()
    assert record["name"] == "digits" and record["zca"] is True and record["zca_eps"] == 0.1
    assert len(record["zca_sha256"]) == 64 and record["train_sha256"] == digits_zca.checksum
    spec = spec_from_settings(record)
    assert spec == digits_zca.spec
    verify_settings(load_image_data(spec, device="cpu"), record)  # refit: same transform
    with pytest.raises(DataFileError, match="ZCA transform refitted .* differs"):
        verify_settings(digits_zca, dict(record, zca_sha256="0" * 64, zca_invariants=[1.0, 2.0, 3.0]))
    with pytest.raises(DataFileError, match="not the data"):
        verify_settings(digits_zca, dict(record, train_sha256="0" * 64))


@pytest.mark.parametrize("kwargs,match", [
    (dict(dataset="mnist"), "unknown image data set"),
    (dict(dataset="digits", data_root="/tmp"), "leave --data-root out"),
    (dict(dataset="cifar10"), "needs --data-root DIR with DIR/cifar-10-batches-py/"),
    (dict(dataset="imagefolder"), r"needs --data-root DIR with DIR/train/<class>"),
    (dict(dataset="cifar10", data_root="/x", image_size=64), "32 x 32"),
    (dict(dataset="imagefolder", data_root="/x", image_size=0), "positive integer"),
    (dict(dataset="digits", zca_eps=0), "zca_eps"),
])
def test_bad_specs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImageSpec(**kwargs)


def test_spec_defaults(tmp_path):
    assert ImageSpec("cifar10", data_root=str(tmp_path)).zca is True
    assert ImageSpec("digits").zca is False and ImageSpec("digits").image_size == 8
    assert ImageSpec("imagefolder", data_root=str(tmp_path)).image_size == 128
