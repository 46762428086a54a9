"""``beamsim evaluate`` through typer's CliRunner: exit codes, JSON keys, table, plots."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app
from beamsim.dataset import BeamArrays, write_dataset

runner = CliRunner()


def _write(path: Path, grid: tuple[int, int] = (8, 8), n: int = 200, seed: int = 0) -> Path:
    """A small learnable data set: RSRP falls off around a random best beam, checkerboard mask."""
    rng = np.random.default_rng(seed)
    e, a = grid
    best = rng.integers(0, e * a, size=n)
    el, az = np.meshgrid(np.arange(e), np.arange(a), indexing="ij")
    dist = np.hypot(el[None] - (best // a)[:, None, None], az[None] - (best % a)[:, None, None])
    rsrp = (-70.0 - 3.0 * dist + rng.normal(0.0, 0.3, size=(n, e, a))).astype(np.float32)
    arrays = BeamArrays(rsrp=rsrp, mask=np.broadcast_to((el + az) % 2 == 0, (n, e, a)).copy(),
                        label=rsrp.reshape(n, -1).argmax(1).astype(np.int16),
                        ue_pos=np.zeros((n, 3), np.float32), los=np.zeros(n, bool),
                        split=(np.arange(n) % 4 == 0).astype(np.uint8))
    write_dataset(path, arrays, {"scenario": "name = 'x'", "seed": 0, "mask_kind": "fixed"})
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return _write(tmp_path_factory.mktemp("cli") / "small.h5")


def _invoke(*args: str):
    return runner.invoke(app, ["evaluate", *args])


def test_json_document(data):
    result = _invoke("--train", str(data), "--runs", "2", "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    for key in ("top1", "top3", "within_1db", "rsrp_loss_db", "macro_f1"):
        assert set(doc[key]) == {"mean", "std"}
        assert isinstance(doc[key]["mean"], float)
    assert doc["runs"] == 2 and doc["epochs"] == 1 and doc["model"] == "beamcnn"
    assert doc["train_samples"] == 150 and doc["test_samples"] == 50
    assert doc["reference"]["name"] == "strongest observed beam"
    assert doc["protocol"]["optimizer"] and doc["seconds_per_run"]["mean"] > 0


def test_table_shows_the_reference_and_protocol(data):
    result = _invoke("--train", str(data), "--runs", "1", "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "strongest observed beam" in result.stdout
    assert "top-1 within 1 dB (%)" in result.stdout and "RSRP loss, mean (dB)" in result.stdout
    assert "1 epochs" in result.stdout and "per run" in result.stdout


def test_plots(data, tmp_path):
    out = tmp_path / "plots"
    result = _invoke("--train", str(data), "--test", str(data), "--runs", "1", "--epochs", "1",
                     "--plot", str(out), "--json")
    assert result.exit_code == 0, result.output
    for name in ("confusion_matrix.png", "rsrp_loss_cdf.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(json.loads(result.stdout)["plots"]) == 2


def test_same_seed_same_json(data):
    docs = [json.loads(_invoke("--train", str(data), "--runs", "1", "--epochs", "1", "--seed", "5", "--json").stdout)
            for _ in range(2)]
    for doc in docs:
        doc.pop("seconds_per_run"), doc.pop("per_run")
    assert docs[0] == docs[1]


def _assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("beamsim: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""


def test_missing_file(tmp_path):
    _assert_one_line_error(_invoke("--train", str(tmp_path / "nope.h5")), "no such file")


def test_runs_zero(data):
    _assert_one_line_error(_invoke("--train", str(data), "--runs", "0"), "--runs")


def test_unknown_model(data):
    _assert_one_line_error(_invoke("--train", str(data), "--model", "lenet"), "unknown model", "beamcnn")


def test_test_set_with_another_input_shape(data, tmp_path):
    other = _write(tmp_path / "grid4x8.h5", grid=(4, 8), n=40)
    _assert_one_line_error(_invoke("--train", str(data), "--test", str(other), "--runs", "1", "--epochs", "1"),
                           "inputs of shape")


def test_bad_encoding(data):
    _assert_one_line_error(_invoke("--train", str(data), "--encoding", "db"), "--encoding")


def test_the_default_encoding_is_the_librarys(data):
    from beamsim.cli.evaluate import _ENCODING_HELP
    from beamsim.dataset import DEFAULT_ENCODING

    assert _ENCODING_HELP.endswith(f"else {DEFAULT_ENCODING}).")
    result = _invoke("--train", str(data), "--runs", "1", "--epochs", "1", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["encoding"] == DEFAULT_ENCODING
    result = _invoke("--train", str(data), "--runs", "1", "--epochs", "1")
    assert f"encoding {DEFAULT_ENCODING}" in result.stdout
