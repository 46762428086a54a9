import h5py
import numpy as np
import pytest
import torch

from beamsim.distill import describe, load, read, save
from beamsim.distill.compress import CompressConfig, PatchCompressor
from beamsim.errors import DataFileError


@pytest.fixture(params=[(True, "auto"), (False, "auto"), (True, 5)], ids=["range", "packed", "gaq5"])
def compressed(request, small_beams):
    entropy, groups = request.param
    x, y = small_beams
    cfg = CompressConfig(bits=2, refine=False, entropy=entropy, groups=groups, budget_bytes=800)
    return PatchCompressor(cfg, generator=torch.Generator().manual_seed(0)).fit(x, y)


def test_save_load_round_trip_equals_the_in_memory_decode(tmp_path, compressed):
    path = tmp_path / "c.h5"
    info = compressed.save(path, source_samples=1000, class_names=[f"b{i}" for i in range(8)])
    x, y = load(path)
    want_x, want_y = compressed.decode()
    assert torch.equal(x, want_x) and torch.equal(y, want_y)
    data = read(path)
    assert data.quantizer is None and data.attrs["codec"] == compressed.codec_
    assert info == describe(path)
    assert info["bytes"]["payload"] == compressed.sizes_.payload <= 800
    assert info["bytes"]["codes"] == compressed.sizes_.codes
    assert info["format"] == "beamsim.distilled" and info["compression_ratio"] > 1
    assert info["samples_per_class"] == [3] * 8 and info["class_names"][2] == "b2"


def test_flipped_byte_in_codes_is_detected(tmp_path, compressed):
    path = tmp_path / "c.h5"
    compressed.save(path)
    with h5py.File(path, "r+") as f:
        codes = f["codes"][()]
        codes[len(codes) // 2] ^= 0xFF
        f["codes"][...] = codes
    with pytest.raises(DataFileError, match="checksum mismatch"):
        load(path)


def test_edited_parameters_are_detected(tmp_path, compressed):
    path = tmp_path / "c.h5"
    compressed.save(path)
    with h5py.File(path, "r+") as f:
        f["scale"][0] = f["scale"][0] * 2
    with pytest.raises(DataFileError, match="arrays_sha256"):
        describe(path)


def test_container_files_are_unchanged(tmp_path, small_beams):
    x, y = small_beams
    save(tmp_path / "f.h5", x, y)
    assert "codec" not in read(tmp_path / "f.h5").attrs and "bytes" not in describe(tmp_path / "f.h5")


def test_edited_counts_are_refused(tmp_path, small_beams):
    x, y = small_beams
    comp = PatchCompressor(CompressConfig(bits=2, refine=False, entropy=False),
                           generator=torch.Generator().manual_seed(0)).fit(x, y)
    path = tmp_path / "c.h5"
    comp.save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["num_samples"] = 23
        f["counts"][...] = np.array([2] + [3] * 7, dtype=np.int32)
    with pytest.raises(DataFileError):
        load(path)
