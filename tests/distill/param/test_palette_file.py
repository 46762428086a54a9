"""The palette codec: AutoPalette files decode to eval forward exactly, count their bits, refuse corruption."""

from __future__ import annotations

import doctest

import h5py
import numpy as np
import pytest
import torch

import beamsim.distill.param.palette_file as palette_file_module
from beamsim.distill import describe, load, read
from beamsim.distill.bits import HEADER_BITS, overhead_bits
from beamsim.distill.constant import constant_feature_mask
from beamsim.distill.files import get_codec
from beamsim.distill.files.codec import read_claimed
from beamsim.distill.files.frame import arrays_sha256, sha256
from beamsim.distill.param import build_param
from beamsim.distill.param.palette import palette_payload_bits
from beamsim.distill.param.palette_file import PaletteCodec
from beamsim.distill.provenance import Provenance
from beamsim.distill.settings import ParamSettings
from beamsim.errors import DataFileError
from beamsim.h5safe import MAX_READ_BYTES_ENV


def written(path, *, n=9, shape=(1, 8, 8), colors=4, constants=True, seed=0):
    """(path, param, latent, y, info): a fitted, warmed-up AutoPalette and its file."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(30, *shape, generator=gen)
    if constants:
        x[:, :, ::2, ::2] = 1.0
    param = build_param(ParamSettings(name="palette", colors=colors, warmup=10, lr=0.05),
                        generator=torch.Generator().manual_seed(seed + 1))
    param.fit(x, constant_feature_mask(x) if constants else None)
    latent = param.to_latent(x[:n])
    param.prepare(latent)
    y = torch.tensor([0, 0, 0, 2, 2, 2, 2, 3, 3][:n])
    info = param.codec().write(path, latent, y, param, None, num_classes=4, class_names=["a", "b", "c", "d"],
                               provenance=Provenance(source_samples=30, spc=3, seed=5),
                               settings={"note": "test"})
    return path, param, latent, y, info


@pytest.fixture
def saved(tmp_path):
    return written(tmp_path / "p.h5")


def test_the_codec_is_registered_and_claims_only_its_files(saved):
    path = saved[0]
    assert isinstance(get_codec("palette"), PaletteCodec) and saved[1].codec() is get_codec("palette")
    codec, frame = read_claimed(path)
    assert codec.name == "palette"
    assert [name for name in ("quantized", "float32", "patch") if get_codec(name).claims(frame.attrs)] == []
    assert frame.attrs["codec"] == frame.attrs["quantizer"] == "palette"


def test_file_decodes_to_eval_forward_exactly(saved):
    path, param, latent, y, _ = saved
    x, labels = load(path)
    assert torch.equal(x, param.eval()(latent)) and torch.equal(labels, y)
    data = read(path)
    indices, palettes = param.encode(latent)
    assert data.quantizer is None and torch.equal(data.codes, indices.long())
    assert torch.equal(data.counts, torch.tensor([3, 0, 4, 2]))
    with h5py.File(path) as f:
        assert np.array_equal(f["palettes"][()], palettes.numpy())
    for n in range(len(x)):  # every decoded indexed pixel is one of its sample's stored colours
        values = x[n, 0][param.pixels_]
        assert bool((values[:, None] == palettes[n, :, 0][None, :]).any(dim=1).all())
    assert bool((x[:, :, ::2, ::2] == 1.0).all())  # the constants


def test_describe_counts_the_bits_of_the_pure_accounting(saved):
    path, param, _, _, info = saved
    n, v, k, d = 9, 48, 16, 64
    assert info == describe(path)
    assert info["payload_bits"] == palette_payload_bits(n, 64, 4, 1)
    assert info["payload_bits_stored"] == palette_payload_bits(n, v, 4, 1) == n * v * 2 + n * 4 * 32
    assert info["overhead_bits"] == overhead_bits(0, 4, constant_elements=k, elements_per_sample=d, bits=32) \
        == 4 * 32 + d + k * 32 + HEADER_BITS
    assert info["total_bits_stored"] == info["payload_bits_stored"] + info["overhead_bits"]
    assert info["file_bytes"] == path.stat().st_size
    assert info["compression_ratio"] == pytest.approx(30 * d * 32 / info["total_bits_stored"])
    assert (info["param"], info["codec"], info["colors"], info["index_bits"], info["bits"]) == \
        ("palette", "palette", 4, 2, 2)
    assert (info["constant_elements"], info["varying_pixels"], info["samples_per_class"]) == (k, v, [3, 0, 4, 2])
    assert info["class_names"] == ["a", "b", "c", "d"] and info["spc"] == 3 and info["seed"] == 5
    with h5py.File(path) as f:
        assert f["indices"].shape == ((n * v * 2 + 7) // 8,) and f["palettes"].shape == (n, 4, 1)
        assert f["constant_values"].shape == (k,) and f["constant_mask"].shape == (1, 8, 8)


def test_colour_images_without_constants_round_trip(tmp_path):
    path, param, latent, _, info = written(tmp_path / "rgb.h5", n=5, shape=(3, 4, 6), colors=8, constants=False)
    assert torch.equal(load(path)[0], param.eval()(latent))
    assert info["constant_elements"] == 0 and info["payload_bits_stored"] == palette_payload_bits(5, 24, 8, 3)
    with h5py.File(path, "r+") as f:
        assert "constant_mask" not in f and "constant_values" not in f
        f.attrs["input_shape"] = np.array([3, 100_000, 100_000], dtype=np.int64)  # no [C, H, W] array is made
    with pytest.raises(DataFileError, match="varying_pixels = 24 but .* leaves 10000000000 pixels"):
        load(path)


def test_same_input_same_bytes(tmp_path):
    a, b = written(tmp_path / "a.h5")[0], written(tmp_path / "b.h5")[0]
    assert a.read_bytes() == b.read_bytes()


def test_write_refuses_a_quantizer_and_an_unfitted_param(tmp_path, saved):
    _, param, latent, y, _ = saved
    codec = get_codec("palette")
    with pytest.raises(ValueError, match="no quantizer"):
        codec.write(tmp_path / "q.h5", latent, y, param, object())
    with pytest.raises(ValueError, match="fitted AutoPalette"):
        codec.write(tmp_path / "q.h5", latent, y, build_param(ParamSettings(name="palette")))
    assert not (tmp_path / "q.h5").exists()


def rewrite(path, name, value):
    with h5py.File(path, "r+") as f:
        del f[name]
        f[name] = value


def test_corrupt_indices_fail_the_checksum(saved):
    path = saved[0]
    with h5py.File(path, "r+") as f:
        f["indices"][3] ^= 0xFF
    with pytest.raises(DataFileError, match="checksum mismatch: /indices"):
        load(path)


def test_edited_palettes_fail_the_checksum(saved):
    path = saved[0]
    with h5py.File(path, "r+") as f:
        f["palettes"][0, 0, 0] += 1.0
    with pytest.raises(DataFileError, match="palettes, counts or constants do not match"):
        describe(path)


def test_truncated_index_array(saved):
    path = saved[0]
    with h5py.File(path) as f:
        short = f["indices"][:-3]
    rewrite(path, "indices", short)
    with pytest.raises(DataFileError, match=r"/indices has \d+ bytes, expected \d+ .*truncated or corrupt"):
        load(path)


def test_non_finite_palette(saved):
    path = saved[0]
    with h5py.File(path, "r+") as f:
        f["palettes"][1, 2, 0] = np.nan
    with pytest.raises(DataFileError, match="palettes .*NaN"):
        load(path)


def test_index_outside_the_palette_even_with_matching_checksums(saved):
    """A file edited to 3 colours (2-bit indices) and checksummed again: index 3 is refused."""
    path = saved[0]
    with h5py.File(path, "r+") as f:
        palettes, indices = f["palettes"][:, :3], np.full_like(f["indices"][()], 0xFF)  # every index 3
        del f["palettes"], f["indices"]
        f["palettes"], f["indices"] = palettes, indices
        f.attrs["colors"] = 3
        f.attrs["payload_bits"] = palette_payload_bits(9, 64, 3, 1)
        f.attrs["payload_bits_stored"] = palette_payload_bits(9, 48, 3, 1)
        arrays = {key: f[key][()] for key in ("indices", "palettes", "counts", "constant_mask", "constant_values")}
        f.attrs["sha256"] = sha256(("indices", arrays["indices"]))
        f.attrs["arrays_sha256"] = arrays_sha256(arrays, "indices")
    with pytest.raises(DataFileError, match="an index is 3, but the palettes have 3 colours"):
        load(path)


@pytest.mark.parametrize("key, value, match", [
    ("colors", 4096, r"/palettes declares shape \[9, 4, 1\], but the header .* calls for \[9, 4096, 1\]"),
    ("index_bits", 3, "palettes|indices|index_bits"),
    ("varying_pixels", 40, "/indices has"),
    ("overhead_bits", 1, "accounting attributes .* disagree"),
    ("num_samples", 10, "declares shape|has"),
    ("input_shape", np.array([64], dtype=np.int64), "input_shape|declares shape"),
])
def test_bad_attributes(saved, key, value, match):
    path = saved[0]
    with h5py.File(path, "r+") as f:
        f.attrs[key] = value
    with pytest.raises(DataFileError, match=match):
        load(path)
    with pytest.raises(DataFileError, match=match):
        describe(path)


def test_truncated_file(saved):
    path = saved[0]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataFileError, match="truncated"):
        load(path)


def test_decoding_is_held_to_the_read_bound(saved, monkeypatch):
    monkeypatch.setenv(MAX_READ_BYTES_ENV, "1500")  # the arrays fit, the decoded set does not
    with pytest.raises(DataFileError, match=f"decodes to .* {MAX_READ_BYTES_ENV}="):
        load(saved[0])


def test_module_docstring_names_every_dataset():
    text = palette_file_module.__doc__
    assert all(f"/{name}" in text for name in ("indices", "palettes", "counts", "constant_mask", "constant_values"))
    assert doctest.testmod(palette_file_module).failed == 0


@pytest.mark.gpu
def test_cuda_eval_forward_equals_the_cpu_decoded_file(tmp_path):
    x = torch.rand(30, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    x[:, 0, ::2, ::2] = 0.5
    param = build_param(ParamSettings(name="palette", colors=16, warmup=20),
                        generator=torch.Generator().manual_seed(5)).fit(x.cuda(), constant_feature_mask(x.cuda()))
    latent = param.to_latent(x[:10].cuda())
    param.prepare(latent)
    param.codec().write(tmp_path / "g.h5", latent, torch.zeros(10, dtype=torch.long), param)
    assert torch.equal(load(tmp_path / "g.h5")[0], param.eval()(latent).cpu())


def test_a_constant_channel_of_an_indexed_pixel_is_overwritten(tmp_path):
    x = torch.rand(12, 2, 4, 4, generator=torch.Generator().manual_seed(6))
    x[:, 0, 0, :] = -0.25                       # channel 0 of row 0 constant, channel 1 varies: still indexed
    x[:, :, 3, 3] = 2.0                         # both channels constant: no index
    param = build_param(ParamSettings(name="palette", colors=2, warmup=5),
                        generator=torch.Generator().manual_seed(7)).fit(x, constant_feature_mask(x))
    latent = param.to_latent(x[:5])
    info = param.codec().write(tmp_path / "c.h5", latent, [0, 0, 1, 1, 1], param)
    decoded = load(tmp_path / "c.h5")[0]
    assert torch.equal(decoded, param.eval()(latent))
    assert bool((decoded[:, 0, 0, :] == -0.25).all()) and bool((decoded[:, :, 3, 3] == 2.0).all())
    assert (info["varying_pixels"], info["constant_elements"], info["signed"]) == (15, 6, True)
