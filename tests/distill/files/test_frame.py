"""The frame: attributes, the settings attribute, errors that name the file; its doctests run."""

import doctest

import h5py
import pytest
import torch

from beamsim.distill import save
from beamsim.distill.files import frame, read_attrs, read_frame, settings_of
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError


def test_doctests():
    result = doctest.testmod(frame)
    assert result.attempted > 0 and result.failed == 0


@pytest.fixture
def f32(tmp_path, small_set):
    x, y = small_set
    path = tmp_path / "f.h5"
    save(path, x, y, provenance=Provenance(source_path="data/umi.h5", encoding="attenuation", spc=2),
         settings={"dataset": {"name": "digits"}, "lr": 0.5})
    return path


@pytest.fixture
def small_set(generator):
    return torch.rand(6, 1, 4, 4, generator=generator), torch.tensor([0, 0, 1, 1, 2, 2])


def test_attributes_provenance_and_settings_read_back(f32):
    attrs = read_attrs(f32)
    assert Provenance.from_attrs(attrs) == Provenance(source_path="data/umi.h5", encoding="attenuation", spc=2)
    assert settings_of(attrs, str(f32)) == {"dataset": {"name": "digits"}, "lr": 0.5}
    assert settings_of({}) == {} and settings_of({"settings": b"a = 1"}) == {"a": 1}
    whole = read_frame(f32)
    assert whole.attrs == attrs and list(whole.arrays) == ["alpha", "counts", "x"]  # random values: no constants


def test_bad_settings_text_names_the_file(f32):
    with h5py.File(f32, "r+") as f:
        f.attrs["settings"] = "lr = = 1"
    with pytest.raises(DataFileError, match=r"f.h5: the settings attribute is not valid TOML .*write it again"):
        settings_of(read_attrs(f32), str(f32))


def test_read_attrs_checks_the_format(tmp_path):
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f.attrs["format"] = "beamsim.dataset"
    with pytest.raises(DataFileError, match=r"d.h5: not a beamsim distilled set \(format 'beamsim.dataset'"):
        read_attrs(tmp_path / "d.h5")
    with pytest.raises(DataFileError, match="no such file"):
        read_frame(tmp_path / "none.h5")
