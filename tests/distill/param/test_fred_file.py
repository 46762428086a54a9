"""The fred codec: exact round trips, the bit accounting, the family readers, hostile files."""

import h5py
import numpy as np
import pytest
import torch

import beamsim.distill as distill
from beamsim.distill.constant import constant_feature_mask
from beamsim.distill.files import codec_of, get_codec, read_attrs
from beamsim.distill.files.codec import _REGISTRY
from beamsim.distill.files.frame import sha256
from beamsim.distill.param import FreD
from beamsim.distill.param.fred import fred_overhead_bits, fred_payload_bits
from beamsim.distill.param.fred_file import FredCodec
from beamsim.distill.provenance import Provenance
from beamsim.distill.quant import build_quantizer
from beamsim.distill.settings import ParamSettings
from beamsim.errors import DataFileError

K = 12


@pytest.fixture
def beam_fred(generator, checkerboard):
    """A fitted FreD on beam maps with 32 constant beams, a latent of 4 classes x 5 and its labels."""
    x = torch.where(checkerboard, torch.rand(80, 1, 8, 8, generator=generator), torch.ones(()))
    param = FreD(ParamSettings(name="fred", coefficients=K)).fit(x, constant_feature_mask(x))
    latent = param.to_latent(x[:20]) + 0.01 * torch.randn(20, 1, K, generator=generator)
    return param, latent, torch.arange(4).repeat_interleave(5)


def test_the_codec_is_registered_and_claims_only_its_files(tmp_path, beam_fred):
    param, latent, y = beam_fred
    assert param.codec() is get_codec("fred") and isinstance(get_codec("fred"), FredCodec)
    param.codec().write(tmp_path / "f.h5", latent, y, param)
    attrs = read_attrs(tmp_path / "f.h5")
    assert [c.name for c in _REGISTRY.values() if c.claims(attrs)] == ["fred"]
    frame = get_codec("fred").frame(tmp_path / "f.h5")
    assert codec_of(frame).name == "fred" and frame.attrs["codec"] == "fred"


def test_float32_round_trip_is_exact(tmp_path, beam_fred):
    param, latent, y = beam_fred
    info = param.codec().write(tmp_path / "f.h5", latent, y, param, class_names=list("abcd"))
    x, y2 = distill.load(tmp_path / "f.h5")
    assert torch.equal(x, param.eval()(latent)) and torch.equal(y2, y)
    assert x.dtype == torch.float32 and x.shape == (20, 1, 8, 8)
    data = distill.read(tmp_path / "f.h5")
    assert data.quantizer is None and data.attrs["class_names"] == list("abcd")
    assert info["quantizer"] == "none" and info["bits"] == 32 and info["levels"] == "float32"
    with h5py.File(tmp_path / "f.h5") as f:
        assert sorted(f) == ["alpha", "constant_mask", "constant_values", "counts", "freq_mask", "latent"]
        assert f["latent"].shape == (20, 1, K) and f["latent"].dtype == np.float32


@pytest.mark.parametrize("name, bits", [("apot", 6), ("apot", 3), ("uniform", 4), ("fsq", 3)])
def test_quantized_round_trip_equals_p_of_q_of_l(tmp_path, beam_fred, name, bits):
    param, latent, y = beam_fred
    q = build_quantizer(name, bits=bits)
    q.initialize(latent)
    z = q.to_latent(latent)  # what the quantizer takes (FSQ: its own latent)
    want = param.eval()(q.eval()(z))
    param.codec().write(tmp_path / "q.h5", z, y, param, q)
    data = distill.read(tmp_path / "q.h5")
    assert torch.equal(data.x, want) and torch.equal(data.y, y)
    assert data.quantizer.name == name and data.quantizer.bits == bits
    parts = get_codec("fred").parts(get_codec("fred").frame(tmp_path / "q.h5"))
    assert torch.equal(parts.codes, q.encode(z)) and torch.equal(parts.latent, q.eval()(z))


def test_rows_are_stored_grouped_by_class(tmp_path, beam_fred):
    param, latent, _ = beam_fred
    y = torch.tensor([3, 0, 1, 2] * 5)
    param.codec().write(tmp_path / "g.h5", latent, y, param)
    x, y2 = distill.load(tmp_path / "g.h5")
    order = torch.argsort(y, stable=True)
    assert y2.tolist() == sorted(y.tolist()) and torch.equal(x, param(latent[order]))


def expected_bits(n, channels, k, bits, shape, thresholds, classes, constants):
    payload = fred_payload_bits(n, channels, k, bits)
    return payload, fred_overhead_bits(shape, num_thresholds=thresholds, num_classes=classes,
                                       constant_elements=constants)


def test_reported_bits_equal_the_pure_accounting(tmp_path, beam_fred):
    param, latent, y = beam_fred
    prov = Provenance(source_samples=24576, spc=5, objective="dm")
    info = param.codec().write(tmp_path / "f.h5", latent, y, param, provenance=prov)
    payload, overhead = expected_bits(20, 1, K, 32, (1, 8, 8), 0, 4, 32)
    assert (info["payload_bits"], info["payload_bits_stored"], info["overhead_bits"]) == (payload, payload, overhead)
    assert payload == 20 * K * 32 and overhead == 64 + 4 * 32 + (64 + 32 * 32) + 128
    q = build_quantizer("apot", bits=6)
    q.initialize(latent)
    info = param.codec().write(tmp_path / "q.h5", latent, y, param, q, provenance=prov)
    payload, overhead = expected_bits(20, 1, K, 6, (1, 8, 8), K, 4, 32)
    assert info["payload_bits_stored"] == payload == 20 * K * 6 and info["overhead_bits"] == overhead
    assert info["total_bits_stored"] == payload + overhead
    assert info["file_bytes"] == (tmp_path / "q.h5").stat().st_size
    assert info["compression_ratio"] == pytest.approx(24576 * 64 * 32 / (payload + overhead))
    assert info["compression_ratio_papers"] == pytest.approx(24576 * 64 * 32 / payload)
    assert (info["codec"], info["param"], info["coefficients"], info["sample_shape"]) == ("fred", "fred", K, [1, 8, 8])
    assert info["elements_per_sample"] == 64 and info["constant_elements"] == 32 and info["spc"] == 5
    assert distill.describe(tmp_path / "q.h5") == info


def test_image_like_set_without_constants(tmp_path, generator):
    x = torch.randn(30, 3, 4, 4, generator=generator)
    param = FreD(ParamSettings(name="fred", coefficients=0)).fit(x, None)
    latent, y = param.to_latent(x[:6]), torch.tensor([0, 0, 1, 1, 2, 2])
    q = build_quantizer("uniform", bits=5, granularity="channel")
    q.initialize(latent)
    info = param.codec().write(tmp_path / "i.h5", latent, y, param, q)
    assert info["constant_elements"] == 0 and info["coefficients"] == 4 and info["latent_shape"] == [3, 4]
    assert info["overhead_bits"] == fred_overhead_bits((3, 4, 4), num_thresholds=3, num_classes=3)
    with h5py.File(tmp_path / "i.h5") as f:
        assert "constant_mask" not in f and "constant_values" not in f
    assert torch.equal(distill.load(tmp_path / "i.h5")[0], param.eval()(q.eval()(latent)))


def test_bad_write_arguments(tmp_path, beam_fred):
    param, latent, y = beam_fred
    codec = param.codec()
    with pytest.raises(ValueError, match="fitted FreD"):
        codec.write(tmp_path / "a.h5", latent, y, FreD(ParamSettings(name="fred", coefficients=K)))
    with pytest.raises(ValueError, match=rf"\[N, 1, {K}\]"):
        codec.write(tmp_path / "a.h5", latent[:, :, :5], y, param)
    with pytest.raises(ValueError, match="Quantizer or None"):
        codec.write(tmp_path / "a.h5", latent, y, param, "apot")
    assert not (tmp_path / "a.h5").exists()


# --- hostile files -------------------------------------------------------------------------------

@pytest.fixture
def quantized_file(tmp_path, beam_fred):
    param, latent, y = beam_fred
    q = build_quantizer("apot", bits=6)
    q.initialize(latent)
    param.codec().write(tmp_path / "q.h5", latent, y, param, q)
    return tmp_path / "q.h5"


def edit(path, change):
    with h5py.File(path, "r+") as f:
        change(f)
    return path


def refused(path, *needles):
    with pytest.raises(DataFileError) as exc:
        distill.load(path)
    text = str(exc.value)
    assert "\n" not in text and str(path) in text
    for needle in needles:
        assert needle in text, text
    return text


def test_truncated_codes_are_refused(quantized_file):
    def truncate(f):
        codes = f["codes"][()]
        del f["codes"]
        f.create_dataset("codes", data=codes[:-3])
    refused(edit(quantized_file, truncate), "/codes", "truncated or corrupt")


def test_a_flipped_mask_bit_is_refused(quantized_file):
    def flip(f):
        f["freq_mask"][0, 7, 7] = not f["freq_mask"][0, 7, 7]
    refused(edit(quantized_file, flip), "/freq_mask", f"coefficients = {K}")


def test_a_moved_mask_position_is_a_checksum_mismatch(quantized_file):
    def move(f):
        mask = f["freq_mask"][()]
        on, off = np.argwhere(mask)[0], np.argwhere(~mask)[0]
        mask[tuple(on)], mask[tuple(off)] = False, True
        f["freq_mask"][...] = mask
    refused(edit(quantized_file, move), "checksum mismatch")


def test_codes_out_of_range_are_refused(quantized_file):
    def saturate(f):  # signed 6-bit APoT has 63 levels: code 63 does not exist
        codes = np.full_like(f["codes"][()], 0xFF)
        f["codes"][...] = codes
        f.attrs["sha256"] = sha256(("codes", codes))
    refused(edit(quantized_file, saturate), "a code is 63", "63 levels")


def test_a_wrong_size_latent_is_refused(tmp_path, beam_fred):
    param, latent, y = beam_fred
    path = tmp_path / "f.h5"
    param.codec().write(path, latent, y, param)

    def shrink(f):
        value = f["latent"][()]
        del f["latent"]
        f.create_dataset("latent", data=value[:, :, :-1])
    refused(edit(path, shrink), "/latent", "declares shape")


def test_edited_accounting_and_coefficients_are_refused(quantized_file, tmp_path):
    copy = tmp_path / "copy.h5"
    copy.write_bytes(quantized_file.read_bytes())
    refused(edit(quantized_file, lambda f: f.attrs.__setitem__("overhead_bits", 1)), "accounting")
    refused(edit(copy, lambda f: f.attrs.__setitem__("coefficients", K + 1)), "/codes")


def test_nan_latent_and_missing_mask_are_refused(tmp_path, beam_fred):
    param, latent, y = beam_fred
    path = tmp_path / "f.h5"
    param.codec().write(path, latent, y, param)
    copy = tmp_path / "copy.h5"
    copy.write_bytes(path.read_bytes())
    refused(edit(path, lambda f: f["latent"].__setitem__((0, 0, 0), np.nan)), "NaN")
    refused(edit(copy, lambda f: f.__delitem__("freq_mask")), "/freq_mask")


def test_a_set_too_large_to_decode_is_refused(quantized_file, monkeypatch):
    monkeypatch.setenv("BEAMSIM_MAX_READ_BYTES", "20000")
    refused(quantized_file, "decoding 20 samples", "BEAMSIM_MAX_READ_BYTES")
