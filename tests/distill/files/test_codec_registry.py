"""The codec registry: a codec defined here registers, writes through the frame, and the
family's readers dispatch to it."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from beamsim.distill import describe, load, read
from beamsim.distill.files import Codec, DistilledSet, Frame, codec_names, get_codec, read_frame, register_codec
from beamsim.distill.files.frame import check_counts, described_sizes, labels_of, write_frame
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError


@register_codec("float16-test")
class Float16Codec(Codec):
    """Half-precision values, one row per sample, rows grouped by class (a codec a test adds)."""

    def claims(self, attrs):
        return attrs.get("codec") == "float16-test"

    def write(self, path, x, counts, *, provenance=None):
        x = x.detach().cpu().to(torch.float16).numpy()
        counts = np.asarray(counts, dtype=np.int32)
        header = {"codec": "float16-test", "quantizer": "float16-test", "bits": 16,
                  "input_shape": np.array(x.shape[1:], dtype=np.int64), "num_samples": len(x),
                  "num_classes": len(counts)}
        write_frame(path, {"x": x, "counts": counts}, payload="x", header=header,
                    provenance=provenance or Provenance(), accounting={"payload_bits": x.size * 16})
        return self.describe(read_frame(path))

    def _check(self, frame: Frame) -> None:
        check_counts(frame.arrays["counts"], frame.attrs["num_classes"], frame.attrs["num_samples"], frame.where)
        frame.check_checksums("x", "counts")

    def read(self, frame, device=None):
        self._check(frame)
        counts, y = labels_of(frame.arrays["counts"])
        x = torch.from_numpy(frame.arrays["x"].astype(np.float32))
        return DistilledSet(x=x, y=y, counts=counts, attrs=frame.attrs, quantizer=None, codes=None)

    def describe(self, frame):
        self._check(frame)
        d = int(np.prod(frame.attrs["input_shape"]))
        bits = int(frame.attrs["payload_bits"])
        return {"path": str(frame.path), "codec": frame.attrs["codec"], "num_samples": frame.attrs["num_samples"],
                **described_sizes(frame.path, frame.attrs, d, bits, bits)}


@pytest.fixture
def half_file(tmp_path, generator):
    x = torch.rand(6, 1, 4, 4, generator=generator)
    path = tmp_path / "h.h5"
    info = get_codec("float16-test").write(path, x, [2, 1, 3], provenance=Provenance(source_samples=60, spc=2))
    return path, x, info


def test_a_registered_codec_round_trips_through_the_family_readers(half_file):
    path, x, info = half_file
    assert "float16-test" in codec_names() and codec_names()[:3] == ["quantized", "float32", "patch"]
    x2, y2 = load(path)
    assert torch.equal(x2, x.to(torch.float16).float()) and y2.tolist() == [0, 0, 1, 2, 2, 2]
    data = read(path)
    assert data.attrs["format"] == "beamsim.distilled" and data.attrs["spc"] == 2
    assert info == describe(path) and info["codec"] == "float16-test" and info["spc"] == 2
    assert info["compression_ratio"] == pytest.approx(60 * 16 * 32 / (6 * 16 * 16))


def test_the_frame_checksums_guard_every_codec(half_file):
    path, _, _ = half_file
    with h5py.File(path, "r+") as f:
        f["counts"][0] = 3
        f["counts"][2] = 2
    with pytest.raises(DataFileError, match="counts do not match the stored arrays_sha256"):
        load(path)


def test_unknown_codec_and_duplicate_names_are_refused(half_file):
    path, _, _ = half_file
    with h5py.File(path, "r+") as f:
        f.attrs["codec"] = "float8"
    with pytest.raises(DataFileError, match=r"unknown codec \(codec 'float8'\).*known: quantized, float32, patch"):
        describe(path)
    with pytest.raises(ValueError, match="unknown codec 'float8': known codecs are quantized"):
        get_codec("float8")
    with pytest.raises(ValueError, match="already registered by Float32Codec"):
        register_codec("float32")(type("Other", (Float16Codec,), {}))
    with pytest.raises(TypeError, match="Codec subclasses"):
        register_codec("plain")(dict)


def test_the_frame_owns_its_attributes(tmp_path):
    with pytest.raises(ValueError, match="seed belong to the frame"):
        write_frame(tmp_path / "x.h5", {"x": np.zeros(2)}, payload="x", header={"seed": 1}, provenance=Provenance(),
                    accounting={})
    with pytest.raises(ValueError, match="payload 'codes' is not among the arrays"):
        write_frame(tmp_path / "x.h5", {"x": np.zeros(2)}, payload="codes", header={}, provenance=Provenance(),
                    accounting={})
    assert not (tmp_path / "x.h5").exists()
