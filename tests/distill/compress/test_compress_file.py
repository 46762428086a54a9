import h5py
import numpy as np
import pytest
import torch

from beamsim.distill import describe, load, read, save
from beamsim.distill.compress import CompressConfig, PatchCompressor
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError


@pytest.fixture(params=[(True, "auto"), (False, "auto"), (True, 5)], ids=["range", "packed", "gaq5"])
def compressed(request, small_beams):
    entropy, groups = request.param
    x, y = small_beams
    cfg = CompressConfig(bits=2, refine=False, entropy=entropy, groups=groups, budget_bytes=800)
    return PatchCompressor(cfg, generator=torch.Generator().manual_seed(0)).fit(x, y)


def test_save_load_round_trip_equals_the_in_memory_decode(tmp_path, compressed):
    path = tmp_path / "c.h5"
    info = compressed.save(path, provenance=Provenance(source_samples=1000), class_names=[f"b{i}" for i in range(8)])
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


def test_an_image_set_gets_real_extra_rows_through_the_library_call(tmp_path):
    # digits: 10 classes of [1, 8, 8] images; a float32 "distilled" set of 2 per class, the rest as extra rows
    from sklearn.datasets import load_digits

    from beamsim.distill.compress import compress_file

    digits = load_digits()
    x = torch.from_numpy(digits.images / 16.0).float().unsqueeze(1)
    y = torch.from_numpy(digits.target).long()
    keep = torch.cat([(y == c).nonzero()[:2, 0] for c in range(10)])
    rest = torch.ones(len(y), dtype=torch.bool)
    rest[keep] = False
    path = tmp_path / "digits.h5"
    save(path, x[keep], y[keep], None, num_classes=10, class_names=[str(c) for c in range(10)],
         provenance=Provenance(source_path="sklearn:digits", source_samples=len(y), objective="none", spc=2))
    cfg = CompressConfig(bits=2, refine=False)
    comp, info = compress_file(path, tmp_path / "c.h5", cfg, extra_rows=(x[rest].numpy(), y[rest].numpy()), seed=0)
    assert comp.extra_rows_ > 0 and comp.distilled_rows_ == 20 and comp.samples_per_class_ > 2
    assert info["num_samples"] == 10 * comp.samples_per_class_ and info["bytes"]["payload"] <= 20 * 64 * 4
    assert info["class_names"][3] == "3" and info["spc"] == comp.samples_per_class_
    out, labels = load(tmp_path / "c.h5")
    assert torch.equal(labels, torch.arange(10).repeat_interleave(comp.samples_per_class_))
    assert out.shape == (len(labels), 1, 8, 8)
    # without extra rows only the file's own 2 per class are kept
    alone, _ = compress_file(path, tmp_path / "d.h5", cfg, seed=0)
    assert alone.extra_rows_ == 0 and alone.samples_per_class_ == 2


def test_extra_rows_of_another_shape_are_refused(tmp_path, small_beams):
    from beamsim.distill.compress import compress_file

    x, y = small_beams
    save(tmp_path / "f.h5", x, y)
    with pytest.raises(ValueError, match=r"f.h5: its samples are \[1, 8, 8\], but the extra rows are \[5, 64\]"):
        compress_file(tmp_path / "f.h5", tmp_path / "c.h5", extra_rows=(torch.zeros(5, 64), torch.zeros(5).long()))
    with pytest.raises(ValueError, match="extra_rows must be a pair"):
        compress_file(tmp_path / "f.h5", tmp_path / "c.h5", extra_rows=torch.zeros(5, 1, 8, 8))
    assert not (tmp_path / "c.h5").exists()
