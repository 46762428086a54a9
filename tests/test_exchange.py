"""``beamsim import`` and ``beamsim export`` (:mod:`beamsim.exchange`), on files made in the tests.

Good sources (npz, HDF5, CSV, flat beams with a grid or a direction table, NaN beams, Set B
patterns) become data-set files with the expected arrays; export then import gives identical
arrays and the same checksum; an imported file trains and tests with ``beamsim evaluate``.
Every bad source or option is one stderr line, exit code 1, no file written and no code run.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app
from beamsim.dataset import RSRP_MIN_DBM, BeamArrays, read_dataset, write_dataset
from beamsim.h5safe import MAX_READ_BYTES_ENV
from beamsim.scenarios.beams import subset_mask, wide_blocks, wide_centres
from tests.refusal import edited_copy, refused

runner = CliRunner()
NAMES = ("rsrp", "mask", "label", "ue_pos", "los", "split")


def _source(n: int = 40, grid: tuple[int, int] = (4, 8), seed: int = 0) -> dict[str, np.ndarray]:
    """Arrays as a user would have them: float64 RSRP falling off 3 dB per beam around a random
    best beam [dBm], one checkerboard mask for all samples, int64 labels and split."""
    rng = np.random.default_rng(seed)
    rows, cols = grid
    best = rng.integers(0, rows * cols, size=n)
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    dist = np.hypot(r[None] - (best // cols)[:, None, None], c[None] - (best % cols)[:, None, None])
    rsrp = -70.0 - 3.0 * dist + rng.normal(0.0, 0.3, size=(n, rows, cols))
    return {"rsrp": rsrp, "mask": (r + c) % 2 == 0, "label": rsrp.reshape(n, -1).argmax(axis=1),
            "ue_pos": rng.normal(size=(n, 3)) * 50, "los": rng.random(n) < 0.5,
            "split": (np.arange(n) % 5 == 0).astype(np.int64)}


def _h5(path: Path, arrays: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for name, value in arrays.items():
            f.create_dataset(name, data=value)
    return path


def _npz(path: Path, **arrays) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def _csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _import(*args) -> dict:
    result = runner.invoke(app, ["import", *[str(a) for a in args], "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _check_equal(arrays: BeamArrays, src: dict) -> None:
    n = len(arrays)
    assert arrays.rsrp.dtype == np.float32 and np.allclose(arrays.rsrp, src["rsrp"], atol=1e-4)
    assert np.array_equal(arrays.mask, np.broadcast_to(src["mask"], arrays.rsrp.shape))
    assert arrays.label.dtype == np.int16 and np.array_equal(arrays.label, src["label"])
    assert np.allclose(arrays.ue_pos, src["ue_pos"], atol=1e-4) and arrays.ue_pos.shape == (n, 3)
    assert np.array_equal(arrays.los, src["los"]) and np.array_equal(arrays.split, src["split"])


# --- good sources ------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".npz", ".h5", ".hdf5"])
def test_an_array_file_becomes_a_data_set_with_its_arrays(tmp_path, suffix):
    src = _source()
    path = tmp_path / f"log{suffix}"
    _npz(path, **src) if suffix == ".npz" else _h5(path, src)
    doc = _import(path, "--out", tmp_path / "mine.h5")
    arrays, attrs = read_dataset(tmp_path / "mine.h5")
    _check_equal(arrays, src)
    assert doc["samples"] == 40 and doc["beam_grid"] == [4, 8] and doc["labels"] == "given"
    assert attrs["imported_from"] == path.name and attrs["import_format"] in ("npz", "hdf5")
    assert attrs["imported_arrays"] == ",".join(NAMES) and attrs["mask_kind"] == "fixed"
    assert attrs["format_version"] == 1 and len(attrs["import_sha256"]) == 64


def test_a_csv_with_grid_columns_in_any_order_nan_cells_and_words(tmp_path):
    src = _source(n=6, grid=(2, 3))
    blind = int(np.flatnonzero(src["label"] != 0)[0])  # a sample whose beam (0, 0) is not its label
    cells = [(r, c) for r in range(2) for c in range(3)][::-1]  # the columns need not be in order
    header = ["split", "los", *[f"beam_{r}_{c}" for r, c in cells], "ue_x", "ue_y", "ue_z", "label"]
    rows = []
    for i in range(6):
        beams = ["" if (i, r, c) == (blind, 0, 0) else f"{src['rsrp'][i, r, c]:.6f}" for r, c in cells]
        rows.append(["test" if src["split"][i] else "train", "true" if src["los"][i] else "0", *beams,
                     *src["ue_pos"][i], src["label"][i]])
    path = _csv(tmp_path / "log.csv", header, rows)
    doc = _import(path, "--out", tmp_path / "mine.h5")
    arrays, _ = read_dataset(tmp_path / "mine.h5")
    assert doc["source_format"] == "csv" and doc["nan_beams"] == 1 and doc["labels"] == "given"
    assert np.array_equal(arrays.label, src["label"]) and np.array_equal(arrays.split, src["split"])
    assert np.array_equal(arrays.los, src["los"]) and np.allclose(arrays.ue_pos, src["ue_pos"], atol=1e-4)
    assert np.allclose(np.delete(arrays.rsrp.reshape(-1), blind * 6), np.delete(src["rsrp"].reshape(-1), blind * 6),
                       atol=1e-5)
    assert arrays.mask.sum() == 6 * 6 - 1  # no mask given: every beam with an RSRP is measured
    assert not arrays.mask[blind, 0, 0] and arrays.rsrp[blind, 0, 0] == RSRP_MIN_DBM


def test_a_csv_with_flat_beam_columns_needs_a_grid_and_labels_default_to_the_strongest(tmp_path):
    src = _source(n=5, grid=(2, 4))
    flat = src["rsrp"].reshape(5, -1)
    path = _csv(tmp_path / "flat.csv", [f"beam_{k}" for k in range(8)], [list(row) for row in flat])
    refused(["import", path, "--out", tmp_path / "x.h5"], tmp_path, "--grid ROWSxCOLS")
    doc = _import(path, "--grid", "2x4", "--out", tmp_path / "mine.h5")
    arrays, _ = read_dataset(tmp_path / "mine.h5")
    assert doc["labels"].startswith("strongest") and np.array_equal(arrays.label, src["label"])
    assert doc["train"] + doc["test"] == 5 and arrays.mask.all()


def test_flat_beams_are_laid_out_by_their_directions(tmp_path):
    src = _source(n=12, grid=(3, 4))
    el = np.array([20.0, 0.0, -20.0])[:, None].repeat(4, axis=1)  # row 0 highest
    az = np.array([-45.0, -15.0, 15.0, 45.0])[None, :] + 2.0 * np.arange(3)[:, None]  # DFT-like: az moves per row
    dirs = np.stack([az, el], axis=-1).reshape(12, 2)
    shuffle = np.random.default_rng(3).permutation(12)  # the source lists its beams in another order
    inverse = np.argsort(shuffle)
    path = _npz(tmp_path / "deepmimo.npz", rsrp=src["rsrp"].reshape(12, -1)[:, shuffle], beam_dirs=dirs[shuffle],
                label=inverse[src["label"]], mask=src["mask"].reshape(-1)[shuffle])
    doc = _import(path, "--out", tmp_path / "mine.h5")
    arrays, attrs = read_dataset(tmp_path / "mine.h5")
    assert doc["beam_grid"] == [3, 4] and np.allclose(arrays.rsrp, src["rsrp"], atol=1e-4)
    assert np.array_equal(arrays.label, src["label"]) and np.array_equal(arrays.mask[0], src["mask"])
    assert np.allclose(attrs["beam_directions"], dirs)


def test_set_b_patterns_replace_the_mask(tmp_path):
    src = _source(n=30, grid=(4, 8))
    path = _npz(tmp_path / "log.npz", **src)
    _import(path, "--mask-pattern", "subset", "--set-b-size", "8", "--out", tmp_path / "s.h5")
    arrays, attrs = read_dataset(tmp_path / "s.h5")
    assert np.array_equal(arrays.mask, np.broadcast_to(subset_mask(4, 8, 8), (30, 4, 8)))
    assert attrs["mask_pattern"] == "subset" and attrs["mask_kind"] == "fixed"
    _import(path, "--mask-pattern", "checkerboard", "--out", tmp_path / "c.h5")
    assert np.array_equal(read_dataset(tmp_path / "c.h5")[0].mask, np.broadcast_to(src["mask"], (30, 4, 8)))
    for name in ("r1.h5", "r2.h5"):
        doc = _import(path, "--mask-pattern", "random", "--set-b-size", "5", "--seed", "4", "--out", tmp_path / name)
        assert doc["mask_kind"] == "random"
    one, two = read_dataset(tmp_path / "r1.h5")[0], read_dataset(tmp_path / "r2.h5")[0]
    assert np.array_equal(one.mask, two.mask) and (one.mask.reshape(30, -1).sum(axis=1) == 5).all()
    assert len({m.tobytes() for m in one.mask}) > 1  # per sample


def test_the_drawn_split_is_seeded_and_has_the_test_fraction(tmp_path):
    src = {k: v for k, v in _source(n=50).items() if k != "split"}
    path = _npz(tmp_path / "log.npz", **src)
    splits = []
    for name, args in (("a.h5", []), ("b.h5", []), ("c.h5", ["--seed", "1"]), ("d.h5", ["--test-fraction", "0.4"])):
        _import(path, *args, "--out", tmp_path / name)
        splits.append(read_dataset(tmp_path / name)[0].split)
    assert np.array_equal(splits[0], splits[1]) and not np.array_equal(splits[0], splits[2])
    assert splits[0].sum() == 10 and splits[3].sum() == 20


def test_nan_beams_are_not_measured_and_an_explicit_label_keeps_them(tmp_path):
    src = _source(n=10)
    i = int(np.flatnonzero(src["label"] != 9)[0])  # beam (1, 1) = 9 is on the checkerboard, not the label
    rsrp = src["rsrp"].copy()
    rsrp[i, 1, 1] = np.nan
    path = _npz(tmp_path / "log.npz", **{**src, "rsrp": rsrp})
    doc = _import(path, "--out", tmp_path / "mine.h5")
    arrays, attrs = read_dataset(tmp_path / "mine.h5")
    assert doc["nan_beams"] == 1 and attrs["nan_beams"] == 1
    assert not arrays.mask[i, 1, 1] and arrays.mask[i + 1, 1, 1] and arrays.rsrp[i, 1, 1] == RSRP_MIN_DBM
    assert attrs["mask_kind"] == "fixed"  # masks differ only by the NaN: never redrawn over unknown beams


# --- export, the round trip, and the commands that read the result -----------------------------------

def test_export_then_import_gives_identical_arrays(tmp_path, tiny_dataset):
    result = runner.invoke(app, ["export", str(tiny_dataset), "--out", str(tmp_path / "t.npz"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["samples"] == 192
    with np.load(tmp_path / "t.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(NAMES)
    _import(tmp_path / "t.npz", "--out", tmp_path / "back.h5")
    (before, a), (after, b) = read_dataset(tiny_dataset), read_dataset(tmp_path / "back.h5")
    for name, value in before.as_dict().items():
        got = getattr(after, name)
        assert got.dtype == value.dtype and np.array_equal(got, value), name
    assert a["sha256"] == b["sha256"] and a["mask_kind"] == b["mask_kind"] and b["imported_from"] == "t.npz"


def test_a_wide_set_b_with_reported_rsrp_survives_the_round_trip(tmp_path):
    src = _source(n=20, grid=(4, 8))
    n = 20
    rng = np.random.default_rng(1)
    arrays = BeamArrays(rsrp=src["rsrp"].astype(np.float32), mask=np.zeros((n, 4, 8), bool),
                        label=src["label"].astype(np.int16), ue_pos=src["ue_pos"].astype(np.float32),
                        los=src["los"], split=src["split"].astype(np.uint8),
                        rsrp_measured=(src["rsrp"] + rng.normal(size=(n, 4, 8))).astype(np.float32),
                        rsrp_setb=rng.normal(-80, 5, size=(n, 2, 4)).astype(np.float32))
    layout = {"format_version": 2, "side": "bs", "set_b": "wide", "set_b_size": 8, "set_a_shape": np.array([4, 8]),
              "set_b_shape": np.array([2, 4]), "set_b_blocks": wide_blocks(4, 8, 8).astype(np.int16),
              "set_b_centres": wide_centres(4, 8, 8).astype(np.int16)}  # as beamsim.simulation.layout writes them
    wide = write_dataset(tmp_path / "wide.h5", arrays, {"scenario": "", "seed": 0, **layout})
    assert runner.invoke(app, ["export", str(tmp_path / "wide.h5")]).exit_code == 0  # default: wide.npz
    doc = _import(tmp_path / "wide.npz", "--out", tmp_path / "back.h5")
    back, attrs = read_dataset(tmp_path / "back.h5")
    assert doc["sha256"] == wide and doc["wide_set_b"] == [2, 4] and attrs["format_version"] == 2
    assert list(attrs["set_b_centres"]) == [0, 2, 4, 6, 16, 18, 20, 22]
    assert np.array_equal(attrs["set_b_blocks"], layout["set_b_blocks"])


def test_an_imported_file_trains_and_tests_with_evaluate(tmp_path):
    src = _source(n=120, grid=(4, 4))
    path = _npz(tmp_path / "log.npz", **{k: v for k, v in src.items() if k != "split"})
    _import(path, "--out", tmp_path / "mine.h5")
    info = runner.invoke(app, ["info", str(tmp_path / "mine.h5"), "--json"])
    assert info.exit_code == 0 and json.loads(info.stdout)["test"] == 24
    result = runner.invoke(app, ["evaluate", "--train", str(tmp_path / "mine.h5"), "--runs", "1", "--epochs", "1",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert 0.0 <= json.loads(result.stdout)["top1"]["mean"] <= 1.0


def test_tfrecord_export_without_tensorflow_says_what_to_install(tmp_path, monkeypatch):
    data = tmp_path / "d.h5"
    _import(_npz(tmp_path / "in" / "log.npz", **_source()), "--out", data)
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` raises ImportError
    refused(["export", data, "--format", "tfrecord"], tmp_path, "pip install 'beamsim[tf]'")


def test_tfrecord_export_writes_the_records_of_beamsim_tf(tmp_path):
    pytest.importorskip("tensorflow")
    data = tmp_path / "d.h5"
    _import(_npz(tmp_path / "in" / "log.npz", **_source()), "--out", data)
    result = runner.invoke(app, ["export", str(data), "--format", "tfrecord", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["path"] == str(tmp_path / "d.tfrecord") and doc["samples"] == 40 and (tmp_path / "d.tfrecord").stat().st_size


# --- refusals: one line, exit code 1, nothing written ------------------------------------------------

class _Evil:
    """Unpickling this creates a file: proof that no pickle in a source is ever loaded."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _declaring(path: Path, shape: tuple, data: bytes = b"") -> Path:
    """An npz whose ``rsrp`` header declares ``shape`` (float64) followed by ``data`` only."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("rsrp.npy", buf.getvalue() + data)
    return path


def _with(**changes) -> dict:
    src = _source()
    src.update(changes)
    return {k: v for k, v in src.items() if v is not None}


def _nan_row() -> np.ndarray:
    rsrp = _source()["rsrp"].copy()
    rsrp[7, 0, 2] = np.nan
    return rsrp


#: kind -> (arrays of an npz source, extra options, a fragment of the refusal).
BAD_NPZ = {
    "no rsrp": (dict(label=np.zeros(3, int)), [], "no 'rsrp' array"),
    "unknown array": (_with(lable=np.zeros(40, int)), [], "unknown array(s) 'lable'"),
    "label count": (_with(label=np.zeros(41, int)), [], "'label' has shape [41], expected [40]"),
    "mask shape": (_with(mask=np.ones((40, 8, 4), bool)), [], "'mask' has shape [40, 8, 4]"),
    "ue_pos shape": (_with(ue_pos=np.zeros((40, 2))), [], "'ue_pos' has shape [40, 2]"),
    "rsrp 1-D": (dict(rsrp=np.zeros(40)), [], "'rsrp' has shape [40]"),
    "flat without grid": (dict(rsrp=np.full((40, 32), -80.0)), [], "give --grid ROWSxCOLS"),
    "grid mismatch": (dict(rsrp=np.full((40, 32), -80.0)), ["--grid", "4x4"], "--grid 4x4 holds 16 beams"),
    "grid on a cube": (_with(), ["--grid", "8x4"], "does not match 'rsrp'"),
    "infinite rsrp": (_with(rsrp=np.full((40, 4, 8), -np.inf)), [], "infinite"),
    "rsrp in W, not dBm": (_with(rsrp=np.full((40, 4, 8), 100.0)), [], "must lie in [-300, 60]"),
    "label outside the beams": (_with(label=np.full(40, 32)), [], "'label' must lie in [0, 31]"),
    "negative label": (_with(label=np.full(40, -1)), [], "'label' must lie in [0, 31]"),
    "float label": (_with(label=np.zeros(40)), [], "'label' has dtype float64, expected integer"),
    "text rsrp": (dict(rsrp=np.array(["-80"] * 40)), [], "'rsrp' has dtype <U3"),
    "complex rsrp": (dict(rsrp=np.zeros((40, 4, 8), complex)), [], "dtype complex128"),
    "float mask": (_with(mask=np.ones((4, 8))), [], "'mask' has dtype float64"),
    "mask of 2s": (_with(mask=np.full((4, 8), 2)), [], "bool or the integers 0 and 1"),
    "split of 2s": (_with(split=np.full(40, 2)), [], "'split' must be bool or the integers 0 and 1"),
    "NaN without a label": (_with(rsrp=_nan_row(), label=None), [], "sample 7 has no RSRP (NaN) for beam (0, 2)"),
    "label on a NaN beam": (_with(rsrp=_nan_row(), label=np.full(40, 2)), [], "label of sample 7 names beam (0, 2)"),
    "a sample with no measured beam": (_with(mask=np.zeros((40, 4, 8), bool)), [], "sample 0 has no measured beam"),
    "NaN position": (_with(ue_pos=np.full((40, 3), np.nan)), [], "'ue_pos' holds 120 NaN or infinite"),
    "dirs not a grid": (dict(rsrp=np.full((4, 3), -80.0), beam_dirs=np.array([[0, 0], [10, 0], [0, 10.0]])), [],
                        "do not form a grid"),
    "wide tiling": (_with(mask=None, rsrp_setb=np.full((40, 4, 2), -80.0)), [], "tile the 4 x 8 grid as 2 x 4"),
    "set-b-size alone": (_with(), ["--set-b-size", "8"], "--set-b-size needs --mask-pattern"),
    "checkerboard size": (_with(), ["--mask-pattern", "checkerboard", "--set-b-size", "8"], "measures 16 of"),
    "subset size": (_with(), ["--mask-pattern", "subset", "--set-b-size", "7"], "does not divide Set A"),
    "random over NaN": (_with(rsrp=_nan_row(), label=np.zeros(40, int)), ["--mask-pattern", "random"],
                        "needs every beam's RSRP"),
    "fraction with a split": (_with(), ["--test-fraction", "0.3"], "the source has a 'split'"),
    "fraction out of range": (_with(split=None), ["--test-fraction", "1.5"], "must lie in (0, 1)"),
    "bad grid text": (dict(rsrp=np.full((40, 32), -80.0)), ["--grid", "4by8"], "--grid must be ROWSxCOLS"),
}


@pytest.mark.parametrize("kind", list(BAD_NPZ))
def test_a_bad_npz_or_option_is_one_line(tmp_path, kind):
    arrays, options, fragment = BAD_NPZ[kind]
    path = _npz(tmp_path / "in" / "bad.npz", **arrays)
    refused(["import", path, "--out", tmp_path / "mine.h5", *options], tmp_path, fragment)


def test_a_pickle_in_an_npz_is_never_loaded(tmp_path):
    marker = tmp_path / "pwned"
    _Evil.marker = str(marker)
    path = tmp_path / "in" / "evil.npz"
    path.parent.mkdir()
    np.savez(path, rsrp=np.array([_Evil()], dtype=object))  # savez pickles object arrays
    refused(["import", path, "--out", tmp_path / "mine.h5"], tmp_path, "'rsrp' has dtype object")
    assert not marker.exists()


def test_declared_sizes_are_bounded_before_reading(tmp_path, monkeypatch):
    huge = _declaring(tmp_path / "in" / "huge.npz", (10**9, 8, 8))
    refused(["import", huge, "--out", tmp_path / "mine.h5"], tmp_path, "more than the read limit", MAX_READ_BYTES_ENV)
    short = _declaring(tmp_path / "in" / "short.npz", (10, 4, 8), b"\0" * 64)
    refused(["import", short, "--out", tmp_path / "mine.h5"], tmp_path, "not a readable .npz archive")
    csv = _csv(tmp_path / "in" / "big.csv", [f"beam_0_{c}" for c in range(8)], [[-80] * 8] * 4200)
    h5 = _h5(tmp_path / "in" / "big.h5", _source())
    monkeypatch.setenv(MAX_READ_BYTES_ENV, "4096")
    for path in (csv, h5):
        refused(["import", path, "--out", tmp_path / "mine.h5"], tmp_path, "more than the read limit")


#: kind -> (header, rows, fragment); rows of a 1 x 2 grid.
BAD_CSV = {
    "duplicate column": (["beam_0_0", "beam_0_1", "label", "label"], [[-80, -81, 0, 0]], "names column 'label' twice"),
    "same beam twice": (["beam_0_0", "beam_00_0", "beam_0_1"], [[-80, -80, -81]], "name the same beam"),
    "unknown column": (["beam_0_0", "beam_0_1", "timestamp"], [[-80, -81, 5]], "unknown column(s) 'timestamp'"),
    "missing grid cell": (["beam_0_0", "beam_1_1"], [[-80, -81]], "no column beam_0_1"),
    "mixed naming": (["beam_0_0", "beam_1"], [[-80, -81]], "mixes beam_<row>_<col> and beam_<k>"),
    "no beams": (["label"], [[0]], "no beam columns"),
    "half a position": (["beam_0_0", "beam_0_1", "ue_x"], [[-80, -81, 1]], "not all of ue_x, ue_y, ue_z"),
    "not a number": (["beam_0_0", "beam_0_1"], [[-80, "strong"]], "line 2, column beam_0_1: 'strong' is not a number"),
    "short row": (["beam_0_0", "beam_0_1"], [[-80, -81], [-80]], "line 3 has 1 fields, the header 2"),
    "float label": (["beam_0_0", "beam_0_1", "label"], [[-80, -81, 1.5]], "'1.5' is not a beam index"),
    "bad split": (["beam_0_0", "beam_0_1", "split"], [[-80, -81, "val"]], "is not 0/1 or train/test"),
    "header only": (["beam_0_0", "beam_0_1"], [], "no samples"),
    "label past the grid": (["beam_0_0", "beam_0_1", "label"], [[-80, -81, 2]], "'label' must lie in [0, 1]"),
}


@pytest.mark.parametrize("kind", list(BAD_CSV))
def test_a_bad_csv_is_one_line(tmp_path, kind):
    header, rows, fragment = BAD_CSV[kind]
    path = _csv(tmp_path / "in" / "bad.csv", header, rows)
    refused(["import", path, "--out", tmp_path / "mine.h5"], tmp_path, fragment)


def test_bad_files_are_one_line(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "junk.npz").write_bytes(b"not a zip at all")
    (folder / "latin.csv").write_bytes("beam_0_0,beam_0_1\n-80,-81 \xe9\n".encode("latin-1"))
    (folder / "log.txt").write_text("rsrp")
    with zipfile.ZipFile(folder / "other.npz", "w") as archive:
        archive.writestr("README.md", "hello")
    _h5(folder / "group.h5", {"rsrp": np.full((4, 2, 2), -80.0), "extra/rsrp": np.zeros(4)})
    cases = [("junk.npz", "not a readable .npz archive"), ("latin.csv", "not UTF-8 text"),
             ("log.txt", "reads .npz, .h5, .hdf5, .csv files"), ("other.npz", "'README.md' is not a .npy array"),
             ("group.h5", "unknown array(s) 'extra/rsrp'"), ("missing.npz", "no such file")]
    for name, fragment in cases:
        refused(["import", folder / name, "--out", tmp_path / "mine.h5"], tmp_path, fragment)
    good = _npz(folder / "good.npz", **_source())
    refused(["import", good, "--out", good], tmp_path, "is the source file itself")


def test_export_refusals(tmp_path):
    data = tmp_path / "d.h5"
    _import(_npz(tmp_path / "in" / "log.npz", **_source()), "--out", data)
    refused(["export", data, "--out", tmp_path / "d.zip"], tmp_path, "must end in .npz")
    sequence = edited_copy(data, tmp_path, lambda f: f.attrs.__setitem__("format_version", 3))
    refused(["export", sequence, "--out", tmp_path / "s.npz"], tmp_path, "sequence file")
    refused(["export", tmp_path / "in" / "log.npz", "--out", tmp_path / "x.npz"], tmp_path, "not an HDF5 file")
