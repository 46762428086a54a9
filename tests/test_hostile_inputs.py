"""Inputs from elsewhere that are not HDF5, built hostile in the test: scenario and config TOML,
study point records, CIFAR batches and image folders. Each is refused through the CLI with one
stderr line naming the file (exit code 1), runs no code and writes nothing; a corrupt study
point is computed again, with a note."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app
from beamsim.tomlio import MAX_TOML_BYTES
from tests.refusal import refused




# --- scenario and config TOML ----------------------------------------------------------------------

SCENARIO = "name = 'x'\ndescription = 'y'\n"

#: kind -> (config text, scenario text, a fragment of the refusal). None: the file is made in the test.
BAD_TOML = {
    "missing file": (None, None, "does not exist"),
    "a folder": (None, None, "is a folder"),
    "over the size bound": (None, None, "larger than 1.0 MiB"),
    "not UTF-8": (b"spc = 1\n# \xff\xfe\n", SCENARIO.encode() + b"# \xff\n", "is not UTF-8 text"),
    "syntax error": ("spc = 1\nbits = \n", SCENARIO + "backend = \n", "not valid TOML (Invalid value (at line "),
    "unknown key": ("speed = 3\n", SCENARIO + "speed = 3\n[link]\n", "speed"),
    "unknown table": ("[fast]\nx = 1\n", SCENARIO + "[nope]\n", "not [fast]|unknown table(s) nope"),
    "string for an int": ('spc = "ten"\n', SCENARIO + "[link]\n[dataset]\nsamples = 'many'\n",
                          "spc must be an integer, not str 'ten'|dataset.samples must be an integer"),
    "table for a value": ("[spc]\nx = 1\n", "description = 'y'\n[link]\n[name]\nx = 1\n",
                          "spc must be an integer, not a table|name must be a string, not a table"),
    "value for a table": ("experts = 3\n", SCENARIO + "ue_array = 3\n[link]\n", "must be a table (["),
    "string for a flag": ('replacement = "yes"\n', SCENARIO + "[link]\nenable_pathloss = 'yes'\n", "must be true or false"),
    "float for an int in a table": ("[experts]\nnum = 1.5\n", SCENARIO + "[link]\n[codebook]\nnum_el = 1.5\n",
                                    "experts.num must be an integer|codebook.num_el must be an integer"),
    "NaN": ("lr_syn = nan\n", SCENARIO + "carrier_frequency = nan\n[link]\n", "must be a finite number, not float nan"),
    "a list of the wrong length": ("[tm]\nlr_syn = [1.0]\n", SCENARIO + "backend = 'rt'\n[rt]\ntx_position = [1.0, 2.0]\n",
                                   "tm.lr_syn must be a finite number|rt.tx_position must be a list of 3"),
    "negative spc / frequency": ("spc = -1\n", SCENARIO + "carrier_frequency = -1.0\n[link]\n",
                                 "--spc must be a positive integer|carrier_frequency must be > 0"),
    "bits 0 / no samples": ("[quantizer]\nbits = 0\n", SCENARIO + "[link]\n[dataset]\nsamples = 0\n",
                            "--bits 0 is out of range|samples must be a positive integer"),
    "unknown name": ('objective = "xx"\n', SCENARIO + "[link]\nmodel = 'lte'\n", "unknown objective 'xx'|link.model"),
    "a required key missing": (None, "name = 'x'\n[link]\n", "missing required key(s) description"),
}


def _toml_file(folder: Path, kind: str, text: str | bytes | None) -> Path:
    path = folder / "bad.toml"
    if kind == "a folder":
        path.mkdir()
    elif kind == "over the size bound":
        with path.open("wb") as fh:  # sparse: 8 GiB declared, nothing on disk; reading it all would fill memory
            fh.truncate(8 * 2**30)
    elif text is not None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _check_refusal(args: list, folder: Path, path: Path, fragment: str) -> None:
    line = refused(args, folder, str(path))
    assert any(part in line for part in fragment.split("|")), line


@pytest.mark.parametrize("kind", [k for k, v in BAD_TOML.items() if v[0] is not None or v[1] is None])
def test_a_bad_config_file_is_refused_in_one_line(tmp_path, kind):
    text, _, fragment = BAD_TOML[kind]
    path = _toml_file(tmp_path, kind, text)
    _check_refusal(["distill", "--data", tmp_path / "data.h5", "--config", path, "--out", tmp_path / "d.h5"],
                   tmp_path, path, fragment)


@pytest.mark.parametrize("kind", list(BAD_TOML))
def test_a_bad_scenario_file_is_refused_in_one_line(tmp_path, kind):
    _, text, fragment = BAD_TOML[kind]
    path = _toml_file(tmp_path, kind, text)
    _check_refusal(["generate", "--scenario", path, "--out", tmp_path / "d.h5", "--device", "cpu"],
                   tmp_path, path, fragment)


def test_a_toml_file_just_under_the_bound_is_read(tmp_path):
    from beamsim.distill.config import read_config

    path = tmp_path / "big.toml"
    path.write_text("spc = 3\n" + "#" * (MAX_TOML_BYTES - 9) + "\n")
    assert path.stat().st_size == MAX_TOML_BYTES
    assert read_config(path) == ({"spc": 3}, {})


def test_a_device_is_not_read_as_a_config_file(tmp_path):
    refused(["distill", "--data", tmp_path / "data.h5", "--config", os.devnull], tmp_path, os.devnull,
             "not a regular file")


# --- study point records ---------------------------------------------------------------------------

def _study(data: Path, out: Path, config: Path, cache: Path) -> list:
    return ["study", "rate-distortion", "--spc", 2, "--bits", 2, "--data", data, "--out", out, "--config", config,
            "--cache-dir", cache, "--runs", 1, "--epochs", 2, "--device", "cpu", "--json"]


@pytest.fixture(scope="module")
def study(tmp_path_factory, tiny_dataset) -> tuple[Path, list]:
    """A finished one-point study folder and the arguments that made it (relative to the folder)."""
    from tests.tiny import TINY

    folder = tmp_path_factory.mktemp("study")
    (folder / "tiny.toml").write_text(TINY)
    args = _study(tiny_dataset, folder / "rd", folder / "tiny.toml", folder / "cache")
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return folder, args


def _edit_point(record: dict, kind: str) -> str | bytes:
    import json

    if kind == "not JSON":
        return "{\"key\": "
    if kind == "not UTF-8":
        return b"{\"key\": \"\xff\"}"
    if kind == "nested too deeply":
        return "[" * 200_000 + "]" * 200_000
    if kind == "a list":
        return "[1, 2]"
    if kind == "another point's key":
        record["key"] = "0" * 64
    elif kind == "other source settings":
        record["source"]["config"]["spc"] = 50
    elif kind == "a string for top-1":
        record["evaluation"]["top1"]["mean"] = "high"
    elif kind == "NaN for top-1":
        return json.dumps(record).replace('"std": 0.0', '"std": NaN', 1)
    elif kind == "no evaluation":
        del record["evaluation"]
    elif kind == "a table for num_samples":
        record["info"]["num_samples"] = {"n": 1}
    return json.dumps(record)


POINT_KINDS = ["over the size bound", "not JSON", "not UTF-8", "nested too deeply", "a list", "another point's key",
               "other source settings", "a string for top-1", "NaN for top-1", "no evaluation",
               "a table for num_samples"]


#: These are computed again for real; the others with a stand-in for the computation (the same record).
RECOMPUTED = ("over the size bound", "a string for top-1")


@pytest.mark.parametrize("kind", POINT_KINDS)
def test_a_corrupt_study_point_is_computed_again_with_a_note(study, tmp_path, kind, monkeypatch):
    """Never used, never a traceback: one note on stderr, the point computed again, the file replaced."""
    import copy
    import json
    import shutil

    from beamsim.experiments.studies import runner

    folder, args = study
    computed = []
    if kind not in RECOMPUTED:
        (made,) = (folder / "rd" / "points").glob("*.json")
        stand_in = json.loads(made.read_text().replace(str(folder), str(tmp_path)))
        monkeypatch.setattr(runner, "run_point", lambda ctx, point, key: computed.append(key) or copy.deepcopy(stand_in))
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    args = [str(a).replace(str(folder), str(tmp_path)) for a in args]
    (point,) = (tmp_path / "rd" / "points").glob("*.json")
    good = json.loads(point.read_text())
    if kind == "over the size bound":
        with point.open("wb") as fh:  # sparse: nothing on disk
            fh.truncate(runner.MAX_POINT_BYTES + 1)
    else:
        text = _edit_point(json.loads(point.read_text()), kind)
        point.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    notes = [ln for ln in result.stderr.splitlines() if "not using" in ln]
    assert len(notes) == 1 and str(point) in " ".join(result.stderr.split()), result.stderr
    assert "computing the point again" in " ".join(result.stderr.split())
    doc = json.loads(result.stdout)
    assert doc["points_computed"] == 1 and doc["points_cached"] == 0
    assert computed == ([] if kind in RECOMPUTED else [good["key"]])
    again = json.loads(point.read_text())  # replaced by a valid record of the same numbers
    assert again["key"] == good["key"] and again["evaluation"]["top1"] == good["evaluation"]["top1"]
    assert sorted(p.name for p in (tmp_path / "rd" / "points").iterdir() if p.name.startswith(".")) == []


def test_a_valid_study_point_is_used(study, tmp_path):
    import json
    import shutil

    folder, args = study
    shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    result = CliRunner().invoke(app, [str(a).replace(str(folder), str(tmp_path)) for a in args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["points_cached"] == 1 and "not using" not in result.stderr


# --- CIFAR batches ---------------------------------------------------------------------------------

class MakesMarker:
    """Unpickling this would create ``marker`` (``open(marker, "w")``): code run by a pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _cifar_folder(root: Path) -> Path:
    """A tiny CIFAR-10 "python version" folder: five 2-image batches, a test batch, batches.meta."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"labels": [0, 1], b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = {b"label_names": [f"class{i}".encode() for i in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return folder


def _cifar_args(root: Path, config: Path) -> list:
    return ["distill", "--dataset", "cifar10", "--data-root", root, "--config", config, "--out", root / "d.h5"]


def test_the_fake_cifar_folder_loads(tmp_path):
    from beamsim.distill.data.cifar import load_cifar

    _cifar_folder(tmp_path)
    data = load_cifar(tmp_path, "cifar10")
    assert data.train.x.shape == (10, 3, 32, 32) and data.test.x.shape == (2, 3, 32, 32)


def test_a_code_running_cifar_pickle_runs_no_code(tmp_path, tiny_config):
    import pickle

    folder = _cifar_folder(tmp_path / "root")
    marker = tmp_path / "marker"
    evil = pickle.dumps({b"labels": [0, 1], b"data": MakesMarker(marker)})
    pickle.loads(evil)[b"data"].close()  # control: plain pickle runs the code, which creates the marker
    assert marker.exists()
    marker.unlink()
    (folder / "data_batch_3").write_bytes(evil)
    line = refused(_cifar_args(tmp_path / "root", tiny_config), tmp_path, str(folder / "data_batch_3"),
                    "refusing to load", "nothing in it ran")
    assert not marker.exists(), line


@pytest.mark.parametrize("kind, fragment", [
    ("over the read bound", "more than the read bound 4.0 GiB (BEAMSIM_MAX_READ_BYTES)"),
    ("truncated", "not a readable CIFAR pickle"),
    ("not a dict", "expected a pickled dict, found list"),
    ("wrong keys", "a CIFAR batch needs the keys 'data' and 'labels'"),
    ("data of the wrong shape", "'data' must be uint8 [N, 3072], found [2, 100]"),
    ("data of the wrong dtype", "'data' must be uint8 [N, 3072]"),
    ("labels outside the classes", "labels must lie in 0..9, found 0..10"),
    ("labels that are not integers", "'labels' must be a list of integers"),
    ("fewer labels than images", "2 images but 1 labels"),
])
def test_a_bad_cifar_batch_is_refused_in_one_line(tmp_path, tiny_config, kind, fragment):
    import pickle

    import numpy as np

    folder = _cifar_folder(tmp_path / "root")
    batch = folder / "data_batch_2"
    pixels = np.zeros((2, 3072), np.uint8)
    content = {
        "truncated": batch.read_bytes()[:-100],
        "not a dict": pickle.dumps([pixels, [0, 1]]),
        "wrong keys": pickle.dumps({b"pixels": pixels, b"labels": [0, 1]}),
        "data of the wrong shape": pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}),
        "data of the wrong dtype": pickle.dumps({b"data": pixels.astype(np.float32), b"labels": [0, 1]}),
        "labels outside the classes": pickle.dumps({b"data": pixels, b"labels": [0, 10]}),
        "labels that are not integers": pickle.dumps({b"data": pixels, b"labels": [0.5, 1.0]}),
        "fewer labels than images": pickle.dumps({b"data": pixels, b"labels": [0]}),
    }.get(kind)
    if kind == "over the read bound":
        with batch.open("wb") as fh:  # sparse: 5 GiB declared, nothing on disk
            fh.truncate(5 * 2**30)
    else:
        batch.write_bytes(content)
    refused(_cifar_args(tmp_path / "root", tiny_config), tmp_path, str(batch), fragment)


# --- image folders ---------------------------------------------------------------------------------

def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` RGB pixels, with a few bytes of image data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _image_folder(root: Path) -> Path:
    """``root/train/{a,b}/`` and ``root/val/{a,b}/``, one 16 x 16 RGB PNG in each."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name in ("a", "b"):
            (root / split / name).mkdir(parents=True)
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / split / name / "0.png")
    return root


def _image_args(root: Path, config: Path) -> list:
    return ["distill", "--dataset", "imagefolder", "--data-root", root, "--image-size", 8, "--config", config,
            "--out", root / "d.h5"]


def test_the_image_folder_loads(tmp_path):
    from beamsim.distill.data.imagefolder import load_imagefolder

    data = load_imagefolder(_image_folder(tmp_path), image_size=8)
    assert data.train.x.shape == (2, 3, 8, 8) and data.class_names == ["a", "b"]


@pytest.mark.parametrize("kind, fragment", [
    ("truncated PNG", "cannot be decoded as an image"),
    ("text named .png", "cannot be decoded as an image (cannot identify image file"),
    ("50k x 50k pixels", "a possible decompression bomb (Image size (2500000000 pixels) exceeds limit"),
    ("10k x 10k pixels", "a possible decompression bomb (Image size (100000000 pixels) exceeds limit"),
    ("16-bit grey", "mode I;16 is not 8 bits per channel"),
    ("over the read bound", "more than the read bound 1000 B (BEAMSIM_MAX_READ_BYTES)"),
])
def test_a_bad_image_is_refused_in_one_line(tmp_path, tiny_config, kind, fragment, monkeypatch):
    import io

    import numpy as np
    from PIL import Image

    root = _image_folder(tmp_path / "root")
    bad = root / "train" / "b" / "1.png"
    if kind == "truncated PNG":
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
        bad.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    elif kind == "text named .png":
        bad.write_text("not an image\n")
    elif kind == "50k x 50k pixels":
        bad.write_bytes(_png_declaring(50_000, 50_000))
        assert bad.stat().st_size < 200
    elif kind == "10k x 10k pixels":  # between MAX_IMAGE_PIXELS and twice it: Pillow only warns
        bad.write_bytes(_png_declaring(10_000, 10_000))
    elif kind == "16-bit grey":
        Image.new("I;16", (16, 16), 1000).save(bad)
    else:
        monkeypatch.setenv("BEAMSIM_MAX_READ_BYTES", "1000")
        Image.new("RGB", (32, 32)).save(bad)
    refused(_image_args(root, tiny_config), tmp_path, str(bad), fragment)
