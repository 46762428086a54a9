"""Files from elsewhere, built hostile in the test: each is refused with one stderr line and
exit code 1 through the CLI, runs no code and writes nothing. Bombs, foreign datasets, links
and shapes the header does not imply are refused before a byte of data is read; NaN and
values outside the physical range (behind a checksum recomputed to match) as they are read."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from beamsim.cli._errors import ErrorMappingGroup
from beamsim.cli.main import app
from beamsim.dataset import RSRP_MAX_DBM, RSRP_MIN_DBM, BeamArrays, arrays_checksum
from beamsim.distill import save
from beamsim.distill.files.frame import arrays_sha256, sha256
from beamsim.distill.quant import build_quantizer
from beamsim.h5safe import DEFAULT_MAX_READ_BYTES, MAX_READ_BYTES_ENV, max_read_bytes
from tests.refusal import refused




def _set(constant: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """16 random 1x4x4 maps of 4 classes (element 0 constant when ``constant``)."""
    x = torch.rand(16, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    if constant:
        x[:, 0, 0, 0] = 0.5
    return x, torch.arange(4).repeat_interleave(4)


@pytest.fixture
def distilled(tmp_path) -> Path:
    """A valid float32 distilled file (16 samples, 4 classes)."""
    path = tmp_path / "set.h5"
    save(path, *_set(), None)
    return path


@pytest.fixture
def codec_file(tmp_path):
    """``codec_file(kind)``: a valid file of one codec, one element constant across the set:
    float32, quantized (APoT 4 bits), gaq or paq (2 bits, packed or range-coded: ``gaq-range``)."""
    def make(kind: str) -> Path:
        path = tmp_path / f"{kind}.h5"
        if kind in ("float32", "quantized"):
            save(path, *_set(constant=True), build_quantizer("apot", bits=4) if kind == "quantized" else None)
            return path
        source = make("float32")
        codec, _, entropy = kind.partition("-")
        args = ["compress", source, "--bits", "2", "--groups", "4" if codec == "gaq" else "auto", "--no-extra",
                "--entropy" if entropy == "range" else "--no-entropy", "--out", path]
        assert CliRunner().invoke(app, [str(a) for a in args]).exit_code == 0
        source.unlink()
        with h5py.File(path) as f:
            assert f.attrs["codec"] == codec
        return path
    return make


def _edit(path: Path, change) -> Path:
    with h5py.File(path, "a") as f:
        change(f)
    return path


def _arrays(f) -> dict:
    found = {}
    f.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


def _rehash(path: Path) -> Path:
    """Recompute a distilled file's checksum attributes from its arrays, so they match."""
    with h5py.File(path, "a") as f:
        arrays, payload = _arrays(f), "x" if "x" in f else "codes"
        f.attrs["sha256"] = sha256((payload, arrays[payload]))
        f.attrs["arrays_sha256"] = arrays_sha256(arrays, payload)
    return path


def _rehash_dataset(path: Path) -> Path:
    """Recompute a data-set file's ``sha256`` from its arrays, so it matches."""
    with h5py.File(path, "a") as f:
        f.attrs["sha256"] = arrays_checksum(BeamArrays(**_arrays(f)))
    return path


def _replace(f, name: str, value) -> None:
    del f[name]
    f[name] = value


def _bomb(f, name: str = "scale", shape=(2**34,), dtype="f8", chunks=(2**16,)) -> None:
    """A gzip-compressed dataset declaring ``prod(shape) * itemsize`` bytes; nothing is written."""
    f.create_dataset(name, shape=shape, dtype=dtype, compression="gzip", chunks=chunks)


# --- distilled files -----------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["info"], ["evaluate", "--train"]])
def test_a_distilled_file_declaring_128_gib_is_refused_before_reading(distilled, tmp_path, command):
    _edit(distilled, _payload_bomb)  # the header agrees with the shape: only the bound can refuse it
    assert distilled.stat().st_size < 100_000
    line = refused([*command, distilled], tmp_path, MAX_READ_BYTES_ENV)
    assert str(distilled) in line and "/x alone 128.0 GiB" in line and "nothing was read" in line


def test_an_extra_128_gib_dataset_is_foreign_before_its_size_counts(distilled, tmp_path):
    _edit(distilled, _bomb)  # /scale: 128 GiB declared, a few KB on disk
    refused(["info", distilled], tmp_path, "/scale is not part of a beamsim distilled set of the float32 codec")


@pytest.mark.parametrize("command", [["info"], ["evaluate", "--train"]])
def test_a_foreign_dataset_isrefused(distilled, tmp_path, command):
    _edit(distilled, lambda f: f.create_dataset("payload2", data=[1.0, 2.0]))
    line = refused([*command, distilled], tmp_path, "/payload2")
    assert "foreign dataset" in line and str(distilled) in line


@pytest.mark.parametrize("kind", ["soft", "external"])
def test_soft_and_external_links_are_not_followed(distilled, tmp_path, kind):
    outside = tmp_path / "outside.h5"
    with h5py.File(outside, "w") as f:
        f["secret"] = [1.0, 2.0]
    link = h5py.SoftLink("/x") if kind == "soft" else h5py.ExternalLink(str(outside), "/secret")
    _edit(distilled, lambda f: f.__setitem__("scale", link))
    line = refused(["info", distilled], tmp_path, f"/scale is {'a soft' if kind == 'soft' else 'an external'} link")
    assert str(distilled) in line


def test_a_dataset_of_the_wrong_dtype_isrefused(distilled, tmp_path):
    _edit(distilled, lambda f: _replace(f, "alpha", [b"text"]))
    refused(["info", distilled], tmp_path, "/alpha has dtype")


def test_a_counts_shape_against_num_classes_is_checked_before_reading(distilled, tmp_path):
    def grow(f):
        del f["counts"]
        _bomb(f, "counts", shape=(2**20,), dtype="i8", chunks=(2**10,))
    refused(["info", _edit(distilled, grow)], tmp_path, "but the header (num_classes = 4) calls for [4]")


# --- per-codec schemas: a dataset another codec holds is foreign here ---------------------------------

@pytest.mark.parametrize("kind,name,value", [
    ("float32", "scale", [1.0]),         # the patch codec's
    ("float32", "codes", [1, 2]),        # the quantized and patch codecs'
    ("quantized", "x", [[0.5]]),         # the float32 codec's
    ("quantized", "zero_point", [0]),    # the patch codec's
    ("paq", "groups", [0]),              # gaq's, not paq's
    ("gaq", "alpha", [1.0]),             # the element-wise codecs'
])
def test_a_dataset_of_another_codec_is_foreign(codec_file, tmp_path, kind, name, value):
    path = _edit(codec_file(kind), lambda f: f.__setitem__(name, value))
    codec = "patch" if kind in ("paq", "gaq") else kind
    refused(["info", path], tmp_path, f"/{name} is not part of a beamsim distilled set of the {codec} codec")


@pytest.mark.parametrize("kind,name,shape", [
    ("float32", "x", (16, 16)),             # 15 varying elements per sample, not 16
    ("float32", "constant_mask", (16,)),    # input_shape is [1, 4, 4]
    ("gaq", "scale", (5,)),                 # num_groups is 4
])
def test_a_shape_the_header_does_not_imply_is_refused_before_reading(codec_file, tmp_path, kind, name, shape):
    path = codec_file(kind)
    with h5py.File(path) as f:
        dtype = f[name].dtype
    _edit(path, lambda f: (f.__delitem__(name), _bomb(f, name, shape=shape, dtype=dtype, chunks=shape)))
    line = refused(["info", path], tmp_path, f"/{name} declares shape {list(shape)}, but the header")
    assert "nothing was read" in line


# --- truncated codes -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,change", [("quantized", -1), ("quantized", +1), ("quantized", -60),
                                         ("gaq", -1), ("paq", +3)])
def test_codes_shorter_or_longer_than_the_header_implies_arerefused(codec_file, tmp_path, kind, change):
    path = codec_file(kind)
    with h5py.File(path) as f:  # 16 samples x 15 varying elements at 4 (quantized) or 2 bits
        codes = f["codes"][()]
        assert codes.size == 16 * 15 * f.attrs["bits"] // 8
    fitted = np.resize(codes, codes.size + change)
    _rehash(_edit(path, lambda f: _replace(f, "codes", fitted)))
    line = refused(["info", path], tmp_path, f"/codes has {codes.size + change} bytes, expected {codes.size} for ")
    assert "(truncated or corrupt)" in line and "nothing was read" in line
    refused(["evaluate", "--train", path], tmp_path, f"/codes has {codes.size + change} bytes")


def test_a_range_coded_stream_declaring_other_codes_is_refused_before_decoding(codec_file, tmp_path):
    path = codec_file("gaq-range")
    with h5py.File(path) as f:
        stream = f["codes"][()]
    stream[4:8] = np.frombuffer(np.uint32(2**32 - 1).tobytes(), np.uint8)  # header count: 4 Gi codes
    _rehash(_edit(path, lambda f: _replace(f, "codes", stream)))
    line = refused(["evaluate", "--train", path], tmp_path, f"{path}: /codes holds 4294967295 codes of 2 bits")
    assert "expected 240 of 2" in line


# --- NaN, infinities and values outside the range, behind checksums that match --------------------

def test_rehash_reproduces_the_checksums_a_writer_stores(codec_file):
    for kind in ("float32", "quantized", "gaq"):
        path = codec_file(kind)
        with h5py.File(path) as f:
            stored = (f.attrs["sha256"], f.attrs["arrays_sha256"])
        with h5py.File(_rehash(path)) as f:
            assert (f.attrs["sha256"], f.attrs["arrays_sha256"]) == stored


def _poison(path: Path, name: str, index, value) -> Path:
    """Set ``/name[index] = value`` and recompute the checksums so they match."""
    def change(f):
        data = f[name][()]
        data[index] = value
        _replace(f, name, data)
    return _rehash(_edit(path, change))


@pytest.mark.parametrize("kind,name,index,value,needle", [
    ("float32", "x", (slice(0, 3), 2), np.nan, "/x (the set's values) holds 3 NaN or infinite value(s)"),
    ("float32", "constant_values", 0, np.inf, "/constant_values (constant elements) holds 1 NaN"),
    ("quantized", "alpha", (0, 0, 1), np.nan, "/alpha (the quantizer's thresholds) holds 1 NaN"),
    ("gaq", "scale", 1, -np.inf, "/scale (the code scales) holds 1 NaN or infinite"),
    ("gaq-range", "constant_values", 0, np.nan, "/constant_values (constant elements) holds 1 NaN"),
])
def test_nan_behind_a_recomputed_checksum_isrefused(codec_file, tmp_path, kind, name, index, value, needle):
    path = _poison(codec_file(kind), name, index, value)
    line = refused(["info", path], tmp_path, needle)
    assert str(path) in line and "the first at index" in line and "write it again" in line
    refused(["evaluate", "--train", path], tmp_path, needle)


@pytest.mark.parametrize("kind,name,index,value,needle", [
    ("quantized", "alpha", (0, 0, 1), -0.5, "/alpha values must lie in (0.0, inf)"),
    ("quantized", "alpha", (0, 0, 1), 0.0, "/alpha values must lie in (0.0, inf)"),
    ("quantized", "constant_codes", 0, 16, "/constant_codes values must lie in [0, 15]"),
    ("gaq", "scale", 0, 0.0, "/scale values must lie in (0.0, inf)"),
    ("float32", "counts", slice(0, 2), [5, -1], "/counts values must lie in [0, 16]"),
])
def test_values_outside_their_range_arerefused(codec_file, tmp_path, kind, name, index, value, needle):
    path = _poison(codec_file(kind), name, index, value)
    line = refused(["info", path], tmp_path, needle)
    assert "1 do not" in line and "the first" in line


def test_the_bound_can_be_raised_and_lowered(distilled, tmp_path, monkeypatch):
    assert max_read_bytes() == DEFAULT_MAX_READ_BYTES == 4 * 2**30
    monkeypatch.setenv(MAX_READ_BYTES_ENV, "100")
    refused(["info", distilled], tmp_path, "read limit of 100 B")
    monkeypatch.setenv(MAX_READ_BYTES_ENV, str(2**20))
    assert CliRunner().invoke(app, ["info", str(distilled)]).exit_code == 0
    monkeypatch.setenv(MAX_READ_BYTES_ENV, "lots")
    refused(["info", distilled], tmp_path, f"{MAX_READ_BYTES_ENV}='lots' is not a positive number")


# --- data-set files ------------------------------------------------------------------------------

def test_a_data_set_whose_rsrp_declares_64_gib_isrefused(tiny_dataset, tmp_path):
    data = _edit(Path(shutil.copy(tiny_dataset, tmp_path / "data.h5")), _rsrp_bomb)
    line = refused(["distill", "--data", data, "--out", tmp_path / "out.h5"], tmp_path, MAX_READ_BYTES_ENV)
    assert "/rsrp alone 64.0 GiB" in line
    refused(["evaluate", "--train", data], tmp_path, "/rsrp alone 64.0 GiB")


@pytest.mark.parametrize("change", ["foreign", "soft", "rows"])
def test_a_data_set_with_foreign_linked_or_mismatched_arrays_isrefused(tiny_dataset, tmp_path, change):
    data = Path(shutil.copy(tiny_dataset, tmp_path / "data.h5"))

    def edit(f):
        if change == "foreign":
            f["notes"] = [1, 2, 3]
        elif change == "soft":
            del f["los"]
            f["los"] = h5py.SoftLink("/mask")
        else:
            del f["los"]
            f.create_dataset("los", shape=(5,), dtype=bool)
    _edit(data, edit)
    needle = {"foreign": "/notes is not part of", "soft": "/los is a soft link", "rows": "one sample count"}[change]
    refused(["distill", "--data", data, "--out", tmp_path / "out.h5"], tmp_path, needle)


def _poisoned_dataset(tiny_dataset, tmp_path: Path, name: str, index, value) -> Path:
    """A copy of the tiny data set with ``/name[index] = value`` and a ``sha256`` that matches."""
    data = Path(shutil.copy(tiny_dataset, tmp_path / "data.h5"))

    def change(f):
        values = f[name][()]
        values[index] = value
        _replace(f, name, values)
    return _rehash_dataset(_edit(data, change))


def test_rehash_dataset_reproduces_the_stored_checksum(tiny_dataset, tmp_path):
    data = Path(shutil.copy(tiny_dataset, tmp_path / "data.h5"))
    with h5py.File(data) as f:
        stored = f.attrs["sha256"]
    with h5py.File(_rehash_dataset(data)) as f:
        assert f.attrs["sha256"] == stored


@pytest.mark.parametrize("name,index,value,needle", [
    ("rsrp", (slice(0, 3), 0, 0), np.nan, "/rsrp (an RSRP [dBm]: -300 (no power) to +60) holds 3 NaN or infinite"),
    ("rsrp", (5, 1, 1), -np.inf, "/rsrp (an RSRP [dBm]: -300 (no power) to +60) holds 1 NaN or infinite"),
    ("ue_pos", (7, 2), np.inf, "/ue_pos (UE positions [m]) holds 1 NaN or infinite"),
])
def test_nan_in_a_data_set_behind_a_recomputed_checksum_isrefused(tiny_dataset, tmp_path, name, index, value,
                                                                   needle):
    data = _poisoned_dataset(tiny_dataset, tmp_path, name, index, value)
    line = refused(["distill", "--data", data, "--out", tmp_path / "out.h5"], tmp_path, needle)
    assert str(data) in line and "beamsim generate" in line
    refused(["evaluate", "--train", data], tmp_path, needle)


@pytest.mark.parametrize("name,index,value,needle", [
    ("rsrp", (3, 0, 0), RSRP_MAX_DBM + 1, f"/rsrp values must lie in [{RSRP_MIN_DBM}, {RSRP_MAX_DBM}]"),
    ("rsrp", (3, 0, 0), RSRP_MIN_DBM - 1, f"/rsrp values must lie in [{RSRP_MIN_DBM}, {RSRP_MAX_DBM}]"),
    ("label", 4, 64, "/label values must lie in [0, 63] (best-beam indices)"),
    ("label", 4, -1, "/label values must lie in [0, 63]"),
    ("split", 9, 2, "/split values must lie in [0, 1] (0 = train, 1 = test)"),
])
def test_data_set_values_outside_their_physical_range_arerefused(tiny_dataset, tmp_path, name, index, value, needle):
    data = _poisoned_dataset(tiny_dataset, tmp_path, name, index, value)
    line = refused(["distill", "--data", data, "--out", tmp_path / "out.h5"], tmp_path, needle)
    assert "1 do not" in line and "beamsim generate" in line


def test_a_generated_data_set_lies_within_the_documented_rsrp_range(tiny_dataset):
    with h5py.File(tiny_dataset) as f:
        rsrp = f["rsrp"][()]
    assert RSRP_MIN_DBM <= rsrp.min() and rsrp.max() <= RSRP_MAX_DBM


# --- checkpoints and expert caches ---------------------------------------------------------------

class _Payload:
    """Unpickled without ``weights_only``, creates the file ``marker``."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _code_running_pickle(path: Path, marker: Path) -> Path:
    torch.save({"fingerprint": "x", "iteration": 1, "syn": _Payload(marker)}, path)
    return path


def test_the_pickle_payload_is_real(tmp_path):
    marker = tmp_path / "proof"
    torch.load(_code_running_pickle(tmp_path / "p.pt", marker), weights_only=False)
    assert marker.exists()  # so the refusals below are of a pickle that would run code


@pytest.mark.parametrize("content", ["pickle", "corrupt", "not-a-dict"])
def test_a_hostile_checkpoint_is_one_line_and_runs_no_code(tiny_dataset, tiny_config, tmp_path, content):
    out, marker = tmp_path / "out.h5", tmp_path / "ran"
    ckpt = tmp_path / "out.h5.ckpt.pt"
    if content == "pickle":
        _code_running_pickle(ckpt, marker)
    elif content == "corrupt":
        ckpt.write_bytes(b"PK\x03\x04 not a checkpoint")
    else:
        torch.save([1, 2, 3], ckpt)
    line = refused(["distill", "--data", tiny_dataset, "--out", out, "--config", tiny_config, "--resume"],
                    tmp_path, f"checkpoint {ckpt}")
    assert "delete it or run without --resume" in line
    assert not marker.exists() and not out.exists()


def test_a_code_running_expert_cache_runs_no_code_and_is_retrained(tmp_path):
    from beamsim.distill.experts import _load_cached

    marker = tmp_path / "ran"
    cache = _code_running_pickle(tmp_path / "expert.pt", marker)
    assert _load_cached(cache, "key", (2, 3)) is None
    assert not marker.exists()


# --- MemoryError anywhere --------------------------------------------------------------------------

def test_memory_error_is_one_line_naming_the_bound_and_debug_keeps_the_traceback():
    group = typer.Typer(cls=ErrorMappingGroup)

    @group.callback()
    def _root() -> None:
        pass

    @group.command("boom")
    def boom() -> None:
        raise MemoryError("Unable to allocate 128. GiB")

    result = CliRunner().invoke(group, ["boom"])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("beamsim: error: out of memory") and MAX_READ_BYTES_ENV in lines[0]
    assert "128. GiB" in lines[0]
    os.environ["BEAMSIM_DEBUG"] = "1"
    try:
        assert isinstance(CliRunner().invoke(group, ["boom"]).exception, MemoryError)
    finally:
        del os.environ["BEAMSIM_DEBUG"]


# --- peak memory of the bombs, in a real process ---------------------------------------------------

def _payload_bomb(f) -> None:
    """Replace a float32 file's /x by 2^31 x 16 float32 (128 GiB), the header saying so."""
    del f["x"]
    _bomb(f, "x", shape=(2**31, 16), dtype="f4", chunks=(2**12, 16))
    f.attrs["num_samples"] = 2**31


def _rsrp_bomb(f) -> None:
    """Replace a data set's /rsrp by 2^24 x 32 x 32 float32 (64 GiB)."""
    del f["rsrp"]
    _bomb(f, "rsrp", shape=(2**24, 32, 32), dtype="f4", chunks=(64, 32, 32))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
@pytest.mark.parametrize("kind", ["distilled", "data set"])
def test_the_bombs_peak_memory_stays_far_below_what_they_declare(distilled, tiny_dataset, tmp_path, capsys, kind):
    if kind == "distilled":
        args, declared = ["info", str(_edit(distilled, _payload_bomb))], "128 GiB"
    else:
        data = _edit(Path(shutil.copy(tiny_dataset, tmp_path / "data.h5")), _rsrp_bomb)
        args, declared = ["distill", "--data", str(data), "--out", str(tmp_path / "out.h5")], "64 GiB"
    # VmHWM: this process's own peak RSS (ru_maxrss of a forked child can carry the parent's)
    code = ("import re, sys\nfrom pathlib import Path\nfrom beamsim.cli.main import app\n"
            "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
            "peak = re.search(r'VmHWM:\\s+(\\d+) kB', Path('/proc/self/status').read_text()).group(1)\n"
            "print(peak, code, file=sys.stderr)\n")
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("beamsim: error:") and MAX_READ_BYTES_ENV in lines[0], run.stderr
    peak_kib, exit_code = lines[1].split()
    assert exit_code == "1"
    with capsys.disabled():
        print(f"\npeak RSS of `beamsim {args[0]}` on a {declared} {kind} bomb: {int(peak_kib) / 1024:.0f} MiB")
    assert int(peak_kib) * 1024 < DEFAULT_MAX_READ_BYTES
