"""Soft labels in distilled files (quantized and float32 codecs): they round-trip with the rows
grouped by class, count in the bits, leave files without them byte for byte as they were, and
a hostile file's label arrays or attributes are refused with one line naming the file."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from beamsim.cli.main import app
from beamsim.distill import describe, read, save
from beamsim.distill.bits import compression_ratio
from beamsim.distill.files.frame import arrays_sha256, sha256
from beamsim.distill.labels import SoftLabels, class_bits
from beamsim.distill.packing import pack_codes, unpack_codes
from beamsim.distill.param import FreD
from beamsim.distill.provenance import Provenance
from beamsim.distill.quant import build_quantizer
from beamsim.distill.settings import ParamSettings
from beamsim.errors import DataFileError
from tests.refusal import edited_copy, refused

N, C, K, B = 8, 3, 2, 4
LABEL_KEYS = ("label_topk", "label_bits", "label_bits_stored")


@pytest.fixture
def labelled(generator):
    """(x [8, 1, 4, 4], y not grouped by class, soft labels of top-2 of 3 classes at 4 bits)."""
    x = torch.rand(N, 1, 4, 4, generator=generator)
    y = torch.tensor([2, 0, 1, 0, 2, 1, 1, 0])
    soft = SoftLabels.of(torch.softmax(3 * torch.randn(N, C, generator=generator), dim=1), K, B)
    return x, y, soft


def _quantizer(kind: str):
    return build_quantizer("apot", bits=4) if kind == "quantized" else None


@pytest.fixture
def soft_file(tmp_path, labelled):
    """A valid float32 file with soft labels."""
    path = tmp_path / "soft.h5"
    save(path, *labelled[:2], soft=labelled[2])
    return path


@pytest.mark.parametrize("kind", ["float32", "quantized"])
def test_round_trip_regroups_soft_labels_with_the_rows(tmp_path, labelled, kind):
    x, y, soft = labelled
    save(tmp_path / "plain.h5", x, y, _quantizer(kind))
    save(tmp_path / "soft.h5", x, y, _quantizer(kind), soft=soft)
    plain, data = read(tmp_path / "plain.h5"), read(tmp_path / "soft.h5")
    order = torch.from_numpy(np.argsort(y.numpy(), kind="stable"))
    assert torch.equal(data.x, plain.x) and torch.equal(data.y, plain.y) and torch.equal(data.y, y[order])
    assert plain.soft is None and data.soft is not None
    assert torch.equal(data.soft.classes, soft.classes[order]) and torch.equal(data.soft.codes, soft.codes[order])
    assert torch.equal(data.soft.targets(), soft.targets()[order])
    assert (data.soft.bits, data.soft.num_classes, data.soft.top_k) == (B, C, K)


@pytest.mark.parametrize("kind", ["float32", "quantized"])
def test_describe_counts_the_label_bits(tmp_path, labelled, kind):
    x, y, soft = labelled
    prov = Provenance(source_samples=60)
    plain = save(tmp_path / "plain.h5", x, y, _quantizer(kind), provenance=prov)
    info = save(tmp_path / "soft.h5", x, y, _quantizer(kind), provenance=prov, soft=soft)
    assert info == describe(tmp_path / "soft.h5")
    stored = N * K * (class_bits(C) + B)
    assert (info["label_topk"], info["label_bits"], info["label_bits_stored"]) == (K, B, stored)
    assert info["total_bits_stored"] == plain["total_bits_stored"] + stored
    assert info["compression_ratio"] == compression_ratio(info["total_bits_stored"], 60, 16)
    assert info["compression_ratio_papers"] == plain["compression_ratio_papers"]
    assert not set(LABEL_KEYS) & set(plain)
    with h5py.File(tmp_path / "soft.h5") as f:
        assert f["label_classes"].dtype == f["label_codes"].dtype == np.uint8
        assert f["label_classes"].shape == ((N * K * class_bits(C) + 7) // 8,)
        assert f["label_codes"].shape == ((N * K * B + 7) // 8,) and f.attrs["label_bits_stored"] == stored


@pytest.mark.parametrize("kind", ["float32", "quantized"])
def test_a_file_without_soft_labels_does_not_change(tmp_path, labelled, kind):
    x, y, _ = labelled
    save(tmp_path / "a.h5", x, y, _quantizer(kind))
    save(tmp_path / "b.h5", x, y, _quantizer(kind), soft=None)
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()
    with h5py.File(tmp_path / "a.h5") as f:
        assert not {"label_classes", "label_codes"} & set(f) and not set(LABEL_KEYS) & set(f.attrs)


def test_the_checksum_covers_the_label_arrays(soft_file):
    with h5py.File(soft_file) as f:
        arrays = {key: f[key][()] for key in f}
        assert f.attrs["arrays_sha256"] == arrays_sha256(arrays, "x")
        assert f.attrs["arrays_sha256"] != arrays_sha256({k: v for k, v in arrays.items() if k != "label_codes"}, "x")
    with h5py.File(soft_file, "a") as f:
        f["label_codes"][0] ^= 1
    with pytest.raises(DataFileError, match="soft labels do not match the stored arrays_sha256"):
        read(soft_file)


def _bad(soft: SoftLabels, **change) -> SoftLabels:
    fields = dict(classes=soft.classes, codes=soft.codes, bits=soft.bits, num_classes=soft.num_classes)
    return SoftLabels(**{**fields, **change})


@pytest.mark.parametrize("change, message", [
    (lambda s: s.rows(torch.arange(N - 1)), "7 rows over 3 classes do not fit the set's 8 samples"),
    (lambda s: _bad(s, num_classes=4), "over 4 classes do not fit the set's 8 samples of 3 classes"),
    (lambda s: _bad(s, bits=9), "bits = 9 and top_k = 2 must be integers in 1..8 and 1..3"),
    (lambda s: _bad(s, classes=s.classes.repeat(1, 2), codes=s.codes.repeat(1, 2)), "top_k = 4 must be"),
    (lambda s: _bad(s, classes=s.classes[:, [0, 0]]), "a sample names one class twice"),
    (lambda s: _bad(s, codes=s.codes - 1), "first code is not 15"),
    (lambda s: _bad(s, codes=s.codes.float()), "integer tensors classes and codes"),
])
def test_the_writers_refuse_soft_labels_that_do_not_fit(tmp_path, labelled, change, message):
    x, y, soft = labelled
    for quantizer in (None, build_quantizer("apot", bits=4)):
        with pytest.raises(ValueError, match=message):
            save(tmp_path / "s.h5", x, y, quantizer, soft=change(soft))
    assert not (tmp_path / "s.h5").exists()


# --- hostile files -------------------------------------------------------------------------------
# Each edit recomputes the checksums to match the edited arrays, so that the check the test
# means is the one the file hits (the attributes are not under a checksum).

def _rehash(f) -> None:
    arrays: dict[str, np.ndarray] = {}
    f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    payload = "x" if "x" in arrays else "codes"
    f.attrs["sha256"] = sha256((payload, arrays[payload]))
    f.attrs["arrays_sha256"] = arrays_sha256(arrays, payload)


def _replace(name: str, value: np.ndarray):
    def edit(f):
        del f[name]
        f[name] = value
        _rehash(f)
    return edit


def _unpacked(f, name: str, bits: int) -> np.ndarray:
    return unpack_codes(f[name][()], bits, N * K).astype(np.int64).reshape(N, K)


def _changed(name: str, bits: int, index: tuple[int, int], value: int):
    """Set one stored class index or code (unpacked, changed, packed again as the writer packs)."""
    def edit(f):
        values = _unpacked(f, name, bits)
        values[index] = values[0, 0] if value < 0 else value
        _replace(name, pack_codes(values, bits))(f)
    return edit


def _set_attr(key: str, value):
    return lambda f: f.attrs.__setitem__(key, value)


def _drop(*names: str):
    def edit(f):
        for name in names:
            if name in f.attrs:
                del f.attrs[name]
            if name in f:
                del f[name]
        _rehash(f)
    return edit


#: case -> (edit, what the one-line refusal says). A packed 4-bit code cannot exceed 15: the
#: first-code rule is what a reader can find wrong with a code value.
HOSTILE = {
    # values, found as the arrays are decoded
    "duplicate class": (_changed("label_classes", class_bits(C), (0, 1), -1),
                        "label codes: a sample names one class twice"),
    "class out of range": (_changed("label_classes", class_bits(C), (3, 1), C),
                           "label codes: a class index lies outside [0, 3)"),
    "first code not the max": (_changed("label_codes", B, (2, 0), 14),
                               "label codes: a code lies outside [0, 15] or a sample's first code is not 15"),
    "label_bits_stored": (_set_attr("label_bits_stored", 7), "label_bits_stored = 7, but 8 samples of 12-bit"),
    # the header and the declared datasets, refused before any data is read
    "label_topk above num_classes": (_set_attr("label_topk", 4), "label_topk = 4 and label_bits = 4 must be"),
    "label_bits 9": (_set_attr("label_bits", 9), "label_topk = 2 and label_bits = 9 must be integers"),
    "label_topk 0": (_set_attr("label_topk", 0), "label_topk = 0"),
    "codes too long": (_replace("label_codes", np.zeros(9, np.uint8)),
                       "/label_codes has 9 bytes, expected 8 for 8 samples, label_topk = 2 at 4 bits"),
    "classes too short": (_replace("label_classes", np.zeros(3, np.uint8)), "/label_classes has 3 bytes, expected 4"),
    "codes without classes": (_drop("label_classes"),
                              "has /label_codes, label_topk, label_bits without /label_classes"),
    "attributes without arrays": (_drop("label_classes", "label_codes"),
                                  "has label_topk, label_bits without /label_classes, /label_codes"),
    "arrays without attributes": (_drop("label_topk", "label_bits"),
                                  "has /label_classes, /label_codes without label_topk, label_bits"),
    "codes without their attributes": (_drop("label_classes", "label_topk", "label_bits"),
                                       "has /label_codes without /label_classes, label_topk, label_bits"),
}


@pytest.mark.parametrize("kind", ["float32", "quantized"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_label_arrays_and_attributes_are_refused(tmp_path, labelled, kind, case):
    x, y, soft = labelled
    good = tmp_path / f"{kind}.h5"
    save(good, x, y, _quantizer(kind), soft=soft)
    edit, message = HOSTILE[case]
    bad = edited_copy(good, tmp_path, edit)
    for reader in (read, describe):
        with pytest.raises(DataFileError) as err:
            reader(bad)
        text = str(err.value)
        assert text.startswith(f"{bad}: ") and message in text and "\n" not in text, text


def test_beamsim_info_refuses_a_hostile_soft_label_file_in_one_line(soft_file, tmp_path):
    bad = edited_copy(soft_file, tmp_path, _drop("label_classes"))
    refused(["info", bad], tmp_path, str(bad), "without /label_classes", "nothing was read")


def test_beamsim_info_shows_the_soft_labels(soft_file):
    result = CliRunner().invoke(app, ["info", str(soft_file)])
    assert result.exit_code == 0, result.output
    assert "soft labels: top-2 classes, 4-bit codes, 12 bits per sample (96 bits)" in result.stdout
    as_json = CliRunner().invoke(app, ["info", str(soft_file), "--json"])
    assert json.loads(as_json.stdout)["label_bits_stored"] == 96


def test_the_fred_codec_refuses_label_arrays_as_foreign(tmp_path, generator, soft_file):
    x = torch.rand(12, 1, 4, 4, generator=generator)
    param = FreD(ParamSettings(name="fred", coefficients=4)).fit(x, None)
    path = tmp_path / "fred.h5"
    param.codec().write(path, param.to_latent(x[:N]), torch.tensor([0, 0, 0, 1, 1, 1, 2, 2]), param)

    def add_labels(f):
        with h5py.File(soft_file) as source:
            for key in ("label_classes", "label_codes"):
                f[key] = source[key][()]
            for key in ("label_topk", "label_bits", "label_bits_stored"):
                f.attrs[key] = source.attrs[key]

    bad = edited_copy(path, tmp_path, add_labels)
    with pytest.raises(DataFileError, match="/label_(classes|codes) is not part of a beamsim distilled set of the "
                                            "fred codec"):
        read(bad)
