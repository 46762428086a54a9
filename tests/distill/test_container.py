import tomllib

import h5py
import numpy as np
import pytest
import torch

from beamsim.distill import build_quantizer, describe, load, save
from beamsim.distill.container import FORMAT, format_of, read
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError


@pytest.mark.parametrize("name, bits", [("apot", 6), ("apot", 3), ("apot", 1), ("uniform", 5), ("fsq", 4),
                                        ("ptq", 2), ("ptq", 8)])
def test_saved_file_decodes_to_forward_output_exactly(tmp_path, beam_set, name, bits):
    x, y = beam_set
    q = build_quantizer(name, bits=bits).initialize(x)  # FSQ: its data range travels in the file
    z = q.to_latent(x)  # what the quantizer takes (FSQ: a latent; the others: the data)
    want = q.eval()(z)
    save(tmp_path / "s.h5", z, y, q)
    x2, y2 = load(tmp_path / "s.h5")
    assert x2.dtype == torch.float32 and x2.shape == x.shape
    assert y2.dtype == torch.int64
    assert torch.equal(x2, want)
    assert torch.equal(y2, y)


def test_image_set_with_normalization_and_signed_data(tmp_path, generator):
    x = torch.randn(30, 3, 8, 8, generator=generator) * 2 + 1
    y = torch.arange(10).repeat_interleave(3)
    q = build_quantizer("apot", bits=4, granularity="channel", normalize=True).initialize(x)
    save(tmp_path / "img.h5", x, y, q, class_names=[f"c{i}" for i in range(10)])
    data = read(tmp_path / "img.h5")
    assert torch.equal(data.x, q(x))
    assert data.quantizer.signed and data.attrs["class_names"][3] == "c3"
    assert torch.equal(data.codes, q.encode(x))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["apot", "uniform", "ptq"])
def test_cuda_forward_matches_cpu_decoded_file(tmp_path, beam_set, name):
    x, y = beam_set
    x = x.cuda()
    q = build_quantizer(name, bits=6).cuda()
    want = q(x)  # initialized on the GPU
    save(tmp_path / "g.h5", x, y, q)
    x2, _ = load(tmp_path / "g.h5", device="cuda")
    assert torch.equal(x2, want)


def test_float32_variant(tmp_path, beam_set):
    x, y = beam_set
    info = save(tmp_path / "f.h5", x, y, None, provenance=Provenance(source_samples=24576))
    x2, y2 = load(tmp_path / "f.h5")
    assert torch.equal(x2, x) and torch.equal(y2, y)
    assert info["quantizer"] == "none" and info["bits"] == 32
    assert info["payload_bits"] == 3200 * 64 * 32 and info["payload_bits_stored"] == 3200 * 32 * 32


def test_file_size_bound_for_64_class_6_bit_beam_set(tmp_path, generator, beam_set):
    # worst case: every beam varies
    x = torch.rand(3200, 1, 8, 8, generator=generator)
    y = torch.arange(64).repeat_interleave(50)
    info = save(tmp_path / "full.h5", x, y, build_quantizer("apot", bits=6))
    assert info["payload_bits"] == 3200 * 64 * 6 and info["constant_elements"] == 0
    assert info["file_bytes"] <= info["payload_bits"] / 8 + 16 * 1024
    # fixed checkerboard mask: the 32 unobserved beams are stored once
    x, y = beam_set
    info = save(tmp_path / "beam.h5", x, y, build_quantizer("apot", bits=6), provenance=Provenance(source_samples=24576))
    assert info["constant_elements"] == 32
    assert info["payload_bits_stored"] == 3200 * 32 * 6
    assert info["file_bytes"] <= info["payload_bits_stored"] / 8 + 16 * 1024


def test_describe_reports_counts_bits_and_ratios(tmp_path, beam_set):
    x, y = beam_set
    q = build_quantizer("apot", bits=6)
    info = save(tmp_path / "d.h5", x, y, q, provenance=Provenance(source_samples=24576, source_sha256="ab" * 32,
                                                                  objective="dm", spc=50, seed=3), settings={"lr_img": 10.0, "expert": {"epochs": 2}})
    assert info == describe(tmp_path / "d.h5")
    assert info["format"] == FORMAT and info["samples_per_class"] == [50] * 64
    assert info["bits"] == 6 and info["levels"] == "apot-6u" and info["input_shape"] == [1, 8, 8]
    assert info["overhead_bits"] == 64 * 32 + 64 * 32 + (64 + 32 * 6) + 128
    assert info["total_bits_stored"] == info["payload_bits_stored"] + info["overhead_bits"]
    full = 24576 * 64 * 32
    assert info["compression_ratio_papers"] == pytest.approx(full / info["payload_bits"])
    assert info["compression_ratio"] == pytest.approx(full / info["total_bits_stored"])
    assert info["compression_ratio_file"] == pytest.approx(full / (8 * info["file_bytes"]))
    assert (info["objective"], info["spc"], info["seed"]) == ("dm", 50, 3)
    assert tomllib.loads(info["settings"]) == {"lr_img": 10.0, "expert": {"epochs": 2}}
    assert tomllib.loads(info["config"])["signed"] is False
    assert format_of(tmp_path / "d.h5") == FORMAT


def test_rows_grouped_by_class_and_empty_classes(tmp_path, generator):
    x = torch.rand(6, 1, 2, 2, generator=generator)
    y = torch.tensor([2, 0, 2, 1, 0, 2])
    q = build_quantizer("uniform", bits=8).initialize(x)
    info = save(tmp_path / "g.h5", x, y, q, num_classes=4, constants_once=False)
    x2, y2 = load(tmp_path / "g.h5")
    order = torch.tensor([1, 4, 3, 0, 2, 5])
    assert torch.equal(y2, y[order]) and torch.equal(x2, q(x[order]))
    assert info["samples_per_class"] == [2, 1, 3, 0]


def test_same_input_same_bytes(tmp_path, beam_set):
    x, y = beam_set
    q = build_quantizer("apot", bits=3).initialize(x)
    save(tmp_path / "a.h5", x, y, q, provenance=Provenance(seed=1))
    save(tmp_path / "b.h5", x, y, q, provenance=Provenance(seed=1))
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


@pytest.fixture
def saved(tmp_path, beam_set):
    x, y = beam_set
    path = tmp_path / "c.h5"
    save(path, x, y, build_quantizer("apot", bits=6))
    return path


def test_corrupt_codes_checksum(saved):
    with h5py.File(saved, "r+") as f:
        f["codes"][10] ^= 0xFF
    with pytest.raises(DataFileError, match=r"checksum mismatch: /codes"):
        load(saved)


def test_corrupt_thresholds_checksum(saved):
    with h5py.File(saved, "r+") as f:
        f["alpha"][0, 0, 0] *= 2
    with pytest.raises(DataFileError, match="thresholds, counts or constants"):
        load(saved)


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_file(saved, keep):
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DataFileError, match="truncated"):
        load(saved)


def test_short_codes_array(saved):
    with h5py.File(saved, "r+") as f:
        codes = f["codes"][:-5]
        del f["codes"]
        f["codes"] = codes
    with pytest.raises(DataFileError, match="/codes has .* bytes, expected .*truncated or corrupt"):
        load(saved)


@pytest.mark.parametrize("key, value, match", [
    ("format", "beamsim.dataset", "not a beamsim distilled set .*'beamsim.dataset'"),
    ("format_version", 2, "format_version 2 is not supported"),
    ("bits", 9, "bits = 9 is outside 1..8"),
    ("bits", 0, "bits = 0 is outside 1..8"),
    ("quantizer", "lsq", "unknown quantizer 'lsq'"),
])
def test_bad_attributes(saved, key, value, match):
    with h5py.File(saved, "r+") as f:
        f.attrs[key] = value
    with pytest.raises(DataFileError, match=match):
        load(saved)
    with pytest.raises(DataFileError, match=match):
        describe(saved)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        load(tmp_path / "none.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(DataFileError, match="not an HDF5 file"):
        load(tmp_path / "text.h5")
    with h5py.File(tmp_path / "bare.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataFileError, match="no 'format' attribute"):
        load(tmp_path / "bare.h5")
    assert format_of(tmp_path / "bare.h5") == ""


def test_bad_input_to_save(tmp_path, beam_set):
    x, y = beam_set
    with pytest.raises(ValueError, match="shape \\[3200\\]"):
        save(tmp_path / "e.h5", x, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        save(tmp_path / "e.h5", torch.full((2, 1, 2, 2), float("nan")), [0, 1])
    with pytest.raises(ValueError, match="class_names"):
        save(tmp_path / "e.h5", x, y, class_names=["a"])
    assert not (tmp_path / "e.h5").exists()
