"""The data-set file: validation errors and BeamDataset inputs."""

import h5py
import numpy as np
import pytest
import torch

from beamsim.dataset import (
    DEFAULT_ENCODING, ENCODINGS, BeamArrays, BeamDataset, encode_inputs, read_dataset, write_dataset,
)
from beamsim.errors import DataFileError


def small_arrays(n: int = 10) -> BeamArrays:
    rng = np.random.default_rng(0)
    rsrp = rng.normal(-90, 10, size=(n, 8, 8)).astype(np.float32)
    e, a = np.indices((8, 8))
    return BeamArrays(rsrp=rsrp, mask=np.broadcast_to((e + a) % 2 == 0, (n, 8, 8)).copy(),
                      label=rsrp.reshape(n, -1).argmax(1).astype(np.int16),
                      ue_pos=rng.normal(size=(n, 3)).astype(np.float32), los=np.zeros(n, bool),
                      split=(np.arange(n) % 5 == 0).astype(np.uint8))


ATTRS = {"scenario": "name = 'x'", "seed": 0, "mask_kind": "fixed"}


def test_round_trip(tmp_path):
    arrays = small_arrays()
    write_dataset(tmp_path / "a.h5", arrays, ATTRS)
    back, attrs = read_dataset(tmp_path / "a.h5")
    assert attrs["format"] == "beamsim.dataset" and attrs["seed"] == 0
    for name, value in arrays.as_dict().items():
        assert np.array_equal(value, getattr(back, name))


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        read_dataset(tmp_path / "nope.h5")
    with pytest.raises(DataFileError, match="folder"):
        read_dataset(tmp_path)


def test_not_hdf5(tmp_path):
    (tmp_path / "x.h5").write_text("hello")
    with pytest.raises(DataFileError, match="not an HDF5 file"):
        read_dataset(tmp_path / "x.h5")


def test_foreign_hdf5_and_version(tmp_path):
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(DataFileError, match="not a beamsim data set"):
        read_dataset(tmp_path / "f.h5")
    write_dataset(tmp_path / "v.h5", small_arrays(), ATTRS)
    with h5py.File(tmp_path / "v.h5", "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(DataFileError, match="format_version 99"):
        read_dataset(tmp_path / "v.h5")


def test_checksum_mismatch_and_missing_array(tmp_path):
    write_dataset(tmp_path / "c.h5", small_arrays(), ATTRS)
    with h5py.File(tmp_path / "c.h5", "a") as f:
        f["rsrp"][0, 0, 0] = 1.0
    with pytest.raises(DataFileError, match="checksum mismatch"):
        read_dataset(tmp_path / "c.h5")
    with h5py.File(tmp_path / "c.h5", "a") as f:
        del f["los"]
    with pytest.raises(DataFileError, match="missing array"):
        read_dataset(tmp_path / "c.h5")


def test_truncated_file(tmp_path):
    write_dataset(tmp_path / "t.h5", small_arrays(200), ATTRS)
    data = (tmp_path / "t.h5").read_bytes()
    (tmp_path / "t.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError):
        read_dataset(tmp_path / "t.h5")


@pytest.mark.parametrize("field,value,match", [
    ("rsrp", np.nan, "NaN"),
    ("label", 64, "label values"),
    ("split", 2, "split values"),
])
def test_invalid_values_are_refused_on_write(tmp_path, field, value, match):
    arrays = small_arrays()
    getattr(arrays, field)[0] = value
    with pytest.raises(DataFileError, match=match):
        write_dataset(tmp_path / "bad.h5", arrays, ATTRS)
    assert not (tmp_path / "bad.h5").exists()


def test_wrong_shape_is_refused(tmp_path):
    arrays = small_arrays()
    arrays.mask = arrays.mask[:, :4]
    with pytest.raises(DataFileError, match="/mask has shape"):
        write_dataset(tmp_path / "bad.h5", arrays, ATTRS)


def test_encodings_point_opposite_ways():
    rsrp = torch.tensor([[[-80.0, -85.0], [-100.0, -200.0]]])
    mask = torch.tensor([[[True, True], [False, True]]])
    rel = encode_inputs(rsrp, mask, "relative")
    att = encode_inputs(rsrp, mask, "attenuation")
    assert rel.shape == (1, 1, 2, 2)
    assert torch.allclose(rel[0, 0], torch.tensor([[1.0, 25 / 30], [0.0, 0.0]]))
    assert torch.allclose(att[0, 0], torch.tensor([[0.0, 5 / 30], [1.0, 1.0]]))
    two = encode_inputs(rsrp, mask, "relative", mask_channel=True)
    assert torch.equal(two[0, 1], mask[0].float())


def test_one_default_encoding(tiny_dataset):
    assert ENCODINGS == ("relative", "attenuation") and DEFAULT_ENCODING in ENCODINGS
    rsrp = torch.tensor([[[-80.0, -85.0], [-100.0, -200.0]]])
    mask = torch.tensor([[[True, True], [False, True]]])
    assert torch.equal(encode_inputs(rsrp, mask), encode_inputs(rsrp, mask, DEFAULT_ENCODING))
    data = BeamDataset(tiny_dataset, "train")
    assert data.encoding == DEFAULT_ENCODING
    assert torch.equal(data.inputs, BeamDataset(tiny_dataset, "train", encoding=DEFAULT_ENCODING).inputs)
    with pytest.raises(ValueError, match="unknown encoding 'db'"):
        encode_inputs(rsrp, mask, "db")


def test_inputs_use_the_strongest_observed_beam_not_the_label():
    rsrp = torch.tensor([[[-70.0, -80.0], [-90.0, -95.0]]])
    mask = torch.tensor([[[False, True], [True, False]]])  # the true best (-70) is not measured
    x = encode_inputs(rsrp, mask, "relative")
    assert float(x.max()) == 1.0 and float(x[0, 0, 0, 1]) == 1.0 and float(x[0, 0, 0, 0]) == 0.0


def test_beam_dataset_splits_and_items(tiny_dataset):
    train = BeamDataset(tiny_dataset, "train")
    test = BeamDataset(tiny_dataset, "test")
    assert len(train) + len(test) == 192
    x, y = train[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) == 1.0
    assert not train.redraw_mask and train.mask_channel is False
    with pytest.raises(ValueError, match="split"):
        BeamDataset(tiny_dataset, "validation")


def test_random_mask_dataset_redraws_on_train_only(tmp_path):
    arrays = small_arrays(20)
    rng = np.random.default_rng(1)
    arrays.mask = np.stack([rng.permutation(64).reshape(8, 8) < 32 for _ in range(20)])
    write_dataset(tmp_path / "r.h5", arrays, {**ATTRS, "mask_kind": "random"})
    train = BeamDataset(tmp_path / "r.h5", "train", generator=torch.Generator().manual_seed(0))
    assert train.redraw_mask and train.mask_channel and train.input_shape == (2, 8, 8)
    a, _ = train[0]
    b, _ = train[0]
    assert not torch.equal(a, b) and int(a[1].sum()) == 32
    test = BeamDataset(tmp_path / "r.h5", "test")
    assert not test.redraw_mask
    assert torch.equal(test[0][0], test[0][0])


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os

    write_dataset(tmp_path / "m.h5", small_arrays(), ATTRS)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "m.h5").stat().st_mode & 0o777 == 0o666 & ~umask
