"""``beamsim evaluate`` with several ``--train`` files: one table row per set on one test split,
with what each costs to store (the card's table of ``make demo``)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from beamsim.cli.main import app
from tests.cli.test_evaluate_cli import _assert_one_line_error, _write

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    data = _write(folder / "small.h5")
    coreset, quantized = folder / "coreset.h5", folder / "ptq.h5"
    for out, options in ((coreset, ("--quantizer", "none")), (quantized, ("--quantizer", "ptq", "--bits", 4))):
        r = _run("distill", "--data", data, "--objective", "none", "--spc", 2, *options, "--out", out)
        assert r.exit_code == 0, r.output
    return data, coreset, quantized


def test_one_row_per_set_with_its_stored_size(sets):
    data, coreset, quantized = sets
    r = _run("evaluate", "--train", data, "--train", coreset, "--train", quantized, "--runs", 1, "--epochs", 1, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["compare"]
    assert [row["train"] for row in rows] == [str(data), str(coreset), str(quantized)]
    assert len({row["test"] for row in rows}) == 1
    full = rows[0]
    elements = 1
    for side in full["input_shape"]:
        elements *= side
    assert full["stored_bytes"] == full["train_samples"] * elements * 4 and full["compression_ratio"] == 1.0
    for row, path in zip(rows[1:], (coreset, quantized)):
        assert row["stored_bytes"] == path.stat().st_size
        assert row["compression_ratio"] == pytest.approx(full["stored_bytes"] / row["stored_bytes"])
    assert rows[2]["stored_bytes"] < rows[1]["stored_bytes"], "4-bit codes take less room than float32"
    for row in rows:
        assert set(row["top1"]) == {"mean", "std"} and row["runs"] == 1


def test_the_table_names_every_set(sets):
    data, coreset, _ = sets
    r = _run("evaluate", "--train", data, "--train", coreset, "--runs", 1, "--epochs", 1)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert "stored bytes" in lines[1] and "x smaller" in lines[1] and "top-1 %" in lines[1]
    assert lines[2].startswith("small.h5") and lines[3].startswith("coreset.h5") and "38,400" in lines[2]


def test_sets_of_other_data_sets_or_with_plots_are_refused(sets, tmp_path):
    data, coreset, _ = sets
    other = _write(tmp_path / "other.h5", seed=1)
    _assert_one_line_error(_run("evaluate", "--train", data, "--train", other, "--runs", 1),
                           "test on different data sets", "--test")
    _assert_one_line_error(_run("evaluate", "--train", data, "--train", coreset, "--plot", tmp_path / "p"),
                           "leave --plot")
    _assert_one_line_error(_run("evaluate", "--train", data, "--train", tmp_path / "missing.h5"), "no such file")
